"""Faults injected while jobs run: every job still ends as its function says, once.

One test per fault kind, each running QUEUE_JOB_TEST_MODE's number of rounds
(see core.py for what a round does and checks); the runner kill again with
jobs that never wake the new runner by themselves; and the job that kills
its own worker.
"""

from __future__ import annotations

import pytest

from .core import FAULT_ORDER, run_rounds

pytestmark = pytest.mark.odoo


@pytest.mark.parametrize("fault", FAULT_ORDER)
def test_chaos_rounds(chaos, fault):
    results = run_rounds(chaos, range(1, chaos.mode.rounds + 1), [fault])
    failed = [r for r in results if not r.passed]
    assert not failed, "\n".join(r.describe() for r in failed)


def test_respawned_runner_dispatches_once_the_dead_runners_jobs_end(chaos):
    # Only touch and sleep jobs: no retry ETA or NOTIFY wakes the new runner by chance.
    results = run_rounds(chaos, range(1, chaos.mode.rounds + 1), [], quiet_runner=True)
    failed = [r for r in results if not r.passed]
    assert not failed, "\n".join(r.describe() for r in failed)


def test_job_that_kills_its_worker_fails_saying_so(chaos):
    result = chaos.run_worker_killer()
    assert result.passed, result.describe()
