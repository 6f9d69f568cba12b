"""Use case 5: a newsletter sent in chunks on a rate-limited channel.

Each chunk of recipients is one job of the channel ``root.demo.newsletter``,
throttled in odoo.conf (``root.demo.newsletter:1:throttle=2``: one chunk at a
time, at least 2 s apart), so a big mailing never floods the SMTP server nor
the workers. A chunk goes through Odoo's outgoing mail queue: it creates the
``mail.mail`` records and sends them. A last job, run when every chunk is
done, writes the summary. Emails the SMTP server refused stay in the mail
queue, marked as failed, and are counted on the page.
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.delay import chain, group


class QueueJobDemoNewsletter(models.Model):
    _name = "queue.job.demo.newsletter"
    _inherit = "queue.job.demo.graph.mixin"
    _description = "Job Queue Demo: newsletter"

    name = fields.Char(string="Subject", default=lambda self: _("News from the job queue"))
    body = fields.Html(default=lambda self: _("<p>Hello,</p><p>this newsletter was sent by a background job.</p>"))
    recipient_count = fields.Integer(string="Recipients", default=200, help="Contacts with an email, oldest first.")
    chunk_size = fields.Integer(default=50, help="Emails per job.")
    mail_ids = fields.One2many(
        "mail.mail", "res_id", domain=[("model", "=", "queue.job.demo.newsletter")], readonly=True
    )
    sent_count = fields.Integer(string="Sent", compute="_compute_mail_counts")
    failed_count = fields.Integer(string="Refused", compute="_compute_mail_counts")

    _sql_constraints = [
        ("recipient_count_positive", "CHECK(recipient_count > 0)", "A newsletter needs at least one recipient."),
        ("chunk_size_positive", "CHECK(chunk_size > 0)", "The chunk size must be positive."),
    ]

    @api.depends("mail_ids.state")
    def _compute_mail_counts(self):
        for record in self:
            record.sent_count = len(record.mail_ids.filtered(lambda mail: mail.state == "sent"))
            record.failed_count = len(record.mail_ids.filtered(lambda mail: mail.state == "exception"))

    def action_start(self):
        for record in self:
            recipients = self.env["res.partner"].search(
                [("email", "!=", False)], order="id", limit=record.recipient_count
            )
            if not recipients:
                raise UserError(_("No contact has an email address: import some on the CSV import page first."))
            record.write({"date_finished": False, "summary": False})
            chunks = [
                record.delayable(description=record.env._("%(subject)s: emails %(first)d-%(last)d", subject=record.name,
                                               first=start + 1, last=min(start + record.chunk_size, len(recipients)))
                                 ).send_chunk(recipients[start:start + record.chunk_size].ids)
                for start in range(0, len(recipients), record.chunk_size)
            ]
            finish = record.delayable(description=_("%s: summary", record.name)).finish(len(recipients))
            chain(group(*chunks), finish).delay()
            record.graph_uuid = getattr(finish._generated_job, "graph_uuid", False)
        return True

    def send_chunk(self, partner_ids: list[int]) -> str:
        """The job: queue one email per recipient and send them now."""
        self.ensure_one()
        partners = self.env["res.partner"].browse(partner_ids).exists().filtered("email")
        email_from = self.env.user.email_formatted or self.env.company.email_formatted or "noreply@example.com"
        mails = self.env["mail.mail"].sudo().create([
            {
                "subject": self.name,
                "body_html": self.body,
                "email_from": email_from,
                # One email per recipient partner (email_to as well would send it twice).
                "recipient_ids": [(4, partner.id)],
                "model": self._name,
                "res_id": self.id,
                "auto_delete": False,  # the page counts them
            }
            for partner in partners
        ])
        mails.send(raise_exception=False)
        refused = mails.filtered(lambda mail: mail.state == "exception")
        return _("%(sent)d sent, %(refused)d refused", sent=len(mails) - len(refused), refused=len(refused))

    def finish(self, recipient_count: int) -> str:
        self.invalidate_recordset(["mail_ids"])
        summary = _("%(sent)d of %(total)d emails sent, %(refused)d refused by the mail server.",
                    sent=self.sent_count, total=recipient_count, refused=self.failed_count)
        self._mark_finished(summary)
        return summary
