"""Many jobs enqueued at once all run exactly once, as the user who enqueued them."""

from __future__ import annotations

import pytest

from .helpers import job_uuid_from_rpc

pytestmark = pytest.mark.odoo

BATCH = 60


def test_sixty_jobs_in_one_transaction_run_once_each_as_their_user(stack):
    # 60 jobs in one transaction, through the ORM: half enqueued by admin,
    # half by the plain user; half in root.probe (the job function's
    # channel), half in root. One probe per job, so that no two jobs update
    # the same row.
    enqueued = stack.orm(f"""
        Probe = env['queue.job.probe']
        result = []
        for n in range({BATCH}):
            user = admin if n % 2 else plain
            probe = Probe.with_user(user).create({{'name': 'batch %d' % n}})
            options = {{'channel': 'root'}} if n % 4 >= 2 else {{}}
            job = probe.with_delay(**options).job_touch('batch')
            result.append([job.uuid, user.id, probe.id, job.channel])
    """)
    assert len(enqueued) == BATCH
    assert {channel for *_, channel in enqueued} == {"root", "root.probe"}

    # And a few over JSON-RPC, each call its own transaction.
    for rpc, count in ((stack.plain, 3), (stack.admin, 2)):
        for n in range(count):
            probe_id = rpc.call("queue.job.probe", "create", {"name": f"rpc {rpc.login} {n}"})
            uuid = job_uuid_from_rpc(rpc.call("queue.job.probe", "enqueue_touch", [probe_id]))
            enqueued.append([uuid, rpc.uid, probe_id, None])

    expected_user = {uuid: uid for uuid, uid, _probe, _channel in enqueued}
    expected_probe = {uuid: probe for uuid, _uid, probe, _channel in enqueued}
    assert {stack.admin_uid, stack.plain_uid} == set(expected_user.values())

    rows = stack.wait_final(expected_user, timeout=90)
    not_done = {uuid: (row["state"], row["exc_message"]) for uuid, row in rows.items() if row["state"] != "done"}
    assert not not_done, f"jobs that did not end done: {not_done}"

    effects = stack.effects(expected_user)
    runs = {}
    for effect in effects:
        runs.setdefault(effect["job_uuid"], []).append(effect)
    ran_twice = {uuid: len(found) for uuid, found in runs.items() if len(found) != 1}
    assert not ran_twice, f"jobs with more than one committed run: {ran_twice}"
    assert set(runs) == set(expected_user), f"jobs without an effect: {set(expected_user) - set(runs)}"

    for uuid, (effect,) in runs.items():
        row = rows[uuid]
        assert row["user_id"] == expected_user[uuid], f"job {uuid} stored with user {row['user_id']}"
        assert effect["create_uid"] == row["user_id"], (
            f"job {uuid} enqueued by user {row['user_id']} ran as user {effect['create_uid']}"
        )
        assert effect["probe_id"] == expected_probe[uuid]
        assert row["retry"] == 1, f"job {uuid} was started {row['retry']} times"
