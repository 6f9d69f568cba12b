"""The probe's own tests, as an addon written for OCA queue_job would have them."""

from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import trap_jobs


class TestProbeApi(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.probe = cls.env["queue.job.probe"].create({"name": "p1"})

    def test_with_delay_trapped(self):
        with trap_jobs() as trap:
            self.probe.enqueue_touch(priority=7, channel="root.probe")
            trap.assert_jobs_count(1, only=self.probe.job_touch)
            trap.assert_enqueued_job(self.probe.job_touch, properties={"priority": 7, "channel": "root.probe"})
            trap.perform_enqueued_jobs()
        self.assertEqual(self.probe.runs, 1)
        self.assertFalse(self.env["queue.job"].search([("model_name", "=", "queue.job.probe")]))

    def test_graph_trapped_runs_in_order(self):
        with trap_jobs() as trap:
            self.probe.enqueue_graph()
            trap.assert_jobs_count(4)
            trap.perform_enqueued_jobs()
        tags = self.env["queue.job.probe.effect"].search([("probe_id", "=", self.probe.id)], order="id").mapped("tag")
        self.assertEqual(sorted(tags[:2]), ["g1", "g2"])
        self.assertEqual(tags[2:], ["c1", "c2"])

    def test_stored_job_and_related_action(self):
        job = self.probe.with_context(probe_marker="kept").enqueue_touch()
        record = job.db_record()
        self.assertEqual(record.channel, "root.probe")
        self.assertEqual(record.records.env.context.get("probe_marker"), "kept")
        action = record.open_related_action()
        self.assertEqual(action["res_id"], self.probe.id)
        self.assertEqual(action["name"], "Probe")

    def test_identity_exact(self):
        first = self.probe.enqueue_unique()
        second = self.probe.enqueue_unique()
        self.assertEqual(first.uuid, second.uuid)

    def test_retry_pattern_from_job_function(self):
        job = self.probe.with_delay().job_retry_until(5)
        loaded = Job.load(self.env, job.uuid)
        loaded.retry = 1
        self.assertEqual(loaded._get_retry_seconds(), 1)
        loaded.retry = 3
        self.assertEqual(loaded._get_retry_seconds(), 2)
        with self.assertRaises(RetryableJobError):
            loaded.perform()

    def test_no_delay_context_runs_now(self):
        self.probe.with_context(test_queue_job_no_delay=True).enqueue_touch()
        self.assertEqual(self.probe.runs, 1)
        self.probe.with_context(queue_job__no_delay=True).enqueue_touch()
        self.assertEqual(self.probe.runs, 2)
