"""Chaos suite of queue_job: kill workers, runners, whole servers and PostgreSQL
while a few hundred jobs run, and check that every job still ends as its
function says, exactly once.

* ``pytest tests/chaos``: one test per fault (quick mode by default);
* ``python3 -m tests.chaos``: every fault, 5 rounds each (full mode).

``QUEUE_JOB_TEST_MODE`` picks the size: ``quick`` (default under pytest: one
round per fault, ~60 jobs) or ``full`` (5 rounds per fault, ~300 jobs). Both
print the table of rounds. See core.py for what a round does and checks.
"""
