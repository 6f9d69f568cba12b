"""Time limits and cancelling: soft and hard limits, cancelling running and pending jobs.

Limits of the probe's job functions (tests/addons/queue_job_probe/data):
job_catch_timeout 1 s soft / 10 s hard; job_pg_sleep 1 s / 2 s, retried 1 s
later, on root.probe; job_stubborn 1 s / 3 s. root.probe runs one job at a
time, so a job that runs there proves the one before it freed the slot.

A running job is watched by its worker's watchdog about twice a second: the
waits below allow for that poll.
"""

from __future__ import annotations

import re
import time

import pytest

from .helpers import load_engine_module, wait_for
from harness.procs import pid_alive

pytestmark = pytest.mark.odoo

JOB_LOCK_NS = load_engine_module("sql").JOB_LOCK_NS
TIMEOUT_ERROR = "odoo.addons.queue_job.exception.JobTimeoutError"


def _enqueue(stack, name, method, *args, **options) -> str:
    """A new probe's ``method(*args)`` enqueued with these with_delay() options, over JSON-RPC; its uuid."""
    probe_id = stack.admin.call("queue.job.probe", "create", {"name": name})
    return stack.admin.call("queue.job.probe", "enqueue_method", [probe_id], method, list(args), **options)


def _wait_started(stack, uuid: str) -> dict:
    def started():
        row = stack.job(uuid)
        return row if row["state"] == "started" and row["worker_pid"] else None

    return wait_for(started, 30, f"job {uuid} to start", interval=0.05, describe=lambda: stack.describe_jobs([uuid]))


def _lease_holder(stack, job_id: int) -> int | None:
    """The backend holding the job's lease (see queue_job/engine/sql.py): the session its run uses."""
    rows = stack.query(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = %s AND objid = %s AND objsubid = 2",
        (JOB_LOCK_NS, job_id),
    )
    return rows[0][0] if rows else None


def _backend_alive(stack, pid: int) -> bool:
    return bool(stack.query("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)))


def _running_statement(stack, pid: int) -> str | None:
    rows = stack.query("SELECT state, query FROM pg_stat_activity WHERE pid = %s", (pid,))
    return rows[0][1] if rows and rows[0][0] == "active" else None


def _tags(stack, uuid: str) -> list[str]:
    return [effect["tag"] for effect in stack.effects([uuid])]


def _cancel(stack, job_id: int) -> None:
    assert stack.admin.call("queue.job", "button_cancelled", [job_id]) is True


def test_soft_limit_of_the_function_or_of_the_job_is_an_exception_the_job_can_catch(stack):
    stack.assert_healthy()
    by_function = _enqueue(stack, "soft limit of the function", "job_catch_timeout", 20, "function limit")
    by_job = _enqueue(stack, "soft limit of the job", "job_catch_timeout", 20, "job limit", timeout=3)
    rows = stack.wait_final([by_function, by_job], timeout=30)

    caught = {}
    for uuid in (by_function, by_job):
        row = rows[uuid]
        assert row["state"] == "done", stack.describe_jobs([uuid])
        match = re.fullmatch(r"caught JobTimeoutError after (\d+\.\d+)s", row["result"] or "")
        assert match, f"the job did not catch its time limit: {row['result']!r}"
        caught[uuid] = float(match.group(1))
    assert (rows[by_function]["timeout"], rows[by_function]["hard_timeout"]) == (1, 10)
    assert (rows[by_job]["timeout"], rows[by_job]["hard_timeout"]) == (3, 0)
    # The watchdog looks twice a second: the exception comes within about half a second of the limit.
    assert 0.95 <= caught[by_function] <= 2.5, caught
    assert 2.95 <= caught[by_job] <= 4.5, f"the job's own limit (3 s) must win over its function's (1 s): {caught}"
    # What the job did after catching it was committed with the job.
    assert _tags(stack, by_function) == ["function limit"]
    assert _tags(stack, by_job) == ["job limit"]


def test_soft_limit_not_caught_fails_the_job_saying_so(stack):
    uuid = _enqueue(stack, "soft limit not caught", "job_sleep", 20, "never", timeout=1, max_retries=3)
    stack.expected_failures.add(uuid)
    row = stack.wait_final([uuid], timeout=15)[uuid]
    assert row["state"] == "failed", stack.describe_jobs([uuid])
    assert row["exc_name"] == TIMEOUT_ERROR
    assert row["exc_message"] == "The job ran past its time limit of 1 s"
    assert "JobTimeoutError" in (row["exc_info"] or "")
    assert row["retry"] == 1, "an uncaught JobTimeoutError is a failure, not a retry"
    assert stack.effect_count(uuid) == 0


def test_hard_limit_ends_the_statement_frees_the_slot_then_retries_and_fails(stack):
    stack.assert_healthy()
    uuid = _enqueue(stack, "hard limit in SQL", "job_pg_sleep", 60, max_retries=2)
    first = _wait_started(stack, uuid)
    started_at = time.monotonic()
    backend = wait_for(lambda: _lease_holder(stack, first["id"]), 5, "the job's lease")
    assert "pg_sleep" in (_running_statement(stack, backend) or ""), "the job is not in its SQL statement"
    # Queued behind it on root.probe (capacity 1): runs only once the slot is free.
    follower = _enqueue(stack, "behind the hard limit", "job_touch", "follower")

    def stopped():
        row = stack.job(uuid)
        return row if row["state"] != "started" else None

    row = wait_for(stopped, 2 + 3, "the job to be stopped at its hard limit (2 s)", interval=0.05,
                   describe=lambda: stack.describe_jobs([uuid, follower]))
    elapsed = time.monotonic() - started_at
    assert elapsed >= 1.5, f"stopped after {elapsed:.2f}s: at its soft limit (1 s), not its hard one (2 s)"
    assert row["state"] in ("pending", "enqueued"), stack.describe_jobs([uuid])
    assert row["retry"] == 1
    assert row["exc_name"] == TIMEOUT_ERROR
    assert row["exc_message"] == "Stopped after its hard time limit of 2 s (try 1)"
    # Its session is gone (so its statement and transaction ended), and with it the lease.
    wait_for(lambda: not _backend_alive(stack, backend), 3, f"backend {backend} of the stopped job to end")
    assert _lease_holder(stack, first["id"]) is None

    # The slot is free: the job waiting behind it runs before the retry (due 1 s later, per its retry pattern).
    def second_try():
        row = stack.job(uuid)
        return row if row["state"] == "started" and row["retry"] == 2 else None

    second = wait_for(second_try, 10, "the second try", interval=0.05,
                      describe=lambda: stack.describe_jobs([uuid, follower]))
    done = stack.job(follower)
    assert done["state"] == "done", stack.describe_jobs([uuid, follower])
    assert done["date_done"] <= second["date_started"]
    assert (second["date_started"] - done["date_done"]).total_seconds() < 5, "the retry did not follow its pattern"

    row = stack.wait_final([uuid], timeout=2 + 5)[uuid]
    assert row["state"] == "failed", stack.describe_jobs([uuid])
    assert row["retry"] == 2
    assert row["exc_message"] == "Stopped after its hard time limit of 2 s (try 2)"
    assert stack.effect_count(uuid) == 0, "the stopped tries' writes were committed"
    stack.assert_healthy()


def test_job_ignoring_every_interruption_is_stopped_and_its_worker_replaced(stack):
    stack.assert_healthy()
    uuid = _enqueue(stack, "stubborn", "job_stubborn", 60, channel="root.probe", max_retries=1)
    row = _wait_started(stack, uuid)
    worker = row["worker_pid"]
    backend = wait_for(lambda: _lease_holder(stack, row["id"]), 5, "the job's lease")
    follower = _enqueue(stack, "behind the stubborn job", "job_touch", "follower")

    row = stack.wait_final([uuid], timeout=3 + 3)[uuid]
    assert row["state"] == "failed", stack.describe_jobs([uuid])
    assert row["exc_name"] == TIMEOUT_ERROR
    assert row["exc_message"] == "Stopped after its hard time limit of 3 s (try 1)"
    wait_for(lambda: not _backend_alive(stack, backend), 3, f"backend {backend} of the stopped job to end")
    assert stack.effect_count(uuid) == 0, "the stopped job's writes were committed"

    # Its thread still runs: the slot stays taken (root.probe runs one job at
    # a time) until the worker exits, 10 s after the hard limit.
    assert pid_alive(worker)
    assert stack.job(follower)["state"] == "pending"
    wait_for(lambda: not pid_alive(worker), 10 + 5, f"worker {worker} running the stubborn job to exit")
    follower_row = stack.wait_final([follower], timeout=15)[follower]
    assert follower_row["state"] == "done"
    assert follower_row["worker_pid"] != worker
    assert stack.job(uuid)["state"] == "failed"
    stack.server.wait_for_workers(timeout=30, exclude=[worker])
    stack.assert_healthy()


@pytest.mark.parametrize(
    ("method", "args", "options"),
    [
        # 10 s of work: far more than the waits below allow, and a failure does not hold up the next tests long.
        ("job_until_cancelled", [10, "cancellable"], {"channel": "root.probe"}),
        # In one long SQL statement, with limits far away: the statement itself is cancelled.
        ("job_pg_sleep", [10, "cancellable"], {"timeout": 60}),
    ],
    ids=["python", "sql"],
)
def test_cancelling_a_running_job_stops_it_and_rolls_it_back(stack, method, args, options):
    uuid = _enqueue(stack, f"cancel while running {method}", method, *args, **options)
    row = _wait_started(stack, uuid)
    worker = row["worker_pid"]
    wait_for(lambda: _lease_holder(stack, row["id"]), 5, "the job's lease")
    follower = _enqueue(stack, f"behind the cancelled {method}", "job_touch", "follower")
    time.sleep(0.3)  # well into its work
    assert stack.job(follower)["state"] == "pending", "root.probe ran two jobs at once"

    cancelled_at = time.monotonic()
    _cancel(stack, row["id"])
    wait_for(lambda: _lease_holder(stack, row["id"]) is None, 3, "the cancelled job's run to end",
             describe=lambda: stack.describe_jobs([uuid, follower]))
    assert time.monotonic() - cancelled_at < 3
    stack.wait_final([follower], timeout=10)

    row = stack.job(uuid)
    assert row["state"] == "cancelled", stack.describe_jobs([uuid])
    assert row["date_cancelled"] is not None and row["date_done"] is None
    assert row["result"] == "Cancelled by Administrator"
    assert row["retry"] == 1
    tags = _tags(stack, uuid)
    assert "cancellable" not in tags, "the cancelled job's own writes were committed"
    if method == "job_until_cancelled":
        assert tags == ["cancellable: interrupted"], "the job did not get JobCancelledError"
    assert stack.job(follower)["state"] == "done"
    assert pid_alive(worker), "cancelling a job must not cost its worker"


def test_a_job_can_check_for_cancellation_itself(stack):
    uuid = _enqueue(stack, "checks for cancellation", "job_check_cancelled", 10, "checks", channel="root.probe")
    row = _wait_started(stack, uuid)
    wait_for(lambda: _lease_holder(stack, row["id"]), 5, "the job's lease")
    time.sleep(0.3)
    # From the UI's wizard this time.
    wizard = stack.admin.call("queue.jobs.to.cancelled", "create", {"job_ids": [(6, 0, [row["id"]])]})
    stack.admin.call("queue.jobs.to.cancelled", "set_cancelled", [wizard])
    wait_for(lambda: _lease_holder(stack, row["id"]) is None, 3, "the cancelled job's run to end",
             describe=lambda: stack.describe_jobs([uuid]))

    assert stack.job(uuid)["state"] == "cancelled"
    # It saw the cancellation itself (once: check_job_cancelled() then raised), and its own writes were rolled back.
    assert _tags(stack, uuid) == ["checks: noticed"]


def test_cancelling_a_pending_job_still_works(stack):
    with stack.busy_probe_channel():
        uuid = _enqueue(stack, "cancelled while pending", "job_touch", "never")
        assert stack.job(uuid)["state"] == "pending"
        _cancel(stack, stack.job(uuid)["id"])
        row = stack.job(uuid)
        assert row["state"] == "cancelled" and row["date_cancelled"] is not None
        # Enqueued after it on the same channel, so it would run first.
        after = _enqueue(stack, "after the cancelled one", "job_touch", "after")
    assert stack.wait_final([after], timeout=30)[after]["state"] == "done"
    row = stack.job(uuid)
    assert row["state"] == "cancelled" and row["date_started"] is None and row["retry"] == 0
    assert stack.effect_count(uuid) == 0
