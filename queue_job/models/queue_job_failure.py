import logging

from odoo import _, api, models

from .. import failure
from ..engine import sql

_logger = logging.getLogger(__name__)


class QueueJob(models.Model):
    """What follows the failure of a job of a graph (see failure.py)."""

    _inherit = "queue.job"

    def _job_failed_for_good(self):
        """Cancel what waited for these failed jobs and store their on_error handlers."""
        for record in self.sudo():
            if not record.graph_uuid:
                continue
            cancelled = record._job_cancel_children(record.uuid, reason=failure.cancel_reason(record))
            if cancelled:
                _logger.info(
                    "job %s on %s (%s) failed: %d dependant job(s) cancelled",
                    record.uuid, self.env.cr.dbname, record.channel, len(cancelled),
                )
            for spec in (record.dependencies or {}).get("on_error") or []:
                record._job_fire_error_handler(spec)

    def _job_revive_dependants(self):
        """Dependants cancelled by this job's failure wait for it again; the uuids revived."""
        self.ensure_one()
        if not self.graph_uuid:
            return []
        self.flush_model()
        self.env.cr.execute(
            sql.REVIVE_DEPENDANTS,
            {"id": self.id, "graph_uuid": self.graph_uuid, "reason_prefix": failure.cancel_reason_prefix(self.uuid)},
        )
        revived = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_model(["state", "date_cancelled", "result"])
        return revived

    def _job_fire_error_handler(self, spec):
        """Store the handler of ``spec`` for this failed job, unless it is already stored; True if stored."""
        self.ensure_one()
        self.flush_model()
        self.env.cr.execute(sql.LOCK_ERROR_HANDLER, {"uuid": spec["uuid"]})
        if self._job_uuid_stored(spec["uuid"]):
            return False
        try:
            with self.env.cr.savepoint():
                failure.handler_job(self.env, spec, self).store()
                self.flush_model()
        except Exception:
            # The failure itself must be recorded whatever the handler's state
            # (its model or method removed since): the error is in the log,
            # and the heal cron tries again.
            _logger.exception(
                "job %s on %s: its on_error handler %s.%s could not be enqueued",
                self.uuid, self.env.cr.dbname, spec.get("model"), spec.get("method"),
            )
            return False
        _logger.info(
            "job %s on %s (%s) failed: on_error handler %s.%s enqueued as job %s",
            self.uuid, self.env.cr.dbname, self.channel, spec["model"], spec["method"], spec["uuid"],
        )
        return True

    def _job_uuid_stored(self, job_uuid):
        self.env.cr.execute(sql.JOB_UUID_EXISTS, {"uuid": job_uuid})
        if self.env.cr.fetchone():
            return True
        # Under REPEATABLE READ this transaction may not see a handler stored
        # by another one after it began; the lock held now makes a fresh look final.
        with self.env.registry.cursor() as cr:
            cr.execute(sql.JOB_UUID_EXISTS, {"uuid": job_uuid})
            return bool(cr.fetchone())

    @api.model
    def notify_failure(self, failure=None, message=None):
        """A ready-made on_error handler: tell the user who enqueued the failed job, on the job's chatter.

        ``chain(a, b).on_error(env["queue.job"].delayable().notify_failure(message="Import stopped"))``
        """
        failure = failure or {}
        failed = self.sudo().search([("uuid", "=", failure.get("uuid"))], limit=1)
        if not failed:
            return _("The failed job %s is gone (deleted since).", failure.get("uuid"))
        body = _(
            "%(message)sJob %(name)s failed: %(error)s",
            message=f"{message}. " if message else "",
            name=failed.name,
            error=failure.get("exc_message") or failure.get("exc_name") or "",
        )
        failed.with_context(mail_notify_force_send=False).message_post(
            body=body, partner_ids=failed.user_id.partner_id.ids, message_type="comment", subtype_xmlid="mail.mt_note"
        )
        return body

    @api.model
    def _job_heal_failures(self, limit=100):
        """Finish the aftermath of jobs failed by plain SQL (runner, watchdog); their count."""
        self.flush_model()
        self.env.cr.execute(sql.FAILED_WITHOUT_AFTERMATH, {"limit": limit})
        failed = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        failed._job_failed_for_good()
        return len(failed)

    def _job_batches_check(self):
        batches = self.sudo().job_batch_id
        if batches:
            batches._job_batch_check()
