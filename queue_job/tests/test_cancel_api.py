"""``job_cancel_requested()`` / ``check_job_cancelled()`` outside a job run by a worker.

Jobs that check for cancellation must still run where no watchdog watches
them: called directly, performed in-process (trap_jobs, Job.perform) or with
``queue_job__no_delay``. Inside a worker they are covered by
tests/e2e/test_e2e_08_limits_cancel.py.
"""

from unittest import mock

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.watchdog import check_job_cancelled, job_cancel_requested


@tagged("post_install", "-at_install")
class TestCancelApi(TransactionCase):
    def _checking_job(self, seen):
        def _test_job(job_self, *args, **kwargs):
            seen.append(job_cancel_requested())
            check_job_cancelled()
            return "checked"

        return mock.patch.object(type(self.env["queue.job"]), "_test_job", _test_job)

    def test_outside_a_job(self):
        self.assertIs(job_cancel_requested(), False)
        self.assertIsNone(check_job_cancelled())

    def test_job_performed_in_process(self):
        seen = []
        with self._checking_job(seen):
            job = Job(self.env["queue.job"]._test_job)
            self.assertEqual(job.perform(), "checked")
        self.assertEqual(seen, [False])

    def test_job_run_at_once_with_no_delay(self):
        seen = []
        with self._checking_job(seen):
            self.env["queue.job"].with_context(queue_job__no_delay=True).with_delay()._test_job()
        self.assertEqual(seen, [False])
