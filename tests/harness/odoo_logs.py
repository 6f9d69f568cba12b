"""Read Odoo 18 log files: records, problems, and the results of test runs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LogRecord",
    "TestCounts",
    "log_problems",
    "parse_log",
    "parse_test_summary",
]


# ------------------------------------------------------------------ logs
_RECORD_RE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<pid>\d+) (?P<level>[A-Z]+) "
    r"(?P<db>\S+) (?P<logger>[^\s:]+): (?P<message>.*)$"
)
_PROBLEM_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


@dataclass
class LogRecord:
    """One Odoo log record; ``message`` includes continuation lines (tracebacks)."""

    time: str
    pid: int
    level: str
    db: str
    logger: str
    message: str

    @property
    def first_line(self) -> str:
        return self.message.split("\n", 1)[0]

    def __str__(self) -> str:
        return f"{self.time} {self.pid} {self.level} {self.db} {self.logger}: {self.message}"


def parse_log(text: str) -> list[LogRecord]:
    """Split an Odoo log file into records (Odoo's default log format)."""
    records: list[LogRecord] = []
    for line in text.splitlines():
        match = _RECORD_RE.match(line)
        if match:
            records.append(LogRecord(
                time=match["time"], pid=int(match["pid"]), level=match["level"],
                db=match["db"], logger=match["logger"], message=match["message"].rstrip(),
            ))
        elif records:
            records[-1].message += "\n" + line
    return records


def log_problems(text: str, levels: Iterable[str] = _PROBLEM_LEVELS) -> list[LogRecord]:
    """WARNING/ERROR/CRITICAL records of a log."""
    wanted = set(levels)
    return [record for record in parse_log(text) if record.level in wanted]


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "<no log file>"
    return "\n".join(text.splitlines()[-lines:])


# ----------------------------------------------------------- test summary
# Formats as written by Odoo 18 (logger: message):
#   odoo.tests.result: 0 failed, 0 error(s) of 42 tests when loading database 'db'
#   odoo.modules.loading: Module queue_job: 1 failures, 0 errors of 12 tests
#   odoo.service.server: 3 post-tests in 1.23s, 456 queries
#   odoo.tests.stats: queue_job: 12 tests 0.84s 1234 queries
#   odoo.addons.<module>.tests.<file>: FAIL: TestClass.test_method   (then a traceback)
_SUMMARY_RE = re.compile(
    r"(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<tests>\d+) tests when loading database '(?P<db>[^']*)'"
)
_MODULE_FAIL_RE = re.compile(
    r"Module (?P<module>\S+): (?P<failed>\d+) failures, (?P<errors>\d+) errors of (?P<tests>\d+) tests"
)
_POST_TESTS_RE = re.compile(r"(?P<count>\d+) post-tests in (?P<seconds>[\d.]+)s")
_STATS_RE = re.compile(r"(?P<module>\S+): (?P<tests>\d+) tests (?P<seconds>[\d.]+)s (?P<queries>\d+) queries")
_FAILED_TEST_RE = re.compile(r"(?P<flavour>FAIL|ERROR): (?P<test>\S+)")


@dataclass
class TestCounts:
    """Test results parsed from an Odoo log."""

    __test__ = False  # not a pytest test class despite the name

    failed: int = 0
    errors: int = 0
    tests: int = 0
    post_tests: int = 0
    summary_found: bool = False
    per_module_tests: dict[str, int] = field(default_factory=dict)
    failing_modules: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    failing_tests: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Odoo printed its final summary and nothing failed."""
        return self.summary_found and self.failed == 0 and self.errors == 0


def parse_test_summary(text: str) -> TestCounts:
    """Extract counts from the log of an Odoo ``--test-tags`` run."""
    counts = TestCounts()
    for record in parse_log(text):
        line = record.first_line
        if record.logger == "odoo.tests.result":
            match = _SUMMARY_RE.search(line)
            if match:
                # One line per database; the harness runs a single database.
                counts.failed += int(match["failed"])
                counts.errors += int(match["errors"])
                counts.tests += int(match["tests"])
                counts.summary_found = True
        elif record.logger == "odoo.modules.loading":
            match = _MODULE_FAIL_RE.search(line)
            if match:
                counts.failing_modules[match["module"]] = (
                    int(match["failed"]), int(match["errors"]), int(match["tests"]))
        elif record.logger == "odoo.service.server":
            match = _POST_TESTS_RE.search(line)
            if match:
                counts.post_tests += int(match["count"])
        elif record.logger == "odoo.tests.stats":
            match = _STATS_RE.search(line)
            if match:
                counts.per_module_tests[match["module"]] = int(match["tests"])
        elif record.level == "ERROR" and record.logger.startswith("odoo.addons."):
            match = _FAILED_TEST_RE.match(line)
            if match:
                counts.failing_tests.append(f"{match['flavour']}: {record.logger}: {match['test']}")
    return counts
