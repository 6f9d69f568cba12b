"""/queue_job/runjob runs nothing for a request the jobrunner did not sign."""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from .helpers import job_uuid_from_rpc, load_engine_module

pytestmark = pytest.mark.odoo

# Loopback requests must not go through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


signing = load_engine_module("signing")


def runjob(stack, method, db, uuid, fields=None):
    """(HTTP status, body) of a request to /queue_job/runjob."""
    query = {"db": db, "job_uuid": uuid}
    data = None
    if method == "GET":
        query.update(fields or {})
    else:
        data = urllib.parse.urlencode(fields or {}).encode()
    url = f"{stack.server.url}/queue_job/runjob?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _OPENER.open(request, timeout=60) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _secret(stack):
    return stack.query("SELECT value FROM ir_config_parameter WHERE key = 'database.secret'")[0][0]


def forged_requests(stack, uuid):
    """Requests an outsider could make for ``uuid``: (label, fields), each for GET and POST."""
    now = time.time()
    secret = _secret(stack)
    _ts, sig_other_job = signing.sign(secret, stack.db, "00000000-0000-4000-8000-000000000000", "", now=now)
    ts_old, sig_old = signing.sign(secret, stack.db, uuid, "", now=now - 3600)
    ts_wrong, sig_wrong = signing.sign("not-the-secret", stack.db, uuid, "", now=now)
    variants = [
        ("no signature", {}),
        ("only a timestamp", {"ts": f"{now:.3f}"}),
        ("random signature", {"ts": f"{now:.3f}", "sig": secrets.token_hex(32)}),
        ("signed with another secret", {"ts": ts_wrong, "sig": sig_wrong}),
        ("signature of another job", {"ts": f"{now:.3f}", "sig": sig_other_job}),
        ("expired signature", {"ts": ts_old, "sig": sig_old}),
        ("empty signature", {"ts": f"{now:.3f}", "sig": ""}),
    ]
    return [(f"{method} {label}", method, fields) for label, fields in variants for method in ("GET", "POST")]


def _assert_refused(stack, uuid, state):
    for label, method, fields in forged_requests(stack, uuid):
        status, body = runjob(stack, method, stack.db, uuid, fields)
        assert status == 403, f"{label}: HTTP {status} {body[:200]}"
        row = stack.job(uuid)
        assert row["state"] == state and row["retry"] == 0 and row["date_started"] is None, (
            f"{label}: the request touched the job: {row['state']} retry={row['retry']}"
        )
        assert stack.effect_count(uuid) == 0, f"{label}: the job ran"


def test_unsigned_requests_do_not_run_a_pending_job(stack):
    rpc = stack.plain
    probe_id = rpc.call("queue.job.probe", "create", {"name": "security pending"})
    with stack.busy_probe_channel():
        # job_touch runs in root.probe, busy: the job waits, pending.
        uuid = job_uuid_from_rpc(rpc.call("queue.job.probe", "enqueue_touch", [probe_id]))
        assert stack.job(uuid)["state"] == "pending"
        _assert_refused(stack, uuid, "pending")

    # The runner still runs it, once.
    row = stack.wait_final([uuid], timeout=30)[uuid]
    assert row["state"] == "done" and row["retry"] == 1
    assert stack.effect_count(uuid) == 1


def test_unsigned_requests_do_not_run_an_enqueued_job(stack):
    # A job handed to a worker (enqueued) is what a signed request starts:
    # park one in that state (far eta, so the runner leaves it alone).
    rpc = stack.admin
    probe_id = rpc.call("queue.job.probe", "create", {"name": "security enqueued"})
    uuid = job_uuid_from_rpc(rpc.call("queue.job.probe", "enqueue_touch", [probe_id], eta=3600))
    parked = stack.execute(
        "UPDATE queue_job SET state = 'enqueued', date_enqueued = now() AT TIME ZONE 'UTC'"
        " WHERE uuid = %s AND state = 'pending'",
        (uuid,),
    )
    assert parked == 1
    _assert_refused(stack, uuid, "enqueued")

    # Control: the same request signed with the database secret does run it,
    # so the refusals above are the signature check at work.
    timestamp, signature = signing.sign(_secret(stack), stack.db, uuid, "")
    status, body = runjob(stack, "POST", stack.db, uuid, {"ts": timestamp, "sig": signature})
    assert status == 200, body[:300]
    row = stack.job(uuid)
    assert row["state"] == "done" and row["retry"] == 1
    assert stack.effect_count(uuid) == 1


def test_runjob_for_unknown_database_is_a_bad_request(stack):
    rpc = stack.admin
    probe_id = rpc.call("queue.job.probe", "create", {"name": "security unknown db"})
    uuid = job_uuid_from_rpc(rpc.call("queue.job.probe", "enqueue_touch", [probe_id], eta=3600))
    timestamp, signature = signing.sign(_secret(stack), "qj_e2e_no_such_db", uuid, "")
    for method in ("GET", "POST"):
        for fields in ({}, {"ts": timestamp, "sig": signature}):
            status, body = runjob(stack, method, "qj_e2e_no_such_db", uuid, fields)
            assert status == 400, f"{method} {sorted(fields)}: HTTP {status} {body[:200]}"
    row = stack.job(uuid)
    assert row["state"] == "pending" and row["retry"] == 0
    # Cancel it: a job left pending an hour ahead must not linger for other tests.
    stack.execute("UPDATE queue_job SET state = 'cancelled' WHERE uuid = %s", (uuid,))
