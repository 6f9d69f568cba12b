"""OCA's own test suite (test_queue_job, 18.0) run against this queue_job.

OCA's sources are never part of this repository: give the path of a
checkout of OCA/queue (branch 18.0) with ``--oca PATH`` or in
``QUEUE_JOB_OCA_PATH``. Without it
the test is skipped, saying so. Every OCA test must pass except the ones
listed in README.rst's "Differences from OCA's queue_job".
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from harness.odoo_oneshot import run_odoo_tests
from harness.odoo_setup import REPO_ROOT, default_addons_path
from harness.pgcluster import PgCluster

pytestmark = pytest.mark.odoo

# test -> the README's reason; nothing else may fail.
DOCUMENTED_DIFFERENCES = {
    "TestRelatedAction.test_default_several_record": "Odoo 18 names the view type 'list', OCA still says 'tree'",
}


def oca_checkout(config: pytest.Config) -> Path:
    value = config.getoption("--oca", default=None) or os.environ.get("QUEUE_JOB_OCA_PATH", "")
    if not value:
        pytest.skip("no OCA sources (--oca PATH or QUEUE_JOB_OCA_PATH): OCA's test_queue_job was NOT run on ours")
    path = Path(value).resolve()
    if path.name == "queue_job":
        path = path.parent
    if not (path / "test_queue_job" / "__manifest__.py").is_file():
        pytest.fail(f"QUEUE_JOB_OCA_PATH={value} holds no test_queue_job addon (a checkout of OCA/queue 18.0?)")
    return path


def test_oca_test_queue_job_passes_on_ours(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    oca = oca_checkout(pytestconfig)
    # Only OCA's test addon goes on the addons path: its queue_job is ours.
    only_tests = tmp_path / "oca_addons"
    only_tests.mkdir()
    (only_tests / "test_queue_job").symlink_to(oca / "test_queue_job")
    with PgCluster(fast=True) as cluster:
        # OCA's tests use base.user_demo: demo data on.
        run = run_odoo_tests(
            cluster, "oca_suite", ["test_queue_job"], test_tags="/test_queue_job", demo=True,
            addons_path=default_addons_path([REPO_ROOT, only_tests]),
        )
    counts = run.counts
    assert counts.summary_found, f"no test summary in {run.log_path}"
    assert counts.tests > 100, f"only {counts.tests} OCA tests ran: {run.log_path}"
    failing = {re.sub(r"^(FAIL|ERROR): ", "", name).split(": ")[-1] for name in counts.failing_tests}
    assert failing == set(DOCUMENTED_DIFFERENCES), (
        f"OCA tests failing on ours, beyond the documented differences: {sorted(failing - set(DOCUMENTED_DIFFERENCES))}"
        f"; documented but passing: {sorted(set(DOCUMENTED_DIFFERENCES) - failing)} (log {run.log_path})"
    )
