from odoo import _, api, exceptions, fields, models


class QueueJobChannel(models.Model):
    """A channel as known by the database: its name, parent and retention.

    Capacities are not stored here: they belong to the servers that run the
    jobs (``[queue_job] channels`` in odoo.conf).
    """

    _name = "queue.job.channel"
    _description = "Job Channels"
    _rec_name = "complete_name"

    name = fields.Char(required=True)
    complete_name = fields.Char(compute="_compute_complete_name", store=True, readonly=True, recursive=True)
    parent_id = fields.Many2one("queue.job.channel", string="Parent Channel", ondelete="restrict")
    job_function_ids = fields.One2many("queue.job.function", "channel_id", string="Job Functions")
    removal_interval = fields.Integer(
        default=lambda self: self.env["queue.job"]._removal_interval,
        required=True,
        help="Days to keep done and cancelled jobs of this channel before the daily clean-up deletes them.",
    )

    _sql_constraints = [
        ("name_uniq", "unique(complete_name)", "Channel complete name must be unique"),
        ("removal_interval_positive", "CHECK(removal_interval >= 0)", "The removal interval cannot be negative."),
    ]

    @api.depends("name", "parent_id.complete_name")
    def _compute_complete_name(self):
        for record in self:
            if not record.name:
                record.complete_name = ""
            elif record.parent_id:
                record.complete_name = f"{record.parent_id.complete_name}.{record.name}"
            else:
                record.complete_name = record.name

    @api.constrains("parent_id", "name")
    def parent_required(self):
        for record in self:
            if record.name != "root" and not record.parent_id:
                raise exceptions.ValidationError(_("Parent channel required."))
            if record.name and "." in record.name:
                raise exceptions.ValidationError(
                    _("A channel name cannot contain a dot: make %s a child channel instead.", record.name)
                )

    @api.model_create_multi
    def create(self, vals_list):
        records = self.browse()
        if self.env.context.get("install_mode"):
            remaining = []
            for vals in vals_list:
                existing = None
                if vals.get("name") and vals.get("parent_id"):
                    existing = self.search([("name", "=", vals["name"]), ("parent_id", "=", vals["parent_id"])])
                if existing:
                    if not existing.get_metadata()[0].get("noupdate"):
                        existing.write(vals)
                    records |= existing
                else:
                    remaining.append(vals)
            vals_list = remaining
        return records | super().create(vals_list)

    def write(self, vals):
        if not self.env.context.get("install_mode") and ("name" in vals or "parent_id" in vals):
            if any(channel.name == "root" for channel in self):
                raise exceptions.UserError(_("Cannot change the root channel"))
        return super().write(vals)

    def unlink(self):
        if any(channel.name == "root" for channel in self):
            raise exceptions.UserError(_("Cannot remove the root channel"))
        return super().unlink()
