import logging
import random
from datetime import datetime, timedelta

from odoo import _, api, exceptions, fields, models
from odoo.tools import config

from ..engine import sql
from ..engine.channels import normalize_name
from ..engine.states import (
    CANCELLED,
    DONE,
    FAILED,
    PENDING,
    STATES,
    InvalidStateTransition,
    check_transition,
)
from ..exception import JobError
from ..fields import JobSerialized
from ..job import Job

_logger = logging.getLogger(__name__)

MAX_WORKER_LOSSES = 5  # as the runner's default max_worker_losses

# Mail bookkeeping a job row never needs when it is created.
QUIET_CONTEXT = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
    "mail_notrack": True,
}


class QueueJob(models.Model):
    """A stored job: what to call, on which records, and how it went."""

    _name = "queue.job"
    _description = "Queue Job"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _log_access = False
    _order = "date_created DESC, date_done DESC"

    _removal_interval = 30  # days
    _default_related_action = "related_action_open_record"

    # Only code holding this object may create jobs or rewrite what they run:
    # it cannot travel through RPC.
    EDIT_SENTINEL = object()
    _protected_fields = (
        "uuid",
        "name",
        "date_created",
        "model_name",
        "method_name",
        "func_string",
        "channel_method_name",
        "job_function_id",
        "records",
        "args",
        "kwargs",
        "user_id",
        "graph_uuid",
        "dependencies",
        "identity_key",
        "record_refs",
        "concurrency_key",
        "concurrency_limit",
    )

    uuid = fields.Char(string="UUID", readonly=True, index=True, required=True)
    graph_uuid = fields.Char(
        string="Graph UUID",
        readonly=True,
        index=True,
        help="Shared by the jobs of one graph (chain or group); empty for a single job.",
    )
    user_id = fields.Many2one("res.users", string="User ID", readonly=True, index=True)
    company_id = fields.Many2one("res.company", string="Company", index=True)
    name = fields.Char(string="Description", readonly=True)
    model_name = fields.Char(string="Model", readonly=True, index=True)
    method_name = fields.Char(readonly=True)
    records = JobSerialized(string="Record(s)", readonly=True, base_type=models.BaseModel)
    dependencies = fields.Json(readonly=True)
    args = JobSerialized(readonly=True, base_type=tuple)
    kwargs = JobSerialized(readonly=True, base_type=dict)
    func_string = fields.Char(string="Task", readonly=True)

    state = fields.Selection(STATES, readonly=True, required=True, index=True, default=PENDING)
    priority = fields.Integer(help="Smaller runs first.")
    exc_name = fields.Char(string="Exception", readonly=True)
    exc_message = fields.Char(string="Exception Message", readonly=True, tracking=True)
    exc_info = fields.Text(string="Exception Info", readonly=True)
    result = fields.Text(readonly=True)

    date_created = fields.Datetime(string="Created Date", readonly=True)
    date_started = fields.Datetime(string="Start Date", readonly=True)
    date_enqueued = fields.Datetime(string="Enqueue Time", readonly=True)
    date_done = fields.Datetime(readonly=True)
    exec_time = fields.Float(
        string="Execution Time (avg)",
        aggregator="avg",
        readonly=True,
        help="Seconds the job took to run; the average when grouped.",
    )
    date_cancelled = fields.Datetime(readonly=True)
    eta = fields.Datetime(string="Execute only after")
    retry = fields.Integer(string="Current try", readonly=True)
    max_retries = fields.Integer(
        string="Max. retries",
        help="The job fails once it has been tried this many times. 0: try forever.",
    )
    channel_method_name = fields.Char(string="Complete Method Name", readonly=True)
    job_function_id = fields.Many2one("queue.job.function", string="Job Function", readonly=True)
    channel = fields.Char(index=True)
    identity_key = fields.Char(readonly=True)
    concurrency_key = fields.Char(
        readonly=True,
        help="At most 'Jobs per key' jobs with the same key run at once, whatever the channel's capacity.",
    )
    concurrency_limit = fields.Integer(string="Jobs per key", readonly=True)
    channel_paused = fields.Boolean(
        compute="_compute_channel_paused", help="The job's channel, or a channel above it, is paused."
    )
    worker_pid = fields.Integer(readonly=True)
    timeout = fields.Integer(
        string="Time limit (s)",
        help="Soft time limit: past it, the job gets a JobTimeoutError it may catch. 0: none.",
    )
    hard_timeout = fields.Integer(
        string="Hard time limit (s)",
        help="Past it, the job is stopped and tried again later (or failed when out of tries). "
        "0: the soft limit plus 30 seconds, or none.",
    )
    job_batch_id = fields.Many2one(
        "queue.job.batch",
        string="Batch",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="Set when the job was enqueued with a draft batch in the context key job_batch.",
    )
    worker_losses = fields.Integer(
        readonly=True,
        help="How many times the worker running this job died (killed, out of memory, lost connection).",
    )

    @api.depends("channel")
    def _compute_channel_paused(self):
        paused = self.env["queue.job.channel"].sudo().search([("paused", "=", True)]).mapped("complete_name")
        for job in self:
            name = normalize_name(job.channel)
            job.channel_paused = any(name == p or name.startswith(p + ".") for p in paused)

    def init(self):
        self.env.cr.execute(sql.CREATE_INDEXES)
        self.env.cr.execute(sql.CREATE_IDENTITY_INDEX)
        self.env.cr.execute(sql.CREATE_NOTIFY_TRIGGERS)
        self.env.cr.execute(sql.CREATE_BATCH_INDEX)

    # -- creation and protection --------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.context.get("_job_edit_sentinel") is not self.EDIT_SENTINEL:
            raise exceptions.AccessError(_("Jobs are created with with_delay() or delayable(), not directly."))
        return super(QueueJob, self.with_context(**QUIET_CONTEXT)).create(vals_list)

    def write(self, vals):
        if self.env.context.get("_job_edit_sentinel") is not self.EDIT_SENTINEL:
            protected = sorted(name for name in vals if name in self._protected_fields)
            reassign = "user_id" in protected and self._may_reassign_user()
            if reassign:
                protected.remove("user_id")
                if not vals["user_id"]:
                    raise exceptions.UserError(_("A job needs a user to run as."))
            if protected:
                raise exceptions.AccessError(
                    _("These job fields cannot be changed: %s", ", ".join(protected))
                )
            if "state" in vals:
                for record in self:
                    try:
                        check_transition(record.state, vals["state"], record.uuid)
                    except InvalidStateTransition as exc:
                        raise exceptions.UserError(str(exc)) from exc
        else:
            reassign = False
        newly_failed = self.browse()
        if vals.get("state") == FAILED:
            newly_failed = self.filtered(lambda job: job.state != FAILED)
            newly_failed._message_post_on_failure()
        result = super().write(vals)
        if reassign:
            self._records_follow_user()
        if newly_failed:
            newly_failed._job_failed_for_good()
        if vals.get("state") in (DONE, CANCELLED, FAILED):
            self._job_batches_check()
        return result

    def _may_reassign_user(self):
        return self.env.su or self.env.user.has_group("queue_job.group_queue_job_manager")

    def _records_follow_user(self):
        """Jobs handed to another user run as that user: it is stored with their records."""
        for record in self.sudo():
            record.with_context(_job_edit_sentinel=self.EDIT_SENTINEL).write(
                {"records": record.records.with_user(record.user_id)}
            )

    # -- failure notices --------------------------------------------------

    def _message_post_on_failure(self):
        users = self.env["res.users"].sudo().search(self._subscribe_users_domain() or [("id", "=", 0)])
        for record in self:
            followers = (users | record.user_id).partner_id
            record.sudo().message_subscribe(partner_ids=followers.ids)
            message = record._message_failed_job()
            if message:
                # Queued, not sent now: the notice must not hold up (or fail) the worker.
                record.sudo().with_context(mail_notify_force_send=False).message_post(
                    body=message, subtype_xmlid="queue_job.mt_job_failed"
                )

    def _subscribe_users_domain(self):
        """Queue managers of the jobs' companies follow failed jobs."""
        group = self.env.ref("queue_job.group_queue_job_manager", raise_if_not_found=False)
        if not group:
            return None
        domain = [("groups_id", "=", group.id)]
        if self.company_id:
            domain.append(("company_id", "in", self.company_id.ids))
        return domain

    def _message_failed_job(self):
        """The message posted on a job when it fails (override to say more)."""
        self.ensure_one()
        return _("The job failed. The exception and its traceback are on the job.")

    def _needaction_domain_get(self):
        return [("state", "=", FAILED)]

    # -- related action ---------------------------------------------------

    def open_related_action(self):
        """The action of the "Related" button: by default, the job's records."""
        self.ensure_one()
        action = Job.load(self.env, self.uuid).related_action()
        if action is None:
            raise exceptions.UserError(_("No action available for this job"))
        return action

    def related_action_open_record(self):
        self.ensure_one()
        records = self.records.exists()
        if not records:
            return None
        action = {
            "name": _("Related Record"),
            "type": "ir.actions.act_window",
            "view_mode": "form",
            "res_model": records._name,
        }
        if len(records) == 1:
            action["res_id"] = records.id
        else:
            action.update(name=_("Related Records"), view_mode="list,form", domain=[("id", "in", records.ids)])
        return action

    # -- maintenance ------------------------------------------------------

    def _retention_days(self):
        """Days to keep finished jobs, per channel name (nearest configured ancestor)."""
        channels = self.env["queue.job.channel"].sudo().search([])
        return {channel.complete_name: channel.removal_interval for channel in channels}

    def autovacuum(self, batch_size=1000):
        """Delete the jobs done or cancelled longer ago than their channel's retention.

        Rows are chosen by ``date_done`` / ``date_cancelled``, as OCA does,
        whatever their state (rows migrated from older versions, or written
        by hand); a job handed to a worker or running is never deleted.
        """
        retention = self._retention_days()
        # The queries below are plain SQL: job changes still in the ORM cache
        # (made earlier in this transaction) must reach the table first.
        self.flush_model()
        self.env.cr.execute(sql.CHANNELS_WITH_FINISHED_JOBS)
        for (channel,) in self.env.cr.fetchall():
            name = normalize_name(channel)
            while name not in retention and "." in name:
                name = name.rsplit(".", 1)[0]
            days = retention.get(name, self._removal_interval)
            deadline = datetime.now() - timedelta(days=int(days))
            while True:
                self.env.cr.execute(
                    sql.FINISHED_JOBS_OLDER_THAN,
                    {"channel": channel, "deadline": deadline, "limit": batch_size},
                )
                ids = [row[0] for row in self.env.cr.fetchall()]
                if not ids:
                    break
                self.sudo().browse(ids).unlink()
                if not config["test_enable"]:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
        return True

    def requeue_stuck_jobs(self, enqueued_delta=5, started_delta=0):
        """Put back to pending the jobs whose worker is gone.

        Kept for OCA compatibility: the jobrunner already heals such jobs by
        itself, using the lease each running job holds. Only jobs whose lease
        is free are touched, so a job that really runs is never requeued.
        """
        if not enqueued_delta and not started_delta:
            raise exceptions.ValidationError(_("If both parameters are 0, ALL jobs will be requeued!"))
        self.flush_model()
        self.env.cr.execute(
            sql.HEAL_ORPHANS, {"grace": float(enqueued_delta or 0) * 60, "in_flight": [], "max_losses": MAX_WORKER_LOSSES}
        )
        healed = self.env.cr.fetchall()
        self.invalidate_model()
        return healed

    def _test_job(self, failure_rate=0):
        """A job that does nothing (or fails at the given rate), to try the queue."""
        _logger.info("running test job %s", self.env.context.get("job_uuid"))
        if random.random() < failure_rate:
            raise JobError("Job failed (test job with failure_rate)")
