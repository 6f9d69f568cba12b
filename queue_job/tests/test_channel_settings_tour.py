"""A channel's form in the browser (tour in static/tests/tours/channel_settings_tour.js).

With ``QUEUE_JOB_SCREENSHOT_DIR`` set, the tour saves ``channel_paused.png``
and ``channel_bad_rate_limit.png`` there, at 1280x800.
"""

from unittest import mock

from odoo.tests.common import HttpCase, tagged

from .tour_screenshots import answering_screenshots


@tagged("post_install", "-at_install")
class TestChannelSettingsTour(HttpCase):
    browser_size = "1280x800"

    def test_channel_form(self):
        channel = self.env["queue.job.channel"].create(
            {"name": "tour_sync", "parent_id": self.env.ref("queue_job.channel_root").id}
        )
        with mock.patch("odoo.addons.queue_job.jobrunner.settings.channels_config", return_value="root:2"), \
                answering_screenshots("queue_job_channel_screenshot:", "o_queue_job_channel_screenshot_"):
            self.start_tour(f"/odoo/action-queue_job.action_queue_job_channel/{channel.id}",
                            "queue_job_channel_settings_tour", login="admin", timeout=180)
        self.assertTrue(channel.own_settings)
        self.assertEqual((channel.capacity, channel.rate_limit, channel.paused), (3, "100/min", False))
