"""When jobs may start (ETA) and in which order (priority)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from .helpers import job_uuid_from_rpc

pytestmark = pytest.mark.odoo

ETA_SECONDS = 4


def _db_now(stack):
    return stack.query("SELECT now() AT TIME ZONE 'UTC'")[0][0]


def test_eta_job_waits_for_its_eta_then_runs(stack):
    rpc = stack.admin
    probe_id = rpc.call("queue.job.probe", "create", {"name": "eta"})
    uuid = job_uuid_from_rpc(rpc.call("queue.job.probe", "enqueue_touch", [probe_id], eta=ETA_SECONDS))
    job = stack.job(uuid)
    eta = job["eta"]
    assert eta is not None
    ahead = (eta - job["date_created"]).total_seconds()
    assert abs(ahead - ETA_SECONDS) < 0.5, f"eta is {ahead:.2f}s after the job's creation"

    # Until its eta the job stays pending and runs nothing.
    while _db_now(stack) < eta - dt.timedelta(seconds=0.3):
        row = stack.job(uuid)
        assert row["state"] == "pending" and row["date_started"] is None, f"started before its eta: {row}"
        assert stack.effect_count(uuid) == 0
        time.sleep(0.1)

    row = stack.wait_final([uuid], timeout=ETA_SECONDS + 20)[uuid]
    assert row["state"] == "done"
    assert row["date_started"] >= eta, f"started at {row['date_started']}, eta {eta}"
    late = (row["date_started"] - eta).total_seconds()
    assert late < 5, f"started {late:.1f}s after its eta"
    assert stack.effect_count(uuid) == 1


def test_priority_order_while_channel_busy(stack):
    rpc = stack.admin
    probe_id = rpc.call("queue.job.probe", "create", {"name": "priorities"})
    uuid_by_priority = {}
    with stack.busy_probe_channel() as blocker:
        # Enqueued one transaction each, in the order 9, 1, 5, while
        # root.probe (capacity 1) runs the blocker.
        for priority in (9, 1, 5):
            result = rpc.call("queue.job.probe", "enqueue_touch", [probe_id], priority=priority)
            uuid_by_priority[priority] = job_uuid_from_rpc(result)
        time.sleep(0.5)  # give a wrongly eager runner the time to start one
        waiting = {row["priority"]: row["state"] for row in stack.jobs(uuid_by_priority.values()).values()}
        assert waiting == {9: "pending", 1: "pending", 5: "pending"}, f"root.probe (capacity 1) is busy: {waiting}"

    rows = stack.wait_final([blocker, *uuid_by_priority.values()], timeout=60)
    assert all(row["state"] == "done" for row in rows.values()), stack.describe_jobs(rows)
    assert all(row["channel"] == "root.probe" for row in rows.values())
    started = sorted(uuid_by_priority, key=lambda p: rows[uuid_by_priority[p]]["date_started"])
    assert started == [1, 5, 9], f"started in priority order {started}"
    assert min(rows[u]["date_started"] for u in uuid_by_priority.values()) >= rows[blocker]["date_done"]
    effects = stack.effects(uuid_by_priority.values())
    order = [next(p for p, u in uuid_by_priority.items() if u == e["job_uuid"]) for e in effects]
    assert order == [1, 5, 9], f"effects committed in priority order {order}"
