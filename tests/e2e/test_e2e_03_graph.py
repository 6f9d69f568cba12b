"""Job graphs: a group, then a chain."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.odoo


def test_graph_over_rpc_runs_in_dependency_order(stack):
    rpc = stack.plain
    probe_id = rpc.call("queue.job.probe", "create", {"name": "graph"})
    rpc.call("queue.job.probe", "enqueue_graph", [probe_id])

    rows = stack.query(
        "SELECT uuid FROM queue_job WHERE func_string LIKE %s",
        (f"queue.job.probe({probe_id},).job_touch(%",),
    )
    uuids = [uuid for (uuid,) in rows]
    assert len(uuids) == 4, f"enqueue_graph stored {len(uuids)} jobs"
    jobs = stack.wait_final(uuids, timeout=60)

    by_tag = {}
    for effect in stack.effects(uuids):
        assert effect["tag"] not in by_tag, f"{effect['tag']} ran twice"
        by_tag[effect["tag"]] = jobs[effect["job_uuid"]]
    assert set(by_tag) == {"g1", "g2", "c1", "c2"}, f"effects: {sorted(by_tag)}"
    assert all(job["state"] == "done" for job in jobs.values())
    assert len({job["graph_uuid"] for job in jobs.values()}) == 1 and by_tag["g1"]["graph_uuid"]
    assert {job["user_id"] for job in jobs.values()} == {stack.plain_uid}

    g1, g2, c1, c2 = (by_tag[tag] for tag in ("g1", "g2", "c1", "c2"))
    assert c1["date_started"] >= g1["date_done"], "c1 started before g1 was done"
    assert c1["date_started"] >= g2["date_done"], "c1 started before g2 was done"
    assert c2["date_started"] >= c1["date_done"], "c2 started before c1 was done"
    assert c1["priority"] == 5
