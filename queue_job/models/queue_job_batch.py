import logging

from odoo import _, api, exceptions, fields, models

from ..engine import sql
from ..engine.states import CANCELLED, DONE, ENQUEUED, FAILED, PENDING, STARTED, WAIT_DEPENDENCIES

_logger = logging.getLogger(__name__)

BATCH_STATES = [
    ("draft", "Draft"),
    ("enqueued", "Enqueued"),
    ("progress", "In Progress"),
    ("finished", "Finished"),
]


class QueueJobBatch(models.Model):
    """Jobs enqueued together (an import, a mass mailing), followed as one.

    Same API as OCA's queue_job_batch::

        batch = env["queue.job.batch"].get_new_batch("Import")
        for row in rows:
            model.with_context(job_batch=batch).with_delay().import_row(row)
        batch.enqueue()

    Jobs join a batch while it is a draft; ``enqueue()`` closes it. Once no
    job of the batch waits or runs any more, the batch is finished: its user
    is notified, and its callback job, if any, is enqueued.
    """

    _name = "queue.job.batch"
    _description = "Batch of jobs"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id DESC"

    name = fields.Char(required=True, readonly=True, tracking=True)
    job_ids = fields.One2many("queue.job", "job_batch_id", string="Jobs", readonly=True)
    user_id = fields.Many2one("res.users", required=True, readonly=True, tracking=True)
    company_id = fields.Many2one("res.company", readonly=True)
    state = fields.Selection(BATCH_STATES, default="draft", required=True, readonly=True, tracking=True)
    is_read = fields.Boolean(default=True, help="False once the batch finished, until its user has seen it.")
    date_finished = fields.Datetime(readonly=True)

    job_count = fields.Integer(compute="_compute_job_count", string="Jobs count")
    waiting_job_count = fields.Integer(compute="_compute_job_count", string="Waiting")
    running_job_count = fields.Integer(compute="_compute_job_count", string="Running")
    finished_job_count = fields.Integer(compute="_compute_job_count", string="Done")
    failed_job_count = fields.Integer(compute="_compute_job_count", string="Failed")
    cancelled_job_count = fields.Integer(compute="_compute_job_count", string="Cancelled")
    completeness = fields.Float(
        compute="_compute_job_count", string="Completion", help="Share of the jobs done (0 to 1)."
    )
    failed_percentage = fields.Float(
        compute="_compute_job_count", string="Failures", help="Share of the jobs failed (0 to 1)."
    )
    completion_rate = fields.Float(
        compute="_compute_job_count", string="Done (%)", help="Share of the jobs done, 0 to 100 (for the progress bar)."
    )
    execution_time = fields.Float(compute="_compute_job_count", help="Seconds the jobs of the batch ran, summed.")

    callback_model = fields.Char(
        groups="queue_job.group_queue_job_manager",
        help="Model of the method called (as a job) when the batch is finished, e.g. res.partner.",
    )
    callback_method = fields.Char(
        groups="queue_job.group_queue_job_manager",
        help="Method called (as a job, on an empty recordset of the model) with the batch as its argument.",
    )
    callback_job_id = fields.Many2one("queue.job", readonly=True, string="Callback job")

    # -- OCA API -----------------------------------------------------------

    @api.model
    def get_new_batch(self, name, **kwargs):
        """A new draft batch of the current user: put it in the context key ``job_batch``."""
        vals = dict(kwargs)
        vals.update(
            name=name,
            user_id=self.env.uid,
            state="draft",
            company_id=self.env.context.get("company_id") or self.env.company.id,
        )
        return self.sudo().create(vals).with_user(self.env.uid)

    def enqueue(self):
        """Close the draft batches: no more jobs join them; they finish when their jobs have ended."""
        self.filtered(lambda batch: batch.state == "draft").write({"state": "enqueued"})
        self._job_batch_check()
        return True

    def check_state(self):
        self._job_batch_check()
        return True

    def set_read(self):
        return self.write({"is_read": True})

    # -- bad input ---------------------------------------------------------

    @api.constrains("callback_model", "callback_method")
    def _check_callback(self):
        for batch in self.sudo():
            model_name, method = batch.callback_model, batch.callback_method
            if not model_name and not method:
                continue
            if not (model_name and method):
                raise exceptions.ValidationError(_("A batch callback needs both a model and a method."))
            if model_name not in self.env:
                raise exceptions.ValidationError(_("Batch callback: there is no model %s.", model_name))
            if not callable(getattr(type(self.env[model_name]), method, None)):
                raise exceptions.ValidationError(
                    _("Batch callback: model %(model)s has no method %(method)s.", model=model_name, method=method)
                )

    # -- counts --------------------------------------------------------------

    @api.depends("job_ids.state")
    def _compute_job_count(self):
        counts = {batch.id: {} for batch in self}
        seconds = dict.fromkeys(self.ids, 0.0)
        if self.ids:
            self.env["queue.job"].flush_model(["state", "job_batch_id", "exec_time"])
            self.env.cr.execute(sql.BATCH_JOB_COUNTS, {"ids": list(self.ids)})
            for batch_id, state, count, exec_time in self.env.cr.fetchall():
                counts[batch_id][state] = count
                seconds[batch_id] += exec_time
        for batch in self:
            by_state = counts.get(batch.id, {})
            total = sum(by_state.values())
            batch.job_count = total
            batch.waiting_job_count = by_state.get(WAIT_DEPENDENCIES, 0) + by_state.get(PENDING, 0)
            batch.running_job_count = by_state.get(ENQUEUED, 0) + by_state.get(STARTED, 0)
            batch.finished_job_count = by_state.get(DONE, 0)
            batch.failed_job_count = by_state.get(FAILED, 0)
            batch.cancelled_job_count = by_state.get(CANCELLED, 0)
            batch.completeness = by_state.get(DONE, 0) / max(1, total)
            batch.completion_rate = 100 * batch.completeness
            batch.failed_percentage = by_state.get(FAILED, 0) / max(1, total)
            batch.execution_time = seconds.get(batch.id, 0.0)

    # -- completion ------------------------------------------------------------

    @api.model
    def _job_batch_id_to_join(self, batch):
        """The id of ``batch`` (a record or an id, from the context) if jobs may join it."""
        if isinstance(batch, int) and not isinstance(batch, bool):
            batch = self.browse(batch)
        if not isinstance(batch, models.BaseModel) or batch._name != self._name or len(batch) != 1:
            return None
        return batch.id if batch.sudo().state == "draft" else None

    def _job_batch_check(self):
        """Mark closed batches in progress, and finish those whose jobs have all ended."""
        cr = self.env.cr
        self.env["queue.job"].flush_model()
        self.flush_model(["state"])
        for batch in self.sudo():
            if batch.state not in ("enqueued", "progress"):
                continue
            cr.execute(sql.BATCH_HAS_UNFINISHED_JOBS, {"id": batch.id})
            if cr.fetchone()[0]:
                cr.execute(sql.BATCH_STARTED, {"id": batch.id})
                batch.invalidate_recordset(["state"])
                continue
            cr.execute(sql.FINISH_BATCH, {"id": batch.id})
            finished = cr.fetchone()
            batch.invalidate_recordset(["state", "is_read", "date_finished"])
            if finished:
                batch._job_batch_finished()

    def _job_batch_finished(self):
        self.ensure_one()
        _logger.info("batch %s (%s) on %s finished", self.id, self.name, self.env.cr.dbname)
        if self.callback_model and self.callback_method:
            self._job_batch_enqueue_callback()
        counts = _(
            "%(done)s done, %(failed)s failed, %(cancelled)s cancelled",
            done=self.finished_job_count, failed=self.failed_job_count, cancelled=self.cancelled_job_count,
        )
        # Queued, not sent now: the notice must not hold up (or fail) the worker.
        self.with_context(mail_notify_force_send=False).message_post(
            body=_("Batch %(name)s finished: %(counts)s.", name=self.name, counts=counts),
            partner_ids=self.user_id.partner_id.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_note",
        )

    def _job_batch_enqueue_callback(self):
        model = self.env[self.callback_model].with_user(self.user_id).with_context(job_batch=False)
        batch = self.with_user(self.user_id)
        job_ = getattr(
            model.with_delay(description=_("Callback of batch %s", self.name)), self.callback_method
        )(batch)
        self.callback_job_id = job_.db_record()

    @api.model
    def _job_batches_heal(self):
        """Finish batches whose last job ended without finishing them (worker lost meanwhile)."""
        self.env.cr.execute(sql.BATCHES_TO_CHECK)
        self.browse([row[0] for row in self.env.cr.fetchall()])._job_batch_check()

    def action_open_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("queue_job.action_queue_job")
        action.update(name=_("Jobs of batch %s", self.name), context={}, domain=[("job_batch_id", "=", self.id)])
        return action
