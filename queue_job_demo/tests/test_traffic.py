from collections import Counter

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import run_stored_job


@tagged("post_install", "-at_install")
class TestTraffic(TransactionCase):
    def test_off_by_default_switched_on_and_off_by_a_manager_only(self):
        cron = self.env.ref("queue_job_demo.ir_cron_traffic")
        self.assertFalse(cron.active)
        page = self.env["queue.job.demo.traffic"].create({})
        self.assertFalse(page.running)
        user = new_test_user(self.env, "traffic_user", groups="base.group_user")
        with self.assertRaises(AccessError):
            page.with_user(user).action_switch_on()
        page.action_switch_on()
        page.invalidate_recordset()
        self.assertTrue(cron.active and page.running)
        page.action_switch_off()
        self.assertFalse(cron.active)

    def test_generated_jobs_are_mixed_and_some_retry_or_fail(self):
        Traffic = self.env["queue.job.demo.traffic"]
        self.assertEqual(Traffic._cron_generate_traffic(count=200, seed=7), 200)
        jobs = self.env["queue.job"].search([("model_name", "=", Traffic._name)])
        self.assertEqual(len(jobs), 200)
        self.assertGreater(len(set(jobs.mapped("priority"))), 3)
        self.assertTrue(0 < len(jobs.filtered("eta")) < 100, "some jobs wait for an ETA")
        self.assertEqual(set(jobs.mapped("channel")), {"root.demo.traffic"})
        outcomes = Counter(job.args[0] for job in jobs)
        self.assertTrue(10 <= outcomes["retry"] <= 30 and 4 <= outcomes["fail"] <= 20, outcomes)
        for outcome, expected in (("ok", "done"), ("retry", "pending"), ("fail", "failed")):
            job = jobs.filtered(lambda j: j.args[0] == outcome)[:1]
            self.assertEqual(run_stored_job(self.env, job.uuid).state, expected)
        page = Traffic.create({})
        self.assertEqual((page.failed_count, page.done_count, page.waiting_count), (1, 1, 198))
