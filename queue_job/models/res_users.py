from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    queue_job_notify = fields.Boolean(
        string="Notify me when my background jobs end",
        default=True,
        help="For jobs started with a notification asked: a message when they are done or failed.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["queue_job_notify"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["queue_job_notify"]
