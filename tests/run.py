#!/usr/bin/env python3
"""Run every test suite of the repository and print one summary.

    python3 tests/run.py          # quick mode: what CI runs
    python3 tests/run.py --full   # long suites at full size (chaos rounds, benchmarks' smoke)

Suites: the engine and harness tests (no Odoo needed); then, when
``import odoo`` works, the addons' Odoo tests in a fresh database on a
throwaway PostgreSQL cluster, and the end-to-end tests against a live
server, and the chaos rounds (tests/chaos: workers, runners, servers and
PostgreSQL killed while jobs run). Without Odoo the Odoo suites are reported
as skipped, loudly.
The last line is ``N passed, N failed, N skipped``; the exit code is 0 only
if nothing failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.odoo_setup import odoo_importable, odoo_unavailable_reason  # noqa: E402

ODOO_MODULES = ["queue_job", "queue_job_probe", "queue_job_demo"]


@dataclass
class SuiteResult:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def run_pytest(name: str, paths: list[str], extra_env: dict[str, str]) -> SuiteResult:
    result = SuiteResult(name)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *paths]
        completed = subprocess.run(command, cwd=ROOT, env={**os.environ, **extra_env})
        if report.exists():
            for suite in ET.parse(report).getroot().iter("testsuite"):
                tests = int(suite.get("tests", 0))
                failures = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
                skipped = int(suite.get("skipped", 0))
                result.failed += failures
                result.skipped += skipped
                result.passed += tests - failures - skipped
        if completed.returncode not in (0, 5) and not result.failed:
            # pytest itself failed (collection error, crash): count it.
            result.failed += 1
            result.notes.append(f"pytest exited with {completed.returncode}")
        if completed.returncode == 5:
            result.notes.append("no test collected")
    result.seconds = time.monotonic() - started
    return result


def run_odoo_suite() -> SuiteResult:
    from tests.harness.odoo_oneshot import run_odoo_tests
    from tests.harness.odoo_setup import default_addons_path
    from tests.harness.pgcluster import PgCluster

    result = SuiteResult("odoo addon tests")
    started = time.monotonic()
    addons_path = default_addons_path([ROOT, ROOT / "tests" / "addons"])
    with PgCluster(fast=True) as cluster:
        run = run_odoo_tests(
            cluster,
            "queue_job_tests",
            ODOO_MODULES,
            test_tags=",".join(f"/{module}" for module in ODOO_MODULES),
            addons_path=addons_path,
        )
        counts = run.counts
        if not counts.summary_found:
            result.failed = 1
            result.notes.append(f"no test summary in the log: {run.log_path}")
        else:
            result.failed = counts.failed + counts.errors
            result.passed = counts.tests - result.failed
            for name in counts.failing_tests:
                result.notes.append(f"failing: {name}")
        if run.returncode != 0 and not result.failed:
            result.failed = 1
            result.notes.append(f"odoo exited with {run.returncode}; log: {run.log_path}")
        if result.failed:
            print(Path(run.log_path).read_text(errors="replace")[-20000:])
    result.seconds = time.monotonic() - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="long suites at full size")
    args = parser.parse_args()
    env = {"QUEUE_JOB_TEST_MODE": "full" if args.full else "quick"}

    results = [run_pytest("engine + harness", ["tests/engine", "tests/harness"], env)]
    have_odoo = odoo_importable()
    if have_odoo:
        results.append(run_odoo_suite())
        results.append(run_pytest("end-to-end", ["tests/e2e", "tests/bench"], env))
        # A session of its own: its stack (and the processes it kills) never
        # overlaps the end-to-end stack.
        results.append(run_pytest("chaos", ["tests/chaos"], env))
    else:
        reason = odoo_unavailable_reason() or "import odoo failed"
        print(
            "\n" + "!" * 100
            + f"\n!!! ODOO NOT IMPORTABLE ({reason}): the Odoo addon, end-to-end and chaos tests were SKIPPED !!!\n"
            + "!" * 100 + "\n",
            flush=True,
        )

    print("\nsuite                       passed  failed  skipped   seconds")
    for r in results:
        print(f"{r.name:<26} {r.passed:>7} {r.failed:>7} {r.skipped:>8} {r.seconds:>9.1f}")
        for note in r.notes:
            print(f"    {note}")
    if not have_odoo:
        print("odoo addon tests / end-to-end / chaos: SKIPPED (no importable Odoo)")
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    skipped = sum(r.skipped for r in results)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
