"""notify_progress(): seen while the job runs, kept when it rolls back, throttled, a cancellation point."""

import json
import time
from unittest import mock

from odoo import fields
from odoo.addons.queue_job import progress, progress_writer
from odoo.addons.queue_job import watchdog as watchdog_module
from odoo.addons.queue_job.exception import JobCancelledError
from odoo.addons.queue_job.progress import notify_progress, progress_percent
from odoo.tests.common import TransactionCase, tagged

from .committed_jobs import CommittedJobsCase


@tagged("post_install", "-at_install")
class TestProgressValues(TransactionCase):
    def test_outside_a_job_it_only_checks_its_arguments(self):
        self.assertIsNone(notify_progress(3, total=10, message="three"))
        self.assertIsNone(notify_progress(3, remaining=7))
        self.assertIsNone(notify_progress(0))

    def test_nonsense_values_are_refused_with_a_clear_message(self):
        cases = [
            ((-1,), {}, "done cannot be negative"),
            ((5,), {"total": 3}, "done (5) is more than total (3)"),
            ((1,), {"total": -2}, "total cannot be negative"),
            ((1,), {"remaining": -1}, "remaining cannot be negative"),
            ((2,), {"total": 10, "remaining": 3}, "done (2) + remaining (3) is not total (10)"),
            ((1.5,), {}, "done must be a whole number"),
            ((True,), {}, "done must be a whole number"),
            (("3",), {}, "done must be a whole number"),
            ((1,), {"message": 12}, "message must be a string"),
        ]
        for args, kwargs, expected in cases:
            with self.subTest(args=args, kwargs=kwargs), self.assertRaises(ValueError) as caught:
                notify_progress(*args, **kwargs)
            self.assertIn(expected, str(caught.exception))

    def test_percent(self):
        self.assertEqual(progress_percent(1, 4), 25.0)
        self.assertEqual(progress_percent(3, None), 0.0)
        self.assertEqual(progress_percent(0, 0), 100.0)


@tagged("post_install", "-at_install")
class TestProgressInAJob(CommittedJobsCase):
    def test_progress_is_seen_while_running_and_kept_after_a_rollback(self):
        seen_meanwhile = []
        registry = self.registry

        def job(partner):
            partner.write({"ref": "rolled back"})
            notify_progress(1, total=10)
            # Another session sees the progress while the job runs (written by the writer thread).
            deadline = time.monotonic() + 10
            while not seen_meanwhile and time.monotonic() < deadline:
                with registry.cursor() as cr:
                    cr.execute("SELECT p.done, p.total FROM queue_job_progress p JOIN queue_job q"
                               " ON q.id = p.job_id WHERE q.uuid = %s", (partner.env.context["job_uuid"],))
                    seen_meanwhile.extend(cr.fetchall())
                time.sleep(0.02)
            notify_progress(3, total=10, message="three of ten")  # throttled: written at the end
            raise ValueError("the job breaks after its progress")

        self.job_code(job)
        uuid, partner_id = self.enqueue()
        with self.assertLogs("odoo.addons.queue_job.executor", "ERROR"):
            self.assertEqual(self.run_job(uuid), "failed")
        self.assertEqual(seen_meanwhile, [(1, 10)])
        row = self.row(uuid)
        self.assertEqual(row["state"], "failed")
        self.assertEqual(self.progress_of(uuid), (3, 10, "three of ten"))
        with self.committed_env() as env:
            self.assertFalse(env["res.partner"].browse(partner_id).ref, "the job's own work is rolled back")
            job_record = env["queue.job"].search([("uuid", "=", uuid)])
            self.assertEqual(job_record.progress, 30.0)

    def test_progress_reaches_the_bus_of_the_jobs_user(self):
        def job(partner):
            notify_progress(2, remaining=2, message="half")

        self.job_code(job)
        uuid, _partner = self.enqueue()
        self.assertEqual(self.run_job(uuid), "done")
        with self.committed_env() as env:
            messages, payloads = self._bus_of_root(env)
            mine = [p["payload"] for p in payloads if p["type"] == progress.BUS_PROGRESS
                    and p["payload"].get("uuid") == uuid]
            self.assertIn(50.0, [p["progress"] for p in mine], "the progress while running")
            self.assertEqual(mine[-1]["state"], "done", "then the end of the job")
            self.assertEqual(mine[-1]["progress"], 100.0)
            messages.unlink()

    def test_a_plain_job_is_announced_with_its_slot_in_one_message(self):
        def job(partner):
            partner.ref = "plain"

        self.job_code(job)
        with self.committed_env() as env:
            user_id = env.ref("base.partner_root").with_context(active_test=False).user_ids[:1].id
        self._forget_presence(user_id)
        self.addCleanup(self._forget_presence, user_id)
        # Nobody has Odoo open: no message at all.
        unseen, _partner = self.enqueue()
        self.assertEqual(self.run_job(unseen), "done")
        with self.committed_env() as env:
            env["bus.presence"].create({"user_id": user_id, "last_poll": fields.Datetime.now()})
        uuid, _partner = self.enqueue()
        self.assertEqual(self.run_job(uuid), "done")
        with self.committed_env() as env:
            messages, payloads = self._bus_of_root(env)
            batches = [p["payload"]["jobs"] for p in payloads
                       if p["type"] == progress.BUS_PROGRESS and "jobs" in p["payload"]]
            mine = [job for jobs in batches for job in jobs if job["uuid"] == uuid]
            self.assertEqual([job["state"] for job in mine], ["done"])
            self.assertFalse([job for jobs in batches for job in jobs if job["uuid"] == unseen])
            self.assertFalse([p for p in payloads if p["type"] == progress.BUS_PROGRESS
                              and p["payload"].get("uuid") == uuid], "no message of its own")
            messages.unlink()

    def _bus_of_root(self, env):
        """The bus messages to the superuser's partner (these tests enqueue as the superuser), and their contents."""
        partner = env.ref("base.partner_root")
        channel = json.dumps([env.cr.dbname, "res.partner", partner.id], separators=(",", ":"))
        messages = env["bus.bus"].search([("channel", "=", channel)])
        return messages, [json.loads(message.message) for message in messages]

    def _forget_presence(self, user_id):
        with self.committed_env() as env:
            env["bus.presence"].search([("user_id", "=", user_id)]).unlink()

    def test_a_job_retried_later_is_announced_and_nobody_is_told_it_ended(self):
        from odoo.addons.queue_job.exception import RetryableJobError

        def job(partner):
            raise RetryableJobError("remote busy", seconds=60)

        self.job_code(job)
        uuid, _partner = self.enqueue(notify=True)
        self.assertEqual(self.run_job(uuid), "pending")
        with self.committed_env() as env:
            _messages, payloads = self._bus_of_root(env)
            states = [p["payload"]["state"] for p in payloads
                      if p["type"] == progress.BUS_PROGRESS and p["payload"].get("uuid") == uuid]
            self.assertEqual(states, ["pending"])
            self.assertFalse([p for p in payloads if p["type"] == "queue_job/notice"
                              and p["payload"].get("uuid") == uuid], "a retry is not the end")

    def test_many_calls_make_few_writes_and_the_last_values_are_written(self):
        writes = []
        real_write = progress_writer._write

        def counting_write(watch, state, values):
            writes.append(values[0])
            return real_write(watch, state, values)

        elapsed = []

        def job(partner):
            started = time.monotonic()
            for done in range(1, 20001):
                notify_progress(done, total=20000)
            elapsed.append(time.monotonic() - started)

        self.job_code(job)
        uuid, _partner = self.enqueue()
        with mock.patch.object(progress_writer, "_write", counting_write):
            self.assertEqual(self.run_job(uuid), "done")
        # One write when it starts, at most one per interval, one at the end.
        allowed = 2 + int(elapsed[0] / progress_writer.MIN_WRITE_INTERVAL) + 1
        self.assertLessEqual(len(writes), allowed, f"{len(writes)} writes in {elapsed[0]:.3f}s")
        self.assertLess(len(writes), 100)
        self.assertEqual(writes[-1], 20000)
        self.assertEqual(self.row(uuid, "state")["state"], "done")
        self.assertEqual(self.progress_of(uuid), (20000, 20000, None))

    def test_a_job_cancelled_meanwhile_is_stopped_by_its_next_progress_call(self):
        registry = self.registry
        raised_by_notify = []

        def job(partner):
            partner.write({"ref": "rolled back"})
            notify_progress(1, total=3)
            time.sleep(0.3)  # the watchdog's look at the start of the job is over
            with registry.cursor() as cr:  # cancelled by someone else meanwhile
                cr.execute("UPDATE queue_job SET state = 'cancelled' WHERE uuid = %s",
                           (partner.env.context["job_uuid"],))
            # The next writes find the job cancelled; the call after that raises.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    notify_progress(2, total=3)
                except JobCancelledError:
                    raised_by_notify.append(True)
                    raise
                time.sleep(0.05)
            partner.write({"ref": "went on"})

        self.job_code(job)
        uuid, partner_id = self.enqueue()
        # The watchdog looks only when the job starts: the cancellation can only be
        # seen by notify_progress() itself.
        with mock.patch.object(watchdog_module, "POLL_SECONDS", 3600):
            time.sleep(0.6)  # the watchdog's current (short) wait ends
            state = self.run_job(uuid)
        self.assertEqual(state, "cancelled")
        self.assertEqual(raised_by_notify, [True])
        self.assertEqual(self.row(uuid, "state")["state"], "cancelled")
        with self.committed_env() as env:
            self.assertFalse(env["res.partner"].browse(partner_id).ref)

    def test_nonsense_values_fail_the_job_with_a_clear_message(self):
        def job(partner):
            notify_progress(2, total=4)
            notify_progress(9, total=4)

        self.job_code(job)
        uuid, _partner = self.enqueue()
        with self.assertLogs("odoo.addons.queue_job.executor", "ERROR"):
            self.assertEqual(self.run_job(uuid), "failed")
        row = self.row(uuid)
        self.assertIn("done (9) is more than total (4)", row["exc_message"])
        self.assertEqual(self.progress_of(uuid), (2, 4, None), "the last good values")
