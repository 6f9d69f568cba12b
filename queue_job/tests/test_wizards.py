"""The wizards bound to queue.job: requeue, set to done, cancel."""

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.job import Job


@tagged("post_install", "-at_install")
class TestWizards(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Wizard Partner"})

    def setUp(self):
        super().setUp()
        uuids = [self.partner.with_delay().write({"ref": str(n)}).uuid for n in range(3)]
        self.jobs = self.env["queue.job"].search([("uuid", "in", uuids)])
        self.assertEqual(len(self.jobs), 3)
        self.untouched = self.env["queue.job"].search(
            [("uuid", "=", self.partner.with_delay().write({"ref": "other"}).uuid)]
        )

    def _wizard(self, model, jobs):
        return self.env[model].with_context(active_model="queue.job", active_ids=jobs.ids).create({})

    def _fail(self, records):
        for record in records:
            job = Job.load(self.env, record.uuid)
            job.set_started()
            job.store()
            job.set_failed(exc_message="failed in test")
            job.store()
        records.invalidate_recordset()

    def test_default_job_ids(self):
        wizard = self._wizard("queue.requeue.job", self.jobs)
        self.assertEqual(wizard.job_ids, self.jobs)
        # Other active models are ignored.
        wizards = self.env["queue.requeue.job"]
        other = wizards.with_context(active_model="res.partner", active_ids=self.partner.ids).create({})
        self.assertFalse(other.job_ids)

    def test_requeue(self):
        self._fail(self.jobs)
        self.assertEqual(set(self.jobs.mapped("state")), {"failed"})
        action = self._wizard("queue.requeue.job", self.jobs).requeue()
        self.assertEqual(action, {"type": "ir.actions.act_window_close"})
        self.assertEqual(set(self.jobs.mapped("state")), {"pending"})

    def test_set_done(self):
        wizard = self._wizard("queue.jobs.to.done", self.jobs)
        self.assertEqual(wizard.job_ids, self.jobs)
        wizard.set_done()
        self.assertEqual(set(self.jobs.mapped("state")), {"done"})
        self.assertTrue(all(self.jobs.mapped("date_done")))
        self.assertEqual(self.untouched.state, "pending")

    def test_set_cancelled(self):
        wizard = self._wizard("queue.jobs.to.cancelled", self.jobs[:2])
        wizard.set_cancelled()
        self.assertEqual(self.jobs[:2].mapped("state"), ["cancelled", "cancelled"])
        self.assertEqual(self.jobs[2].state, "pending")
        self.assertEqual(self.untouched.state, "pending")

    def test_wizard_actions_restricted_to_managers(self):
        manager_group = self.env.ref("queue_job.group_queue_job_manager")
        for xmlid in ("action_requeue_job", "action_set_jobs_done", "action_set_jobs_cancelled"):
            action = self.env.ref(f"queue_job.{xmlid}")
            self.assertEqual(action.binding_model_id.model, "queue.job")
            self.assertEqual(action.groups_id, manager_group)
