"""Result files: attached or returned by a job, linked to it, removed with it unless held by a record."""

import base64
from datetime import datetime, timedelta

from odoo.addons.queue_job.progress import attach_result
from odoo.tests.common import TransactionCase, tagged

from .committed_jobs import CommittedJobsCase


@tagged("post_install", "-at_install")
class TestAttachResultOutsideAJob(TransactionCase):
    def test_outside_a_job_it_says_so(self):
        with self.assertRaisesRegex(RuntimeError, "inside a running job"):
            attach_result("out.txt", "text")


@tagged("post_install", "-at_install")
class TestResultFiles(CommittedJobsCase):
    def result_file(self, uuid):
        with self.committed_env() as env:
            job = env["queue.job"].search([("uuid", "=", uuid)])
            attachment = job.result_attachment_id
            return job.id, (attachment.id, attachment.name, attachment.mimetype, attachment.res_model,
                            attachment.res_id, attachment.raw) if attachment else None

    def age(self, uuid, days=60):
        with self.committed_env() as env:
            env.cr.execute("UPDATE queue_job SET date_done = %s WHERE uuid = %s",
                           (datetime.now() - timedelta(days=days), uuid))

    def test_attached_file_is_the_jobs_result_and_goes_with_the_job(self):
        def job(partner):
            attach_result("partners.csv", "name\nAzure\n")

        self.job_code(job)
        uuid, _partner = self.enqueue()
        self.assertEqual(self.run_job(uuid), "done")
        job_id, file_ = self.result_file(uuid)
        attachment_id, name, mimetype, res_model, res_id, raw = file_
        self.attachment_ids.append(attachment_id)
        self.assertEqual((name, mimetype, res_model, res_id, raw),
                         ("partners.csv", "text/csv", "queue.job", job_id, b"name\nAzure\n"))
        with self.committed_env() as env:
            status = env["queue.job"].browse(job_id)._job_status()
            self.assertEqual(status["result_file_url"], f"/web/content/{attachment_id}?download=true")
        self.age(uuid)
        with self.committed_env() as env:
            env["queue.job"].autovacuum()
        with self.committed_env() as env:
            self.assertFalse(env["queue.job"].browse(job_id).exists(), "vacuumed")
            self.assertFalse(env["ir.attachment"].browse(attachment_id).exists(), "its file with it")

    def test_a_returned_attachment_becomes_the_result(self):
        def job(partner):
            return partner.env["ir.attachment"].create(
                {"name": "report.txt", "datas": base64.b64encode(b"report")}
            )

        self.job_code(job)
        uuid, _partner = self.enqueue()
        self.assertEqual(self.run_job(uuid), "done")
        job_id, (attachment_id, name, _mimetype, res_model, res_id, raw) = self.result_file(uuid)
        self.attachment_ids.append(attachment_id)
        self.assertEqual((name, res_model, res_id, raw), ("report.txt", "queue.job", job_id, b"report"))
        self.assertEqual(self.row(uuid, "result")["result"], "report.txt")

    def test_a_file_held_by_a_record_stays_when_the_job_goes(self):
        def job(partner):
            return partner.env["ir.attachment"].create(
                {"name": "card.txt", "datas": base64.b64encode(b"card"),
                 "res_model": "res.partner", "res_id": partner.id}
            )

        self.job_code(job)
        uuid, partner_id = self.enqueue()
        self.assertEqual(self.run_job(uuid), "done")
        job_id, (attachment_id, _name, _mimetype, res_model, res_id, _raw) = self.result_file(uuid)
        self.attachment_ids.append(attachment_id)
        self.assertEqual((res_model, res_id), ("res.partner", partner_id), "still the partner's")
        self.age(uuid)
        with self.committed_env() as env:
            env["queue.job"].autovacuum()
        with self.committed_env() as env:
            self.assertFalse(env["queue.job"].browse(job_id).exists())
            self.assertTrue(env["ir.attachment"].browse(attachment_id).exists(), "held by the partner")

    def test_a_failed_job_leaves_no_file(self):
        def job(partner):
            attach_result("half.csv", b"half")
            raise ValueError("broke after writing half a file")

        self.job_code(job)
        uuid, _partner = self.enqueue()
        with self.assertLogs("odoo.addons.queue_job.executor", "ERROR"):
            self.assertEqual(self.run_job(uuid), "failed")
        job_id, file_ = self.result_file(uuid)
        self.assertIsNone(file_)
        with self.committed_env() as env:
            self.assertFalse(env["ir.attachment"].search([("name", "=", "half.csv")]))

    def test_a_file_that_cannot_be_written_fails_the_job_with_a_clear_message(self):
        def job(partner):
            attach_result("", b"no name")

        self.job_code(job)
        uuid, _partner = self.enqueue()
        with self.assertLogs("odoo.addons.queue_job.executor", "ERROR"):
            self.assertEqual(self.run_job(uuid), "failed")
        self.assertIn("attach_result(): the file needs a name", self.row(uuid, "exc_message")["exc_message"])

        def job_with_bad_content(partner):
            attach_result("x.bin", 12)

        self.job_code(job_with_bad_content)
        uuid, _partner = self.enqueue()
        with self.assertLogs("odoo.addons.queue_job.executor", "ERROR"):
            self.assertEqual(self.run_job(uuid), "failed")
        self.assertIn("content must be bytes or str", self.row(uuid, "exc_message")["exc_message"])
