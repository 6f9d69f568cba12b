"""Screenshots of queue_job_demo's pages at 1280x800, against a running stack.

    python3 -m tests.harness.stack --port 8069 &      # installs queue_job_demo with demo data
    python3 tests/ui/demo_screenshots.py http://127.0.0.1:8069 queue_job_demo docs/ [report workflow ...]

Logs in as admin, clicks each use case's button and waits for its visible
result (the stack's job runner runs the jobs for real), then saves
``docs/demo_<page>.png``. It starts the demo's stub AI server and a local
SMTP sink itself. Headless Chromium is driven over the DevTools protocol
with ``websocket-client`` (a dependency of Odoo). Exit code 1 when a page
did not reach its result or the browser logged an error.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.harness.odoo_rpc import OdooRpc  # noqa: E402


def _load(path: Path):
    """A module of the addon, without importing the addon (that needs Odoo)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


StubServer = _load(ROOT / "queue_job_demo" / "stub_server.py").StubServer
SmtpSink = _load(ROOT / "queue_job_demo" / "tests" / "smtp_sink.py").SmtpSink

WIDTH, HEIGHT = 1280, 800


class Browser:
    """One headless Chromium tab."""

    def __init__(self) -> None:
        self.profile = tempfile.TemporaryDirectory()
        self.process = subprocess.Popen(
            ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile.name}", f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile.name) / "DevToolsActivePort"
        for _attempt in range(100):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(tab for tab in tabs if tab["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.ids = itertools.count(1)
        self.errors: list[str] = []
        self.send("Runtime.enable")
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)

    def send(self, method: str, **params):
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(message["params"]["exceptionDetails"].get("text", "?"))
            if message.get("method") == "Runtime.consoleAPICalled" and message["params"]["type"] == "error":
                args = message["params"]["args"]
                self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in args))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        return result.get("result", {}).get("value")

    def goto(self, url: str, wait_for: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait(wait_for)

    def wait(self, selector: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        probe = f"!!document.querySelector({json.dumps(selector)})"
        while time.monotonic() < deadline:
            if self.js(probe):
                time.sleep(0.6)  # let the view settle (fonts, transitions)
                return
            time.sleep(0.3)
        raise TimeoutError(f"{selector!r} did not appear within {timeout:.0f} s")

    def click(self, selector: str) -> None:
        if not self.js(f"(() => {{ const el = document.querySelector({json.dumps(selector)}); "
                       f"if (!el) return false; el.click(); return true; }})()"):
            raise LookupError(f"nothing to click at {selector!r}")

    def shot(self, path: Path) -> None:
        # A database installed minutes ago still generates Odoo's asset bundles, and
        # each new one broadcasts "The page is out of date"; it says nothing of the demo.
        self.js("document.querySelectorAll('.o_notification').forEach((n) => {"
                " if (/out of date/.test(n.innerText)) n.querySelector('.o_notification_close')?.click(); })")
        time.sleep(0.3)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.ws.close()
        self.process.terminate()
        self.process.wait(10)
        self.profile.cleanup()


def main(base: str, db: str, out: Path, only: list[str]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    rpc = OdooRpc(base, db)
    failures: list[str] = []
    with StubServer(delay=3) as stub, SmtpSink() as sink:
        rpc.call("ir.config_parameter", "set_param", "queue_job_demo.ai_endpoint", stub.url)
        servers = rpc.call("ir.mail_server", "search", [])
        rpc.call("ir.mail_server", "write", servers, {"active": False})
        rpc.call("ir.mail_server", "create", {"name": "local sink", "smtp_host": "127.0.0.1",
                                              "smtp_port": sink.port, "smtp_encryption": "none"})
        browser = Browser()
        try:
            browser.goto(f"{base}/web/login?db={db}", "input[name=login]")
            browser.js("document.querySelector('input[name=login]').value='admin';"
                       "document.querySelector('input[name=password]').value='admin';"
                       "document.querySelector('form.oe_login_form').submit()")
            browser.wait(".o_main_navbar")

            def page(action: str, model: str, name: str):
                [record_id] = rpc.call(model, "search", [("name", "=", name)], limit=1)
                browser.goto(f"{base}/odoo/action-queue_job_demo.{action}/{record_id}", ".o_form_view")

            steps = [
                ("import", "queue_job_demo_import_action", "queue.job.demo.import", "10,000 sample contacts",
                 "button[name=action_start]", ".o_form_view .alert-success", 600),
                ("report", "queue_job_demo_report_action", "queue.job.demo.report", "Contact sheet",
                 "button[name=action_start]", ".o_form_view .alert-success", 600),
                ("workflow", "queue_job_demo_workflow_action", "queue.job.demo.workflow",
                 "Workflow with a failing step",
                 "button[name=action_start]", ".o_form_view .alert-danger", 300),
                ("ai_call", "queue_job_demo_ai_call_action", "queue.job.demo.ai.call", "Why a job queue?",
                 "button[name=action_start]", ".o_form_view div[name=answer]", 300),
                ("newsletter", "queue_job_demo_newsletter_action", "queue.job.demo.newsletter",
                 "News from the job queue", "button[name=action_start]", ".o_form_view .alert-success", 300),
            ]
            for label, action, model, name, button, result, timeout in steps:
                if only and label not in only:
                    continue
                try:
                    page(action, model, name)
                    browser.shot(out / f"demo_{label}_start.png")
                    browser.click(button)
                    if label in ("import", "report"):
                        # The form reloads itself on the job's progress messages (bus): wait for a bar that moved.
                        moved = ("(() => { const bar = document.querySelector('div[name=progress]');"
                                 " return !!bar && bar.offsetParent !== null"
                                 " && !/^\\s*0\\s*%/.test(bar.innerText); })()")
                        deadline = time.monotonic() + 90
                        while time.monotonic() < deadline and not browser.js(moved):
                            time.sleep(0.5)
                        if browser.js(moved):
                            browser.shot(out / f"demo_{label}_running.png")
                        else:
                            failures.append(f"{label}: the progress bar never moved on the page")
                    # The form reloads by itself when the job changes; reload too, in case a message was missed.
                    deadline = time.monotonic() + timeout
                    while True:
                        try:
                            browser.wait(result, timeout=20)
                            break
                        except TimeoutError:
                            if time.monotonic() > deadline:
                                raise
                            page(action, model, name)
                    browser.shot(out / f"demo_{label}_{'failed' if label == 'workflow' else 'done'}.png")
                except (TimeoutError, LookupError) as exc:
                    browser.shot(out / f"demo_{label}_error.png")
                    failures.append(f"{label}: {exc}")
            if not only or "traffic" in only:
                browser.goto(f"{base}/odoo/action-queue_job_demo.queue_job_demo_traffic_action", ".o_form_view")
                browser.click("button[name=action_switch_on]")
                browser.wait(".o_form_view .alert-success")
                browser.shot(out / "demo_traffic.png")
                browser.click("button[name=action_switch_off]")
                browser.wait("button[name=action_switch_on]")
            failures += [f"browser error: {error}" for error in browser.errors]
        finally:
            browser.close()
        if not only or "newsletter" in only:
            failures += [] if sink.messages else ["newsletter: the SMTP sink received nothing"]
    for failure in failures:
        sys.stderr.write(failure + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4:]))
