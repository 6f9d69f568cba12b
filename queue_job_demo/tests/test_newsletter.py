from unittest.mock import patch

from odoo import modules
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .smtp_sink import SmtpSink


@tagged("post_install", "-at_install")
class TestNewsletter(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = SmtpSink().__enter__()
        cls.addClassCleanup(cls.sink.__exit__, None, None, None)
        cls.env["ir.mail_server"].search([]).active = False
        cls.env["ir.mail_server"].create({
            "name": "sink", "smtp_host": "127.0.0.1", "smtp_port": cls.sink.port, "smtp_encryption": "none",
        })
        cls.env["res.partner"].search([("email", "!=", False)]).email = False
        cls.partners = cls.env["res.partner"].create(
            [{"name": f"Reader {n}", "email": f"reader{n}@example.test"} for n in range(7)])

    def test_chunks_on_the_throttled_channel_are_sent_through_the_mail_queue(self):
        letter = self.env["queue.job.demo.newsletter"].create(
            {"name": "Hello readers", "recipient_count": 7, "chunk_size": 3}
        )
        with trap_jobs() as trap:
            letter.action_start()
            chunks = [job for job in trap.enqueued_jobs if job.method_name == "send_chunk"]
            self.assertEqual(sorted(len(job.args[0]) for job in chunks), [1, 3, 3])
            self.assertEqual({job.channel for job in chunks}, {"root.demo.newsletter"})
            # Really talk SMTP: Odoo skips it while a test runs.
            with patch.object(modules.module, "current_test", None):
                trap.perform_enqueued_jobs()
        self.assertEqual(sorted(message["To"].addresses[0].addr_spec for message in self.sink.messages),
                         sorted(self.partners.mapped("email")), "one email to each reader, no more")
        self.assertEqual({str(message["Subject"]) for message in self.sink.messages}, {"Hello readers"})
        letter.invalidate_recordset()
        self.assertEqual((letter.state, letter.sent_count, letter.failed_count), ("done", 7, 0))
        self.assertIn("7 of 7 emails sent", letter.summary)

    def test_no_recipient_is_a_clear_message(self):
        self.partners.email = False
        letter = self.env["queue.job.demo.newsletter"].create({"name": "Nobody"})
        with self.assertRaisesRegex(UserError, "No contact has an email"):
            letter.action_start()
