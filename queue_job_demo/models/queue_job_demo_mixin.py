"""What every demo page shares: a record that knows the job working for it."""

import time

from odoo import _, api, exceptions, fields, models

from odoo.addons.queue_job.job import Job

# Seconds a job waits after each chunk, to watch its progress move (a demo
# on a fast machine, a browser test); 0, no wait, unless a system parameter says so.
STEP_DELAY_PARAM = "queue_job_demo.step_delay"
MAX_STEP_DELAY = 5.0

# The page's own words for the job's states.
_STATE_OF_JOB = {
    "wait_dependencies": "queued",
    "pending": "queued",
    "enqueued": "queued",
    "started": "running",
    "done": "done",
    "cancelled": "cancelled",
    "failed": "failed",
}


class QueueJobDemoMixin(models.AbstractModel):
    """The job's state, progress and error on the record; its "Jobs" smart
    button and live reloads come from queue_job's ``queue.job.related.mixin``."""

    _name = "queue.job.demo.mixin"
    _inherit = "queue.job.related.mixin"
    _description = "Job Queue Demo: a record followed by its job"
    _order = "id desc"

    name = fields.Char(required=True, default=lambda self: _("New"))
    job_uuid = fields.Char(string="Job UUID", readonly=True, copy=False, index=True)
    job_id = fields.Many2one("queue.job", string="Job", compute="_compute_job_id", search="_search_job_id")
    state = fields.Selection(
        [
            ("draft", "Not started"),
            ("queued", "Queued"),
            ("running", "Running"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        compute="_compute_state",
    )
    error_message = fields.Char(string="Error", compute="_compute_state")
    progress = fields.Float(compute="_compute_state", help="Percent done, as the running job reports it.")
    progress_message = fields.Char(compute="_compute_state")
    date_finished = fields.Datetime(readonly=True, copy=False)
    summary = fields.Char(readonly=True, copy=False, help="What the job did, in one sentence.")

    @api.depends("job_uuid")
    def _compute_job_id(self):
        # sudo: the job may have been run by someone else; we only show its state.
        jobs = self.env["queue.job"].sudo().search([("uuid", "in", [u for u in self.mapped("job_uuid") if u])])
        by_uuid = {job.uuid: job for job in jobs}
        for record in self:
            record.job_id = by_uuid.get(record.job_uuid, False)

    def _search_job_id(self, operator, value):
        jobs = self.env["queue.job"].sudo()._search([("id", operator, value)])
        return [("job_uuid", "in", jobs.subselect("uuid"))]

    @api.depends("job_uuid", "date_finished")
    def _compute_state(self):
        for record in self:
            job = record.job_id.sudo()
            record.error_message = job.exc_message if job.state == "failed" else False
            record.progress = job.progress
            record.progress_message = job.progress_message
            if record.date_finished:
                record.state = "done"
            elif record.job_id:
                record.state = _STATE_OF_JOB.get(record.job_id.sudo().state, "queued")
            else:
                record.state = "draft"

    def _follow_job(self, job) -> None:
        """Remember the job a ``with_delay()`` call returned (nothing in no-delay mode)."""
        if isinstance(job, Job):
            self.job_uuid = job.uuid

    def _step_delay(self) -> float:
        """The wait after each chunk the system parameter asks for (0 by default, at most 5 s)."""
        value = self.env["ir.config_parameter"].sudo().get_param(STEP_DELAY_PARAM) or 0
        try:
            return min(max(float(value), 0.0), MAX_STEP_DELAY)
        except ValueError:
            return 0.0

    def _mark_finished(self, summary: str) -> None:
        self.write({"date_finished": fields.Datetime.now(), "summary": summary})

    def action_open_job(self):
        self.ensure_one()
        if not self.job_id:
            raise exceptions.UserError(_("No job has been started for %s yet.", self.name))
        return {
            "type": "ir.actions.act_window",
            "res_model": "queue.job",
            "res_id": self.job_id.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_cancel_job(self):
        """Cancel the waiting or running job, if it is the user's own (or the user manages jobs)."""
        for record in self:
            job = record.job_id
            if not job or job.state in ("done", "cancelled", "failed"):
                raise exceptions.UserError(_("%s has no job left to cancel.", record.name))
            is_manager = self.env.user.has_group("queue_job.group_queue_job_manager")
            if job.user_id != self.env.user and not is_manager:
                raise exceptions.AccessError(_("Only the user who started this job, or a job manager, may cancel it."))
            job.button_cancelled()
        return True


class QueueJobDemoGraphMixin(models.AbstractModel):
    """A record followed by a graph of jobs (``chain``/``group``) instead of one job."""

    _name = "queue.job.demo.graph.mixin"
    _inherit = "queue.job.demo.mixin"
    _description = "Job Queue Demo: a record followed by its graph of jobs"

    graph_uuid = fields.Char(readonly=True, copy=False)
    step_job_ids = fields.Many2many("queue.job", string="Steps", compute="_compute_step_job_ids")

    @api.depends("graph_uuid")
    def _compute_step_job_ids(self):
        for record in self:
            record.step_job_ids = self.env["queue.job"].sudo().search(
                [("graph_uuid", "=", record.graph_uuid)], order="id") if record.graph_uuid else False

    @api.depends("graph_uuid", "date_finished")
    def _compute_state(self):
        for record in self:
            steps = record.step_job_ids.sudo()
            states = set(steps.mapped("state"))
            record.progress = 100.0 * len(steps.filtered(lambda job: job.state == "done")) / (len(steps) or 1)
            record.progress_message = False
            failed = steps.filtered(lambda job: job.state == "failed")
            record.error_message = failed[:1].exc_message or False
            if record.date_finished:
                record.state = "done"
            elif not states:
                record.state = "draft"
            elif failed:
                record.state = "failed"
            elif "cancelled" in states:
                record.state = "cancelled"
            elif "started" in states or "done" in states:
                record.state = "running"
            else:
                record.state = "queued"
