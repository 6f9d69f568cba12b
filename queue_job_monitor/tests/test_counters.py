from odoo.tests import tagged

from .. import figures
from .common import MonitorCase


@tagged("post_install", "-at_install")
class TestCounters(MonitorCase):
    def totals(self):
        result = {}
        for channel, func, kind, bucket, n, _seconds in figures.counter_totals(self.env.cr):
            if kind in ("run", "wait"):
                kind = f"{kind}:{bucket}"
            result[(channel, kind)] = result.get((channel, kind), 0) + n
        return result

    def test_counted_where_the_state_changes(self):
        jobs = [self.insert_job("pending", "root.c") for _ in range(5)]
        self.assertEqual(self.totals()[("root.c", "enqueued")], 5)
        self.set_state(jobs, "started", started_ago=0)
        self.set_state(jobs[:2], "done", done_ago=0, exec_time=0.3)
        self.set_state(jobs[2:3], "pending")
        self.set_state(jobs[3:4], "failed")
        self.set_state(jobs[4:], "cancelled")
        # A write that changes no state counts nothing.
        self.env.cr.execute("UPDATE queue_job SET priority = 3 WHERE id = ANY(%s)", (jobs,))
        totals = self.totals()
        self.assertEqual(
            [totals.get(("root.c", kind), 0) for kind in ("done", "failed", "retried", "cancelled")], [2, 1, 1, 1]
        )
        # 0.3 s falls in the bucket "le 0.5" (index 3).
        self.assertEqual(totals[("root.c", "run:3")], 2)
        self.assertEqual(totals[("root.c", "wait:0")], 5)

    def test_a_try_is_counted_when_it_ends_with_its_own_wait(self):
        job = self.insert_job("pending", "root.w", created_ago=60, eta_in=-10)
        self.set_state([job], "started", started_ago=0)
        self.assertNotIn(("root.w", "wait:7"), self.totals(), "a running try is counted when it ends")
        # A retry moves the eta ahead and clears date_started, as the queue's
        # own statement does: the try's wait (10 s, bucket "le 10") is kept.
        self.env.cr.execute(
            "UPDATE queue_job SET state = 'pending', date_started = NULL,"
            " eta = (now() AT TIME ZONE 'UTC') + interval '1 minute' WHERE id = %s",
            (job,),
        )
        totals = self.totals()
        self.assertEqual((totals.get(("root.w", "retried")), totals.get(("root.w", "wait:7"))), (1, 1))
        # Set done by hand while pending: done, 0 s of run, no wait.
        self.set_state([job], "done")
        totals = self.totals()
        self.assertEqual((totals.get(("root.w", "done")), totals.get(("root.w", "run:0"))), (1, 1))
        self.assertEqual(sum(n for (channel, kind), n in totals.items() if kind.startswith("wait:")), 1)

    def test_totals_survive_fold_and_vacuum(self):
        jobs = [self.insert_job("started", "root.v", started_ago=1) for _ in range(3)]
        self.set_state(jobs, "done", done_ago=0, exec_time=1)
        before = self.totals()
        self.monitor._cron_fold_counters()
        self.env.cr.execute("SELECT count(*) FROM queue_job_monitor_delta")
        self.assertEqual(self.env.cr.fetchone()[0], 0, "the fold moved every delta")
        self.assertEqual(self.totals(), before)
        # The autovacuum deletes done jobs: counters do not go back.
        self.env.cr.execute("DELETE FROM queue_job WHERE id = ANY(%s)", (jobs,))
        self.assertEqual(self.totals(), before)
        more = [self.insert_job("started", "root.v", started_ago=1)]
        self.set_state(more, "done", done_ago=0, exec_time=1)
        after = self.totals()
        self.assertEqual(after[("root.v", "done")], before[("root.v", "done")] + 1)
        self.assertTrue(all(after[key] >= value for key, value in before.items()))
        # The windowed counts still see the folded minute counts.
        self.assertEqual(self.channel("root.v")["done_1h_count"], 4)

    def test_orm_writes_are_counted(self):
        job = self.env["queue.job"].browse(self.insert_job("failed", "root.o"))
        job.requeue()
        job.button_done()
        totals = self.totals()
        self.assertEqual(totals[("root.o", "done")], 1)

    def test_deltas_of_the_first_shape_are_kept_on_upgrade(self):
        # Up to 18.0.1.0.0, a delta was one row per kind and histogram bucket.
        self.env.cr.execute("""
            DROP TABLE queue_job_monitor_delta;
            CREATE TABLE queue_job_monitor_delta (
                at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'), channel varchar, func varchar,
                kind varchar NOT NULL, bucket smallint NOT NULL DEFAULT 0, n bigint NOT NULL,
                seconds float8 NOT NULL DEFAULT 0);
            INSERT INTO queue_job_monitor_delta (channel, func, kind, bucket, n, seconds)
            VALUES ('root.old', 'f', 'done', 0, 4, 0), ('root.old', 'f', 'run', 3, 4, 1.2);
        """)
        self.monitor.init()
        totals = self.totals()
        self.assertEqual((totals.get(("root.old", "done")), totals.get(("root.old", "run:3"))), (4, 4))
        # The table has today's shape, and the trigger writes to it.
        job = self.insert_job("started", "root.old", started_ago=1)
        self.set_state([job], "done", done_ago=0, exec_time=0.3)
        self.assertEqual(self.totals()[("root.old", "done")], 5)

