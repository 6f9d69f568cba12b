"""End notices: with_delay(notify=True) or the job function's notify, unless the user turned them off."""

import json

from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.models.queue_job_follow import BUS_NOTICE
from odoo.tests.common import TransactionCase, new_test_user, tagged

from .committed_jobs import CommittedJobsCase


def _notices(env, partner, job):
    env.cr.flush()  # bus messages are written by a precommit hook
    channel = json.dumps([env.cr.dbname, "res.partner", partner.id], separators=(",", ":"))
    payloads = [json.loads(m.message) for m in env["bus.bus"].sudo().search([("channel", "=", channel)])]
    return [p["payload"] for p in payloads if p["type"] == BUS_NOTICE and p["payload"]["uuid"] == job.uuid]


def _messages(env, partner, job):
    return env["mail.message"].sudo().search(
        [("model", "=", "queue.job"), ("res_id", "=", job.id), ("partner_ids", "in", partner.ids)]
    )


@tagged("post_install", "-at_install")
class TestNotify(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, login="notified_user", groups="base.group_user")
        cls.partner = cls.env["res.partner"].create({"name": "Notify target"})

    def run_in_process(self, job_, fail=False):
        """Run ``job_`` as the worker would, and write its outcome through the ORM."""
        job_ = Job.load(self.env, job_.uuid)
        if fail:
            job_.set_failed(exc_name="ValueError", exc_message="The file has no 'email' column\nTraceback...")
        else:
            job_.set_done()
        job_.store()
        self.env["queue.job"].flush_model()
        return self.env["queue.job"].search([("uuid", "=", job_.uuid)])

    def enqueue(self, **options):
        return self.partner.with_user(self.user).with_delay(**options).write({"ref": "done"})

    def test_notify_option_tells_the_user_with_a_link_to_the_record(self):
        job = self.run_in_process(self.enqueue(notify=True))
        messages = _messages(self.env, self.user.partner_id, job)
        self.assertEqual(len(messages), 1)
        self.assertIn(f"/odoo/res.partner/{self.partner.id}", messages.body)
        notices = _notices(self.env, self.user.partner_id, job)
        self.assertEqual([(n["state"], n["record_url"]) for n in notices],
                         [("done", f"/odoo/res.partner/{self.partner.id}")])

    def test_without_the_option_nobody_is_told(self):
        job = self.run_in_process(self.enqueue())
        self.assertFalse(_messages(self.env, self.user.partner_id, job))
        self.assertFalse(_notices(self.env, self.user.partner_id, job))

    def test_the_users_preference_turns_notices_off(self):
        self.user.with_user(self.user).write({"queue_job_notify": False})  # users change it themselves
        job = self.run_in_process(self.enqueue(notify=True))
        self.assertFalse(_messages(self.env, self.user.partner_id, job))
        self.assertFalse(_notices(self.env, self.user.partner_id, job))

    def test_the_job_function_can_ask_for_notices(self):
        function = self.env["queue.job.function"].create(
            {"model_id": self.env.ref("base.model_res_partner").id, "method": "write", "notify": True}
        )
        self.assertTrue(self.env["queue.job.function"].job_config(function.name).notify)
        job = self.run_in_process(self.enqueue())
        self.assertTrue(job.notify)
        self.assertEqual(len(_messages(self.env, self.user.partner_id, job)), 1)
        job = self.run_in_process(self.enqueue(notify=False))
        self.assertFalse(_messages(self.env, self.user.partner_id, job), "with_delay() wins")

    def test_a_failure_says_what_went_wrong_in_one_sentence_and_managers_are_still_told(self):
        job = self.run_in_process(self.enqueue(notify=True), fail=True)
        notices = _notices(self.env, self.user.partner_id, job)
        self.assertEqual([(n["state"], n["message"]) for n in notices],
                         [("failed", "The file has no 'email' column")])
        failure_notice = self.env["mail.message"].search(
            [("model", "=", "queue.job"), ("res_id", "=", job.id),
             ("subtype_id", "=", self.env.ref("queue_job.mt_job_failed").id)]
        )
        self.assertEqual(len(failure_notice), 1, "the managers' failure notice is unchanged")

    def test_unknown_with_delay_keywords_are_still_refused(self):
        with self.assertRaises(TypeError):
            self.partner.with_delay(notify_me=True)


@tagged("post_install", "-at_install")
class TestNotifyFromAWorker(CommittedJobsCase):
    def test_a_job_run_by_a_worker_tells_its_user_with_its_result_file(self):
        from odoo.addons.queue_job.progress import attach_result

        def job(partner):
            attach_result("list.csv", "a,b\n")

        self.job_code(job)
        uuid, _partner = self.enqueue(notify=True)
        self.assertEqual(self.run_job(uuid), "done")
        with self.committed_env() as env:
            job_record = env["queue.job"].search([("uuid", "=", uuid)])
            self.attachment_ids.append(job_record.result_attachment_id.id)
            root = env.ref("base.partner_root")
            notices = _notices(env, root, job_record)
            self.assertEqual(len(notices), 1)
            self.assertEqual(notices[0]["file_url"], job_record.result_file_url)
            self.assertIn(job_record.result_file_url, _messages(env, root, job_record).body)
