"""GET /queue_job/job/<uuid>: JSON for a user allowed to read the job, 404 for anyone else."""

import uuid as uuidlib

from odoo.tests.common import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestJobStatus(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = new_test_user(cls.env, login="status_owner", password="status_owner_pw",
                                  groups="base.group_user")
        cls.other = new_test_user(cls.env, login="status_other", password="status_other_pw",
                                  groups="base.group_user")
        cls.manager = new_test_user(cls.env, login="status_manager", password="status_manager_pw",
                                    groups="base.group_user,queue_job.group_queue_job_manager")
        partner = cls.env["res.partner"].create({"name": "Status target"})
        cls.job_uuid = partner.with_user(cls.owner).with_delay().write({"ref": "x"}).uuid
        cls.env["queue.job"].flush_model()
        cls.job = cls.env["queue.job"].search([("uuid", "=", cls.job_uuid)])

    def get(self, path, login=None):
        if login:
            self.authenticate(login, f"{login}_pw")
        return self.url_open(path, allow_redirects=False)

    def test_the_owner_gets_the_status(self):
        self.env["queue.job.progress"].create({"job_id": self.job.id, "done": 3, "total": 4, "message": "3/4"})
        attachment = self.env["ir.attachment"].create(
            {"name": "out.csv", "raw": b"a,b\n", "res_model": "queue.job", "res_id": self.job.id}
        )
        self.job.with_context(_job_edit_sentinel=self.job.EDIT_SENTINEL).write(
            {"state": "failed", "exc_message": "No column 'email' in the file\nmore detail",
             "exc_info": "Traceback (most recent call last): ...", "result_attachment_id": attachment.id}
        )
        self.job.flush_recordset()
        response = self.get(f"/queue_job/job/{self.job_uuid}", "status_owner")
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(data["state"], "failed")
        self.assertEqual((data["progress"], data["progress_done"], data["progress_total"]), (75.0, 3, 4))
        self.assertEqual(data["error"], "No column 'email' in the file")
        self.assertNotIn("Traceback", response.text)
        self.assertEqual(data["result_file_url"], f"/web/content/{attachment.id}?download=true")
        download = self.url_open(data["result_file_url"])
        self.assertEqual((download.status_code, download.content), (200, b"a,b\n"))

    def test_a_manager_gets_it_too(self):
        response = self.get(f"/queue_job/job/{self.job_uuid}", "status_manager")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["state"], "pending")

    def test_anyone_else_gets_404(self):
        self.assertEqual(self.get(f"/queue_job/job/{self.job_uuid}", "status_other").status_code, 404)
        self.logout()
        self.assertEqual(self.get(f"/queue_job/job/{self.job_uuid}").status_code, 404)

    def test_unknown_or_malformed_uuids_get_404_never_500(self):
        self.authenticate("status_owner", "status_owner_pw")
        for bad in (str(uuidlib.uuid4()), "not-a-uuid", "1%27%20OR%201=1", "x" * 300, "%00"):
            with self.subTest(bad=bad):
                self.assertEqual(self.get(f"/queue_job/job/{bad}").status_code, 404)
