"""An ir.cron run as a queue job, as with OCA's queue_job_cron."""

from odoo.tests.common import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestQueueJobCron(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cron = cls.env.ref("queue_job.ir_cron_autovacuum_queue_jobs")
        cls.channel = cls.env.ref("queue_job_cron.channel_root_ir_cron")

    def _cron_jobs(self):
        return self.env["queue.job"].search([("name", "=", self.cron.name)])

    def test_default_channel(self):
        self.assertFalse(self.cron.run_as_queue_job)
        self.assertFalse(self.cron.channel_id)
        self.cron.run_as_queue_job = True
        self.assertEqual(self.cron.channel_id, self.channel)
        self.assertEqual(self.channel.complete_name, "root.ir_cron")

    def test_trigger_runs_directly_unless_asked(self):
        self.cron.method_direct_trigger()
        self.assertFalse(self._cron_jobs())
        self.cron.write({"run_as_queue_job": True})
        self.cron.method_direct_trigger()
        job_ = self._cron_jobs()
        self.assertEqual(len(job_), 1)
        self.assertEqual((job_.priority, job_.user_id, job_.channel), (self.cron.priority, self.cron.user_id, "root.ir_cron"))
        self.assertEqual((job_.model_name, job_.method_name), ("ir.cron", "_run_job_as_queue_job"))
        self.assertEqual(job_.kwargs["server_action"], self.cron.ir_actions_server_id)

    def test_no_parallel_run(self):
        self.cron.write({"run_as_queue_job": True, "no_parallel_queue_job_run": True})
        self.cron.method_direct_trigger()
        self.cron.method_direct_trigger()
        self.assertEqual(len(self._cron_jobs()), 1)
        self.cron.no_parallel_queue_job_run = False
        self.cron.method_direct_trigger()
        self.assertEqual(len(self._cron_jobs()), 2)

    def test_cron_thread_enqueues(self):
        """The cron thread's _callback enqueues instead of running the action."""
        self.cron.write({"run_as_queue_job": True})
        self.cron._callback(self.cron.name, self.cron.ir_actions_server_id.id)
        self.assertEqual(len(self._cron_jobs()), 1)

    def test_the_job_runs_the_action(self):
        partner = self.env["res.partner"].create({"name": "cron target"})
        action = self.env["ir.actions.server"].create(
            {
                "name": "mark partner",
                "model_id": self.env.ref("base.model_res_partner").id,
                "state": "code",
                "code": f"env['res.partner'].browse({partner.id}).write({{'ref': 'cron ran'}})",
            }
        )
        self.env["ir.cron"]._run_job_as_queue_job(server_action=action)
        self.assertEqual(partner.ref, "cron ran")
