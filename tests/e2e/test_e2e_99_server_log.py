"""The server log: no ERROR or CRITICAL record but those the tests provoked.

Runs last (file order). The only errors the other tests provoke are the jobs
they make fail on purpose, each logged once by the executor with its uuid;
a killed worker or runner logs warnings only.
"""

from __future__ import annotations

import re

import pytest

from harness.odoo_server import log_problems

pytestmark = pytest.mark.odoo


def test_server_log_has_no_unexpected_errors(stack):
    stack.assert_healthy()
    failure = re.compile(rf"job (?P<uuid>[0-9a-f-]{{36}}) on {re.escape(stack.db)} failed:$")
    unexpected = []
    logged_failures = []
    for record in log_problems(stack.server.log_text(), levels=("ERROR", "CRITICAL")):
        match = failure.match(record.first_line)
        if (
            record.level == "ERROR"
            and record.logger == "odoo.addons.queue_job.executor"
            and match
            and match["uuid"] in stack.expected_failures
        ):
            logged_failures.append(match["uuid"])
            continue
        unexpected.append(str(record))
    assert not unexpected, "unexpected ERROR/CRITICAL records:\n" + "\n\n".join(unexpected)
    assert sorted(logged_failures) == sorted(stack.expected_failures), (
        "each job failed on purpose logs exactly one ERROR with its uuid"
    )
