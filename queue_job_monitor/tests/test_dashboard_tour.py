import base64
import datetime
import math
import os
import pathlib
from unittest import mock

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from .common import MonitorCase

# Where the screenshots go (the repository's docs/ when taken for the README).
SCREENSHOTS_DIR = os.environ.get("QUEUE_JOB_MONITOR_SCREENSHOTS")


@tagged("post_install", "-at_install")
class TestDashboardTour(HttpCase):
    browser_size = "1280x800"

    def setUp(self):
        super().setUp()
        insert = MonitorCase.insert_job.__get__(self)
        func = "<res.partner>.monitor_tour"
        for n in range(3):
            insert("pending", "root.monitor_tour", func, created_ago=90 + n * 60)
        insert("pending", "root.monitor_tour", func, eta_in=600)
        insert("started", "root.monitor_tour", func, started_ago=4)
        for n in range(12):
            job = insert("started", "root.monitor_tour", func, created_ago=600, started_ago=500 - n * 30)
            MonitorCase.set_state(self, [job], "done", done_ago=498 - n * 30, exec_time=0.4 + n * 0.2)
        for n in (1, 2):
            job = insert("started", "root.monitor_tour", func, started_ago=30)
            self.env.cr.execute(
                "UPDATE queue_job SET state = 'failed', name = %s, exc_message = 'ValueError: no such partner' "
                "WHERE id = %s",
                (f"tour failure {n}", job),
            )
        job = insert("started", "root.mail", "<mail.mail>.send", created_ago=101, started_ago=100)
        MonitorCase.set_state(self, [job], "done", done_ago=99, exec_time=1.2)

    def tour(self, name, screenshot):
        """Run a tour; with QUEUE_JOB_MONITOR_SCREENSHOTS set, keep the page it ends on as a PNG."""
        if not SCREENSHOTS_DIR:
            return self.start_tour("/odoo", name, login="admin")
        stop = ChromeBrowser.stop

        def stop_after_screenshot(browser):
            data = browser._websocket_request("Page.captureScreenshot", timeout=20)["data"]
            path = pathlib.Path(SCREENSHOTS_DIR) / screenshot
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(data))
            stop(browser)

        with mock.patch.object(ChromeBrowser, "stop", stop_after_screenshot):
            return self.start_tour("/odoo", name, login="admin")

    def test_manager_pauses_a_channel_from_the_dashboard(self):
        root = self.env.ref("queue_job.channel_root")
        channel = self.env["queue.job.channel"].create({"name": "monitor_tour", "parent_id": root.id})
        self.tour("queue_job_monitor_pause", "queue_job_monitor_paused.png")
        channel.invalidate_recordset()
        self.assertTrue(channel.paused)

    def test_manager_opens_dashboard_and_drills_into_failed_jobs(self):
        self.tour("queue_job_monitor_dashboard", "queue_job_monitor_dashboard.png")
        self.tour("queue_job_monitor_drill_down", "queue_job_monitor_failed_jobs.png")

    def test_trends_graph(self):
        now = datetime.datetime.now().replace(second=0, microsecond=0)
        vals_list = []
        for step in range(72):  # 12 hours, one snapshot every 10 minutes
            for channel, base in (("root.mail", 40), ("root.monitor_tour", 10)):
                vals_list.append({
                    "date": now - datetime.timedelta(minutes=10 * step), "granularity": "minute", "channel": channel,
                    "ready": base + 30 * math.sin(step / 6) ** 2, "done": 50 + step % 7, "failed": step % 3,
                })  # fmt: skip
        self.env["queue.job.metric"].create(vals_list)
        self.tour("queue_job_monitor_trends", "queue_job_monitor_trends.png")

    def test_monitor_menu_is_for_managers_only(self):
        menu = self.env.ref("queue_job_monitor.queue_job_monitor_menu_dashboard")
        self.assertEqual(menu.groups_id, self.env.ref("queue_job.group_queue_job_manager"))
        siblings = menu.parent_id.child_id.sorted("sequence")
        self.assertEqual(siblings[0], menu, "Monitor is the first entry of the Job Queue menu")
