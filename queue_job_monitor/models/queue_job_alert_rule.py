import datetime
import json
import logging
import operator

import requests

from odoo import _, api, exceptions, fields, models

from odoo.addons.queue_job.exception import RetryableJobError

from .. import figures

_logger = logging.getLogger(__name__)

OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
MAX_WINDOW_MINUTES = 7 * 24 * 60  # the per-minute counts are kept 7 days
WEBHOOK_CHANNEL = "root.queue_job_monitor"
WEBHOOK_TIMEOUT = 10


class QueueJobAlertRule(models.Model):
    """A condition on the queue, evaluated every minute: firing or resolved, one message each way."""

    _name = "queue.job.alert.rule"
    _description = "Job Queue Alert Rule"
    _inherit = ["mail.thread"]
    _order = "sequence, id"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    metric = fields.Selection(
        [
            ("oldest_ready_age", "Oldest ready job age (s)"),
            ("ready_count", "Ready jobs"),
            ("final_failures", "Final failures in window"),
            ("failure_rate", "Final-failure rate in window (%)"),
            ("stuck_started", "Started jobs past their hard time limit"),
            ("runner_silent", "Runner silent while jobs are ready (s)"),
            ("run_p95", "Run time p95 in window (s)"),
            ("wait_p95", "Wait time p95 in window (s)"),
        ],
        required=True,
        tracking=True,
    )
    channel = fields.Char(help="Only the jobs of this channel (full name, e.g. root.mail); empty: all channels.")
    job_function_id = fields.Many2one("queue.job.function", string="Job Function", ondelete="cascade",
                                      help="Only the jobs of this function; empty: all functions.")  # fmt: skip
    operator = fields.Selection([(op, op) for op in OPERATORS], required=True, default=">")
    threshold = fields.Float(required=True, tracking=True)
    window_minutes = fields.Integer(string="Window (minutes)", default=15, required=True,
                                    help="How far back windowed metrics look.")  # fmt: skip
    min_count = fields.Integer(string="Minimum jobs", default=0,
                               help="Failure rate: not evaluated below this many finished jobs in the window.")  # fmt: skip
    cooldown_minutes = fields.Integer(string="Cooldown (minutes)", default=30, required=True,
                                      help="After a notification, no new firing message before this delay.")  # fmt: skip
    user_ids = fields.Many2many("res.users", string="Notify users")
    group_ids = fields.Many2many("res.groups", string="Notify groups")
    webhook_url = fields.Char(string="Webhook URL", groups="queue_job.group_queue_job_manager",
                              help="Receives a JSON POST when the rule fires or resolves, sent by a job with retries.")  # fmt: skip
    state = fields.Selection([("resolved", "Resolved"), ("firing", "Firing")], default="resolved", readonly=True,
                             tracking=True)  # fmt: skip
    last_value = fields.Float(readonly=True)
    last_evaluated = fields.Datetime(readonly=True)
    last_notified = fields.Datetime(readonly=True)
    fire_notified = fields.Boolean(readonly=True, help="The current firing was announced.")

    @api.constrains("threshold", "window_minutes", "cooldown_minutes", "min_count", "metric")
    def _check_numbers(self):
        for rule in self:
            if rule.threshold < 0:
                raise exceptions.ValidationError(_("Rule %s: the threshold cannot be negative.", rule.name))
            if rule.metric == "failure_rate" and rule.threshold > 100:
                raise exceptions.ValidationError(
                    _("Rule %s: a failure rate is a percentage, between 0 and 100.", rule.name)
                )
            if not 1 <= rule.window_minutes <= MAX_WINDOW_MINUTES:
                raise exceptions.ValidationError(
                    _("Rule %(name)s: the window must be between 1 and %(max)s minutes (7 days).",
                      name=rule.name, max=MAX_WINDOW_MINUTES)  # fmt: skip
                )
            if not 0 <= rule.cooldown_minutes <= MAX_WINDOW_MINUTES:
                raise exceptions.ValidationError(
                    _("Rule %(name)s: the cooldown must be between 0 and %(max)s minutes.",
                      name=rule.name, max=MAX_WINDOW_MINUTES)  # fmt: skip
                )
            if rule.min_count < 0:
                raise exceptions.ValidationError(_("Rule %s: the minimum count cannot be negative.", rule.name))

    @api.constrains("webhook_url")
    def _check_webhook_url(self):
        for rule in self.sudo():
            if rule.webhook_url and not rule.webhook_url.startswith(("http://", "https://")):
                raise exceptions.ValidationError(
                    _("Rule %s: the webhook URL must start with http:// or https://.", rule.name)
                )

    # -- evaluation --------------------------------------------------------

    def _value(self, cr, now):
        """The metric's value now, or None when there is not enough data to judge."""
        self.ensure_one()
        function = self.job_function_id.name or None
        if self.metric in ("oldest_ready_age", "ready_count"):
            rows = [row for row in figures.channel_figures(cr) if not self.channel or row["channel"] == self.channel]
            if self.metric == "ready_count":
                return float(sum(row["ready"] for row in rows))
            return max((row["oldest_ready_age"] or 0.0 for row in rows), default=0.0)
        if self.metric == "stuck_started":
            stuck = figures.stuck_started(cr)
            return float(stuck.get(self.channel, 0) if self.channel else sum(stuck.values()))
        if self.metric == "runner_silent":
            runner = figures.runner_state(cr)
            if not runner["ready"]:
                return 0.0
            silence = runner["seconds_since_dispatch"]
            if runner["leader"] is None or silence is None:
                oldest = [row["oldest_ready_age"] or 0.0 for row in figures.channel_figures(cr)]
                return max([silence or 0.0, *oldest])
            return silence
        counts = figures.counts_since(cr, now - datetime.timedelta(minutes=self.window_minutes), self.channel, function)
        if self.metric == "final_failures":
            return float(counts["failed"])
        if self.metric == "failure_rate":
            finished = counts["done"] + counts["failed"]
            if not finished or finished < self.min_count:
                return None
            return 100.0 * counts["failed"] / finished
        histogram = counts["run" if self.metric == "run_p95" else "wait"]
        return figures.percentile_from_buckets(histogram, 0.95)

    def _evaluate(self, now=None):
        """Evaluate each rule; a rule that breaks is logged and does not stop the others."""
        cr = self.env.cr
        now = now or figures.now(cr)
        for rule in self:
            try:
                with cr.savepoint():
                    rule._evaluate_one(cr, now)
            except Exception:
                _logger.exception("alert rule %s (%s) could not be evaluated on %s", rule.id, rule.name, cr.dbname)

    def _evaluate_one(self, cr, now):
        value = self._value(cr, now)
        breached = value is not None and OPERATORS[self.operator](value, self.threshold)
        vals = {"last_value": value or 0.0, "last_evaluated": now}
        cooled = not self.last_notified or now - self.last_notified >= datetime.timedelta(minutes=self.cooldown_minutes)
        if breached and self.state == "resolved":
            vals.update(state="firing", fire_notified=cooled)
            if cooled:
                vals["last_notified"] = now
                self._notify("firing", value)
        elif breached and self.state == "firing" and not self.fire_notified and cooled:
            # Fired during a cooldown: announce it once the cooldown is over.
            vals.update(fire_notified=True, last_notified=now)
            self._notify("firing", value)
        elif not breached and self.state == "firing":
            vals.update(state="resolved", fire_notified=False)
            if self.fire_notified:
                vals["last_notified"] = now
                self._notify("resolved", value)
        self.write(vals)

    # -- notifications -----------------------------------------------------

    def _recipients(self):
        users = self.user_ids | self.group_ids.mapped("users")
        return users.filtered("active").partner_id

    def _notify(self, status, value, test=False):
        metric_label = dict(self._fields["metric"].selection)[self.metric]
        shown = "n/a" if value is None else f"{value:.2f}"
        scope = ", ".join(filter(None, [self.channel, self.job_function_id.name])) or _("all jobs")
        if test:
            body = _("Test of rule %(name)s: %(metric)s is %(value)s (%(scope)s), threshold %(op)s %(threshold)s.",
                     name=self.name, metric=metric_label, value=shown, scope=scope, op=self.operator,
                     threshold=self.threshold)  # fmt: skip
        elif status == "firing":
            body = _("FIRING: %(name)s: %(metric)s is %(value)s (%(scope)s), threshold %(op)s %(threshold)s.",
                     name=self.name, metric=metric_label, value=shown, scope=scope, op=self.operator,
                     threshold=self.threshold)  # fmt: skip
        else:
            body = _("RESOLVED: %(name)s: %(metric)s is back to %(value)s (%(scope)s).",
                     name=self.name, metric=metric_label, value=shown, scope=scope)  # fmt: skip
        self.message_post(body=body, partner_ids=self._recipients().ids, subtype_xmlid="mail.mt_comment")
        url = self.sudo().webhook_url
        if url:
            payload = {
                "rule": self.name, "status": "test" if test else status, "metric": self.metric,
                "value": value, "threshold": self.threshold, "operator": self.operator,
                "channel": self.channel or None, "job_function": self.job_function_id.name or None,
                "database": self.env.cr.dbname, "message": body,
            }  # fmt: skip
            self.sudo().with_delay(channel=WEBHOOK_CHANNEL, max_retries=10,
                                   description=f"Alert webhook: {self.name}")._post_webhook(payload)  # fmt: skip

    def _post_webhook(self, payload):
        """Job: POST the alert as JSON; a timeout, an error answer or no answer is retried."""
        url = self.sudo().webhook_url
        if not url:
            return "no webhook URL any more"
        try:
            response = requests.post(url, data=json.dumps(payload), timeout=WEBHOOK_TIMEOUT,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        except requests.RequestException as exc:
            raise RetryableJobError(f"webhook {url} unreachable: {exc}") from None
        if response.status_code >= 300:
            raise RetryableJobError(f"webhook {url} answered {response.status_code}")
        return f"webhook answered {response.status_code}"

    def action_test(self):
        """Evaluate the rule now and send a test message (and webhook) to its recipients."""
        self.ensure_one()
        self.env["queue.job.monitor"]._check_manager()
        value = self._value(self.env.cr, figures.now(self.env.cr))
        self._notify("test", value, test=True)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Test sent"),
                "message": _("Current value: %s. The recipients got a test message.",
                             "n/a" if value is None else f"{value:.2f}"),  # fmt: skip
                "type": "info",
                "sticky": False,
            },
        }

    @api.model
    def _cron_evaluate(self):
        self.search([])._evaluate()
