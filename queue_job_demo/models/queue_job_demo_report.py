"""Use case 2: a PDF report of many contacts, rendered in batches.

Odoo's report engine renders each batch of contacts to PDF (wkhtmltopdf);
the batches are merged into one file, the job's result. Progress is reported
after each batch. Where wkhtmltopdf is not installed, the job renders HTML
instead and the page says so.
"""

import time

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.pdf import merge_pdf

from odoo.addons.queue_job.progress import attach_result, notify_progress

REPORT = "queue_job_demo.action_report_contact_sheet"


class QueueJobDemoReport(models.Model):
    _name = "queue.job.demo.report"
    _inherit = "queue.job.demo.mixin"
    _description = "Job Queue Demo: PDF report of contacts"

    contact_count = fields.Integer(string="Contacts", default=1000, help="How many contacts the report lists.")
    batch_size = fields.Integer(default=100, help="Contacts rendered by one call to the report engine.")
    pdf_available = fields.Boolean(compute="_compute_pdf_available")
    result_attachment_id = fields.Many2one("ir.attachment", string="Report file", readonly=True, copy=False)

    _sql_constraints = [
        ("contact_count_positive", "CHECK(contact_count > 0)", "The report needs at least one contact."),
        ("batch_size_positive", "CHECK(batch_size > 0)", "The batch size must be positive."),
    ]

    @api.depends_context("uid")
    def _compute_pdf_available(self):
        available = self.env["ir.actions.report"].get_wkhtmltopdf_state() in ("ok", "upgrade", "workers")
        self.pdf_available = available

    def action_start(self):
        for record in self:
            if not self.env["res.partner"].search_count([], limit=1):
                raise UserError(_("There are no contacts to print: import some on the CSV import page first."))
            record.write({"date_finished": False, "summary": False, "result_attachment_id": False})
            job = record.with_delay(notify=True, description=_("Render %s", record.name)).render_report()
            record._follow_job(job)
        return True

    def render_report(self) -> str:
        """The job: render the contacts batch after batch, then offer one file."""
        self.ensure_one()
        partners = self.env["res.partner"].search([], order="id", limit=self.contact_count)
        Report = self.env["ir.actions.report"]
        as_pdf = self.pdf_available
        parts = []
        step_delay = self._step_delay()
        for start in range(0, len(partners), self.batch_size):
            batch = partners[start:start + self.batch_size]
            if as_pdf:
                # In tests Odoo renders HTML unless told otherwise; we want the real thing.
                content, _type = Report.with_context(force_report_rendering=True)._render_qweb_pdf(REPORT, batch.ids)
            else:
                content, _type = Report._render_qweb_html(REPORT, batch.ids)
            parts.append(content)
            notify_progress(start + len(batch), total=len(partners),
                            message=_("%d of %d contacts rendered", start + len(batch), len(partners)))
            if step_delay:
                time.sleep(step_delay)
        if as_pdf:
            name, content, mimetype = f"{self.name}.pdf", merge_pdf(parts), "application/pdf"
            summary = _("%(count)s contacts in %(file)s.", count=f"{len(partners):,}", file=name)
        else:
            name, content, mimetype = f"{self.name}.html", b"".join(parts), "text/html"
            summary = _("%(count)s contacts in %(file)s: wkhtmltopdf is not installed on this server, "
                        "so the report is HTML.", count=f"{len(partners):,}", file=name)
        self.result_attachment_id = attach_result(name, content, mimetype)
        self._mark_finished(summary)
        return summary

    def action_download_result(self):
        self.ensure_one()
        if not self.result_attachment_id:
            raise UserError(_("The report has not been rendered yet."))
        return {"type": "ir.actions.act_url", "url": f"/web/content/{self.result_attachment_id.id}?download=true"}
