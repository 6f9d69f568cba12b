"""What people who wait for a job see of it: progress, result file, end notices.

Kept apart from queue_job.py, which is about storing and running jobs.
"""

import logging

from markupsafe import Markup

from odoo import _, api, exceptions, fields, models

from ..engine import sql
from ..engine.states import CANCELLED, DONE, FAILED
from ..fields import RecordRefs
from ..progress_writer import BUS_PROGRESS, progress_percent

_logger = logging.getLogger(__name__)

BUS_NOTICE = "queue_job/notice"  # bus notification type of "your job ended"


class QueueJob(models.Model):
    _inherit = "queue.job"

    progress_done = fields.Integer(string="Done", compute="_compute_progress")
    progress_total = fields.Integer(string="Out of", compute="_compute_progress")
    progress_message = fields.Char(string="Progress message", compute="_compute_progress")
    progress = fields.Float(
        compute="_compute_progress",
        help="Percent done, as last told by the job (notify_progress()); 100 once done.",
    )
    result_attachment_id = fields.Many2one(
        "ir.attachment",
        string="Result file",
        readonly=True,
        ondelete="set null",
        help="The file the job produced (attach_result(), or an attachment it returned).",
    )
    result_file_url = fields.Char(compute="_compute_result_file_url")
    notify = fields.Boolean(
        string="Notify when done",
        readonly=True,
        help="The user who enqueued the job is told when it is done or failed for good.",
    )

    record_refs = RecordRefs(
        string="Records",
        readonly=True,
        help='"model,id" of the records the job runs on (its records, then records passed as arguments).',
    )
    related_record = fields.Char(
        compute="_compute_related_record",
        search="_search_related_record",
        help='The jobs of one record: search with "model,id".',
    )

    state_sentence = fields.Char(string="Status", compute="_compute_sentences")
    records_display = fields.Char(string="On", compute="_compute_sentences")
    error_sentence = fields.Char(string="Error", compute="_compute_sentences")

    def init(self):
        super().init()
        self.env.cr.execute(sql.CREATE_RECORD_REFS_INDEX)

    @api.depends("state", "exc_message", "records")
    def _compute_sentences(self):
        sentences = {
            "wait_dependencies": _("Waits for other jobs to finish"),
            "pending": _("Waiting to run"),
            "enqueued": _("About to run"),
            "started": _("Running"),
            "done": _("Done"),
            "cancelled": _("Cancelled"),
            "failed": _("Failed"),
        }
        for job in self:
            job.state_sentence = sentences.get(job.state, job.state)
            job.error_sentence = job._job_readable_error() if job.state == FAILED else False
            job.records_display = job._job_records_display()

    def _job_records_display(self):
        try:
            records = self.sudo().records.exists()
        except Exception:  # model gone, undecodable row: the form still opens
            return False
        if not records:
            return False
        description = self.env["ir.model"]._get(records._name).name or records._name
        if len(records) == 1:
            return _("on %(record)s (%(model)s)", record=records.display_name, model=description)
        return _("on %(count)s records of %(model)s", count=len(records), model=description)

    def _compute_related_record(self):
        for job in self:
            refs = job.record_refs
            job.related_record = refs[0] if len(refs) == 1 else False

    def _search_related_record(self, operator, value):
        if operator not in ("=", "in") or not value:
            raise exceptions.UserError(_('Jobs are searched by record with "model,id" only.'))
        refs = [value] if isinstance(value, str) else list(value)
        self.env.cr.execute(sql.JOBS_OF_RECORD if len(refs) == 1 else sql.JOBS_OF_RECORDS, {"refs": refs})
        return [("id", "in", [row[0] for row in self.env.cr.fetchall()])]

    @api.model
    def _job_counts_of(self, records):
        """{record id: {state: count}} of the jobs of ``records`` this user may see."""
        refs = [f"{records._name},{record_id}" for record_id in records.ids]
        counts = {record_id: {} for record_id in records.ids}
        if not refs:
            return counts
        self.flush_model()
        manager = self.env.su or self.env.user.has_group("queue_job.group_queue_job_manager")
        self.env.cr.execute(sql.JOB_COUNTS_OF_RECORDS, {"refs": refs, "user_id": None if manager else self.env.uid})
        for ref, state, count in self.env.cr.fetchall():
            counts[int(ref.rsplit(",", 1)[1])][state] = count
        return counts

    @api.depends("state")
    def _compute_progress(self):
        rows = self.env["queue.job.progress"].sudo().search_fetch(
            [("job_id", "in", self.ids)], ["job_id", "done", "total", "message"]
        )
        by_job = {row.job_id.id: row for row in rows}
        for job in self:
            row = by_job.get(job.id)
            job.progress_done = row.done if row else 0
            job.progress_total = row.total if row else 0
            job.progress_message = row.message if row else False
            if job.state == DONE:
                job.progress = 100.0
            elif job.progress_done or job.progress_total:
                job.progress = progress_percent(job.progress_done, job.progress_total or None)
            else:
                job.progress = 0.0

    @api.depends("result_attachment_id")
    def _compute_result_file_url(self):
        for job in self:
            attachment = job.result_attachment_id
            job.result_file_url = f"/web/content/{attachment.id}?download=true" if attachment else False

    def action_download_result(self):
        self.ensure_one()
        if not self.result_attachment_id:
            return False
        return {"type": "ir.actions.act_url", "url": self.result_file_url, "target": "self"}

    def _job_status(self):
        """What GET /queue_job/job/<uuid> answers."""
        self.ensure_one()
        return {
            "uuid": self.uuid,
            "name": self.name,
            "state": self.state,
            "progress": self.progress,
            "progress_done": self.progress_done,
            "progress_total": self.progress_total or None,
            "progress_message": self.progress_message or None,
            "result": self.result or None,
            "result_file_url": self.result_file_url or None,
            "result_file_name": self.result_attachment_id.sudo().name or None,
            "error": self._job_readable_error() or None,
            "date_created": fields.Datetime.to_string(self.date_created) if self.date_created else None,
            "date_started": fields.Datetime.to_string(self.date_started) if self.date_started else None,
            "date_done": fields.Datetime.to_string(self.date_done) if self.date_done else None,
        }

    # -- live updates and end notices ---------------------------------------

    def _job_bus_payload(self):
        self.ensure_one()
        return {
            "id": self.id,
            "uuid": self.uuid,
            "state": self.state,
            "progress": self.progress,
            "progress_done": self.progress_done,
            "progress_total": self.progress_total,
            "progress_message": self.progress_message or "",
            "records": (self.record_refs or [])[:50],
        }

    def _job_announce_state(self):
        """Tell the jobs' users, in their browsers, that the state of their jobs changed."""
        for job in self.sudo():
            if job.user_id.partner_id:
                job.env["bus.bus"]._sendone(job.user_id.partner_id, BUS_PROGRESS, job._job_bus_payload())

    def _job_ended(self):
        """After a job's run or state change (done, failed, retried later, cancelled):
        live update, and the end notice if asked (done or failed for good only)."""
        self._job_announce_state()
        for job in self.sudo():
            if job.notify and job.state in (DONE, FAILED) and job.user_id.queue_job_notify:
                job._job_notify_user()

    def _job_notify_user(self):
        """Tell the job's user it ended: a message in their inbox and a notification in their browser."""
        self.ensure_one()
        user = self.user_id
        done = self.state == DONE
        title = _("Done: %s", self.name) if done else _("Failed: %s", self.name)
        text = _("The job is done.") if done else (self._job_readable_error() or _("The job failed."))
        links = []
        record_action = self._job_related_record_link()
        if record_action:
            links.append(Markup('<a href="%s">%s</a>') % (record_action, _("Open the record")))
        if self.result_file_url:
            links.append(
                Markup('<a href="%s">%s</a>') % (self.result_file_url, _("Download %s", self.result_attachment_id.name))
            )
        body = Markup("<p>%s</p>") % text
        if links:
            body += Markup("<p>%s</p>") % Markup(" · ").join(links)
        self.with_context(mail_notify_force_send=False).message_notify(
            partner_ids=user.partner_id.ids,
            subject=title,
            body=body,
            model_description=_("Job"),
        )
        user._bus_send(
            BUS_NOTICE,
            {
                "id": self.id,
                "uuid": self.uuid,
                "state": self.state,
                "title": title,
                "message": text,
                "record_url": record_action or "",
                "file_url": self.result_file_url or "",
                "file_name": self.result_attachment_id.name or "",
            },
        )

    def _job_related_record_link(self):
        """The URL of the one record the job ran on, if it still exists."""
        records = self.sudo().records
        if len(records) != 1 or not records.exists():
            return None
        return f"/odoo/{records._name}/{records.id}"

    def _job_readable_error(self):
        """The error in one sentence, without the traceback."""
        self.ensure_one()
        message = (self.exc_message or "").strip()
        if not message:
            return ""
        first = message.splitlines()[0]
        return first if len(first) <= 300 else first[:297] + "..."

    def write(self, vals):
        result = super().write(vals)
        if vals.get("state") in (DONE, FAILED, CANCELLED):
            # Telling the user must never undo (or fail) the change of state.
            try:
                with self.env.cr.savepoint():
                    self._job_ended()
            except Exception:
                _logger.exception("jobs %s: state changed, but their users could not be told", self.mapped("uuid"))
        return result
