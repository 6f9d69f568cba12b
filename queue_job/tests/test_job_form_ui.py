"""The job form and list in Chromium, as a user without technical features sees them.

With QUEUE_JOB_SCREENSHOT_DIR set (docs/ for the README), screenshots of what
the tours saw are copied there; a plain test run writes nothing in the repository.
"""

import os
import shutil
import time
from pathlib import Path
from unittest import mock

from odoo.tests.common import ChromeBrowser, HttpCase, new_test_user, tagged
from odoo.tools import config


@tagged("post_install", "-at_install")
class TestJobFormUi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, login="follow_ui", password="follow_ui", groups="base.group_user",
                                 tz="UTC")
        partner = cls.env["res.partner"].create({"name": "Follow-me Ltd"})
        job = partner.with_user(cls.user).with_delay(notify=True, description="Import contacts from CSV") \
            .write({"ref": "x"})
        cls.env["queue.job"].flush_model()
        cls.job = cls.env["queue.job"].search([("uuid", "=", job.uuid)])
        cls.env["queue.job.progress"].create({"job_id": cls.job.id, "done": 750, "total": 1000,
                                              "message": "row 750: Follow-me Ltd"})
        attachment = cls.env["ir.attachment"].create(
            {"name": "rejected_rows.csv", "raw": b"line,reason\n", "res_model": "queue.job", "res_id": cls.job.id}
        )
        cls.job.with_context(_job_edit_sentinel=cls.job.EDIT_SENTINEL).write({
            "state": "failed",
            "exc_name": "odoo.exceptions.UserError",
            "exc_message": "The file has no 'email' column\n(columns found: name, phone)",
            "exc_info": "Traceback (most recent call last):\n  File ...",
            "result_attachment_id": attachment.id,
        })

    def _tour_with_screenshot(self, url, tour, name):
        """Run ``tour``; with QUEUE_JOB_SCREENSHOT_DIR set, keep the page it ended on as <name>.png there."""
        target = os.environ.get("QUEUE_JOB_SCREENSHOT_DIR")
        if not target:
            self.start_tour(url, tour, login="follow_ui")
            return
        shots = Path(config["screenshots"])
        before = set(shots.rglob("*.png")) if shots.exists() else set()
        original = ChromeBrowser._wait_code_ok

        def wait_then_screenshot(browser, *args, **kwargs):
            result = original(browser, *args, **kwargs)
            browser._websocket_send("Emulation.setDeviceMetricsOverride", params={
                "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
            time.sleep(0.5)
            browser.take_screenshot(prefix=f"{name}_").result(timeout=20)
            return result

        with mock.patch.object(ChromeBrowser, "_wait_code_ok", wait_then_screenshot):
            self.start_tour(url, tour, login="follow_ui")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            new = [path for path in shots.rglob(f"{name}_*.png") if path not in before]
            if new:
                Path(target).mkdir(parents=True, exist_ok=True)
                shutil.copy(max(new, key=lambda path: path.stat().st_mtime), Path(target) / f"{name}.png")
                return
            time.sleep(0.1)

    def test_job_form_for_people(self):
        self._tour_with_screenshot(f"/odoo/action-queue_job.action_queue_job/{self.job.id}",
                                   "queue_job_form_for_people", "job_form_progress")

    def test_job_list_shows_progress(self):
        self._tour_with_screenshot("/odoo/action-queue_job.action_queue_job", "queue_job_list_progress",
                                   "job_list_progress")
