import csv
import io
import os
from unittest.mock import patch

from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestDemoTour(HttpCase):
    def test_import_report_and_workflow_buttons_show_their_results(self):
        # The jobs run inside the button's request, as QUEUE_JOB__NO_DELAY
        # makes them. wkhtmltopdf cannot fetch the report's stylesheets from
        # this server meanwhile (the request holds the test cursor), so it is
        # pointed at a closed port: the PDF comes out unstyled, quickly.
        self.env["ir.config_parameter"].set_param("report.url", "http://127.0.0.1:9")
        with patch.dict(os.environ, {"QUEUE_JOB__NO_DELAY": "1"}):
            self.start_tour("/odoo", "queue_job_demo_tour", login="admin", timeout=300)

        imported = self.env["queue.job.demo.import"].search([("name", "=", "Tour import")])
        self.assertEqual((imported.created_count, imported.bad_count), (998, 2))
        self.authenticate("admin", "admin")
        response = self.url_open(f"/web/content/{imported.result_attachment_id.id}?download=true")
        self.assertEqual(response.status_code, 200)
        rows = list(csv.DictReader(io.StringIO(response.text)))
        self.assertEqual([row["line"] for row in rows], ["501", "1001"])

        report = self.env["queue.job.demo.report"].search([("name", "=", "Tour report")])
        response = self.url_open(f"/web/content/{report.result_attachment_id.id}?download=true")
        self.assertTrue(response.content.startswith(b"%PDF"))

        workflow = self.env["queue.job.demo.workflow"].search([("name", "=", "Tour workflow")])
        self.assertEqual((workflow.state, len(workflow.partner_ids)), ("done", 20))
