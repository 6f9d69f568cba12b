from odoo import models


class SetJobsToDone(models.TransientModel):
    """Mark the selected jobs as done without running them."""

    _inherit = "queue.requeue.job"
    _name = "queue.jobs.to.done"
    _description = "Set all selected jobs to done"

    def set_done(self):
        self.job_ids.button_done()
        return {"type": "ir.actions.act_window_close"}
