"""Batches (queue.job.batch): OCA queue_job_batch's API, counts, completion, callback, notification."""

from odoo import exceptions, models
from odoo.tests.common import TransactionCase, new_test_user, tagged

from odoo.addons.queue_job.bulk import enqueue_many
from odoo.addons.queue_job.job import Job


@tagged("post_install", "-at_install")
class TestBatch(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, login="batch_user", groups="base.group_user")
        cls.partners = cls.env["res.partner"].create([{"name": f"Batch {n}"} for n in range(4)])

    def _enqueue(self, batch, partners=None):
        # Enqueued by the batch's user, as its own code would.
        env = batch.env if isinstance(batch, models.BaseModel) else self.env
        return [
            partner.with_env(env).with_context(job_batch=batch).with_delay().write({"ref": partner.name})
            for partner in (partners or self.partners)
        ]

    def _end(self, job_, state="done"):
        job_ = Job.load(self.env, job_.uuid)
        if state == "done":
            job_.set_done()
        else:
            job_.set_failed(exc_message="boom")
        job_.store()

    def test_oca_usage(self):
        batch = self.env["queue.job.batch"].with_user(self.user).get_new_batch("Import")
        self.assertEqual((batch.state, batch.user_id, batch.env.uid), ("draft", self.user, self.user.id))
        jobs = self._enqueue(batch)
        self.assertEqual(set(batch.job_ids.mapped("uuid")), {job_.uuid for job_ in jobs})
        self.assertEqual(batch.job_count, 4)
        self.assertEqual(batch.waiting_job_count, 4)
        batch.enqueue()
        self.assertEqual(batch.state, "enqueued")
        # Jobs enqueued once the batch is closed do not join it.
        late = self.env["res.partner"].create({"name": "late"})
        late_job = late.with_context(job_batch=batch).with_delay().write({"ref": "late"})
        self.assertFalse(late_job.db_record().job_batch_id)

        self._end(jobs[0])
        self.assertEqual(batch.state, "progress")
        self.assertEqual((batch.finished_job_count, batch.completeness), (1, 0.25))
        for job_ in jobs[1:]:
            self._end(job_)
        self.assertEqual(batch.state, "finished")
        self.assertFalse(batch.is_read)
        self.assertEqual(batch.completeness, 1.0)
        self.assertTrue(batch.date_finished)
        # Its user is told.
        message = batch.message_ids.filtered(lambda m: self.user.partner_id in m.partner_ids)
        self.assertEqual(len(message), 1)
        self.assertIn("4 done, 0 failed", str(message.body))
        batch.with_user(self.user).set_read()
        self.assertTrue(batch.is_read)

    def test_batch_by_id_in_context_and_execution_time(self):
        batch = self.env["queue.job.batch"].get_new_batch("By id")
        jobs = self._enqueue(batch.id, self.partners[:2])
        self.assertEqual(len(batch.job_ids), 2)
        for job_ in jobs:
            job_ = Job.load(self.env, job_.uuid)
            job_.set_started()
            job_.perform()
            job_.set_done()
            job_.store()
        records = batch.job_ids
        self.assertAlmostEqual(batch.execution_time, sum(records.mapped("exec_time")))

    def test_failures_count_and_finish(self):
        batch = self.env["queue.job.batch"].get_new_batch("Mixed")
        jobs = self._enqueue(batch)
        batch.enqueue()
        self._end(jobs[0])
        self._end(jobs[1], "failed")
        self.assertEqual((batch.failed_job_count, batch.failed_percentage), (1, 0.25))
        jobs[2].db_record().button_cancelled()
        self.assertNotEqual(batch.state, "finished")
        self._end(jobs[3])
        self.assertEqual(batch.state, "finished", "failed and cancelled jobs have ended too")
        self.assertEqual(
            (batch.finished_job_count, batch.failed_job_count, batch.cancelled_job_count, batch.running_job_count),
            (2, 1, 1, 0),
        )
        self.assertEqual(batch.completeness, 0.5)

    def test_draft_batch_does_not_finish(self):
        batch = self.env["queue.job.batch"].get_new_batch("Draft")
        jobs = self._enqueue(batch, self.partners[:1])
        self._end(jobs[0])
        self.assertEqual(batch.state, "draft", "more jobs may still join a draft batch")
        batch.enqueue()
        self.assertEqual(batch.state, "finished")

    def test_callback_job(self):
        batch = self.env["queue.job.batch"].with_user(self.user).get_new_batch(
            "With callback", callback_model="res.partner", callback_method="message_post"
        )
        jobs = self._enqueue(batch, self.partners[:1])
        batch.enqueue()
        self.assertFalse(batch.sudo().callback_job_id)
        self._end(jobs[0])
        callback = batch.sudo().callback_job_id
        self.assertTrue(callback)
        self.assertEqual((callback.model_name, callback.method_name, callback.state), ("res.partner", "message_post", "pending"))
        self.assertEqual(callback.args, (batch,))
        self.assertEqual(callback.user_id, self.user)
        self.assertFalse(callback.job_batch_id, "the callback is not part of its batch")

    def test_minute_cron_finishes_a_batch_left_unfinished(self):
        batch = self.env["queue.job.batch"].get_new_batch("Healed")
        jobs = self._enqueue(batch, self.partners[:1])
        batch.enqueue()
        # Done by plain SQL, as the worker marks it (it checks the batch after its commit).
        self.env.flush_all()
        self.env.cr.execute("UPDATE queue_job SET state = 'done' WHERE uuid = %s", (jobs[0].uuid,))
        self.env.invalidate_all()
        self.assertEqual(batch.state, "enqueued")
        self.env["queue.job.schedule"]._cron_every_minute()
        self.assertEqual(batch.state, "finished")

    def test_bulk_enqueue_joins_the_batch(self):
        batch = self.env["queue.job.batch"].get_new_batch("Bulk")
        uuids = enqueue_many(
            partner.with_context(job_batch=batch).delayable().write({"ref": "bulk"}) for partner in self.partners
        )
        self.assertEqual(set(batch.job_ids.mapped("uuid")), set(uuids))
        plain = enqueue_many([self.partners[0].delayable().write({"ref": "plain"})])
        self.assertFalse(self.env["queue.job"].search([("uuid", "in", plain)]).job_batch_id)

    def _queries_to_enqueue(self, count, batch=None):
        partner = self.partners[0].with_context(job_batch=batch) if batch else self.partners[0]
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        for _n in range(count):
            partner.with_delay().write({"ref": "x"})
        self.env["queue.job"].flush_model()
        return self.env.cr.sql_log_count - before

    def test_enqueue_costs_no_query_per_job(self):
        """Neither a batch nor the on_error machinery adds a query per enqueued job."""
        self._queries_to_enqueue(1)  # warm the caches
        self.assertEqual(self._queries_to_enqueue(1), self._queries_to_enqueue(50))
        batch = self.env["queue.job.batch"].get_new_batch("Cost")
        self._queries_to_enqueue(1, batch)
        self.assertEqual(self._queries_to_enqueue(1, batch), self._queries_to_enqueue(50, batch))

    def test_jobs_without_batch_write_no_batch_column(self):
        job_ = self.partners[0].with_delay().write({"ref": "x"})
        self.assertNotIn("job_batch_id", job_._store_values(create=True))

    # -- bad input -----------------------------------------------------------

    def test_callback_must_exist(self):
        def new_batch():
            return self.env["queue.job.batch"].get_new_batch("Bad callback")

        with self.assertRaisesRegex(exceptions.ValidationError, "has no method no_such_method"):
            new_batch().write({"callback_model": "res.partner", "callback_method": "no_such_method"})
        with self.assertRaisesRegex(exceptions.ValidationError, "there is no model res.nowhere"):
            new_batch().write({"callback_model": "res.nowhere", "callback_method": "write"})
        with self.assertRaisesRegex(exceptions.ValidationError, "both a model and a method"):
            new_batch().write({"callback_model": "res.partner"})
        with self.assertRaisesRegex(exceptions.ValidationError, "has no method"):
            self.env["queue.job.batch"].get_new_batch("x", callback_model="res.partner", callback_method="nope")

    def test_context_batch_of_another_kind_is_ignored(self):
        job_ = self.partners[0].with_context(job_batch="not a batch").with_delay().write({"ref": "x"})
        self.assertFalse(job_.db_record().job_batch_id)

    def test_users_see_their_own_batches(self):
        other = new_test_user(self.env, login="batch_other", groups="base.group_user")
        mine = self.env["queue.job.batch"].with_user(self.user).get_new_batch("Mine")
        self.assertFalse(self.env["queue.job.batch"].with_user(other).search([("id", "=", mine.id)]))
        self.assertTrue(self.env["queue.job.batch"].with_user(self.user).search([("id", "=", mine.id)]))
