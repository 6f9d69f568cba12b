import psycopg2

import odoo
from odoo.tests import tagged

from odoo.addons.queue_job.engine.sql import RUNNER_LOCK_NS

from ..figures import percentile_from_buckets
from .common import MonitorCase


@tagged("post_install", "-at_install")
class TestChannelFigures(MonitorCase):
    def test_depth_by_state(self):
        self.insert_job("pending", "root.a", created_ago=600)
        self.insert_job("pending", "root.a", created_ago=30)
        self.insert_job("pending", "root.a", created_ago=900, eta_in=-120)  # eta passed 2 min ago
        self.insert_job("pending", "root.a", eta_in=3600)
        self.insert_job("wait_dependencies", "root.a")
        self.insert_job("enqueued", "root.a", started_ago=None)
        self.insert_job("started", "root.a", started_ago=5)
        self.insert_job("failed", "root.a")
        self.insert_job("done", "root.b", started_ago=20, done_ago=10, exec_time=10)
        a = self.channel("root.a")
        self.assertEqual(
            (a["ready"], a["scheduled"], a["waiting"], a["running"], a["started"], a["failed"]), (3, 1, 1, 2, 1, 1)
        )
        # The oldest ready job became ready 600 s ago (the one created 900 s ago was due 120 s ago).
        self.assertAlmostEqual(a["oldest_ready_age"], 600, delta=1)
        b = self.channel("root.b")
        self.assertEqual((b["ready"], b["running"], b["oldest_ready_age"]), (0, 0, None))

    def test_throughput_windows(self):
        for done_ago in (60, 120, 240, 400, 1800, 3000, 4000):
            self.insert_job("done", "root.t", started_ago=done_ago + 1, done_ago=done_ago, exec_time=1)
        t = self.channel("root.t")
        # 3 done in the last 5 minutes, 6 in the hour (the 4000 s one is older).
        self.assertAlmostEqual(t["throughput_5m"], 3 / 5)
        self.assertAlmostEqual(t["throughput_1h"], 6 / 60)

    def test_wait_and_run_percentiles(self):
        # Waits 1..10 s (created 100 s ago, started 100 - w s ago), runs 1..10 s.
        for seconds in range(1, 11):
            self.insert_job(
                "done", "root.p", created_ago=100, started_ago=100 - seconds, done_ago=100 - 2 * seconds,
                exec_time=seconds,
            )  # fmt: skip
        # A job that was scheduled: its wait counts from its eta, not its creation.
        self.insert_job("done", "root.q", created_ago=1000, eta_in=-50, started_ago=47, done_ago=40, exec_time=None)
        p = self.channel("root.p")
        self.assertAlmostEqual(p["wait_p50"], 5.5, places=3)
        self.assertAlmostEqual(p["wait_p95"], 9.55, places=3)
        self.assertAlmostEqual(p["run_p50"], 5.5, places=3)
        self.assertAlmostEqual(p["run_p95"], 9.55, places=3)
        q = self.channel("root.q")
        self.assertAlmostEqual(q["wait_p50"], 3, places=3)
        # No exec_time: the run time is date_done - date_started.
        self.assertAlmostEqual(q["run_p50"], 7, places=3)

    def test_final_failure_rate_ignores_retries(self):
        jobs = [self.insert_job("started", "root.f", started_ago=5) for _ in range(4)]
        retried = self.insert_job("started", "root.f", started_ago=5)
        self.set_state(jobs[:3], "done", done_ago=1, exec_time=4)
        self.set_state(jobs[3:], "failed")
        self.set_state([retried], "pending")  # will be retried: not a failure
        f = self.channel("root.f")
        self.assertEqual((f["done_1h_count"], f["failed_1h"], f["retried_1h"]), (3, 1, 1))
        self.assertAlmostEqual(f["failure_rate_1h"], 0.25)

    def test_capacity_and_utilisation(self):
        self.insert_job("started", "root", started_ago=1)
        root = self.channel("root")
        # Default configuration: root:1.
        self.assertEqual(root["capacity"], 1)
        self.assertEqual(root["utilisation"], 1.0)


@tagged("post_install", "-at_install")
class TestFunctionFigures(MonitorCase):
    def test_per_function_over_window(self):
        fast = [self.insert_job("started", func="<res.partner>.fast", started_ago=1) for _ in range(4)]
        slow = [self.insert_job("started", func="<res.partner>.slow", started_ago=1) for _ in range(2)]
        self.set_state(fast, "done", done_ago=0, exec_time=0.07)  # bucket (0.05, 0.1]
        self.set_state(slow[:1], "done", done_ago=0, exec_time=20)  # bucket (10, 30]
        self.env.cr.execute(
            "UPDATE queue_job SET state = 'failed', exc_message = 'boom' WHERE id = %s", (slow[1],)
        )
        rows = {row["function"]: row for row in self.monitor.dashboard_data("24h")["functions"]}
        self.assertEqual((rows["<res.partner>.fast"]["jobs"], rows["<res.partner>.fast"]["failure_rate"]), (4, 0.0))
        self.assertTrue(0.05 < rows["<res.partner>.fast"]["run_p50"] <= 0.1)
        self.assertEqual(rows["<res.partner>.slow"]["failure_rate"], 0.5)
        self.assertEqual(rows["<res.partner>.slow"]["last_failure"], "boom")
        self.assertTrue(10 < rows["<res.partner>.slow"]["run_p95"] <= 30)
        self.assertIsNone(rows["<res.partner>.fast"]["last_failure"])

    def test_unknown_window_is_refused(self):
        with self.assertRaisesRegex(Exception, "Unknown window"):
            self.monitor.dashboard_data("3y")

    def test_percentile_from_buckets(self):
        # 10 values in (0, 0.05], 10 in (0.05, 0.1]: the median is the top of the first bucket.
        self.assertAlmostEqual(percentile_from_buckets({0: 10, 1: 10}, 0.5), 0.05)
        self.assertAlmostEqual(percentile_from_buckets({0: 10, 1: 10}, 0.75), 0.075)
        self.assertIsNone(percentile_from_buckets({}, 0.5))
        self.assertEqual(percentile_from_buckets({15: 3}, 0.95), 3600.0)


@tagged("post_install", "-at_install")
class TestRunnerState(MonitorCase):
    def test_leader_found_through_its_advisory_lock(self):
        state = self.monitor.dashboard_data()["runner"]
        self.assertIsNone(state["leader"])
        self.insert_job("pending", created_ago=10)
        self.assertTrue(self.monitor.dashboard_data()["runner"]["silent"], "jobs ready and nobody leads")
        info = dict(odoo.sql_db.connection_info_for(self.env.cr.dbname)[1])
        info["application_name"] = "queue_job runner 4242"
        conn = psycopg2.connect(**info)
        try:
            conn.autocommit = True
            with conn.cursor() as cr:
                cr.execute("SELECT pg_try_advisory_lock(%s, 0)", (RUNNER_LOCK_NS,))
                self.assertTrue(cr.fetchone()[0])
            state = self.monitor.dashboard_data()["runner"]
        finally:
            conn.close()
        self.assertEqual(state["leader"]["pid"], 4242)
        self.assertTrue(state["leader"]["since"])
        # Jobs are ready and nothing was ever dispatched: silent.
        self.assertTrue(state["silent"])

    def test_not_silent_after_a_recent_dispatch(self):
        self.insert_job("pending", created_ago=10)
        self.insert_job("started", started_ago=3)  # date_enqueued 3 s ago
        state = self.monitor.dashboard_data()["runner"]
        self.assertAlmostEqual(state["seconds_since_dispatch"], 3, delta=1)
        self.assertEqual((state["in_flight"], state["ready"]), (1, 1))

    def test_dashboard_for_managers_only(self):
        user = self.env["res.users"].create(
            {"name": "Plain user", "login": "monitor_plain_user", "groups_id": [(6, 0, [self.env.ref("base.group_user").id])]}
        )
        with self.assertRaises(odoo.exceptions.AccessError):
            self.monitor.with_user(user).dashboard_data()
