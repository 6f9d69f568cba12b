from odoo import models


class SetJobsToCancelled(models.TransientModel):
    """Cancel the selected jobs (and the jobs waiting for them)."""

    _inherit = "queue.requeue.job"
    _name = "queue.jobs.to.cancelled"
    _description = "Cancel all selected jobs"

    def set_cancelled(self):
        self.job_ids.button_cancelled()
        return {"type": "ir.actions.act_window_close"}
