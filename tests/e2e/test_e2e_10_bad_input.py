"""Jobs the workers cannot run as stored, among good ones; identity keys and started jobs.

Bad rows are made by corrupting jobs by SQL right after they are enqueued,
while root.probe is held busy so that none of them starts before. (Two
transactions enqueuing one identity key at once: queue_job/tests/test_bad_input.py.)
"""

from __future__ import annotations

import json

import pytest

from .helpers import job_uuid_from_rpc, wait_for

pytestmark = pytest.mark.odoo

GONE_MODEL = "x_e2e.gone"


def test_bad_rows_fail_saying_why_and_every_other_job_runs(stack):
    kinds = ["good", "model gone", "good", "method gone", "good", "bad args", "good", "deleted", "good"]
    with stack.busy_probe_channel():
        enqueued = stack.orm(f"""
            kinds = {kinds!r} + ['nowhere', 'probe nowhere']
            probes = env['queue.job.probe'].with_user(admin).create(
                [{{'name': 'bad input %d' % n}} for n in range(len(kinds))])
            channels = {{'nowhere': 'root.nowhere', 'probe nowhere': 'root.probe.nowhere'}}
            result = []
            for kind, probe in zip(kinds, probes):
                delayed = probe.with_delay(channel=channels.get(kind, 'root.probe'))
                # Records deleted since the enqueue: a method that does not touch them still runs.
                job = delayed.job_args_echo('x') if kind == 'deleted' else delayed.job_touch(kind)
                result.append((kind, probe.id, job.uuid))
        """)
        uuid = {f"{kind} {n}": job_uuid for n, (kind, _probe, job_uuid) in enumerate(enqueued)}
        by_kind = {kind: (probe_id, job_uuid) for kind, probe_id, job_uuid in enqueued}
        bad = [by_kind[kind][1] for kind in ("model gone", "method gone", "bad args")]
        stack.expected_failures.update(bad)
        assert stack.execute(
            "UPDATE queue_job SET model_name = %s, records = jsonb_set(records, '{model}', to_jsonb(%s::text))"
            " WHERE uuid = %s AND state = 'pending'",
            (GONE_MODEL, GONE_MODEL, by_kind["model gone"][1]),
        ) == 1
        assert stack.execute(
            "UPDATE queue_job SET method_name = 'job_vanished' WHERE uuid = %s AND state = 'pending'",
            (by_kind["method gone"][1],),
        ) == 1
        assert stack.execute(
            "UPDATE queue_job SET args = %s::jsonb WHERE uuid = %s AND state = 'pending'",
            (json.dumps([{"_type": "mystery"}]), by_kind["bad args"][1]),
        ) == 1
        assert stack.execute("DELETE FROM queue_job_probe WHERE id = %s", (by_kind["deleted"][0],)) == 1

        # A channel that is not configured runs in its nearest configured
        # ancestor: root.nowhere in root (a slot free), root.probe.nowhere in
        # root.probe (held busy).
        nowhere = stack.wait_final([by_kind["nowhere"][1]], timeout=30)[by_kind["nowhere"][1]]
        assert nowhere["state"] == "done", nowhere
        assert stack.job(by_kind["probe nowhere"][1])["state"] == "pending"

    rows = stack.wait_final(uuid.values(), timeout=60)
    for name, job_uuid in uuid.items():
        row = rows[job_uuid]
        if job_uuid in bad:
            assert row["state"] == "failed", (name, row)
            assert stack.effect_count(job_uuid) == 0, name
        else:
            assert row["state"] == "done", (name, stack.describe_jobs([job_uuid]))
            assert row["exc_message"] is None
            if name.split()[0] != "deleted":
                assert stack.effect_count(job_uuid) == 1, name
    model_gone, method_gone, bad_args = (rows[job_uuid] for job_uuid in bad)
    assert (model_gone["exc_name"], model_gone["exc_message"]) == (
        "LookupError",
        f"The job cannot be run: model {GONE_MODEL!r} does not exist (any more); "
        "is the module that defines it installed?",
    )
    assert (method_gone["exc_name"], method_gone["exc_message"]) == (
        "AttributeError",
        "The job cannot be run: queue.job.probe has no method 'job_vanished' (any more)",
    )
    assert (bad_args["exc_name"], bad_args["exc_message"]) == (
        "odoo.addons.queue_job.engine.codec.UndecodableValue",
        "The job cannot be run: its stored args cannot be read: unknown stored type 'mystery'",
    )
    assert rows[by_kind["deleted"][1]]["result"] == "(('x',), [])"
    stack.assert_healthy()


def _identity_key(stack, job_uuid):
    return stack.job(job_uuid)["identity_key"]


def test_identity_key_a_started_job_does_not_count(stack):
    # README: a started job does not count; enqueuing its key again makes a
    # new job, which will see the newer data. Only one waits at a time.
    probe_id = stack.admin.call("queue.job.probe", "create", {"name": "unique, while running"})
    lock = stack.cluster.connect(stack.db)
    try:
        with lock.cursor() as cur:  # the job starts, then waits on this lock
            cur.execute("SELECT id FROM queue_job_probe WHERE id = %s FOR UPDATE", (probe_id,))
        running = job_uuid_from_rpc(stack.admin.call("queue.job.probe", "enqueue_unique", [probe_id]))
        wait_for(lambda: stack.job(running)["state"] == "started", 30, "the first job to start")
        waiting = job_uuid_from_rpc(stack.admin.call("queue.job.probe", "enqueue_unique", [probe_id]))
        assert waiting != running
        again = job_uuid_from_rpc(stack.admin.call("queue.job.probe", "enqueue_unique", [probe_id]))
        assert again == waiting
        key = _identity_key(stack, running)
        states = stack.query("SELECT uuid, state FROM queue_job WHERE identity_key = %s", (key,))
        assert dict(states) == {running: "started", waiting: "pending"}
    finally:
        lock.rollback()
        lock.close()
    rows = stack.wait_final([running, waiting], timeout=30)
    assert [rows[u]["state"] for u in (running, waiting)] == ["done", "done"]
    assert stack.effect_count(running) == stack.effect_count(waiting) == 1
