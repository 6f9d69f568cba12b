"""Failing jobs: how they fail, what they say, and retryable errors."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.odoo


def _messages_on(stack, job_id):
    return stack.query(
        "SELECT m.id, m.body, s.name FROM mail_message m"
        " LEFT JOIN mail_message_subtype s ON s.id = m.subtype_id"
        " WHERE m.model = 'queue.job' AND m.res_id = %s ORDER BY m.id",
        (job_id,),
    )


def test_failures_and_retries(stack):
    marker = "e2e-failure-0451"
    uuids = stack.orm(f"""
        probes = env['queue.job.probe'].with_user(admin).create([{{'name': 'fail %d' % n}} for n in range(3)])
        result = {{
            'fail': probes[0].with_delay().job_fail('probe failure {marker}').uuid,
            'fail_hard': probes[1].with_delay().job_fail_hard('give up {marker}').uuid,
            'retry': probes[2].with_delay().job_retry_until(3).uuid,
        }}
    """)
    stack.expected_failures.update((uuids["fail"], uuids["fail_hard"]))
    rows = stack.wait_final(uuids.values(), timeout=60)
    fail, fail_hard, retry = (rows[uuids[key]] for key in ("fail", "fail_hard", "retry"))

    # A UserError fails the job at once, saying what it was.
    assert fail["state"] == "failed"
    assert fail["exc_name"] == "odoo.exceptions.UserError"
    assert fail["exc_message"] == f"probe failure {marker}"
    assert "UserError" in (fail["exc_info"] or "") and marker in (fail["exc_info"] or "")
    assert fail["retry"] == 1, "a UserError is not retried"
    assert fail["date_done"] is None

    # FailedJobError: failed, not retried.
    assert fail_hard["state"] == "failed"
    assert fail_hard["exc_name"] == "odoo.addons.queue_job.exception.FailedJobError"
    assert fail_hard["exc_message"] == f"give up {marker}"
    assert fail_hard["retry"] == 1

    # RetryableJobError(seconds=1) twice, then success on the 3rd try.
    assert retry["state"] == "done", retry
    assert retry["retry"] == 3
    assert retry["exc_name"] is None
    waited = (retry["date_done"] - retry["date_created"]).total_seconds()
    assert waited >= 1.8, f"two retries 1 s apart took only {waited:.2f}s"

    # Only the successful run left an effect; failed runs were rolled back.
    assert stack.effect_count(uuids["retry"]) == 1
    assert stack.effect_count(uuids["fail"]) == 0
    assert stack.effect_count(uuids["fail_hard"]) == 0

    # A failed job gets a message posted on it; a job that ends done does not.
    for failed in (fail, fail_hard):
        messages = _messages_on(stack, failed["id"])
        assert messages, f"no mail.message posted on failed job {failed['uuid']}"
    assert _messages_on(stack, retry["id"]) == []
