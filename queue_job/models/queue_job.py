import json
import logging
import random
from datetime import datetime, timedelta

import psycopg2.errors
from odoo import _, api, exceptions, fields, models, tools
from odoo.tools import config, html_escape

from .. import insert_buffer
from ..delay import Graph
from ..engine import sql
from ..engine.channels import normalize_name
from ..engine.codec import UndecodableValue
from ..engine.states import (
    CANCELLED,
    DONE,
    ENQUEUED,
    FAILED,
    PENDING,
    STARTED,
    STATES,
    WAIT_DEPENDENCIES,
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
    dependency_graph = fields.Json(compute="_compute_dependency_graph")
    graph_jobs_count = fields.Integer(compute="_compute_graph_jobs_count")
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
    worker_losses = fields.Integer(
        readonly=True,
        help="How many times the worker running this job died (killed, out of memory, lost connection).",
    )

    def init(self):
        self.env.cr.execute(sql.CREATE_INDEXES)
        self.env.cr.execute(sql.CREATE_IDENTITY_INDEX)
        self.env.cr.execute(sql.CREATE_NOTIFY_TRIGGERS)

    # -- creation and protection --------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.context.get("_job_edit_sentinel") is not self.EDIT_SENTINEL:
            raise exceptions.AccessError(_("Jobs are created with with_delay() or delayable(), not directly."))
        return super(QueueJob, self.with_context(**QUIET_CONTEXT)).create(vals_list)

    def write(self, vals):
        if self.env.context.get("_job_edit_sentinel") is not self.EDIT_SENTINEL:
            protected = sorted(name for name in vals if name in self._protected_fields)
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
        if vals.get("state") == FAILED:
            self.filtered(lambda job: job.state != FAILED)._message_post_on_failure()
        return super().write(vals)

    @api.model
    def _job_insert(self, jobs):
        """Store new jobs; return the stored Jobs.

        A single job whose identity key matches a job waiting to run is not
        stored: the waiting one is returned instead. The check is made by a
        unique index, so two transactions enqueuing the same key at once
        cannot both succeed: the second one waits for the first, then gets
        the waiting job, or, under Odoo's REPEATABLE READ, a serialization
        failure on which Odoo retries the request (which then finds it).
        """
        vals_list = [job._store_values(create=True) for job in jobs]
        columns = self._job_plain_columns(vals_list)
        if not any(vals.get("identity_key") for vals in vals_list):
            if columns:
                insert_buffer.buffer_rows(self.env.cr, columns, self._job_rows(columns, vals_list))
            else:
                self._job_orm_create(vals_list)
            return list(jobs)
        if len(jobs) == 1:
            existing = jobs[0].job_record_with_same_identity_key()
            if existing:
                return [Job._load_from_db_record(existing)]
        if columns:
            returned = insert_buffer.insert_rows(
                self.env.cr, columns, self._job_rows(columns, vals_list), suffix=sql.SKIP_WAITING_TWINS
            )
            stored = {uuid for (uuid,) in returned}
        else:
            stored = self._job_orm_create_unless_twins(vals_list)
        skipped = [job for job in jobs if job.uuid not in stored]
        if not skipped:
            return list(jobs)
        twins = [job.job_record_with_same_identity_key() for job in skipped]
        if len(jobs) == 1 and twins[0]:
            return [Job._load_from_db_record(twins[0])]
        raise exceptions.UserError(
            _(
                "Job %(job)s was not stored: a job with the same identity key is already waiting to run (%(twin)s).",
                job=skipped[0].uuid,
                twin=twins[0].uuid if twins[0] else self._job_committed_twin_uuid(skipped[0].identity_key),
            )
        )

    def _job_orm_create(self, vals_list):
        model = self.sudo().with_context(_job_edit_sentinel=self.EDIT_SENTINEL, **QUIET_CONTEXT)
        return model.create(vals_list)

    def _job_orm_create_unless_twins(self, vals_list):
        """ORM create of jobs with identity keys; the uuids stored (none when a twin waits)."""
        try:
            with self.env.cr.savepoint(flush=False), tools.mute_logger("odoo.sql_db"):
                records = self._job_orm_create(vals_list)
                records.flush_recordset()
        except psycopg2.errors.UniqueViolation:
            self.env.invalidate_all()
            return set()
        return {vals["uuid"] for vals in vals_list}

    def _job_committed_twin_uuid(self, identity_key):
        """The uuid of the waiting job with this key, as committed (this transaction's snapshot may not show it)."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT uuid FROM queue_job WHERE identity_key = %s AND state IN %s LIMIT 1",
                [identity_key, (WAIT_DEPENDENCIES, PENDING, ENQUEUED)],
            )
            row = cr.fetchone()
        return row[0] if row else "?"

    def _job_plain_columns(self, vals_list):
        """The columns of a plain INSERT of these rows, or None when the ORM must create them.

        The ORM's create() costs more than the job's whole insert; it is still
        used when another addon adds stored fields with defaults or computes
        to queue.job, or a ``_job_store_values`` hook returns other values.
        """
        columns = tuple(sorted(set().union(*vals_list)))
        return columns if self._job_plain_insert_allowed(columns) else None

    def _job_rows(self, columns, vals_list):
        fields_ = [self._fields[name] for name in columns]
        return [
            tuple(field.convert_to_column(vals.get(field.name, False), self, vals) for field in fields_)
            for vals in vals_list
        ]

    def _search(self, domain, offset=0, limit=None, order=None):
        insert_buffer.flush_rows(self.env.cr)
        return super()._search(domain, offset=offset, limit=limit, order=order)

    def flush_model(self, fnames=None):
        insert_buffer.flush_rows(self.env.cr)
        return super().flush_model(fnames)

    @tools.ormcache("columns")
    def _job_plain_insert_allowed(self, columns):
        given = set(columns)
        for name, field in self._fields.items():
            if name == "id" or not (field.store and field.column_type):
                if name in given:
                    return False  # a value for a non-stored field: the ORM knows what to do
                continue
            if name not in given and (field.default or field.compute or field.required):
                return False
        return True

    # -- state changes, from the UI and the API --------------------------------

    def _change_job_state(self, state, result=None):
        """Requeue, finish or cancel jobs; the only door for people to change a state."""
        # Jobs are stored as superuser below: check the caller may change them at all.
        self.check_access("write")
        for record in self:
            try:
                job_ = Job.load(record.env, record.uuid)
            except (UndecodableValue, AttributeError) as exc:
                record._change_unloadable_job_state(state, result, exc)
                continue
            try:
                if state == DONE:
                    check_transition(job_.state, DONE, job_.uuid)
                    job_.set_done(result=result)
                elif state == PENDING:
                    target = WAIT_DEPENDENCIES if any(j.state != DONE for j in job_.depends_on) else PENDING
                    check_transition(job_.state, target, job_.uuid)
                    if job_.state == STARTED:
                        raise exceptions.UserError(
                            _("Job %s is running; it cannot be requeued until it ends.", job_.uuid)
                        )
                    job_.set_pending(result=result)
                elif state == CANCELLED:
                    check_transition(job_.state, CANCELLED, job_.uuid)
                    job_.set_cancelled(result=result)
                else:
                    raise ValueError(f"state not supported: {state}")
            except InvalidStateTransition as exc:
                raise exceptions.UserError(str(exc)) from exc
            if job_.state in (PENDING, WAIT_DEPENDENCIES) and job_.identity_key:
                twin = job_.job_record_with_same_identity_key() - record
                if twin:
                    raise exceptions.UserError(
                        _("Job %(job)s cannot be requeued: job %(twin)s with the same identity key is already waiting.",
                          job=job_.uuid, twin=twin[0].uuid)
                    )
            job_.store()
            record.flush_recordset()
            if state == DONE:
                job_.enqueue_waiting()
            elif state == CANCELLED:
                job_.cancel_dependent_jobs()

    def _change_unloadable_job_state(self, state, result, reason):
        """Finish or cancel a job whose code or arguments are gone; requeuing it is refused."""
        self.ensure_one()
        if state == PENDING:
            raise exceptions.UserError(_("Job %(job)s cannot be requeued: %(reason)s", job=self.uuid, reason=reason))
        try:
            check_transition(self.state, state, self.uuid)
        except InvalidStateTransition as exc:
            raise exceptions.UserError(str(exc)) from exc
        vals = {"state": state, "result": result or False}
        if state == DONE:
            vals.update(date_done=fields.Datetime.now(), exc_name=False, exc_message=False, exc_info=False)
        else:
            vals.update(date_cancelled=fields.Datetime.now())
        self.sudo().with_context(_job_edit_sentinel=self.EDIT_SENTINEL).write(vals)
        self.flush_recordset()
        if state == DONE:
            self._job_wake_children(self.uuid)
        else:
            self._job_cancel_children(self.uuid)

    def button_done(self):
        self._change_job_state(DONE, result=_("Manually set to done by %s", self.env.user.name))
        return True

    def button_cancelled(self):
        self._change_job_state(CANCELLED, result=_("Cancelled by %s", self.env.user.name))
        return True

    def requeue(self):
        self.filtered(lambda job: job.state != WAIT_DEPENDENCIES)._change_job_state(PENDING)
        return True

    def _job_wake_children(self, job_uuid):
        parent = self.sudo().search([("uuid", "=", job_uuid)], limit=1)
        children = (parent.dependencies or {}).get("reverse_depends_on") or []
        if not parent.graph_uuid or not children:
            return
        self.flush_model()
        self.env.cr.execute(
            sql.LOCK_CHILDREN,
            {"graph_uuid": parent.graph_uuid, "children": json.dumps(children)},
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if ids:
            self.env.cr.execute(sql.WAKE_CHILDREN, {"ids": ids})
        self.invalidate_model(["state"])

    def _job_cancel_children(self, job_uuid):
        parent = self.sudo().search([("uuid", "=", job_uuid)], limit=1)
        if not parent.graph_uuid:
            return
        self.flush_model()
        self.env.cr.execute(
            sql.CANCEL_CHILDREN,
            {"id": parent.id, "graph_uuid": parent.graph_uuid, "result": _("Cancelled with job %s", job_uuid)},
        )
        self.invalidate_model(["state", "date_cancelled", "result"])

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

    # -- graphs -----------------------------------------------------------

    def _graph_jobs(self):
        uuids = [uuid for uuid in self.mapped("graph_uuid") if uuid]
        return self.search([("graph_uuid", "in", uuids)]) if uuids else self.browse()

    def _compute_graph_jobs_count(self):
        counts = {}
        for job in self._graph_jobs():
            counts[job.graph_uuid] = counts.get(job.graph_uuid, 0) + 1
        for record in self:
            record.graph_jobs_count = counts.get(record.graph_uuid, 0) if record.graph_uuid else 0

    @api.depends("dependencies")
    def _compute_dependency_graph(self):
        graph_jobs = self._graph_jobs()
        for record in self:
            members = graph_jobs.filtered(lambda job, g=record.graph_uuid: g and job.graph_uuid == g)
            if not members:
                record.dependency_graph = {}
                continue
            id_by_uuid = {job.uuid: job.id for job in members}
            graph = Graph()
            for job in members:
                graph.add_vertex(job.id)
                for parent_uuid in (job.dependencies or {}).get("depends_on", []):
                    if parent_uuid in id_by_uuid:
                        graph.add_edge(id_by_uuid[parent_uuid], job.id)
            record.dependency_graph = {
                "nodes": [members.browse(job_id)._dependency_graph_vis_node() for job_id in graph.vertices()],
                "edges": graph.edges(),
            }

    def _dependency_graph_vis_node(self):
        colors = {DONE: "#C2FABC", FAILED: "#FB7E81", STARTED: "#FFFF00", ENQUEUED: "#FFE5B4"}
        return {
            "id": self.id,
            "title": f"<strong>{html_escape(self.display_name)}</strong><br/>{html_escape(self.func_string)}",
            "color": colors.get(self.state, "#D2E5FF"),
            "state": self.state,
        }

    def open_graph_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("queue_job.action_queue_job")
        action.update(
            name=_("Jobs of graph %s", self.graph_uuid),
            context={},
            domain=[("graph_uuid", "=", self.graph_uuid)],
        )
        return action

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
        """Delete done and cancelled jobs older than their channel's retention."""
        retention = self._retention_days()
        # The queries below are plain SQL: job changes still in the ORM cache
        # (made earlier in this transaction) must reach the table first.
        self.flush_model()
        self.env.cr.execute(
            "SELECT DISTINCT channel FROM queue_job WHERE state IN ('done', 'cancelled')"
        )
        for (channel,) in self.env.cr.fetchall():
            name = normalize_name(channel)
            while name not in retention and "." in name:
                name = name.rsplit(".", 1)[0]
            days = retention.get(name, self._removal_interval)
            deadline = datetime.now() - timedelta(days=int(days))
            while True:
                self.env.cr.execute(
                    """SELECT id FROM queue_job
                        WHERE channel IS NOT DISTINCT FROM %s AND state IN ('done', 'cancelled')
                          AND COALESCE(date_done, date_cancelled, date_created) <= %s
                        LIMIT %s""",
                    (channel, deadline, batch_size),
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
