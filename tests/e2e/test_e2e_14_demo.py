"""queue_job_demo's use cases against a live prefork server and its jobrunner.

A stack of its own (the shared one does not install the demo): each page is
started as its button does (JSON-RPC as admin) and the real runner and
workers run the jobs to the result a user sees: contacts imported with a
file of bad rows (twice: nothing created twice), a PDF, a finished workflow,
an AI answer after a 429 and a 503 from the stub endpoint, a newsletter
received by an SMTP sink this test starts.
"""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import pytest
from harness.odoo_rpc import OdooRpc

from .helpers import own_stack, wait_for

DB = "qj_demo_e2e"
DEMO = Path(__file__).resolve().parents[2] / "queue_job_demo"
MODULES = ("queue_job", "queue_job_demo")
CHANNELS = "root:2,root.demo:2,root.demo.ai:1,root.demo.newsletter:1,root.demo.traffic:1"


def _load(path: Path):
    """A module of the demo that needs no Odoo (the stub server, the SMTP sink), loaded alone."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


StubServer = _load(DEMO / "stub_server.py").StubServer
SmtpSink = _load(DEMO / "tests" / "smtp_sink.py").SmtpSink


@pytest.fixture(scope="module")
def live():
    sections = {"queue_job": {"channels": CHANNELS, "heal_interval": 1}}
    with own_stack(DB, MODULES, name="demo-e2e", sections=sections, demo=True, ready_timeout=120) as (_cluster, server):
        yield OdooRpc(server.url, DB, "admin", "admin")


def finished(rpc, model, record_id, timeout=180):
    """Wait until the page's record is done or failed; return its fields."""

    def state():
        (values,) = rpc.call(model, "read", [record_id], ["state", "summary", "error_message"])
        return values if values["state"] in ("done", "failed", "cancelled") else None

    return wait_for(state, timeout=timeout, what=f"{model} {record_id} to finish")


def attachment_bytes(rpc, attachment_id):
    (values,) = rpc.call("ir.attachment", "read", [attachment_id], ["datas", "name"])
    return values["name"], base64.b64decode(values["datas"])


def test_csv_import_runs_to_contacts_and_a_bad_rows_file_and_twice_creates_nothing_twice(live):
    rows = ["external_id,name,email,phone,city"]
    rows += [f"e2e_{n},E2E Contact {n},e2e{n}@example.test,+3210000{n:04d},Ghent" for n in range(1200)]
    rows += ["e2e_bad_1,,nobody@example.test,,", "e2e_bad_2,No Mail,not-an-email,,"]
    csv = base64.b64encode("\n".join(rows).encode()).decode()
    before = live.call("res.partner", "search_count", [("name", "=like", "E2E Contact %")])
    assert before == 0

    for attempt in (1, 2):
        record_id = live.call("queue.job.demo.import", "create",
                              {"name": f"e2e import {attempt}", "file": csv, "filename": "e2e.csv", "chunk_size": 300})
        live.call("queue.job.demo.import", "action_start", [record_id])
        values = finished(live, "queue.job.demo.import", record_id)
        assert values["state"] == "done", values
        (counts,) = live.call("queue.job.demo.import", "read", [record_id],
                              ["created_count", "updated_count", "bad_count", "result_attachment_id", "job_id"])
        assert live.call("res.partner", "search_count", [("name", "=like", "E2E Contact %")]) == 1200
        assert counts["bad_count"] == 2
        assert counts["created_count"] == (1200 if attempt == 1 else 0), counts
        name, content = attachment_bytes(live, counts["result_attachment_id"][0])
        assert name.endswith(".csv") and b"not-an-email" in content
        # The job's own progress reached the end.
        (job,) = live.call("queue.job", "read", [counts["job_id"][0]], ["progress", "state"])
        assert (job["state"], job["progress"]) == ("done", 100.0)


def test_pdf_report_is_rendered_in_batches_into_a_file(live):
    record_id = live.call("queue.job.demo.report", "create",
                          {"name": "e2e report", "contact_count": 120, "batch_size": 50})
    live.call("queue.job.demo.report", "action_start", [record_id])
    values = finished(live, "queue.job.demo.report", record_id, timeout=300)
    assert values["state"] == "done", values
    (report,) = live.call("queue.job.demo.report", "read", [record_id], ["result_attachment_id"])
    name, content = attachment_bytes(live, report["result_attachment_id"][0])
    assert content[:5] == b"%PDF-" or content.lstrip()[:1] == b"<", name  # HTML where wkhtmltopdf is missing


def test_workflow_runs_its_graph_to_the_summary(live):
    record_id = live.call("queue.job.demo.workflow", "create",
                          {"name": "e2e workflow", "contact_count": 20, "failure_mode": "none"})
    live.call("queue.job.demo.workflow", "action_start", [record_id])
    values = finished(live, "queue.job.demo.workflow", record_id)
    assert values["state"] == "done", values
    assert values["summary"]


def test_ai_call_is_retried_on_429_and_503_then_answered(live):
    with StubServer() as stub:
        stub.plan(429, 503)
        live.call("ir.config_parameter", "set_param", "queue_job_demo.ai_endpoint", stub.url)
        record_id = live.call("queue.job.demo.ai.call", "create", {"name": "e2e", "prompt": "Is the queue healthy?"})
        live.call("queue.job.demo.ai.call", "action_start", [record_id])
        values = finished(live, "queue.job.demo.ai.call", record_id, timeout=240)
        (call,) = live.call("queue.job.demo.ai.call", "read", [record_id], ["answer", "tries"])
    assert values["state"] == "done", values
    assert call["tries"] == 3, call
    assert len(stub.requests) == 3
    assert call["answer"]


def test_newsletter_chunks_reach_an_smtp_server(live):
    with SmtpSink() as sink:
        for server_id in live.call("ir.mail_server", "search", []):
            live.call("ir.mail_server", "write", [server_id], {"active": False})
        live.call("ir.mail_server", "create", {"name": "e2e sink", "smtp_host": "127.0.0.1",
                                               "smtp_port": sink.port, "smtp_encryption": "none"})
        record_id = live.call("queue.job.demo.newsletter", "create",
                              {"name": "E2E news", "recipient_count": 30, "chunk_size": 10})
        live.call("queue.job.demo.newsletter", "action_start", [record_id])
        values = finished(live, "queue.job.demo.newsletter", record_id, timeout=240)
        (letter,) = live.call("queue.job.demo.newsletter", "read", [record_id], ["sent_count", "failed_count"])
        subjects = [str(message["Subject"]) for message in sink.messages]
    assert values["state"] == "done", values
    assert (letter["sent_count"], letter["failed_count"]) == (30, 0)
    assert subjects.count("E2E news") == 30
