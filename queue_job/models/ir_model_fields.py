from odoo import fields, models


class IrModelFields(models.Model):
    _inherit = "ir.model.fields"

    # Fields of type job_serialized are reflected like any other field.
    ttype = fields.Selection(
        selection_add=[("job_serialized", "Job Serialized"), ("job_record_refs", "Job Record References")],
        ondelete={"job_serialized": "cascade", "job_record_refs": "cascade"},
    )
