import ast
import logging
import re
from collections import namedtuple

from odoo import _, api, exceptions, fields, models, tools

from ..engine.retry import RetryPatternError, parse_retry_pattern
from ..fields import JobSerialized

_logger = logging.getLogger(__name__)

FUNCTION_NAME = re.compile(r"^<([0-9a-z_\.]+)>\.([0-9a-zA-Z_]+)$")
RELATED_ACTION_KEYS = ("enable", "func_name", "kwargs")


class QueueJobFunction(models.Model):
    """How jobs of one method run: channel, retry pattern, related action."""

    _name = "queue.job.function"
    _description = "Job Functions"
    _log_access = False

    JobConfig = namedtuple(
        "JobConfig",
        "channel retry_pattern related_action_enable related_action_func_name "
        "related_action_kwargs job_function_id timeout hard_timeout notify",
        defaults=(0, 0, False),
    )

    def _default_channel(self):
        return self.env.ref("queue_job.channel_root")

    name = fields.Char(
        compute="_compute_name",
        inverse="_inverse_name",
        index=True,
        store=True,
        help="<model>.method, e.g. <res.partner>.export_to_crm",
    )
    model_id = fields.Many2one("ir.model", string="Model", ondelete="cascade")
    method = fields.Char()
    channel_id = fields.Many2one(
        "queue.job.channel",
        string="Channel",
        required=True,
        default=lambda self: self._default_channel(),
    )
    channel = fields.Char(related="channel_id.complete_name", store=True, readonly=True)
    retry_pattern = JobSerialized(string="Retry Pattern (serialized)", base_type=dict)
    edit_retry_pattern = fields.Text(
        string="Retry Pattern",
        compute="_compute_edit_retry_pattern",
        inverse="_inverse_edit_retry_pattern",
        help="Seconds to wait before the next try, by number of tries so far: "
        "{1: 10, 5: 60} waits 10 s after the first tries and 60 s from the 5th on. "
        "A pair (10, 30) waits a random time between the two.",
    )
    related_action = JobSerialized(string="Related Action (serialized)", base_type=dict)
    edit_related_action = fields.Text(
        string="Related Action",
        compute="_compute_edit_related_action",
        inverse="_inverse_edit_related_action",
        help='What the "Related" button of a job opens, e.g. '
        '{"enable": True, "func_name": "related_action_open_record", "kwargs": {}}. '
        "Without func_name, the job's records are opened.",
    )

    timeout = fields.Integer(
        string="Time limit (s)",
        help="Soft time limit of this function's jobs: past it, the job gets a JobTimeoutError "
        "it may catch. 0: none. A job's own limit (with_delay(timeout=...)) wins.",
    )
    hard_timeout = fields.Integer(
        string="Hard time limit (s)",
        help="Past it, a job is stopped and tried again later (or failed when out of tries). "
        "0: the soft limit plus 30 seconds, or none.",
    )

    notify = fields.Boolean(
        string="Notify the user",
        help="The user who enqueued a job of this function is told when it is done or failed for good "
        "(unless turned off in their preferences). with_delay(notify=...) wins.",
    )

    _sql_constraints = [
        ("name_uniq", "unique(name)", "A job function with this name already exists."),
        ("timeouts_positive", "CHECK(timeout >= 0 AND hard_timeout >= 0)", "Time limits cannot be negative."),
    ]

    @staticmethod
    def job_function_name(model_name, method_name):
        return f"<{model_name}>.{method_name}"

    @api.depends("model_id.model", "method")
    def _compute_name(self):
        for record in self:
            if record.model_id and record.method:
                record.name = self.job_function_name(record.model_id.model, record.method)
            else:
                record.name = ""

    def _inverse_name(self):
        for record in self:
            match = FUNCTION_NAME.match(record.name or "")
            if not match:
                raise exceptions.UserError(
                    _("Invalid job function %r: expected <model.name>.method_name", record.name)
                )
            model = self.env["ir.model"].sudo().search([("model", "=", match[1])], limit=1)
            if not model:
                raise exceptions.UserError(_("Model %s not found", match[1]))
            record.model_id = model.id
            record.method = match[2]

    def _parse_retry_pattern(self):
        try:
            return parse_retry_pattern(self.retry_pattern)
        except RetryPatternError:
            _logger.error("job function %s: invalid retry pattern, using the default", self.name)
            return {}

    @api.depends("retry_pattern")
    def _compute_edit_retry_pattern(self):
        for record in self:
            record.edit_retry_pattern = str(record._parse_retry_pattern())

    def _inverse_edit_retry_pattern(self):
        for record in self:
            record.retry_pattern = record._literal(record.edit_retry_pattern, record._retry_pattern_format_error_message())

    @api.depends("related_action")
    def _compute_edit_related_action(self):
        for record in self:
            record.edit_related_action = str(record.related_action)

    def _inverse_edit_related_action(self):
        for record in self:
            record.related_action = record._literal(
                record.edit_related_action, record._related_action_format_error_message()
            )

    @staticmethod
    def _literal(text, error_message):
        text = (text or "").strip()
        if not text:
            return {}
        try:
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
            raise exceptions.UserError(error_message) from exc
        if not isinstance(value, dict):
            raise exceptions.UserError(error_message)
        return value

    def _retry_pattern_format_error_message(self):
        return _(
            "Retry pattern of %s not understood. It maps a number of tries to seconds, e.g.\n"
            "{1: 10, 5: 60, 10: 600}\n{1: (1, 10), 5: (10, 60)}",
            self.name,
        )

    def _related_action_format_error_message(self):
        return _(
            'Related action of %s not understood. Expected e.g.\n'
            '{"enable": True, "func_name": "related_action_open_record", "kwargs": {"limit": 10}}',
            self.name,
        )

    @api.constrains("retry_pattern")
    def _check_retry_pattern(self):
        for record in self:
            try:
                parse_retry_pattern(record.retry_pattern)
            except RetryPatternError as exc:
                raise exceptions.UserError(f"{record._retry_pattern_format_error_message()}\n{exc}") from exc

    @api.constrains("related_action")
    def _check_related_action(self):
        for record in self:
            action = record.related_action or {}
            if not isinstance(action, dict) or any(key not in RELATED_ACTION_KEYS for key in action):
                raise exceptions.UserError(record._related_action_format_error_message())

    def job_default_config(self):
        return self.JobConfig(
            channel="root",
            retry_pattern={},
            related_action_enable=True,
            related_action_func_name=None,
            related_action_kwargs={},
            job_function_id=None,
        )

    @tools.ormcache("name")
    def job_config(self, name):
        config = self.search([("name", "=", name)], limit=1)
        if not config:
            return self.job_default_config()
        related_action = config.related_action or {}
        return self.JobConfig(
            channel=config.channel or "root",
            retry_pattern=config._parse_retry_pattern(),
            related_action_enable=related_action.get("enable", True),
            related_action_func_name=related_action.get("func_name"),
            related_action_kwargs=related_action.get("kwargs", {}),
            job_function_id=config.id,
            timeout=config.timeout,
            hard_timeout=config.hard_timeout,
            notify=config.notify,
        )

    @api.model_create_multi
    def create(self, vals_list):
        records = self.browse()
        if self.env.context.get("install_mode"):
            # An addon's XML may declare a function another addon already
            # declared: bind to the existing record instead of failing.
            remaining = []
            for vals in vals_list:
                existing = self.search([("name", "=", vals["name"])], limit=1) if vals.get("name") else None
                if existing:
                    if not existing.get_metadata()[0].get("noupdate"):
                        existing.write(vals)
                    records |= existing
                else:
                    remaining.append(vals)
            vals_list = remaining
        records |= super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
