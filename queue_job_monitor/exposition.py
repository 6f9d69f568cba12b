"""Prometheus text exposition (format 0.0.4) of the monitor's figures, written by hand."""

from __future__ import annotations

import calendar
import datetime
from collections import defaultdict

from . import figures, sql

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "odoo_queue_job_"
OUTCOMES = ("done", "failed", "retried", "cancelled")
# States whose jobs are counted live (done and cancelled jobs are counted by
# the finished_total counter instead: their rows are deleted by the autovacuum).
LIVE_STATES = ("wait_dependencies", "pending", "enqueued", "started", "failed")


def _escape(value) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value) -> str:
    if value is None:
        return "NaN"
    if isinstance(value, float) and value == float("inf"):
        return "+Inf"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _epoch(moment: datetime.datetime | None) -> float | None:
    return calendar.timegm(moment.utctimetuple()) + moment.microsecond / 1e6 if moment else None


class _Writer:
    def __init__(self, db: str):
        self.db = db
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {PREFIX}{name} {help_text}")
        self.lines.append(f"# TYPE {PREFIX}{name} {kind}")

    def sample(self, name: str, value, **labels) -> None:
        pairs = ",".join(f'{key}="{_escape(val)}"' for key, val in {"db": self.db, **labels}.items())
        self.lines.append(f"{PREFIX}{name}{{{pairs}}} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _histogram(w: _Writer, name: str, help_text: str, series: dict) -> None:
    """``series``: labels tuple -> {"buckets": {index: n}, "sum": seconds}."""
    w.family(name, "histogram", help_text)
    bounds = [*sql.HISTOGRAM_BOUNDS, float("inf")]
    for labels, data in sorted(series.items()):
        label_dict = dict(labels)
        cumulative = 0
        for index, bound in enumerate(bounds):
            cumulative += data["buckets"].get(index, 0)
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            w.sample(f"{name}_bucket", cumulative, **label_dict, le=le)
        w.sample(f"{name}_sum", data["sum"], **label_dict)
        w.sample(f"{name}_count", cumulative, **label_dict)


def render(cr, silent_after: float = figures.DEFAULT_SILENT_AFTER) -> str:
    """The whole scrape of the database ``cr`` is connected to."""
    w = _Writer(cr.dbname)
    channels = figures.channel_depths(cr)
    runner = figures.runner_state(cr, silent_after, channels)
    stuck = figures.stuck_started(cr)

    w.family("jobs", "gauge", "Jobs not finished (and failed jobs), by channel and state.")
    for row in channels:
        per_state = {
            "wait_dependencies": row["waiting"], "pending": row["ready"] + row["scheduled"],
            "enqueued": row["running"] - row["started"], "started": row["started"], "failed": row["failed"],
        }  # fmt: skip
        for state in LIVE_STATES:
            w.sample("jobs", per_state[state], channel=row["channel"], state=state)
    w.family("ready_jobs", "gauge", "Pending jobs whose ETA has passed, by channel.")
    for row in channels:
        w.sample("ready_jobs", row["ready"], channel=row["channel"])
    w.family("oldest_ready_age_seconds", "gauge", "Seconds since the oldest ready job of the channel became ready.")
    for row in channels:
        w.sample("oldest_ready_age_seconds", row["oldest_ready_age"] or 0.0, channel=row["channel"])
    w.family("channel_capacity", "gauge", "Jobs the channel may run at once on this server (0: no limit of its own).")
    for row in channels:
        w.sample("channel_capacity", row["capacity"] or 0, channel=row["channel"])
    w.family("channel_paused", "gauge", "1 when no new job of the channel starts (it or an ancestor is paused).")
    for row in channels:
        w.sample("channel_paused", int(row["paused"]), channel=row["channel"])
    w.family("stuck_jobs", "gauge", "Started jobs running past their hard time limit, by channel.")
    for row in channels:
        w.sample("stuck_jobs", stuck.get(row["channel"], 0), channel=row["channel"])

    enqueued: dict = defaultdict(int)
    finished: dict = defaultdict(int)
    histograms: dict = {"run": {}, "wait": {}}
    for channel, func, kind, bucket, n, seconds in figures.counter_totals(cr):
        if kind == "enqueued":
            enqueued[(("channel", channel), ("function", func))] += n
        elif kind in OUTCOMES:
            finished[(("channel", channel), ("function", func), ("outcome", kind))] += n
        elif kind in histograms:
            labels = (("channel", channel), ("function", func)) if kind == "run" else (("channel", channel),)
            data = histograms[kind].setdefault(labels, {"buckets": defaultdict(int), "sum": 0.0})
            data["buckets"][bucket] += n
            data["sum"] += seconds
    w.family("enqueued_total", "counter", "Jobs enqueued since the monitor was installed.")
    for labels, n in sorted(enqueued.items()):
        w.sample("enqueued_total", n, **dict(labels))
    w.family(
        "finished_total", "counter",
        "Runs that ended, by outcome: done, failed (for good), retried (will run again), cancelled.",
    )  # fmt: skip
    for labels, n in sorted(finished.items()):
        w.sample("finished_total", n, **dict(labels))
    _histogram(w, "run_seconds", "Run time of the jobs done.", histograms["run"])
    _histogram(w, "wait_seconds", "Time from ready (created or ETA) to started.", histograms["wait"])

    w.family("runner_up", "gauge", "1 when a jobrunner leads this database.")
    w.sample("runner_up", 1 if runner["leader"] else 0)
    w.family("runner_silent", "gauge", "1 when jobs are ready and nothing was dispatched for too long.")
    w.sample("runner_silent", 1 if runner["silent"] else 0)
    w.family("last_dispatch_timestamp_seconds", "gauge", "Unix time of the last job handed to a worker.")
    w.sample("last_dispatch_timestamp_seconds", _epoch(runner["last_dispatch"]) or 0.0)
    return w.text()
