from odoo import fields, models


class IrModelFields(models.Model):
    _inherit = "ir.model.fields"

    # Fields of type job_serialized are reflected like any other field.
    ttype = fields.Selection(
        selection_add=[("job_serialized", "Job Serialized")],
        ondelete={"job_serialized": "cascade"},
    )
