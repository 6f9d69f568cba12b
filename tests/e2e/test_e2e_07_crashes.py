"""Killed processes: an HTTP worker in the middle of a job, and the jobrunner."""

from __future__ import annotations

import re
import signal

import pytest

from .helpers import RUNNER_READY, job_uuid_from_rpc, wait_for
from harness.procs import pid_alive

pytestmark = pytest.mark.odoo


def test_killed_worker_job_is_healed_and_runs_again_once(stack):
    stack.assert_healthy()
    uuid = stack.orm("""
        probe = env['queue.job.probe'].with_user(admin).create({'name': 'killed worker'})
        result = probe.with_delay().job_sleep(6, 'survivor').uuid
    """)
    started = wait_for(
        lambda: (lambda row: row if row["state"] == "started" and row["worker_pid"] else None)(stack.job(uuid)),
        30, "the job to start", interval=0.05, describe=lambda: stack.describe_jobs([uuid]),
    )
    victim = started["worker_pid"]
    assert started["retry"] == 1
    assert victim in stack.server.worker_pids("http"), f"worker_pid {victim} is not an HTTP worker of the server"

    stack.server.kill_worker(victim, signal.SIGKILL)
    wait_for(lambda: not pid_alive(victim), 10, f"worker {victim} to die")
    assert stack.effect_count(uuid) == 0

    # Within 15 s the job is no longer held by the dead worker: back to
    # pending (its try counted), or already handed to a live worker again.
    def healed():
        row = stack.job(uuid)
        assert row["state"] != "failed", f"the job failed: {row['exc_name']}: {row['exc_message']}"
        if row["state"] == "started" and row["worker_pid"] == victim:
            return None  # not healed yet
        expected_retry = 1 if row["state"] in ("pending", "enqueued") else 2
        assert row["retry"] == expected_retry, (
            f"job healed to {row['state']} with retry={row['retry']}: the lost try was not counted"
        )
        return row

    wait_for(healed, 15, "the job to be put back to pending after its worker died", interval=0.05,
             describe=lambda: stack.describe_jobs([uuid]))

    row = stack.wait_final([uuid], timeout=30)[uuid]
    assert row["state"] == "done", stack.describe_jobs([uuid])
    assert row["retry"] == 2, f"the lost try was not counted: retry={row['retry']}"
    assert row["worker_pid"] != victim
    assert stack.effect_count(uuid) == 1

    # The master replaced the worker.
    stack.server.wait_for_workers(timeout=30, exclude=[victim])
    stack.assert_healthy()


def test_killed_runner_is_respawned_and_dispatches_again(stack):
    stack.assert_healthy()
    (runner,) = stack.runner_pids()
    offset = stack.server.log_offset()
    stack.server.kill_worker(runner, signal.SIGKILL)
    wait_for(lambda: not pid_alive(runner), 10, f"runner {runner} to die")

    # A job enqueued while no runner may be up...
    rpc = stack.plain
    probe_ids = [rpc.call("queue.job.probe", "create", {"name": f"after runner kill {n}"}) for n in range(3)]
    early = job_uuid_from_rpc(rpc.call("queue.job.probe", "enqueue_touch", [probe_ids[0]]))

    # ... the master starts a new runner, which takes the lead again.
    new_runner = wait_for(lambda: [pid for pid in stack.runner_pids() if pid != runner], 30,
                          "a new RunnerWorker", describe=lambda: stack.server.processes())
    stack.server.wait_for_log(re.escape(RUNNER_READY), timeout=30, since=offset)
    alive = re.search(r"Worker RunnerWorker \((\d+)\) alive", stack.server.log_text(offset))
    assert alive and int(alive.group(1)) in new_runner
    stack.assert_healthy()

    late = [job_uuid_from_rpc(rpc.call("queue.job.probe", "enqueue_touch", [pid])) for pid in probe_ids[1:]]
    rows = stack.wait_final([early, *late], timeout=30)
    assert all(row["state"] == "done" for row in rows.values()), stack.describe_jobs(rows)
    assert sorted(e["job_uuid"] for e in stack.effects(rows)) == sorted(rows)
