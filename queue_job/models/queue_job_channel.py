import math

from odoo import _, api, exceptions, fields, models

from ..engine import sql
from ..engine.channels import ChannelConfigError, ChannelTree, normalize_name
from ..engine.live_channels import parse_rate_limit

# Changing one of these makes the channel's own settings win over the configuration.
OWN_SETTINGS = ("capacity", "sequential", "throttle")


class QueueJobChannel(models.Model):
    """A channel as known by the database: name, parent, retention, and how its jobs run.

    The servers' configuration (``[queue_job] channels`` in odoo.conf) gives
    capacity, sequential and throttle; a channel with its own settings
    replaces them. Pause, rate limit and aging exist only here. The runner
    applies a change as soon as it is committed (see engine/live_channels.py).
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

    own_settings = fields.Boolean(
        string="Own settings",
        help="Capacity, sequential and throttle set here replace the servers' configuration "
        "(odoo.conf) for this channel. Off: the configuration applies.",
    )
    capacity = fields.Integer(help="Jobs of this channel and its sub-channels that run at once. 0: none start.")
    sequential = fields.Boolean(
        help="One job at a time, in order; a failed job stops the channel until it is requeued or cancelled."
    )
    throttle = fields.Float(string="Throttle (s)", help="Seconds at least between two starts.")
    configured = fields.Char(
        string="Configured", compute="_compute_configured",
        help="What the servers' configuration (odoo.conf or ODOO_QUEUE_JOB_CHANNELS) says for this channel.",
    )
    rate_limit = fields.Char(
        help="At most N starts per period, spread evenly over it, counted across servers: "
        "e.g. 100/min, 10/10s, 5 per second, 1000/h. Empty: no limit.",
    )
    paused = fields.Boolean(
        help="No new job of this channel or its sub-channels starts; running jobs finish. "
        "Resuming restarts them at once.",
    )
    aging_step = fields.Float(
        string="Aging (s)",
        help="Under load, a job's priority improves by one for every this many seconds it has waited, "
        "so that low-priority jobs still start. 0: no aging, strict priorities.",
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

    @api.depends("complete_name")
    def _compute_configured(self):
        from ..jobrunner.settings import channels_config

        try:
            tree = ChannelTree.from_config(channels_config())
        except ChannelConfigError as exc:
            self.configured = _("invalid configuration: %s", exc)
            return
        for record in self:
            name = normalize_name(record.complete_name)
            resolved = tree.resolve(name)
            spec = tree.spec(resolved)
            text = _("no limit of its own") if spec.capacity is None else _("capacity %s", spec.capacity)
            if spec.sequential:
                text += _(", sequential")
            if spec.throttle:
                text += _(", throttle %s s", f"{spec.throttle:g}")
            record.configured = text if resolved == name else _("runs in %(parent)s: %(text)s", parent=resolved, text=text)

    @api.constrains("capacity", "sequential", "throttle", "own_settings", "aging_step")
    def _check_run_settings(self):
        for record in self:
            if record.capacity < 0:
                raise exceptions.ValidationError(
                    _("Channel %(channel)s: the capacity cannot be below 0 (0 starts no job).",
                      channel=record.complete_name)
                )
            if record.own_settings and record.sequential and record.capacity != 1:
                raise exceptions.ValidationError(
                    _("Channel %(channel)s: a sequential channel runs one job at a time; set its capacity to 1.",
                      channel=record.complete_name)
                )
            if record.throttle < 0 or not math.isfinite(record.throttle):
                raise exceptions.ValidationError(
                    _("Channel %(channel)s: the throttle is a number of seconds, 0 or more.",
                      channel=record.complete_name)
                )
            if record.aging_step < 0 or not math.isfinite(record.aging_step):
                raise exceptions.ValidationError(
                    _("Channel %(channel)s: the aging is a number of seconds, 0 (none) or more.",
                      channel=record.complete_name)
                )
            if record.aging_step and record.own_settings and record.sequential:
                raise exceptions.ValidationError(
                    _("Channel %(channel)s: a sequential channel runs its jobs strictly in order; "
                      "it cannot age them.", channel=record.complete_name)
                )

    @api.constrains("rate_limit")
    def _check_rate_limit(self):
        for record in self:
            try:
                parse_rate_limit(record.rate_limit)
            except ChannelConfigError as exc:
                raise exceptions.ValidationError(_("Channel %(channel)s: %(error)s",
                                                   channel=record.complete_name, error=exc)) from None

    @api.constrains("parent_id")
    def _check_parent_cycle(self):
        if self._has_cycle():
            raise exceptions.ValidationError(
                _("A channel cannot be its own ancestor: choose a parent that is not under %s.",
                  ", ".join(self.mapped("complete_name")))
            )

    @api.onchange(*OWN_SETTINGS)
    def _onchange_run_settings(self):
        for record in self:
            record.own_settings = True

    @api.onchange("own_settings")
    def _onchange_own_settings(self):
        """Start from what the configuration says, not from a capacity of 0 that would stop the channel."""
        from ..jobrunner.settings import channels_config

        for record in self.filtered(lambda r: r.own_settings and not r.capacity and not r.sequential):
            try:
                tree = ChannelTree.from_config(channels_config())
                spec = tree.spec(tree.resolve(normalize_name(record.complete_name)))
            except ChannelConfigError:
                continue
            record.capacity = spec.capacity if spec.capacity is not None else 1
            record.sequential = spec.sequential
            record.throttle = spec.throttle

    def action_pause(self):
        self.write({"paused": True})

    def action_resume(self):
        self.write({"paused": False})

    @api.model
    def _with_own_settings(self, vals):
        """A change of capacity, sequential or throttle means: this channel's settings win."""
        if "own_settings" not in vals and any(key in vals for key in OWN_SETTINGS):
            return dict(vals, own_settings=True)
        return vals

    def init(self):
        self.env.cr.execute(sql.CREATE_CHANNEL_NOTIFY_TRIGGER)
        self.env.cr.execute(sql.CREATE_CHANNEL_STARTS)
        self.env.cr.execute(sql.CREATE_CHANNEL_FUNCTIONS)

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
        vals_list = [self._with_own_settings(vals) for vals in vals_list]
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
        vals = self._with_own_settings(vals)
        if not self.env.context.get("install_mode") and ("name" in vals or "parent_id" in vals):
            if any(channel.name == "root" for channel in self):
                raise exceptions.UserError(_("Cannot change the root channel"))
        return super().write(vals)

    def unlink(self):
        if any(channel.name == "root" for channel in self):
            raise exceptions.UserError(_("Cannot remove the root channel"))
        return super().unlink()
