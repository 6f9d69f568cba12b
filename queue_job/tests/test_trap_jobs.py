"""``trap_jobs()``: catch enqueued jobs in a test, check them, run them."""

import re
from datetime import datetime

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import JobMixin, trap_jobs


@tagged("post_install", "-at_install")
class TestTrapJobs(TransactionCase, JobMixin):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Trapped Partner"})
        cls.other = cls.env["res.partner"].create({"name": "Other Partner"})

    def test_count_and_nothing_stored(self):
        count = self.env["queue.job"].search_count([])
        with trap_jobs() as trap:
            job = self.partner.with_delay(priority=15).write({"ref": "a"})
            self.other.with_delay().write({"ref": "b"})
            self.partner.with_delay().message_post(body="hello")
            self.assertIsInstance(job, Job)
            trap.assert_jobs_count(3)
            # ``only`` is a method bound to records: other records do not count.
            trap.assert_jobs_count(1, only=self.partner.write)
            trap.assert_jobs_count(1, only=self.other.write)
            trap.assert_jobs_count(1, only=self.partner.message_post)
            trap.assert_jobs_count(0, only=self.partner.unlink)
            with self.assertRaises(AssertionError):
                trap.assert_jobs_count(4)
            self.assertEqual(len(trap.calls), 3)
        self.env.invalidate_all()
        self.assertEqual(self.env["queue.job"].search_count([]), count)
        self.assertFalse(self.partner.ref)

    def test_assert_enqueued_job(self):
        eta = datetime(2031, 5, 6, 7, 8, 9)
        with trap_jobs() as trap:
            self.partner.with_delay(priority=15, eta=eta, channel="root.sync").write({"ref": "a"}, key=1)
            trap.assert_enqueued_job(self.partner.write, args=({"ref": "a"},), kwargs={"key": 1})
            trap.assert_enqueued_job(
                self.partner.write,
                args=({"ref": "a"},),
                kwargs={"key": 1},
                properties={"priority": 15, "channel": "root.sync"},
            )
            trap.assert_enqueued_job(
                self.partner.write, args=({"ref": "a"},), kwargs={"key": 1}, properties={"eta": eta}
            )
            # Wrong property value, wrong args, wrong records, wrong method: all fail.
            with self.assertRaisesRegex(AssertionError, "was not enqueued"):
                trap.assert_enqueued_job(
                    self.partner.write, args=({"ref": "a"},), kwargs={"key": 1}, properties={"priority": 10}
                )
            with self.assertRaises(AssertionError):
                trap.assert_enqueued_job(self.partner.write, args=({"ref": "b"},), kwargs={"key": 1})
            with self.assertRaises(AssertionError):
                trap.assert_enqueued_job(self.other.write, args=({"ref": "a"},), kwargs={"key": 1})
            with self.assertRaises(AssertionError):
                trap.assert_enqueued_job(self.partner.message_post, args=({"ref": "a"},), kwargs={"key": 1})

    def test_calls(self):
        with trap_jobs() as trap:
            self.partner.with_delay(priority=5, description="desc").write({"ref": "a"})
        (call,) = trap.calls
        self.assertEqual(call.method.__self__, self.partner)
        self.assertEqual(call.method.__name__, "write")
        self.assertEqual(call.args, ({"ref": "a"},))
        self.assertEqual(call.kwargs, {})
        self.assertEqual(call.properties["priority"], 5)
        self.assertEqual(call.properties["description"], "desc")

    def test_perform_enqueued_jobs(self):
        with trap_jobs() as trap:
            self.partner.with_delay().write({"ref": "performed"})
            self.other.with_delay(priority=1).write({"ref": "first"})
            self.assertFalse(self.partner.ref)
            trap.perform_enqueued_jobs()
            self.assertEqual(trap.enqueued_jobs, [])
            trap.assert_jobs_count(0)
        self.assertEqual(self.partner.ref, "performed")
        self.assertEqual(self.other.ref, "first")

    def test_perform_by_priority(self):
        with trap_jobs() as trap:
            for priority in (30, 5, 20):
                self.partner.with_delay(priority=priority).message_post(body=f"p{priority}", message_type="comment")
            trap.perform_enqueued_jobs()
        messages = self.partner.message_ids.filtered(lambda m: m.message_type == "comment").sorted("id")
        self.assertEqual([re.sub("<[^>]*>", "", str(m.body)) for m in messages], ["p5", "p20", "p30"])

    def test_identity_key_trapped_once(self):
        with trap_jobs() as trap:
            self.partner.with_delay(identity_key="trap-key").write({"ref": "a"})
            self.partner.with_delay(identity_key="trap-key").write({"ref": "b"})
            self.assertEqual(len(trap.calls), 2)
            trap.assert_jobs_count(1)
            trap.perform_enqueued_jobs()
        self.assertEqual(self.partner.ref, "a")

    def test_job_mixin(self):
        with self.trap_jobs() as trap:
            self.partner.with_delay().write({"ref": "mixin"})
            trap.assert_jobs_count(1)
        counter = self.job_counter()
        self.partner.with_delay().write({"ref": "counted"})
        self.assertEqual(counter.count_created(), 1)
        self.perform_jobs(counter)
        self.assertEqual(self.partner.ref, "counted")
