import datetime
import logging

from odoo import _, api, exceptions, fields, models

from .. import figures, sql

_logger = logging.getLogger(__name__)


class QueueJobMonitor(models.AbstractModel):
    """Entry point of the monitor: schema set-up and the dashboard's payload."""

    _name = "queue.job.monitor"
    _description = "Job Queue Monitor"

    def init(self):
        self.env.cr.execute(sql.UPGRADE_DELTA_SHAPE)
        self.env.cr.execute(sql.CREATE_TABLES)
        self.env.cr.execute(sql.CREATE_INDEXES)
        self.env.cr.execute(sql.CREATE_COUNT_TRIGGERS)

    def _check_manager(self):
        if not self.env.user.has_group("queue_job.group_queue_job_manager"):
            raise exceptions.AccessError(_("Only Job Queue managers can see the queue monitor."))

    @api.model
    def dashboard_data(self, window="1h"):
        """Everything the dashboard shows, in one call."""
        self._check_manager()
        if window not in figures.WINDOWS:
            raise exceptions.UserError(
                _("Unknown window %(window)s: use one of %(choices)s", window=window, choices=", ".join(figures.WINDOWS))
            )
        cr = self.env.cr
        now = figures.now(cr)
        channels = figures.channel_figures(cr)
        runner = figures.runner_state(cr, self._silent_after(), channels)
        to_string = fields.Datetime.to_string
        if runner["leader"]:
            runner["leader"]["since"] = to_string(runner["leader"]["since"])
        runner["last_dispatch"] = to_string(runner["last_dispatch"]) if runner["last_dispatch"] else False
        return {
            "now": to_string(now),
            # Lower bounds of the figures' windows, for the job lists they open.
            "since": {
                "5m": to_string(now - datetime.timedelta(minutes=5)),
                "1h": to_string(now - datetime.timedelta(hours=1)),
                "window": to_string(now - datetime.timedelta(seconds=figures.WINDOWS[window])),
            },
            "window": window,
            "channels": channels,
            "functions": figures.function_figures(cr, window),
            "runner": runner,
            "stuck": figures.stuck_started(cr),
            "database": cr.dbname,
        }

    @api.model
    def _silent_after(self):
        value = self.env["ir.config_parameter"].sudo().get_param("queue_job_monitor.runner_silent_after")
        try:
            return float(value) if value else figures.DEFAULT_SILENT_AFTER
        except ValueError:
            _logger.warning("queue_job_monitor.runner_silent_after=%r is not a number on %s", value, self.env.cr.dbname)
            return figures.DEFAULT_SILENT_AFTER

    @api.model
    def _cron_fold_counters(self):
        figures.fold_counters(self.env.cr)

    @api.model
    def _cron_minute(self):
        """Every minute: fold the counters, then the work of the other monitor models."""
        self._cron_fold_counters()
        now = figures.now(self.env.cr)
        self.env["queue.job.metric"]._cron_snapshot(now)
        self.env["queue.job.alert.rule"]._cron_evaluate()
        self.env.cr.execute(sql.PURGE_MINUTE_COUNTS, {"before": now - datetime.timedelta(days=8)})
