"""Failure branches: ``on_error`` on chains, groups and single jobs (failure.py)."""

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.delay import chain, group
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import trap_jobs


@tagged("post_install", "-at_install")
class TestGraphFailures(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Failure Partner"})
        cls.jobs = cls.env["queue.job"]

    def _step(self, label):
        return self.partner.delayable(description=label).write({"ref": label})

    def _handler(self, message="Import stopped"):
        return self.jobs.delayable(description="on error").notify_failure(message=message)

    def _record(self, delayable):
        return self.jobs.search([("uuid", "=", delayable._generated_job.uuid)])

    def _handler_uuid(self, delayable):
        specs = self._record(delayable).dependencies["on_error"]
        self.assertEqual(len(specs), 1)
        return specs[0]["uuid"]

    def _fail(self, delayable, message="remote said no"):
        job_ = Job.load(self.env, delayable._generated_job.uuid)
        job_.set_failed(exc_name="odoo.exceptions.UserError", exc_message=message, exc_info="Traceback...")
        job_.store()
        return self._record(delayable)

    def _jobs_with_uuid(self, uuid):
        return self.jobs.search([("uuid", "=", uuid)])

    def test_chain_failure_cancels_dependants_and_enqueues_handler(self):
        a, b, c = self._step("a"), self._step("b"), self._step("c")
        chain(a, b, c).on_error(self._handler()).delay()
        handler_uuid = self._handler_uuid(a)
        # Nothing is stored for the handler while the graph runs well.
        self.assertFalse(self._jobs_with_uuid(handler_uuid))
        self.assertEqual({self._handler_uuid(b), self._handler_uuid(c)}, {handler_uuid})

        failed = self._fail(a)
        rb, rc = self._record(b), self._record(c)
        self.assertEqual((rb.state, rc.state), ("cancelled", "cancelled"))
        for dependant in (rb, rc):
            self.assertIn(failed.uuid, dependant.result)
            self.assertIn("remote said no", dependant.result)
        handler = self._jobs_with_uuid(handler_uuid)
        self.assertEqual(handler.state, "pending")
        self.assertEqual(handler.graph_uuid, failed.graph_uuid)
        self.assertEqual((handler.model_name, handler.method_name), ("queue.job", "notify_failure"))
        failure = handler.kwargs["failure"]
        self.assertEqual(failure["uuid"], failed.uuid)
        self.assertEqual(failure["exc_message"], "remote said no")
        self.assertEqual(failure["exc_name"], "odoo.exceptions.UserError")
        self.assertEqual(failure["method_name"], "write")
        self.assertEqual(handler.kwargs["message"], "Import stopped")

        # The handler runs like any job: here it tells the user on the failed job.
        result = Job.load(self.env, handler_uuid).perform()
        self.assertIn("remote said no", str(result))
        bodies = failed.message_ids.mapped("body")
        self.assertTrue(any("Import stopped" in str(body) and "remote said no" in str(body) for body in bodies))

    def test_failure_in_the_middle_of_a_chain(self):
        a, b, c = self._step("a"), self._step("b"), self._step("c")
        chain(a, b, c).on_error(self._handler()).delay()
        Job.load(self.env, a._generated_job.uuid).perform()
        done = Job.load(self.env, a._generated_job.uuid)
        done.set_done()
        done.store()
        done.enqueue_waiting()
        self.assertEqual(self._record(b).state, "pending")
        self._fail(b)
        self.assertEqual(self._record(a).state, "done")
        self.assertEqual(self._record(c).state, "cancelled")
        handler = self._jobs_with_uuid(self._handler_uuid(a))
        self.assertEqual(handler.kwargs["failure"]["uuid"], b._generated_job.uuid)

    def test_group_handler_runs_once_for_two_failures(self):
        a, b, after = self._step("a"), self._step("b"), self._step("after")
        group(a, b).on_error(self._handler()).on_done(after).delay()
        handler_uuid = self._handler_uuid(a)
        self.assertEqual(self._handler_uuid(after), handler_uuid, "what follows the group is guarded too")
        self._fail(a, "first")
        self.assertEqual(self._record(after).state, "cancelled")
        self.assertEqual(self._record(b).state, "pending", "a sibling of the failed job still runs")
        self._fail(b, "second")
        handler = self._jobs_with_uuid(handler_uuid)
        self.assertEqual(len(handler), 1)
        self.assertEqual(handler.kwargs["failure"]["exc_message"], "first")

    def test_single_job_on_error(self):
        only = self._step("only").on_error(self._handler())
        only.delay()
        record = self._record(only)
        self.assertTrue(record.graph_uuid, "a guarded job shares a graph uuid with its handler")
        self._fail(only)
        handler = self._jobs_with_uuid(self._handler_uuid(only))
        self.assertEqual(handler.graph_uuid, record.graph_uuid)

    def test_nested_handlers_both_fire(self):
        a, b, c = self._step("a"), self._step("b"), self._step("c")
        inner = chain(a, b).on_error(self._handler("inner"))
        chain(inner, c).on_error(self._handler("outer")).delay()
        specs = self._record(a).dependencies["on_error"]
        self.assertEqual(len(specs), 2)
        self.assertEqual(len(self._record(c).dependencies["on_error"]), 1, "c is outside the inner chain")
        self._fail(a)
        messages = sorted(self._jobs_with_uuid(spec["uuid"]).kwargs["message"] for spec in specs)
        self.assertEqual(messages, ["inner", "outer"])

    def test_graph_without_failure_stores_no_handler(self):
        a, b = self._step("a"), self._step("b")
        chain(a, b).on_error(self._handler()).delay()
        handler_uuid = self._handler_uuid(a)
        for step in (a, b):
            job_ = Job.load(self.env, step._generated_job.uuid)
            job_.perform()
            job_.set_done()
            job_.store()
            job_.enqueue_waiting()
        self.assertEqual(self._record(b).state, "done")
        self.assertFalse(self._jobs_with_uuid(handler_uuid))

    def test_failed_job_set_done_by_hand_lets_the_chain_go_on(self):
        a, b, c = self._step("a"), self._step("b"), self._step("c")
        chain(a, b, c).on_error(self._handler()).delay()
        failed = self._fail(a)
        handler_uuid = self._handler_uuid(a)
        self.assertEqual(self._record(c).state, "cancelled")
        failed.button_done()
        self.assertEqual(failed.state, "done")
        self.assertEqual((self._record(b).state, self._record(c).state), ("pending", "wait_dependencies"))
        self.assertFalse(self._record(b).result)
        self.assertEqual(len(self._jobs_with_uuid(handler_uuid)), 1, "the handler ran once, it is not recalled")

    def test_requeued_failed_job_brings_back_its_dependants(self):
        a, b, c = self._step("a"), self._step("b"), self._step("c")
        chain(a, b, c).on_error(self._handler()).delay()
        failed = self._fail(a)
        failed.requeue()
        self.assertEqual(failed.state, "pending")
        self.assertEqual((self._record(b).state, self._record(c).state), ("wait_dependencies", "wait_dependencies"))
        # Failing again: cancelled again, the handler is not run twice.
        self._fail(a, "still no")
        self.assertEqual(self._record(b).state, "cancelled")
        self.assertIn("still no", self._record(b).result)
        self.assertEqual(len(self._jobs_with_uuid(self._handler_uuid(a))), 1)

    def test_failed_job_cancelled_by_hand_changes_nothing_more(self):
        a, b = self._step("a"), self._step("b")
        chain(a, b).on_error(self._handler()).delay()
        failed = self._fail(a)
        failed.button_cancelled()
        self.assertEqual((failed.state, self._record(b).state), ("cancelled", "cancelled"))
        self.assertIn("remote said no", self._record(b).result)

    def test_revive_spares_jobs_cancelled_for_another_reason(self):
        a, b = self._step("a"), self._step("b")
        chain(a, b).on_error(self._handler()).delay()
        self._record(b).button_cancelled()
        failed = self._fail(a)
        failed.requeue()
        self.assertEqual(self._record(b).state, "cancelled", "cancelled by a person, not by the failure")

    def test_cancelled_by_hand_is_not_a_failure(self):
        a, b = self._step("a"), self._step("b")
        chain(a, b).on_error(self._handler()).delay()
        self._record(a).button_cancelled()
        self.assertEqual(self._record(b).state, "cancelled")
        self.assertFalse(self._jobs_with_uuid(self._handler_uuid(a)))

    def test_failure_written_by_sql_is_healed_by_the_minute_cron(self):
        a, b = self._step("a"), self._step("b")
        chain(a, b).on_error(self._handler()).delay()
        record = self._record(a)
        # As the runner does when a job's worker died once too often.
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE queue_job SET state = 'failed', exc_name = 'queue_job.WorkerLost', "
            "exc_message = 'The worker running this job died' WHERE id = %s",
            (record.id,),
        )
        self.env.invalidate_all()
        self.assertEqual(self._record(b).state, "wait_dependencies")
        self.assertEqual(self.jobs._job_heal_failures(), 1)
        self.assertEqual(self._record(b).state, "cancelled")
        self.assertIn("The worker running this job died", self._record(b).result)
        handler = self._jobs_with_uuid(self._handler_uuid(a))
        self.assertEqual(handler.kwargs["failure"]["exc_name"], "queue_job.WorkerLost")
        self.assertEqual(self.jobs._job_heal_failures(), 0, "healed once")

    def test_failure_outside_a_graph_changes_nothing_else(self):
        job_ = self.partner.with_delay().write({"ref": "x"})
        record = job_.db_record()
        job_.set_failed(exc_message="boom")
        job_.store()
        self.assertEqual(record.state, "failed")
        self.assertFalse(record.graph_uuid)

    def test_trapped_graph_does_not_list_the_handler(self):
        with trap_jobs() as trap:
            chain(self._step("a"), self._step("b")).on_error(self._handler()).delay()
            trap.assert_jobs_count(2)
            self.assertEqual({job_.method_name for job_ in trap.enqueued_jobs}, {"write"})

    # -- bad input -----------------------------------------------------------

    def test_handler_must_accept_failure(self):
        with self.assertRaisesRegex(ValueError, "must accept the keyword argument 'failure'"):
            chain(self._step("a")).on_error(self.partner.delayable().write({"ref": "x"}))

    def test_handler_must_be_a_delayable_with_a_method(self):
        with self.assertRaisesRegex(TypeError, "takes a Delayable"):
            chain(self._step("a")).on_error(self.partner)
        with self.assertRaisesRegex(ValueError, "no method was called"):
            group(self._step("a")).on_error(self.jobs.delayable())
        handler = self._handler().on_done(self._step("z"))
        with self.assertRaisesRegex(ValueError, "one job"):
            self._step("a").on_error(handler)
