"""Screenshots of queue_job_demo's pages at 1280x800, against a running stack.

    python3 -m tests.harness.stack --port 8069 &      # installs queue_job_demo with demo data
    python3 tests/ui/demo_screenshots.py http://127.0.0.1:8069 queue_job_demo docs/ [report workflow ...]

Logs in as admin, clicks each use case's button and waits for its visible
result (the stack's job runner runs the jobs for real), then saves
``docs/demo_<page>.png``. It starts the demo's stub AI server and a local
SMTP sink itself. Headless Chromium is driven by tests/ui/browser.py. Exit
code 1 when a page did not reach its result or the browser logged an error.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.harness.odoo_rpc import OdooRpc  # noqa: E402
from tests.ui.browser import Browser  # noqa: E402


def _load(path: Path):
    """A module of the addon, without importing the addon (that needs Odoo)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


StubServer = _load(ROOT / "queue_job_demo" / "stub_server.py").StubServer
SmtpSink = _load(ROOT / "queue_job_demo" / "tests" / "smtp_sink.py").SmtpSink


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
            browser.login(base, db)

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
