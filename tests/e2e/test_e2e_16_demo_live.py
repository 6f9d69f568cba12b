"""The demo's import and report followed live in a browser, their jobs run in the background.

Headless Chromium runs the tour ``queue_job_demo_live_tour`` (in the demo's
test assets) against a live threaded server (``--workers 0``) and its job
runner: a user clicks the import and the report buttons; the tour fails
unless each page's progress bar shows two values or more between 0 and 100 %
before the end and the end notice, with its download button, arrives on the
same page, never reloaded. The result files are then downloaded here.

Why a live server and not ``HttpCase.start_tour``: in Odoo's test mode every
request shares the test's one cursor, whose transaction is never committed.
A job run meanwhile (by a thread of the test) would write its progress on a
connection of its own that cannot see the uncommitted job, and the bus's
NOTIFY, sent at commit, would never reach the websocket; the browser could
see neither. The threaded server serves ``/websocket`` itself (prefork
answers it only behind a proxy to the gevent port), and its runner runs the
jobs exactly as in production; only ``queue_job_demo.step_delay`` slows each
chunk down so that the bar has time to move.

With ``QUEUE_JOB_SCREENSHOT_DIR`` set, the bar mid-run and the notice are
saved there (``demo_live_progress.png``, ``demo_live_notice.png``).
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import pytest
import requests
from harness.odoo_rpc import OdooRpc
from ui.browser import Browser

from .helpers import own_stack, wait_for

pytestmark = pytest.mark.odoo

DB = "qj_demo_live"
TOUR = "queue_job_demo_live_tour"
TOUR_TIMEOUT = 150  # seconds; about 40 on an idle machine
STEP_DELAY = "0.6"  # seconds after each chunk: the import takes ~8 s, the report ~10 s

# The bar of the import mid-run.
MID_RUN = ("(() => { const bar = document.querySelector('div[name=progress] .o_progress');"
           " const value = bar && bar.offsetParent !== null && Number(bar.getAttribute('aria-valuenow'));"
           " return !!document.querySelector('div[name=chunk_size]') && value >= 30 && value <= 80; })()")


@pytest.fixture(scope="module")
def live():
    with own_stack(DB, ("queue_job", "queue_job_demo"), name="demo-live", workers=0,
                   sections={"queue_job": {"channels": "root:2,root.demo:2"}}) as (_cluster, server):
        OdooRpc(server.url, DB).call("ir.config_parameter", "set_param", "queue_job_demo.step_delay", STEP_DELAY)
        yield server


def run_tour(base: str, shots: Path | None) -> Browser:
    """Run the tour to its end; save the screenshots on the way if asked. Fails with the tour's error."""
    browser = Browser()
    try:
        browser.login(base, DB)
        browser.goto(f"{base}/odoo?debug=tests", ".o_main_navbar")
        ready = f"!!(odoo.isTourReady && odoo.isTourReady({TOUR!r}))"
        wait_for(lambda: browser.js(ready), 30, f"the tour {TOUR} to be loaded (web.assets_tests)", interval=0.2)
        browser.js(f"odoo.startTour({TOUR!r}, {{stepDelay: 0, startUrl: '/odoo', keepWatchBrowser: false}})")
        wanted = {"demo_live_progress.png": MID_RUN} if shots else {}
        deadline = time.monotonic() + TOUR_TIMEOUT
        while True:
            browser.read_events()
            assert not browser.errors, "the tour failed:\n" + "\n".join(browser.errors)
            if "tour succeeded" in browser.console:
                break
            assert time.monotonic() < deadline, (
                f"the tour did not end within {TOUR_TIMEOUT} s; the page's last words:\n"
                + "\n".join(browser.console[-15:]))
            for name, condition in list(wanted.items()):
                if browser.js(condition):
                    browser.shot(shots / name)
                    del wanted[name]
            time.sleep(0.2)
        assert not browser.errors, "\n".join(browser.errors)
        assert not wanted, f"never seen on screen: {sorted(wanted)}"
        if shots:  # the report's page at the tour's end, under the two notices
            browser.shot(shots / "demo_live_notice.png")
        return browser
    except BaseException:
        browser.close()
        raise


def test_progress_moves_and_the_notice_arrives_live_then_the_files_download(live):
    shots = os.environ.get("QUEUE_JOB_SCREENSHOT_DIR")
    browser = run_tour(live.url, Path(shots) if shots else None)
    browser.close()
    moved = [line for line in browser.console if "the progress bar showed" in line]
    assert len(moved) == 2, browser.console

    rpc = OdooRpc(live.url, DB, "admin", "admin")
    [imported] = rpc.call("queue.job.demo.import", "search_read", [("name", "=", "Live import")],
                          ["created_count", "bad_count", "result_attachment_id", "job_id"])
    assert (imported["created_count"], imported["bad_count"]) == (599, 1)
    [report] = rpc.call("queue.job.demo.report", "search_read", [("name", "=", "Live report")],
                        ["result_attachment_id", "job_id"])
    for record in (imported, report):
        [job] = rpc.call("queue.job", "read", [record["job_id"][0]], ["state", "progress", "notify"])
        assert (job["state"], job["progress"], job["notify"]) == ("done", 100.0, True)

    session = requests.Session()
    session.post(f"{live.url}/web/session/authenticate", timeout=30,
                 json={"params": {"db": DB, "login": "admin", "password": "admin"}}).raise_for_status()

    def download(attachment):
        response = session.get(f"{live.url}/web/content/{attachment[0]}?download=true", timeout=60)
        assert response.status_code == 200, (attachment, response.status_code)
        return response

    rows = list(csv.DictReader(io.StringIO(download(imported["result_attachment_id"]).text)))
    assert [(row["line"], row["email"]) for row in rows] == [("501", "not-an-email")]
    content = download(report["result_attachment_id"]).content
    assert content[:5] == b"%PDF-" or content.lstrip()[:1] == b"<"  # HTML where wkhtmltopdf is missing
