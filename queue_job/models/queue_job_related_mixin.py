from odoo import _, fields, models

from ..engine.states import ENQUEUED, FAILED, PENDING, STARTED, WAIT_DEPENDENCIES

WAITING_STATES = (WAIT_DEPENDENCIES, PENDING, ENQUEUED)


class QueueJobRelatedMixin(models.AbstractModel):
    """A "Jobs" smart button for any model: the jobs that run on a record, counted by state.

    Inherit it (``_inherit = ["res.partner", "queue.job.related.mixin"]``)
    and put the button in the form (see README_progress.rst). The jobs are
    found through the index on ``queue_job.record_refs``, filled when they
    are enqueued.
    """

    _name = "queue.job.related.mixin"
    _description = "Jobs of a record"

    job_count = fields.Integer(string="Jobs", compute="_compute_job_counts")
    job_waiting_count = fields.Integer(string="Jobs waiting", compute="_compute_job_counts")
    job_running_count = fields.Integer(string="Jobs running", compute="_compute_job_counts")
    job_failed_count = fields.Integer(string="Jobs failed", compute="_compute_job_counts")

    def _compute_job_counts(self):
        stored = self.filtered("id").filtered(lambda record: isinstance(record.id, int))
        counts = self.env["queue.job"]._job_counts_of(stored)
        for record in self:
            by_state = counts.get(record.id, {}) if isinstance(record.id, int) else {}
            record.job_count = sum(by_state.values())
            record.job_waiting_count = sum(by_state.get(state, 0) for state in WAITING_STATES)
            record.job_running_count = by_state.get(STARTED, 0)
            record.job_failed_count = by_state.get(FAILED, 0)

    def action_view_jobs(self):
        """The jobs of this record, newest first."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("queue_job.action_queue_job")
        action.update(
            name=_("Jobs of %s", self.display_name),
            domain=[("related_record", "=", f"{self._name},{self.id}")],
            context={"create": False},
        )
        return action
