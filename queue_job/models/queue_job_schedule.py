import json
import logging

from odoo import _, api, exceptions, fields, models
from odoo.addons.base.models.res_partner import _tz_get

from ..engine import schedule as timing
from ..engine import sql
from ..engine.states import ENQUEUED, PENDING, STARTED, WAIT_DEPENDENCIES

_logger = logging.getLogger(__name__)

BUSY_STATES = (WAIT_DEPENDENCIES, PENDING, ENQUEUED, STARTED)


class QueueJobSchedule(models.Model):
    """A job function run on a cron expression: one job per tick, never two at once.

    A tick that finds the previous job still waiting or running enqueues
    nothing and is counted (``skipped_count``). After a downtime, the ticks
    missed give one job (``catch_up = once``) or none (``skip``, unless the
    last one is recent); they are counted in ``missed_count``. The minute
    cron "Job Queue: recurring jobs, batches, failure branches" drives them.
    """

    _name = "queue.job.schedule"
    _description = "Recurring job"
    _order = "name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    job_function_id = fields.Many2one(
        "queue.job.function",
        string="Job function",
        required=True,
        ondelete="restrict",
        domain=[("model_id", "!=", False)],
        help="The method to run, called on an empty recordset of its model (e.g. <res.partner>.sync_all).",
    )
    cron_expression = fields.Char(
        required=True,
        default="0 * * * *",
        help="Five fields: minute hour day-of-month month day-of-week, e.g. '*/15 * * * *' "
        "(every 15 minutes) or '0 9 * * mon-fri' (9:00 on weekdays).",
    )
    tz = fields.Selection(
        _tz_get,
        string="Time zone",
        required=True,
        default=lambda self: self.env.user.tz or "UTC",
        help="The cron expression is read in this time zone.",
    )
    kwargs = fields.Text(
        string="Keyword arguments",
        default="{}",
        help='A JSON object of the keyword arguments of the method, e.g. {"limit": 100}.',
    )
    priority = fields.Integer(default=10, help="Priority of the jobs; smaller runs first.")
    channel = fields.Char(help="Channel of the jobs; empty: the job function's.")
    catch_up = fields.Selection(
        [(timing.CATCH_UP_ONCE, "Run once"), (timing.CATCH_UP_SKIP, "Skip")],
        string="After a downtime",
        required=True,
        default=timing.CATCH_UP_ONCE,
        help="Ticks missed while the server was down: run one job for them all, or skip them.",
    )
    user_id = fields.Many2one("res.users", string="Run as", required=True, default=lambda self: self.env.user)
    next_call = fields.Datetime(string="Next tick", readonly=True, copy=False)
    last_call = fields.Datetime(string="Last tick", readonly=True, copy=False)
    last_job_id = fields.Many2one("queue.job", string="Last job", readonly=True, copy=False, ondelete="set null")
    last_job_state = fields.Selection(related="last_job_id.state", string="Last job state")
    run_count = fields.Integer(string="Jobs enqueued", readonly=True, copy=False)
    skipped_count = fields.Integer(
        string="Skipped (still running)", readonly=True, copy=False,
        help="Ticks that enqueued nothing because the previous job was still waiting or running.",
    )
    missed_count = fields.Integer(
        string="Missed (downtime)", readonly=True, copy=False,
        help="Ticks that got no job of their own after a downtime (see 'After a downtime').",
    )

    # -- bad input -----------------------------------------------------------

    @api.constrains("cron_expression", "tz")
    def _check_cron_expression(self):
        for record in self:
            try:
                timing.check(record.cron_expression, record.tz)
            except timing.ScheduleError as exc:
                raise exceptions.ValidationError(_("Recurring job %(name)s: %(error)s", name=record.name, error=exc)) from exc

    @api.constrains("kwargs")
    def _check_kwargs(self):
        for record in self:
            record._parsed_kwargs()

    @api.constrains("job_function_id")
    def _check_job_function(self):
        for record in self:
            function = record.job_function_id
            model_name = function.model_id.model
            if not model_name or model_name not in self.env:
                raise exceptions.ValidationError(_("Job function %s has no model installed.", function.name))
            if not callable(getattr(type(self.env[model_name]), function.method or "", None)):
                raise exceptions.ValidationError(
                    _("Job function %(name)s: model %(model)s has no method %(method)s.",
                      name=function.name, model=model_name, method=function.method)
                )

    def _parsed_kwargs(self):
        self.ensure_one()
        try:
            value = json.loads(self.kwargs or "{}")
        except ValueError as exc:
            raise exceptions.ValidationError(
                _("Recurring job %(name)s: the keyword arguments are not valid JSON: %(error)s", name=self.name, error=exc)
            ) from exc
        if not isinstance(value, dict):
            raise exceptions.ValidationError(
                _('Recurring job %s: the keyword arguments must be a JSON object, e.g. {"limit": 100}.', self.name)
            )
        return value

    # -- next tick -----------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._reset_next_call()
        return records

    def write(self, vals):
        result = super().write(vals)
        if {"cron_expression", "tz", "active"} & set(vals):
            self._reset_next_call()
        return result

    def _reset_next_call(self):
        now = fields.Datetime.now()
        for record in self:
            next_call = timing.next_tick(record.cron_expression, record.tz, now) if record.active else False
            super(QueueJobSchedule, record).write({"next_call": next_call})

    # -- running -------------------------------------------------------------

    @api.model
    def _cron_every_minute(self):
        """The minute cron: due recurring jobs, then batches and failures left unfinished.

        Each part in a savepoint of its own: one that breaks is logged and
        does not hold up the others.
        """
        for part in (self._run_due, self.env["queue.job.batch"]._job_batches_heal, self.env["queue.job"]._job_heal_failures):
            try:
                with self.env.cr.savepoint():
                    part()
            except Exception:
                _logger.exception("minute cron of the job queue on %s: %s failed", self.env.cr.dbname, part.__name__)

    @api.model
    def _run_due(self, now=None):
        """Tick every schedule due at ``now``; the schedules ticked."""
        now = now or fields.Datetime.now()
        self.flush_model()
        # Locked, so that two schedulers (two servers' cron threads) never tick one schedule twice.
        self.env.cr.execute(sql.LOCK_DUE_SCHEDULES, {"now": now})
        due = self.browse([row[0] for row in self.env.cr.fetchall()])
        for record in due:
            record._tick(now)
        return due

    def _tick(self, now):
        self.ensure_one()
        try:
            decision = timing.plan(self.cron_expression, self.tz, self.next_call, now, self.catch_up)
        except timing.ScheduleError as exc:
            # Only a row written around the form's checks (SQL, an old row) gets here:
            # said once, then the schedule waits until its expression is fixed.
            _logger.error("recurring job %s (%s) on %s stopped: %s", self.id, self.name, self.env.cr.dbname, exc)
            self.write({"next_call": False})
            return
        vals = {
            "next_call": decision.next_call,
            "last_call": now,
            "missed_count": self.missed_count + decision.missed,
        }
        if decision.run and self.last_job_id.state in BUSY_STATES:
            vals["skipped_count"] = self.skipped_count + 1
            _logger.info(
                "recurring job %s (%s) on %s: tick skipped, job %s is still %s",
                self.id, self.name, self.env.cr.dbname, self.last_job_id.uuid, self.last_job_id.state,
            )
        elif decision.run:
            try:
                with self.env.cr.savepoint():
                    job_ = self._enqueue_job()
            except Exception:  # method removed, bad arguments...: other schedules go on
                _logger.exception("recurring job %s (%s) on %s: could not enqueue", self.id, self.name, self.env.cr.dbname)
                vals["skipped_count"] = self.skipped_count + 1
                self.env["queue.job"].invalidate_model()
            else:
                vals.update(last_job_id=job_.db_record().id, run_count=self.run_count + 1)
        self.write(vals)

    def _enqueue_job(self):
        self.ensure_one()
        function = self.job_function_id
        model = self.env[function.model_id.model].with_user(self.user_id).with_context(job_batch=False)
        delayed = model.with_delay(
            priority=self.priority,
            channel=self.channel or None,
            description=self.name,
            # A second waiting job of this schedule is refused by the database itself.
            identity_key=f"queue.job.schedule:{self.id}",
        )
        return getattr(delayed, function.method)(**self._parsed_kwargs())

    def action_run_now(self):
        """Enqueue a job now, unless the last one still waits or runs."""
        for record in self:
            if record.last_job_id.state in BUSY_STATES:
                raise exceptions.UserError(
                    _("Job %(job)s of %(name)s is still %(state)s.", job=record.last_job_id.uuid, name=record.name,
                      state=record.last_job_id.state)
                )
            job_ = record._enqueue_job()
            record.write({"last_job_id": job_.db_record().id, "run_count": record.run_count + 1})
        return True
