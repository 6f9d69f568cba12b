import datetime

from odoo.tests import tagged

from .. import figures
from .common import MonitorCase


@tagged("post_install", "-at_install")
class TestTrends(MonitorCase):
    def setUp(self):
        super().setUp()
        self.Metric = self.env["queue.job.metric"]
        self.now = figures.now(self.env.cr)

    def test_minute_snapshot_per_channel(self):
        for _n in range(3):
            self.insert_job("pending", "root.s", created_ago=30)
        jobs = [self.insert_job("started", "root.s", started_ago=2) for _n in range(4)]
        self.set_state(jobs[:3], "done", done_ago=0, exec_time=0.2)
        self.set_state(jobs[3:], "failed")
        self.monitor._cron_fold_counters()
        # The snapshot taken a minute later covers the minute the jobs finished in.
        next_minute = self.now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        self.Metric._cron_snapshot(next_minute + datetime.timedelta(seconds=1))
        row = self.Metric.search([("channel", "=", "root.s"), ("granularity", "=", "minute")])
        self.assertEqual(len(row), 1)
        self.assertEqual((row.ready, row.done, row.failed, row.failed_jobs), (3, 3, 1, 1))
        self.assertTrue(0.1 < row.run_p95 <= 0.25)
        # Taken twice for the same minute (two crons, a retry): still one row.
        self.Metric._cron_snapshot(next_minute + datetime.timedelta(seconds=40))
        self.assertEqual(self.Metric.search_count([("channel", "=", "root.s")]), 1)

    def test_rollup_percentiles_come_from_the_histograms(self):
        hour = self.now.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=1)
        fast = {0: 100}  # 100 runs <= 50 ms
        slow = {10: 5}  # 5 runs in (30 s, 60 s]
        self.Metric.create([
            {"date": hour, "granularity": "minute", "channel": "root.r", "done": 100, "run_histogram": fast,
             "run_p95": figures.percentile_from_buckets(fast, 0.95), "ready": 2},
            {"date": hour + datetime.timedelta(minutes=1), "granularity": "minute", "channel": "root.r", "done": 5,
             "run_histogram": slow, "run_p95": figures.percentile_from_buckets(slow, 0.95), "ready": 4},
        ])  # fmt: skip
        self.Metric._roll_up("minute", "hour", hour, hour + datetime.timedelta(hours=1))
        rollup = self.Metric.search([("granularity", "=", "hour"), ("channel", "=", "root.r")])
        self.assertEqual((rollup.done, rollup.ready), (105, 3))
        # 95 % of the 105 runs took at most 50 ms; the max of the minutes' p95 would say about a minute.
        self.assertLessEqual(rollup.run_p95, 0.05)

    def test_retention(self):
        old_minute = self.Metric.create({"date": self.now - datetime.timedelta(days=8), "granularity": "minute",
                                         "channel": "root"})  # fmt: skip
        recent_hour = self.Metric.create({"date": self.now - datetime.timedelta(days=30), "granularity": "hour",
                                          "channel": "root"})  # fmt: skip
        old_hour = self.Metric.create({"date": self.now - datetime.timedelta(days=91), "granularity": "hour",
                                       "channel": "root"})  # fmt: skip
        old_day = self.Metric.create({"date": self.now - datetime.timedelta(days=400), "granularity": "day",
                                      "channel": "root"})  # fmt: skip
        self.Metric._cron_snapshot(self.now)
        self.assertFalse(old_minute.exists())
        self.assertFalse(old_hour.exists())
        self.assertTrue(recent_hour.exists())
        self.assertTrue(old_day.exists())
