import datetime
import logging
from collections import defaultdict

from odoo import api, fields, models

from .. import figures, sql

_logger = logging.getLogger(__name__)

RETENTION_DAYS = {"minute": 7, "hour": 90}  # days rows are kept; day rows are kept for good
DEPTH_FIELDS = ("ready", "scheduled", "running", "waiting", "failed_jobs")
COUNT_FIELDS = ("done", "failed", "retried")


def _merge(histograms):
    merged = defaultdict(int)
    for histogram in histograms:
        for bucket, n in (histogram or {}).items():
            merged[int(bucket)] += n
    return dict(merged)


class QueueJobMetric(models.Model):
    """One row per channel and period: a minute snapshot or an hourly/daily rollup."""

    _name = "queue.job.metric"
    _description = "Job Queue Metric Snapshot"
    _order = "date DESC, channel"
    _log_access = False

    date = fields.Datetime(required=True, index=True, readonly=True, help="Start of the period (UTC).")
    granularity = fields.Selection(
        [("minute", "Minute"), ("hour", "Hour"), ("day", "Day")], required=True, index=True, readonly=True
    )
    channel = fields.Char(required=True, index=True, readonly=True)
    period = fields.Char(compute="_compute_period", store=True, help="The period as text (UTC), to chart it by minute or hour.")
    ready = fields.Float(readonly=True, aggregator="avg", help="Pending jobs whose ETA has passed (average).")
    scheduled = fields.Float(readonly=True, aggregator="avg", help="Pending jobs with an ETA ahead (average).")
    running = fields.Float(readonly=True, aggregator="avg", help="Enqueued and started jobs (average).")
    waiting = fields.Float(readonly=True, aggregator="avg", help="Jobs waiting for dependencies (average).")
    failed_jobs = fields.Float(readonly=True, aggregator="avg", help="Failed jobs in the table (average).")
    oldest_ready_age = fields.Float(readonly=True, aggregator="max", help="Age of the oldest ready job (seconds, max).")
    done = fields.Integer(readonly=True, help="Jobs done in the period.")
    failed = fields.Integer(readonly=True, help="Jobs failed for good in the period.")
    retried = fields.Integer(readonly=True, help="Runs that will be retried, in the period.")
    wait_p95 = fields.Float(string="Wait p95 (s)", readonly=True, aggregator="max",
                            help="95th percentile of ready-to-started time, from the period's histogram.")  # fmt: skip
    run_p95 = fields.Float(string="Run p95 (s)", readonly=True, aggregator="max",
                           help="95th percentile of run time, from the period's histogram.")  # fmt: skip
    wait_histogram = fields.Json(readonly=True)
    run_histogram = fields.Json(readonly=True)

    _sql_constraints = [
        ("period_channel_uniq", "unique(granularity, date, channel)", "One snapshot per channel and period."),
    ]

    @api.depends("date", "granularity")
    def _compute_period(self):
        formats = {"minute": "%Y-%m-%d %H:%M", "hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d"}
        for row in self:
            row.period = row.date.strftime(formats[row.granularity]) if row.date and row.granularity else False

    @api.model
    def _snapshot(self, now):
        """Depth of each channel now, and the counts of the minute that just ended."""
        minute = now.replace(second=0, microsecond=0) - datetime.timedelta(minutes=1)
        if self.search_count([("granularity", "=", "minute"), ("date", "=", minute)], limit=1):
            return
        cr = self.env.cr
        counts = defaultdict(lambda: {"done": 0, "failed": 0, "retried": 0, "run": {}, "wait": {}})
        cr.execute(sql.COUNTS_OF_MINUTE, {"minute": minute})
        for channel, kind, bucket, n in cr.fetchall():
            if kind in sql.HISTOGRAM_KINDS:
                counts[channel][kind][bucket] = n
            elif kind in COUNT_FIELDS:
                counts[channel][kind] += n
        rows = {row["channel"]: row for row in figures.channel_figures(cr)}
        vals_list = []
        for channel in sorted(set(rows) | set(counts)):
            row, count = rows.get(channel, {}), counts[channel]
            vals_list.append({
                "date": minute, "granularity": "minute", "channel": channel,
                "ready": row.get("ready", 0), "scheduled": row.get("scheduled", 0),
                "running": row.get("running", 0), "waiting": row.get("waiting", 0),
                "failed_jobs": row.get("failed", 0), "oldest_ready_age": row.get("oldest_ready_age") or 0.0,
                "done": count["done"], "failed": count["failed"], "retried": count["retried"],
                "wait_histogram": count["wait"], "run_histogram": count["run"],
                "wait_p95": figures.percentile_from_buckets(count["wait"], 0.95) or 0.0,
                "run_p95": figures.percentile_from_buckets(count["run"], 0.95) or 0.0,
            })  # fmt: skip
        self.create(vals_list)

    @api.model
    def _roll_up(self, source, target, start, end):
        """One ``target`` row per channel from the ``source`` rows of [start, end), unless done already."""
        if self.search_count([("granularity", "=", target), ("date", "=", start)], limit=1):
            return
        rows = self.search([("granularity", "=", source), ("date", ">=", start), ("date", "<", end)])
        by_channel = defaultdict(lambda: self.browse())
        for row in rows:
            by_channel[row.channel] |= row
        vals_list = []
        for channel, group in sorted(by_channel.items()):
            # Percentiles of the period come from its merged histograms, not from the rows' percentiles.
            wait, run = _merge(group.mapped("wait_histogram")), _merge(group.mapped("run_histogram"))
            vals = {"date": start, "granularity": target, "channel": channel,
                    "wait_histogram": wait, "run_histogram": run,
                    "wait_p95": figures.percentile_from_buckets(wait, 0.95) or 0.0,
                    "run_p95": figures.percentile_from_buckets(run, 0.95) or 0.0,
                    "oldest_ready_age": max(group.mapped("oldest_ready_age"))}  # fmt: skip
            for name in DEPTH_FIELDS:
                vals[name] = sum(group.mapped(name)) / len(group)
            for name in COUNT_FIELDS:
                vals[name] = sum(group.mapped(name))
            vals_list.append(vals)
        self.create(vals_list)

    @api.model
    def _cron_snapshot(self, now):
        self._snapshot(now)
        hour = now.replace(minute=0, second=0, microsecond=0)
        self._roll_up("minute", "hour", hour - datetime.timedelta(hours=1), hour)
        day = hour.replace(hour=0)
        self._roll_up("hour", "day", day - datetime.timedelta(days=1), day)
        for granularity, days in RETENTION_DAYS.items():
            self.search([("granularity", "=", granularity),
                         ("date", "<", now - datetime.timedelta(days=days))]).unlink()  # fmt: skip
