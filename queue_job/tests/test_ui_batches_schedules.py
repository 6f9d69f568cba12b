"""Batches and recurring jobs in the web client (a tour), and their screenshots.

With ``QUEUE_JOB_SCREENSHOTS=<dir>`` in the environment, the batch and
recurring-job pages are also saved there as PNG files (docs/ of the repo).
"""

import base64
import os
from datetime import timedelta
from pathlib import Path

from odoo import fields
from odoo.tests.common import ChromeBrowser, HttpCase, tagged

from odoo.addons.queue_job.job import Job


@tagged("post_install", "-at_install")
class TestUiBatchesSchedules(HttpCase):
    def setUp(self):
        super().setUp()
        env = self.env
        partners = env["res.partner"].create([{"name": f"Tour {n}"} for n in range(4)])
        self.batch = env["queue.job.batch"].get_new_batch("Tour batch")
        jobs = [p.with_context(job_batch=self.batch).with_delay().write({"ref": "t"}) for p in partners]
        self.batch.enqueue()
        for job_, state in zip(jobs, ("done", "done", "failed")):
            job_ = Job.load(env, job_.uuid)
            if state == "done":
                job_.set_started()
                job_.set_done()
            else:
                job_.set_failed(exc_message="CRM refused the record")
            job_.store()
        function = env["queue.job.function"].create(
            {"model_id": env.ref("base.model_res_partner").id, "method": "search_count"}
        )
        self.tour_function = function
        self.schedule = env["queue.job.schedule"].create(
            {
                "name": "Tour schedule",
                "job_function_id": function.id,
                "cron_expression": "*/5 * * * *",
                "tz": "Europe/Brussels",
                "kwargs": "{}",
            }
        )
        self.schedule._run_due(now=self.schedule.next_call)
        self.schedule.write({"skipped_count": 3, "missed_count": 1, "last_call": fields.Datetime.now() - timedelta(minutes=1)})

    def test_tour(self):
        self.start_tour("/odoo/action-queue_job.queue_job_batch_action", "queue_job_batch_schedule_tour", login="admin")
        saved = self.env["queue.job.schedule"].search([("name", "=", "Tour nightly")])
        self.assertEqual((saved.cron_expression, saved.job_function_id), ("0 2 * * *", self.tour_function))
        self.assertTrue(saved.next_call)

    def test_screenshots(self):
        out = os.environ.get("QUEUE_JOB_SCREENSHOTS")
        if not out:
            self.skipTest("QUEUE_JOB_SCREENSHOTS is not set")
        schedule_form = f"/odoo/action-queue_job.queue_job_schedule_action/{self.schedule.id}"
        cron_input = ".o_field_widget[name=cron_expression] input"
        refuse = (
            f"const input = document.querySelector({cron_input!r});"
            "input.value = '61 * * * *';"
            "input.dispatchEvent(new Event('input', {bubbles: true}));"
            "input.dispatchEvent(new Event('change', {bubbles: true}));"
            "setTimeout(() => document.querySelector('.o_form_button_save').click(), 300);"
        )
        pages = [
            ("batches_list", "/odoo/action-queue_job.queue_job_batch_action", ".o_list_view .o_data_row", None),
            ("batch_form", f"/odoo/action-queue_job.queue_job_batch_action/{self.batch.id}", ".o_form_view .o_progressbar", None),
            ("schedules_list", "/odoo/action-queue_job.queue_job_schedule_action", ".o_list_view .o_data_row", None),
            ("schedule_form", schedule_form, ".o_form_view .o_field_widget[name=next_call]", None),
            ("schedule_refused", schedule_form, ".modal .modal-body", refuse),
        ]
        for name, path, selector, script in pages:
            self._screenshot(path, selector, Path(out) / f"{name}.png", script)

    def _screenshot(self, path, selector, target, script=None):
        browser = ChromeBrowser(self, headless=True, success_signal="test successful")
        try:
            self.authenticate("admin", "admin", browser=browser)
            self.cr.flush()
            self.cr.clear()
            browser._websocket_request(
                "Emulation.setDeviceMetricsOverride",
                params={"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
            )
            browser.navigate_to(self.base_url() + path, wait_stop=True)
            if script:
                self.assertTrue(browser._wait_ready("!!document.querySelector('.o_form_view')", timeout=30))
                browser._websocket_request("Runtime.evaluate", params={"expression": script})
            self.assertTrue(browser._wait_ready(f"!!document.querySelector({selector!r})", timeout=30), selector)
            browser._wait_ready("new Promise(resolve => setTimeout(() => resolve(true), 800))", timeout=10)
            shot = browser._websocket_request("Page.captureScreenshot", params={"format": "png"})
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.stop()
            self._wait_remaining_requests()
