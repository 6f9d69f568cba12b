"""Channels edited in the interface while the server runs: capacity, pause, rate limit
(through a runner killed in the middle), concurrency keys.

Channels are changed the way the interface does it, with ``write`` on
``queue.job.channel`` over JSON-RPC; times are read from the database's clock
(``date_enqueued``: the runner's claim). Every test puts the channels back as
the session's configuration has them (``root:2,root.probe:1``).

QUEUE_JOB_TEST_MODE=quick (the default of tests/run.py) runs the rate limit
for 20 s, ``full`` for 60 s.
"""

from __future__ import annotations

import os
import re
import signal
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest

from .helpers import RUNNER_READY, job_uuid_from_rpc, wait_for
from harness.procs import pid_alive

pytestmark = pytest.mark.odoo

APPLIED_WITHIN = 2.0  # seconds from the commit of a change to the runner acting on it
RESET = {"own_settings": False, "capacity": 0, "sequential": False, "throttle": 0, "rate_limit": False,
         "paused": False, "aging_step": 0}
RATE_SECONDS = 60 if os.environ.get("QUEUE_JOB_TEST_MODE") == "full" else 20


@pytest.fixture
def channels(stack):
    """Write to channels by complete name, as the interface does; everything is put back afterwards."""
    created = []

    def channel_id(name: str) -> int:
        found = stack.admin.call("queue.job.channel", "search", [("complete_name", "=", name)])
        if found:
            return found[0]
        parent, _, leaf = name.rpartition(".")
        new = stack.admin.call("queue.job.channel", "create", {"name": leaf, "parent_id": channel_id(parent)})
        created.append(new)
        return new

    def write(name: str, **values) -> object:
        """Write, then return the database's time just after the commit."""
        stack.admin.call("queue.job.channel", "write", [channel_id(name)], values)
        return stack.query("SELECT now() AT TIME ZONE 'UTC'")[0][0]

    yield write
    ids = stack.admin.call("queue.job.channel", "search", [("complete_name", "in", ["root", "root.probe"])])
    stack.admin.call("queue.job.channel", "write", ids, RESET)
    if created:
        stack.admin.call("queue.job.channel", "unlink", list(reversed(created)))


def _probes(stack, count: int, name: str) -> list[int]:
    return [stack.admin.call("queue.job.probe", "create", {"name": f"{name} {n}"}) for n in range(count)]


def _enqueue(stack, probe_ids, method="job_touch", args=(), **options) -> list[str]:
    return [stack.admin.call("queue.job.probe", "enqueue_method", [pid], method, list(args), **options)
            for pid in probe_ids]


@contextmanager
def _locked(stack, probe_ids):
    """Hold these probes' rows locked: their touch jobs start, then wait, holding their slot."""
    conn = stack.cluster.connect(stack.db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM queue_job_probe WHERE id = ANY(%s) FOR UPDATE", (list(probe_ids),))
        yield
    finally:
        conn.rollback()
        conn.close()


def _claimed(stack, uuids):
    return stack.query(
        "SELECT uuid, date_enqueued FROM queue_job WHERE uuid = ANY(%s) AND date_enqueued IS NOT NULL"
        " ORDER BY date_enqueued", (list(uuids),))


def test_capacity_changed_in_the_interface_applies_within_two_seconds(stack, channels):
    stack.assert_healthy()
    probes = _probes(stack, 3, "capacity live")
    # The blocked jobs hold HTTP workers (2): the second is only claimed after the write.
    with _locked(stack, probes):
        uuids = _enqueue(stack, probes, channel="root.probe")  # root.probe: capacity 1
        wait_for(lambda: len(_claimed(stack, uuids)) == 1, 30, "the first job to be claimed",
                 describe=lambda: stack.describe_jobs(uuids))
        time.sleep(1.0)
        assert len(_claimed(stack, uuids)) == 1, "capacity 1 ran two jobs"
        committed = channels("root.probe", capacity=2)
        second = wait_for(lambda: _claimed(stack, uuids)[1:2], 10, "a second job after capacity 2",
                          describe=lambda: stack.describe_jobs(uuids))
        lag = (second[0][1] - committed).total_seconds()
        assert lag <= APPLIED_WITHIN, f"capacity 2 applied {lag:.2f} s after the commit"
        time.sleep(1.0)
        assert len(_claimed(stack, uuids)) == 2, "capacity 2 ran three jobs"
    rows = stack.wait_final(uuids, timeout=60)
    assert all(row["state"] == "done" for row in rows.values()), stack.describe_jobs(uuids)
    assert sorted(e["job_uuid"] for e in stack.effects(uuids)) == sorted(uuids)


def test_capacity_lowered_in_the_interface_holds_at_once(stack, channels):
    stack.assert_healthy()
    channels("root.probe", capacity=0)  # 0: nothing of the channel starts
    uuids = _enqueue(stack, _probes(stack, 2, "capacity zero"), channel="root.probe")
    time.sleep(3.0)
    assert not _claimed(stack, uuids), stack.describe_jobs(uuids)
    channels("root.probe", own_settings=False)  # back to the configuration: capacity 1
    rows = stack.wait_final(uuids, timeout=60)
    assert all(row["state"] == "done" for row in rows.values()), stack.describe_jobs(uuids)


def test_pause_holds_new_jobs_and_resume_starts_them_at_once(stack, channels):
    stack.assert_healthy()
    channels("root.probe", paused=True)
    uuids = _enqueue(stack, _probes(stack, 3, "paused"), channel="root.probe.sub")
    time.sleep(3.0)
    rows = stack.jobs(uuids)
    assert all(row["state"] == "pending" for row in rows.values()), stack.describe_jobs(uuids)
    # the job views say why
    job_ids = stack.admin.call("queue.job", "search", [("uuid", "in", uuids)])
    paused = stack.admin.call("queue.job", "read", job_ids, ["channel_paused"])
    assert all(row["channel_paused"] for row in paused)
    # other channels keep running
    other = _enqueue(stack, _probes(stack, 1, "not paused"), channel="root.other")
    assert stack.wait_final(other, timeout=30)[other[0]]["state"] == "done"
    committed = channels("root.probe", paused=False)
    first = wait_for(lambda: _claimed(stack, uuids)[:1], 10, "a job to start after resume",
                     describe=lambda: stack.describe_jobs(uuids))
    assert (first[0][1] - committed).total_seconds() <= APPLIED_WITHIN
    rows = stack.wait_final(uuids, timeout=60)
    assert all(row["state"] == "done" for row in rows.values()), stack.describe_jobs(uuids)


def test_pause_lets_running_jobs_finish(stack, channels):
    stack.assert_healthy()
    probes = _probes(stack, 2, "running when paused")
    with _locked(stack, probes[:1]):
        (running,) = _enqueue(stack, probes[:1], channel="root.probe")
        wait_for(lambda: stack.job(running)["state"] == "started", 30, "the job to start")
        channels("root.probe", paused=True)
        (waiting,) = _enqueue(stack, probes[1:], channel="root.probe")
    assert stack.wait_final([running], timeout=30)[running]["state"] == "done"
    time.sleep(2.0)
    assert stack.job(waiting)["state"] == "pending"
    channels("root.probe", paused=False)
    assert stack.wait_final([waiting], timeout=30)[waiting]["state"] == "done"


def _kill_runner(stack):
    (runner,) = stack.runner_pids()
    offset = stack.server.log_offset()
    stack.server.kill_worker(runner, signal.SIGKILL)
    wait_for(lambda: not pid_alive(runner), 10, f"runner {runner} to die")
    stack.server.wait_for_log(re.escape(RUNNER_READY), timeout=60, since=offset)


def test_rate_limit_holds_with_capacity_4_and_through_a_runner_killed(stack, channels):
    stack.assert_healthy()
    channels("root", capacity=4)
    channels("root.rated", capacity=4, rate_limit="10/10s")
    uuids = _enqueue(stack, _probes(stack, RATE_SECONDS * 2, "rated"), channel="root.rated")
    started = time.monotonic()
    time.sleep(RATE_SECONDS / 2)
    _kill_runner(stack)  # the new runner counts what the old one started
    time.sleep(max(0.0, RATE_SECONDS - (time.monotonic() - started)))
    channels("root.rated", paused=True)  # stop here; what was claimed so far is the sample
    claims = [at for _uuid, at in _claimed(stack, uuids)]
    assert len(claims) >= RATE_SECONDS * 0.5, f"only {len(claims)} starts in {RATE_SECONDS} s"
    for index, at in enumerate(claims):
        in_window = [t for t in claims[index:] if t < at + timedelta(seconds=10)]
        assert len(in_window) <= 10, f"{len(in_window)} starts in the 10 s from {at}"
    gaps = [(b - a).total_seconds() for a, b in zip(claims, claims[1:])]
    assert min(gaps) >= 0.9, f"starts not spread over the period: gaps {gaps}"
    stack.assert_healthy()
    channels("root.rated", rate_limit=False, paused=False)
    rows = stack.wait_final(uuids, timeout=120)
    assert all(row["state"] == "done" for row in rows.values()), stack.describe_jobs(uuids)
    assert sorted(e["job_uuid"] for e in stack.effects(uuids)) == sorted(uuids)


def test_concurrency_keys_hold_under_capacity_8(stack, channels):
    stack.assert_healthy()
    channels("root", capacity=8)
    channels("root.keyed", capacity=8, paused=True)  # enqueue everything first, then let them run
    function = stack.admin.call("queue.job.function", "create", {
        "name": "<queue.job.probe>.job_sleep", "channel_id": stack.admin.call(
            "queue.job.channel", "search", [("complete_name", "=", "root.keyed")])[0],
        "concurrency_key": "args[1] if args[1].startswith('fn') else None", "concurrency_limit": 2,
    })
    try:
        keyed = {}
        for key in ("a", "b"):  # at most 1 at once: with_delay's key, a function without a limit of its own
            keyed[key] = _enqueue(stack, _probes(stack, 4, f"key {key}"), "job_until_cancelled", (0.4, "given"),
                                  concurrency_key=f"e2e-{key}", channel="root.keyed")
        # at most 2 at once (the job function's key and limit)
        keyed["fn"] = _enqueue(stack, _probes(stack, 6, "fn key"), "job_sleep", (0.4, "fn"))
        free = _enqueue(stack, _probes(stack, 6, "no key"), "job_sleep", (0.4, "free"))
        everything = [uuid for uuids in keyed.values() for uuid in uuids] + free
        channels("root.keyed", paused=False)
        samples = []
        deadline = time.monotonic() + 120
        while True:
            rows = stack.query(
                "SELECT concurrency_key, count(*) FILTER (WHERE state IN ('enqueued', 'started')),"
                "       count(*) FILTER (WHERE state NOT IN ('done', 'failed', 'cancelled'))"
                "  FROM queue_job WHERE uuid = ANY(%s) GROUP BY concurrency_key", (everything,))
            samples.append({key: running for key, running, _left in rows})
            if not any(left for _key, _running, left in rows):
                break
            assert time.monotonic() < deadline, stack.describe_jobs(everything)
            time.sleep(0.05)
        worst = {}
        for sample in samples:
            for key, running in sample.items():
                worst[key] = max(worst.get(key, 0), running)
        assert worst["e2e-a"] == 1 and worst["e2e-b"] == 1, worst
        assert worst["<queue.job.probe>.job_sleep:fn"] == 2, worst  # the function's limit, used in full
        # the unkeyed jobs did not wait behind the keys: several ran at once
        assert worst[None] >= 3, worst
        rows = stack.jobs(everything)
        assert all(row["state"] == "done" for row in rows.values()), stack.describe_jobs(everything)
    finally:
        stack.admin.call("queue.job.function", "unlink", [function])
