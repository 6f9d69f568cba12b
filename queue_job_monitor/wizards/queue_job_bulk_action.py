import logging

from odoo import _, api, exceptions, fields, models
from odoo.tools.safe_eval import safe_eval

from odoo.addons.queue_job.engine.states import CANCELLED, DONE, PENDING, STARTED, TRANSITIONS

_logger = logging.getLogger(__name__)

BACKGROUND_ABOVE = 500  # jobs: more than this are changed by jobs, in batches of this size
BULK_CHANNEL = "root.queue_job_monitor"
TARGETS = {"requeue": PENDING, "cancel": CANCELLED, "done": DONE}


def changeable(jobs, operation):
    """The jobs that may move to the operation's state (a running job is never requeued)."""
    target = TARGETS[operation]
    return jobs.filtered(
        lambda job: job.state != target and target in TRANSITIONS[job.state]
        and not (operation == "requeue" and job.state in (STARTED, "wait_dependencies"))
    )


class QueueJobBulkAction(models.TransientModel):
    """Requeue, cancel or set done every job of a search, after saying how many."""

    _name = "queue.job.bulk.action"
    _description = "Change the state of every job matching a search"

    operation = fields.Selection([("requeue", "Requeue"), ("cancel", "Cancel"), ("done", "Set to done")],
                                 required=True, default="requeue")  # fmt: skip
    domain = fields.Char(required=True, readonly=True, default=lambda self: self._default_domain())
    job_count = fields.Integer(compute="_compute_job_count", string="Jobs matching")
    background = fields.Boolean(compute="_compute_job_count",
                                help="So many jobs are changed in the background, by jobs.")  # fmt: skip

    @api.model
    def _default_domain(self):
        context = self.env.context
        if context.get("active_domain") is not None:
            return repr(context["active_domain"])
        return repr([("id", "in", context.get("active_ids") or [])])

    def _jobs_domain(self):
        try:
            domain = safe_eval(self.domain or "[]")
        except Exception as exc:
            raise exceptions.UserError(_("The search of the jobs cannot be read: %s", exc)) from None
        return domain

    @api.depends("domain")
    def _compute_job_count(self):
        for wizard in self:
            wizard.job_count = self.env["queue.job"].search_count(wizard._jobs_domain())
            wizard.background = wizard.job_count > BACKGROUND_ABOVE

    def action_confirm(self):
        self.ensure_one()
        self.env["queue.job.monitor"]._check_manager()
        ids = self.env["queue.job"].search(self._jobs_domain()).ids
        if len(ids) <= BACKGROUND_ABOVE:
            changed, skipped = self.env["queue.job"].browse(ids)._monitor_bulk_change(self.operation)
            message = _("%(changed)s job(s) changed, %(skipped)s left as they were.", changed=changed, skipped=skipped)
        else:
            for start in range(0, len(ids), BACKGROUND_ABOVE):
                batch = self.env["queue.job"].browse(ids[start:start + BACKGROUND_ABOVE])
                batch.with_delay(channel=BULK_CHANNEL, description=_(
                    "%(operation)s %(count)s jobs", operation=self.operation, count=len(batch)
                ))._monitor_bulk_change(self.operation)  # fmt: skip
            message = _("%s jobs will be changed in the background.", len(ids))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Jobs"), "message": message, "type": "success", "sticky": False,
                       "next": {"type": "ir.actions.act_window_close"}},
        }  # fmt: skip


class QueueJob(models.Model):
    _inherit = "queue.job"

    def _monitor_bulk_change(self, operation):
        """Change what may be changed, one job at a time; returns (changed, skipped)."""
        todo = changeable(self, operation)
        changed = 0
        for job in todo:
            try:
                with self.env.cr.savepoint():
                    {"requeue": job.requeue, "cancel": job.button_cancelled, "done": job.button_done}[operation]()
                changed += 1
            except exceptions.UserError as exc:
                _logger.info("bulk %s left job %s on %s as it was: %s", operation, job.uuid, self.env.cr.dbname, exc)
        return changed, len(self) - changed
