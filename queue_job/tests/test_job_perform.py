"""``Job.perform()``: retries, max_retries, ignore_retry, retry patterns and job config."""

from contextlib import contextmanager
from unittest import mock

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.exception import FailedJobError, RetryableJobError
from odoo.addons.queue_job.job import RETRY_INTERVAL, Job

TEST_JOB_FUNCTION = "<queue.job>._test_job"


@tagged("post_install", "-at_install")
class TestJobPerform(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.job_model = cls.env["queue.job"]
        cls.function = cls.env.ref("queue_job.job_function_queue_job__test_job")

    @contextmanager
    def _test_job_raising(self, error):
        """Make ``queue.job._test_job`` raise ``error`` and count its calls."""
        calls = []

        def _test_job(self, *args, **kwargs):
            calls.append((args, kwargs))
            raise error

        with mock.patch.object(type(self.job_model), "_test_job", _test_job):
            yield calls

    def test_perform_returns_result(self):
        partner = self.env["res.partner"].create({"name": "Performed"})
        job = Job(partner.write, args=({"ref": "done"},))
        self.assertIs(job.perform(), True)
        self.assertIs(job.result, True)
        self.assertEqual(job.retry, 1)
        self.assertEqual(partner.ref, "done")

    def test_job_uuid_in_context(self):
        seen = []

        def _test_job(self, *args, **kwargs):
            seen.append(self.env.context.get("job_uuid"))

        with mock.patch.object(type(self.job_model), "_test_job", _test_job):
            job = Job(self.job_model._test_job)
            job.perform()
        self.assertEqual(seen, [job.uuid])

    def test_retryable_until_max_retries(self):
        with self._test_job_raising(RetryableJobError("not yet")) as calls:
            job = Job(self.job_model._test_job, kwargs={"failure_rate": 0}, max_retries=3)
            for expected_try in (1, 2):
                with self.assertRaises(RetryableJobError):
                    job.perform()
                self.assertEqual(job.retry, expected_try)
            with self.assertRaisesRegex(FailedJobError, r"Max\. retries \(3\) reached: not yet"):
                job.perform()
            self.assertEqual(job.retry, 3)
        self.assertEqual(len(calls), 3)
        self.assertEqual(calls[0], ((), {"failure_rate": 0}))

    def test_max_retries_zero_retries_forever(self):
        with self._test_job_raising(RetryableJobError("again")):
            job = Job(self.job_model._test_job, max_retries=0)
            for _try in range(12):
                with self.assertRaises(RetryableJobError):
                    job.perform()
        self.assertEqual(job.retry, 12)

    def test_ignore_retry_not_counted(self):
        with self._test_job_raising(RetryableJobError("locked", ignore_retry=True)):
            job = Job(self.job_model._test_job, max_retries=2)
            for _try in range(5):
                with self.assertRaises(RetryableJobError) as caught:
                    job.perform()
                self.assertNotIsInstance(caught.exception, FailedJobError)
        self.assertEqual(job.retry, 0)

    def test_other_errors_propagate(self):
        with self._test_job_raising(ZeroDivisionError("boom")):
            job = Job(self.job_model._test_job, max_retries=1)
            with self.assertRaises(ZeroDivisionError):
                job.perform()
        self.assertEqual(job.retry, 1)

    def test_retry_pattern(self):
        self.function.edit_retry_pattern = "{1: 10, 5: 60}"
        self.assertEqual(self.function.retry_pattern, {1: 10, 5: 60})
        job = Job(self.job_model._test_job)
        self.assertEqual(job.job_config.retry_pattern, {1: 10, 5: 60})
        expected = {1: 10, 2: 10, 4: 10, 5: 60, 6: 60, 50: 60}
        for tries, seconds in expected.items():
            job.retry = tries
            self.assertEqual(job._get_retry_seconds(), seconds, f"after {tries} tries")
        # Before any try, no entry applies: the default interval.
        job.retry = 0
        self.assertEqual(job._get_retry_seconds(), RETRY_INTERVAL)
        # Seconds asked for by the error win over the pattern.
        job.retry = 5
        self.assertEqual(job._get_retry_seconds(7), 7)

    def test_retry_pattern_random_range(self):
        self.function.edit_retry_pattern = "{1: (10, 20)}"
        job = Job(self.job_model._test_job)
        job.retry = 3
        for _draw in range(20):
            self.assertTrue(10 <= job._get_retry_seconds() <= 20)

    def test_no_retry_pattern(self):
        self.function.retry_pattern = {}
        job = Job(self.job_model._test_job)
        job.retry = 2
        self.assertEqual(job._get_retry_seconds(), RETRY_INTERVAL)

    def test_postpone(self):
        self.function.edit_retry_pattern = "{1: 30}"
        job = Job(self.job_model._test_job)
        job.retry = 1
        job.exc_info = "traceback"
        job.postpone(result="later")
        self.assertEqual(job.result, "later")
        self.assertIsNone(job.exc_info)
        delta = (job.eta - job.date_created).total_seconds()
        self.assertTrue(29 <= delta <= 60, delta)

    def test_job_config_cache_invalidated_on_write(self):
        functions = self.env["queue.job.function"]
        self.function.retry_pattern = {}
        before = functions.job_config(TEST_JOB_FUNCTION)
        self.assertEqual(before.retry_pattern, {})
        self.assertEqual(before.channel, "root")
        self.assertEqual(before.job_function_id, self.function.id)

        channel = self.env["queue.job.channel"].create(
            {"name": "perform_test", "parent_id": self.env.ref("queue_job.channel_root").id}
        )
        self.function.write({"retry_pattern": {1: 5}, "channel_id": channel.id})
        after = functions.job_config(TEST_JOB_FUNCTION)
        self.assertEqual(after.retry_pattern, {1: 5})
        self.assertEqual(after.channel, "root.perform_test")
        # New jobs of the function pick the new channel up.
        job = self.job_model.with_delay()._test_job()
        self.assertEqual(job.channel, "root.perform_test")
        self.assertEqual(self.job_model.search([("uuid", "=", job.uuid)]).channel, "root.perform_test")

        self.function.related_action = {"enable": False}
        self.assertFalse(functions.job_config(TEST_JOB_FUNCTION).related_action_enable)

    def test_job_config_default(self):
        config = self.env["queue.job.function"].job_config("<res.partner>.no_such_function")
        self.assertEqual(config.channel, "root")
        self.assertEqual(config.retry_pattern, {})
        self.assertTrue(config.related_action_enable)
        self.assertIsNone(config.job_function_id)
