"""The chaos suite's stack (one per session) and its table of rounds.

Without an importable Odoo 18 every test of this directory is skipped, with
the reason. The table is printed at the end of the session, whatever the
verbosity and even when rounds failed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .core import ChaosStack, current_mode, format_table

CHAOS_DIR = Path(__file__).resolve().parent
_session: dict[str, object] = {}  # the stack and when it started, for the summary


@pytest.fixture(scope="session")
def chaos():
    stack = ChaosStack(current_mode())
    _session["stack"], _session["started"] = stack, time.monotonic()
    try:
        stack.start()
        yield stack
    finally:
        stack.close()
        _session["seconds"] = time.monotonic() - _session["started"]


def pytest_terminal_summary(terminalreporter) -> None:
    stack = _session.get("stack")
    if not isinstance(stack, ChaosStack) or not stack.results:
        return
    seconds = _session.get("seconds") or time.monotonic() - _session["started"]
    mode = stack.mode
    terminalreporter.write_sep("=", f"queue_job chaos rounds ({mode.name} mode)")
    terminalreporter.write_line(format_table(stack.results))
    for result in stack.results:
        terminalreporter.write_line(result.describe())
    passed = sum(r.passed for r in stack.results)
    terminalreporter.write_line(
        f"{passed} of {len(stack.results)} rounds passed; chaos stack up for {seconds:.0f} s "
        f"(QUEUE_JOB_TEST_MODE={mode.name}: {mode.rounds} round(s) per fault, {mode.jobs} jobs per round)"
    )
