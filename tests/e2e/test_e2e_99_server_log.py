"""The server log: no ERROR or CRITICAL record but those the tests provoked.

Runs last (file order). The only errors the other tests provoke are the jobs
they make fail on purpose, each logged once by the executor with its uuid,
and the jobs they make overrun their hard time limit, logged by the
watchdog; a killed worker or runner logs warnings only.
"""

from __future__ import annotations

import re

import pytest

from harness.odoo_logs import log_problems

pytestmark = pytest.mark.odoo


def test_server_log_has_no_unexpected_errors(stack):
    stack.assert_healthy()
    failure = re.compile(rf"job (?P<uuid>[0-9a-f-]{{36}}) on {re.escape(stack.db)} failed:$")
    overrun = re.compile(
        rf"job (?P<uuid>[0-9a-f-]{{36}}) on {re.escape(stack.db)}"
        r"(: hard time limit of \d+s reached; stopped, now (pending|failed)"
        r"| ignores its hard time limit: exiting the worker)$"
    )
    # The watchdog's word is accepted only for a job whose row says it was stopped at its limit.
    stopped = {uuid for (uuid,) in stack.query(
        "SELECT uuid FROM queue_job WHERE exc_message LIKE 'Stopped after its hard time limit of %%'"
    )}
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
        match = overrun.match(record.first_line)
        if (
            record.level == "ERROR"
            and record.logger == "odoo.addons.queue_job.watchdog"
            and match
            and match["uuid"] in stopped
        ):
            continue
        unexpected.append(str(record))
    assert not unexpected, "unexpected ERROR/CRITICAL records:\n" + "\n\n".join(unexpected)
    assert sorted(logged_failures) == sorted(stack.expected_failures), (
        "each job failed on purpose logs exactly one ERROR with its uuid"
    )
