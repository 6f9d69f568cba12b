"""Screenshots a tour asks for at chosen steps, answered by the Python test.

The tour step logs ``<signal><name>`` on the console, then waits for the
class ``<marker><name>`` on the page's body. With ``QUEUE_JOB_SCREENSHOT_DIR``
set, the page is saved there as ``<name>.png`` before the class is added;
without it, the class is added at once and a test run writes nothing.
"""

import base64
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from odoo.tests.common import ChromeBrowser

_logger = logging.getLogger(__name__)

_handle_console = ChromeBrowser._handle_console


@contextmanager
def answering_screenshots(signal: str, marker: str):
    """Within the block, the tours' ``console.log(signal + name)`` steps get their screenshot."""

    def handle_console(browser, type, args=None, stackTrace=None, **kw):  # noqa: A002 (Chrome's name)
        text = str(browser._from_remoteobject(args[0])) if args else ""
        if type == "log" and text.startswith(signal):
            _answer(browser, text[len(signal) :], marker)
        return _handle_console(browser, type, args=args, stackTrace=stackTrace, **kw)

    with mock.patch.object(ChromeBrowser, "_handle_console", handle_console):
        yield


def _answer(browser, name: str, marker: str) -> None:
    def mark_taken(_future=None):
        browser._websocket_send(
            "Runtime.evaluate", params={"expression": f"document.body.classList.add('{marker}{name}')"}
        )

    directory = os.environ.get("QUEUE_JOB_SCREENSHOT_DIR")
    if not directory:
        mark_taken()
        return

    def save(future):
        try:
            path = Path(directory) / f"{name}.png"
            path.write_bytes(base64.b64decode(future.result()["data"]))
            _logger.info("tour screenshot saved in %s", path)
        finally:
            mark_taken()

    browser._websocket_send("Page.captureScreenshot", params={"format": "png"}, with_future=True).add_done_callback(
        save
    )
