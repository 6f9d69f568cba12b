"""Channel capacities: root:2,root.probe:1."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.odoo

PER_CHANNEL = 6
SLEEP = 1.5


def test_channel_capacities_are_never_exceeded(stack):
    uuids = stack.orm(f"""
        Probe = env['queue.job.probe'].with_user(admin)
        result = []
        for channel in ('root.probe', 'root'):
            for n in range({PER_CHANNEL}):
                probe = Probe.create({{'name': 'capacity %s %d' % (channel, n)}})
                result.append(probe.with_delay(channel=channel).job_sleep({SLEEP}, 'capacity').uuid)
    """)
    assert len(uuids) == 2 * PER_CHANNEL

    samples = []  # (running in root.probe, running in all)
    deadline = time.monotonic() + 90
    while True:
        (probe_running, all_running, unfinished), = stack.query(
            "SELECT count(*) FILTER (WHERE state IN ('started', 'enqueued') AND channel = 'root.probe'),"
            "       count(*) FILTER (WHERE state IN ('started', 'enqueued')),"
            "       count(*) FILTER (WHERE uuid = ANY(%s) AND state NOT IN ('done', 'failed', 'cancelled'))"
            "  FROM queue_job",
            (uuids,),
        )
        samples.append((probe_running, all_running))
        if not unfinished:
            break
        assert time.monotonic() < deadline, f"jobs still running after 90s:\n{stack.describe_jobs(uuids)}"
        time.sleep(0.05)

    worst_probe = max(s[0] for s in samples)
    worst_all = max(s[1] for s in samples)
    assert worst_probe <= 1, f"{worst_probe} root.probe jobs ran at once (capacity 1)"
    assert worst_all <= 2, f"{worst_all} jobs ran at once (root capacity 2)"
    # The sampling did see the queue at work, with both slots in use.
    assert len(samples) > 20
    assert worst_all == 2 and worst_probe == 1, f"capacity never used in full: {worst_all}/{worst_probe}"

    rows = stack.jobs(uuids)
    assert all(row["state"] == "done" for row in rows.values()), stack.describe_jobs(uuids)
    effects = stack.effects(uuids)
    assert sorted(e["job_uuid"] for e in effects) == sorted(uuids), "each job commits exactly one effect"
