from odoo import api, fields, models


class QueueRequeueJob(models.TransientModel):
    """Requeue the selected jobs."""

    _name = "queue.requeue.job"
    _description = "Wizard to requeue a selection of jobs"

    @api.model
    def _default_job_ids(self):
        if self.env.context.get("active_model") == "queue.job" and self.env.context.get("active_ids"):
            return [(6, 0, self.env.context["active_ids"])]
        return []

    job_ids = fields.Many2many("queue.job", string="Jobs", default=lambda self: self._default_job_ids())

    def requeue(self):
        self.job_ids.requeue()
        return {"type": "ir.actions.act_window_close"}
