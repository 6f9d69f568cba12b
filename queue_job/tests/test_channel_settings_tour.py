"""A channel's form in the browser (tour in static/tests/tours/channel_settings_tour.js).

With ``QUEUE_JOB_SCREENSHOT_DIR`` set, the tour saves ``channel_paused.png``
and ``channel_bad_rate_limit.png`` there, at 1280x800.
"""

import base64
import logging
import os
from pathlib import Path
from unittest import mock

from odoo.tests.common import ChromeBrowser, HttpCase, tagged

_logger = logging.getLogger(__name__)

SIGNAL = "queue_job_channel_screenshot:"
_console = ChromeBrowser._handle_console


def _handle_console(browser, type, args=None, stackTrace=None, **kw):  # noqa: A002 (Chrome's name)
    text = str(browser._from_remoteobject(args[0])) if args else ""
    if type == "log" and text.startswith(SIGNAL):
        _screenshot(browser, text[len(SIGNAL) :])
    return _console(browser, type, args=args, stackTrace=stackTrace, **kw)


def _screenshot(browser, name):
    def taken(_future=None):
        browser._websocket_send(
            "Runtime.evaluate", params={"expression": f"document.body.classList.add('o_queue_job_channel_screenshot_{name}')"}
        )

    directory = os.environ.get("QUEUE_JOB_SCREENSHOT_DIR")
    if not directory:
        taken()
        return

    def save(future):
        try:
            path = Path(directory) / f"{name}.png"
            path.write_bytes(base64.b64decode(future.result()["data"]))
            _logger.info("screenshot of the channel form saved in %s", path)
        finally:
            taken()

    browser._websocket_send("Page.captureScreenshot", params={"format": "png"}, with_future=True).add_done_callback(save)


@tagged("post_install", "-at_install")
class TestChannelSettingsTour(HttpCase):
    browser_size = "1280x800"

    def test_channel_form(self):
        channel = self.env["queue.job.channel"].create(
            {"name": "tour_sync", "parent_id": self.env.ref("queue_job.channel_root").id}
        )
        with mock.patch("odoo.addons.queue_job.jobrunner.settings.channels_config", return_value="root:2"), \
                mock.patch.object(ChromeBrowser, "_handle_console", _handle_console):
            self.start_tour(f"/odoo/action-queue_job.action_queue_job_channel/{channel.id}",
                            "queue_job_channel_settings_tour", login="admin", timeout=180)
        self.assertTrue(channel.own_settings)
        self.assertEqual((channel.capacity, channel.rate_limit, channel.paused), (3, "100/min", False))
