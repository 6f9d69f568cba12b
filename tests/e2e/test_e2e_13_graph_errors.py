"""Failure branches and batches on a live server: a real failing job of a chain
fires the chain's on_error handler and cancels its dependants; a batch whose
jobs end in workers finishes and enqueues its callback."""

from __future__ import annotations

import pytest

from .helpers import wait_for

pytestmark = pytest.mark.odoo


def test_failing_job_of_a_chain_fires_on_error_and_cancels_dependants(stack):
    marker = "e2e-on-error-7731"
    uuids = stack.orm(f"""
        from odoo.addons.queue_job.delay import chain
        probe = env['queue.job.probe'].with_user(admin).create({{'name': 'on_error'}})
        before = probe.delayable().job_touch('before')
        failing = probe.delayable().job_fail('remote refused {marker}')
        after = probe.delayable().job_touch('after')
        last = probe.delayable().job_touch('last')
        handler = env['queue.job'].with_user(admin).delayable().notify_failure(message='Sync stopped')
        chain(before, failing, after, last).on_error(handler).delay()
        specs = env['queue.job'].search([('uuid', '=', failing._generated_job.uuid)]).dependencies['on_error']
        result = {{
            'before': before._generated_job.uuid,
            'failing': failing._generated_job.uuid,
            'after': after._generated_job.uuid,
            'last': last._generated_job.uuid,
            'handler': specs[0]['uuid'],
        }}
    """)
    stack.expected_failures.add(uuids["failing"])
    graph = [uuids[key] for key in ("before", "failing", "after", "last")]
    rows = stack.wait_final(graph, timeout=60)

    assert rows[uuids["before"]]["state"] == "done"
    failed = rows[uuids["failing"]]
    assert failed["state"] == "failed" and marker in failed["exc_message"]
    # The jobs after the failed one are cancelled, saying why; none of them ran.
    for key in ("after", "last"):
        row = rows[uuids[key]]
        assert row["state"] == "cancelled", stack.describe_jobs(graph)
        assert uuids["failing"] in row["result"] and marker in row["result"], row["result"]
        assert stack.effect_count(uuids[key]) == 0

    # The handler was stored with the failure (same transaction) and ran in a worker.
    handler = stack.wait_final([uuids["handler"]], timeout=60)[uuids["handler"]]
    assert handler["state"] == "done", stack.describe_jobs([uuids["handler"]])
    assert handler["graph_uuid"] == failed["graph_uuid"]
    assert handler["kwargs"]["failure"]["uuid"] == uuids["failing"]
    assert marker in handler["kwargs"]["failure"]["exc_message"]
    messages = stack.query(
        "SELECT body FROM mail_message WHERE model = 'queue.job' AND res_id = %s ORDER BY id",
        (failed["id"],),
    )
    assert any("Sync stopped" in str(body) and marker in str(body) for (body,) in messages), messages
    # At most once: nothing else carries the handler's uuid.
    assert stack.query("SELECT count(*) FROM queue_job WHERE uuid = %s", (uuids["handler"],))[0][0] == 1


def test_batch_finishes_in_the_workers_and_calls_back(stack):
    marker = "e2e-batch-5524"
    ids = stack.orm(f"""
        probes = env['queue.job.probe'].with_user(admin).create([{{'name': 'batch %d' % n}} for n in range(3)])
        batch = env['queue.job.batch'].with_user(admin).get_new_batch(
            'E2E batch', callback_model='queue.job.probe', callback_method='job_args_echo')
        uuids = [probe.with_context(job_batch=batch).with_delay().job_touch('batch').uuid for probe in probes[:2]]
        uuids.append(probes[2].with_context(job_batch=batch).with_delay().job_fail('{marker}').uuid)
        batch.enqueue()
        result = {{'batch': batch.id, 'uuids': uuids}}
    """)
    stack.expected_failures.add(ids["uuids"][2])
    stack.wait_final(ids["uuids"], timeout=60)

    def finished():
        rows = stack.query(
            "SELECT state, is_read, callback_job_id FROM queue_job_batch WHERE id = %s", (ids["batch"],)
        )
        return rows[0] if rows and rows[0][0] == "finished" else None

    state, is_read, callback_job_id = wait_for(finished, 30, "the batch to finish")
    assert is_read is False
    (callback_uuid,) = stack.query("SELECT uuid FROM queue_job WHERE id = %s", (callback_job_id,))[0]
    callback = stack.wait_final([callback_uuid], timeout=60)[callback_uuid]
    assert callback["state"] == "done", stack.describe_jobs([callback_uuid])
    assert f"queue.job.batch({ids['batch']},)" in callback["result"]
    counts = dict(stack.query(
        "SELECT state, count(*) FROM queue_job WHERE job_batch_id = %s GROUP BY state", (ids["batch"],)
    ))
    assert counts == {"done": 2, "failed": 1}
    notified = stack.query(
        "SELECT count(*) FROM mail_message WHERE model = 'queue.job.batch' AND res_id = %s AND body LIKE %s",
        (ids["batch"], "%2 done, 1 failed%"),
    )[0][0]
    assert notified == 1
