"""People changing job states: done, cancelled, requeued; graphs; failure notices."""

from odoo.exceptions import UserError
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.delay import chain, group
from odoo.addons.queue_job.job import Job


@tagged("post_install", "-at_install")
class TestJobState(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "State Partner"})

    def _job(self, **options):
        job = self.partner.with_delay(**options).write({"ref": "x"})
        return self.env["queue.job"].search([("uuid", "=", job.uuid)])

    def _set_state(self, record, method, retry=None, **values):
        """Move a job as the runner or a worker would (not through the UI checks)."""
        job = Job.load(self.env, record.uuid)
        getattr(job, method)(**values)
        if retry is not None:
            job.retry = retry
        job.store()
        record.invalidate_recordset()

    def test_button_done(self):
        record = self._job()
        self.assertTrue(record.button_done())
        self.assertEqual(record.state, "done")
        self.assertTrue(record.date_done)
        self.assertEqual(record.result, f"Manually set to done by {self.env.user.name}")

    def test_button_cancelled(self):
        record = self._job()
        record.button_cancelled()
        self.assertEqual(record.state, "cancelled")
        self.assertTrue(record.date_cancelled)
        self.assertIn("Cancelled by", record.result)

    def test_requeue_failed(self):
        record = self._job()
        self._set_state(record, "set_started", retry=3)
        self._set_state(record, "set_failed", exc_name="ValueError", exc_message="bad", exc_info="Traceback")
        self.assertEqual(record.state, "failed")
        self.assertEqual(record.retry, 3)
        self.assertEqual(record.exc_message, "bad")
        record.requeue()
        self.assertEqual(record.state, "pending")
        self.assertEqual(record.retry, 0)
        self.assertFalse(record.date_started)
        self.assertFalse(record.worker_pid)

    def test_requeue_done_and_cancelled(self):
        done, cancelled = self._job(), self._job()
        done.button_done()
        cancelled.button_cancelled()
        (done | cancelled).requeue()
        self.assertEqual((done.state, cancelled.state), ("pending", "pending"))
        self.assertFalse(done.date_done)
        self.assertFalse(cancelled.date_cancelled)

    def test_requeue_started_refused(self):
        record = self._job()
        self._set_state(record, "set_enqueued")
        self._set_state(record, "set_started")
        self.assertEqual(record.state, "started")
        with self.assertRaises(UserError):
            record.requeue()
        self.assertEqual(record.state, "started")

    def test_invalid_transitions(self):
        record = self._job()
        record.button_done()
        # A person may not move a done job to a running state.
        with self.assertRaises(UserError):
            record.write({"state": "started"})
        with self.assertRaises(UserError):
            record.write({"state": "enqueued"})
        with self.assertRaises(ValueError):
            record._change_job_state("started")
        self.assertEqual(record.state, "done")
        # Editable fields of a pending job may be changed.
        other = self._job()
        other.write({"priority": 42, "channel": "root.other"})
        self.assertEqual((other.priority, other.channel), (42, "root.other"))

    def _graph(self, *labels):
        return {label: self.partner.delayable(description=label).write({"ref": label}) for label in labels}

    def _by_label(self, steps):
        records = self.env["queue.job"].search([("uuid", "in", [d._generated_job.uuid for d in steps.values()])])
        return {record.name: record for record in records}

    def test_done_wakes_children(self):
        steps = self._graph("a", "b", "c", "d")
        chain(group(steps["a"], steps["b"]), steps["c"], steps["d"]).delay()
        jobs = self._by_label(steps)
        self.assertEqual(jobs["c"].state, "wait_dependencies")
        jobs["a"].button_done()
        jobs["c"].invalidate_recordset()
        self.assertEqual(jobs["c"].state, "wait_dependencies", "b is not done yet")
        jobs["b"].button_done()
        self.assertEqual(jobs["c"].state, "pending")
        self.assertEqual(jobs["d"].state, "wait_dependencies")
        jobs["c"].button_done()
        self.assertEqual(jobs["d"].state, "pending")

    def test_requeue_waiting_is_noop(self):
        steps = self._graph("a", "b")
        steps["a"].on_done(steps["b"]).delay()
        jobs = self._by_label(steps)
        jobs["b"].requeue()
        self.assertEqual(jobs["b"].state, "wait_dependencies")

    def test_cancel_cancels_waiting_descendants(self):
        steps = self._graph("a", "b", "c", "x")
        chain(steps["a"], steps["b"], steps["c"]).delay()
        steps["x"].delay()
        jobs = self._by_label(steps)
        jobs["a"].button_cancelled()
        self.assertEqual(jobs["a"].state, "cancelled")
        self.assertEqual(jobs["b"].state, "cancelled")
        self.assertEqual(jobs["c"].state, "cancelled")
        self.assertTrue(jobs["c"].date_cancelled)
        self.assertIn(jobs["a"].uuid, jobs["c"].result)
        self.assertEqual(jobs["x"].state, "pending", "a job outside the graph is not touched")

    def test_requeue_parent_of_cancelled_children(self):
        steps = self._graph("a", "b")
        steps["a"].on_done(steps["b"]).delay()
        jobs = self._by_label(steps)
        jobs["a"].button_cancelled()
        self.assertEqual(jobs["b"].state, "cancelled")
        # Requeuing the child makes it wait for its parent again.
        jobs["b"].requeue()
        self.assertEqual(jobs["b"].state, "wait_dependencies")

    def test_failure_message_to_followers(self):
        # Queue the notification mails instead of building them at once (this
        # test database has no sender address configured).
        self.env = self.env(context=dict(self.env.context, mail_notify_force_send=False))
        manager_group = self.env.ref("queue_job.group_queue_job_manager")
        manager = self.env["res.users"].create(
            {
                "name": "Queue Manager",
                "login": "qj_state_manager",
                "email": "qj.manager@example.com",
                "groups_id": [(6, 0, [manager_group.id])],
            }
        )
        group_user = self.env.ref("base.group_user")
        owner, bystander = self.env["res.users"].create(
            [
                {"name": "Owner", "login": "qj_state_owner", "groups_id": [(6, 0, [group_user.id])]},
                {"name": "Bystander", "login": "qj_state_bystander", "groups_id": [(6, 0, [group_user.id])]},
            ]
        )
        job = self.partner.with_user(owner).with_delay().write({"ref": "x"})
        record = self.env["queue.job"].search([("uuid", "=", job.uuid)])
        self.assertFalse(record.message_follower_ids, "a new job has no follower")
        subtype = self.env.ref("queue_job.mt_job_failed")
        self._set_state(record, "set_started")
        self.assertFalse(record.message_follower_ids)
        self._set_state(record, "set_failed", exc_name="ValueError", exc_message="it broke", exc_info="Traceback")
        followers = record.message_follower_ids.partner_id
        self.assertIn(manager.partner_id, followers)
        self.assertIn(self.env.ref("base.user_admin").partner_id, followers)
        self.assertIn(owner.partner_id, followers)
        self.assertNotIn(bystander.partner_id, followers)
        messages = record.message_ids.filtered(lambda m: m.subtype_id == subtype)
        self.assertEqual(len(messages), 1)
        self.assertIn("failed", str(messages.body))
        # Failing again while already failed posts nothing more.
        record.with_context(_job_edit_sentinel=record.EDIT_SENTINEL).write({"state": "failed", "exc_message": "x"})
        self.assertEqual(len(record.message_ids.filtered(lambda m: m.subtype_id == subtype)), 1)

    def _job_whose_code_is_gone(self, model_name="x_gone.model", method_name="write"):
        record = self._job()
        self._set_state(record, "set_started")
        self._set_state(record, "set_failed", exc_name="LookupError", exc_message="model gone")
        record.flush_recordset()
        self.env.cr.execute(
            "UPDATE queue_job SET model_name = %s, method_name = %s, records = %s WHERE id = %s",
            [model_name, method_name, '{"_type": "odoo_recordset", "model": "%s", "ids": [1]}' % model_name, record.id],
        )
        record.invalidate_recordset()
        return record

    def test_job_whose_model_is_gone_can_be_set_done_or_cancelled(self):
        done, cancelled = self._job_whose_code_is_gone(), self._job_whose_code_is_gone()
        done.button_done()
        cancelled.button_cancelled()
        self.assertEqual((done.state, cancelled.state), ("done", "cancelled"))
        self.assertTrue(done.date_done)
        self.assertFalse(done.exc_name)
        self.assertIn(self.env.user.name, done.result)
        self.assertTrue(cancelled.date_cancelled)

    def test_job_whose_method_is_gone_cannot_be_requeued(self):
        record = self._job_whose_code_is_gone(model_name="res.partner", method_name="x_vanished_method")
        with self.assertRaisesRegex(UserError, f"Job {record.uuid} cannot be requeued: res.partner has no method"):
            record.requeue()
        self.assertEqual(record.state, "failed")
        record.button_done()
        self.assertEqual(record.state, "done")
