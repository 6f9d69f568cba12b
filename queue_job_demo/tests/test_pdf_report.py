from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs


@tagged("post_install", "-at_install")
class TestPdfReport(HttpCase):
    # HttpCase: wkhtmltopdf fetches the report's assets from the test server,
    # which must see this test's transaction.
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.partner"].create([{"name": f"Report Contact {n}", "city": "Lyon"} for n in range(5)])

    def test_contacts_rendered_in_batches_into_one_pdf(self):
        record = self.env["queue.job.demo.report"].create({"name": "contacts", "contact_count": 5, "batch_size": 2})
        self.assertTrue(record.pdf_available, "wkhtmltopdf is installed on this machine")
        with trap_jobs() as trap:
            record.action_start()
            trap.assert_jobs_count(1, only=record.render_report)
            self.assertEqual(record.state, "draft", "nothing runs before the job does")
            trap.perform_enqueued_jobs()
        self.assertEqual(record.state, "done")
        attachment = record.result_attachment_id
        self.assertEqual(attachment.mimetype, "application/pdf")
        self.assertTrue(attachment.raw.startswith(b"%PDF"))
        action = record.action_download_result()
        self.assertEqual(action["url"], f"/web/content/{attachment.id}?download=true")

    def test_without_wkhtmltopdf_the_report_is_html_and_says_so(self):
        record = self.env["queue.job.demo.report"].create({"name": "html", "contact_count": 3, "batch_size": 2})
        Report = type(self.env["ir.actions.report"])
        with patch.object(Report, "get_wkhtmltopdf_state", return_value="install"):
            self.assertFalse(record.pdf_available)
            record.with_context(queue_job__no_delay=True).action_start()
        self.assertEqual(record.result_attachment_id.mimetype, "text/html")
        self.assertIn(b"Report Contact", record.result_attachment_id.raw)
        self.assertIn("wkhtmltopdf is not installed", record.summary)

    def test_download_before_render_is_a_clear_message(self):
        record = self.env["queue.job.demo.report"].create({"name": "early"})
        with self.assertRaisesRegex(UserError, "not been rendered yet"):
            record.action_download_result()
