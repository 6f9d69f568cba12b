#!/usr/bin/env python3
"""Run every test suite of the repository and print one summary.

    python3 tests/run.py          # quick mode: what CI runs
    python3 tests/run.py --full   # long suites at full size (chaos rounds, benchmarks' smoke)
    python3 tests/run.py --oca /path/to/oca/queue   # also OCA's own tests against ours, and the upgrade from OCA's

Suites: the engine and harness tests, and the checks of docker/ and
docs/deploy/ (no Odoo needed); then, when
``import odoo`` works, the addons' Odoo tests in a fresh database on a
throwaway PostgreSQL cluster, and the end-to-end tests against a live
server, and the chaos rounds (tests/chaos: workers, runners, servers and
PostgreSQL killed while jobs run), and, given OCA's sources (``--oca PATH``
or ``QUEUE_JOB_OCA_PATH``), the move of a database from OCA's queue_job
(tests/upgrade). Without Odoo the Odoo suites are reported as skipped,
loudly; so is the upgrade test without OCA's sources.
The last line is ``N passed, N failed, N skipped``; the exit code is 0 only
if nothing failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REQUIREMENTS = ROOT / ".ci" / "requirements.txt"


def missing_test_dependencies() -> list[str]:
    """Packages of .ci/requirements.txt (and psycopg2) that this interpreter lacks."""
    from importlib import metadata, util

    missing = []
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        name = re.match(r"[A-Za-z0-9._-]*", line.split("#", 1)[0].strip()).group(0)
        if not name:
            continue
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    if util.find_spec("psycopg2") is None:
        missing.append("psycopg2-binary")
    return missing


# Checked before anything imports them: a fresh machine gets one line saying
# what to run, not a traceback. Installing them from here would change an
# interpreter (the system's, Odoo's virtualenv) its owner did not ask us to
# touch; CI's .ci/run installs them.
if __name__ == "__main__" and (_missing := missing_test_dependencies()):
    _extra = " psycopg2-binary" if "psycopg2-binary" in _missing else ""
    sys.exit(
        f"tests/run.py: missing test dependencies ({', '.join(_missing)}); install them with:"
        f"  {Path(sys.executable).name} -m pip install -r .ci/requirements.txt{_extra}"
    )

from tests.harness.odoo_setup import HOW_TO_GET_ODOO, odoo_importable, odoo_unavailable_reason  # noqa: E402

ODOO_MODULES = ["queue_job", "queue_job_cron", "queue_job_monitor", "queue_job_demo", "queue_job_probe"]
OCA_ENV = "QUEUE_JOB_OCA_PATH"  # OCA's queue repository, for tests/oca and tests/upgrade


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
        unrun = browser_tours_not_run(Path(run.log_path).read_text(errors="replace"))
        if unrun:
            # Odoo skips a tour it cannot drive and still counts it as a test.
            result.failed += 1
            result.notes.append(f"browser tours did not run: {unrun}")
        if result.failed:
            print(Path(run.log_path).read_text(errors="replace")[-20000:])
    result.seconds = time.monotonic() - started
    return result


# What Odoo logs when an HttpCase cannot drive Chromium and skips the test.
BROWSER_SKIP_MARKERS = (
    "websocket-client module is not installed",
    "Chrome executable not found",
    "Failed to detect chrome devtools port",
    "Error during Chrome",
    "Cannot connect to chrome dev tools",
)


def browser_tours_not_run(log_text: str) -> str:
    return ", ".join(marker for marker in BROWSER_SKIP_MARKERS if marker in log_text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="long suites at full size")
    parser.add_argument("--oca", metavar="PATH", default=os.environ.get(OCA_ENV, ""),
                        help=f"checkout of OCA/queue 18.0: runs OCA's own tests against ours and the upgrade "
                             f"from OCA's queue_job (default: ${OCA_ENV})")
    args = parser.parse_args()
    env = {"QUEUE_JOB_TEST_MODE": "full" if args.full else "quick", OCA_ENV: args.oca}

    results = [run_pytest("engine + harness + docker", ["tests/engine", "tests/harness", "tests/docker"], env)]
    have_odoo = odoo_importable()
    if have_odoo:
        results.append(run_odoo_suite())
        results.append(run_pytest("end-to-end", ["tests/e2e", "tests/bench"], env))
        if args.oca:
            results.append(run_pytest("OCA compatibility", ["tests/oca", "tests/upgrade"], env))
        else:
            print(
                "\n" + "!" * 100
                + f"\n!!! OCA COMPATIBILITY SKIPPED: no OCA sources given (--oca PATH or {OCA_ENV}=PATH): "
                "OCA's test_queue_job and the upgrade from OCA's queue_job were NOT run !!!\n"
                + "!" * 100 + "\n",
                flush=True,
            )
        # A session of its own: its stack (and the processes it kills) never
        # overlaps the end-to-end stack.
        results.append(run_pytest("chaos", ["tests/chaos"], env))
    else:
        reason = odoo_unavailable_reason() or "import odoo failed"
        print(
            "\n" + "!" * 100
            + f"\n!!! ODOO NOT IMPORTABLE ({reason}): the Odoo addon, end-to-end and chaos tests were SKIPPED !!!\n"
            + f"!!! {HOW_TO_GET_ODOO}\n"
            + "!" * 100 + "\n",
            flush=True,
        )

    print("\nsuite                       passed  failed  skipped   seconds")
    for r in results:
        print(f"{r.name:<26} {r.passed:>7} {r.failed:>7} {r.skipped:>8} {r.seconds:>9.1f}")
        for note in r.notes:
            print(f"    {note}")
    if not have_odoo:
        print("odoo addon tests / end-to-end / chaos / OCA compatibility: SKIPPED (no importable Odoo)")
    elif not args.oca:
        print(f"OCA compatibility (OCA's test_queue_job on ours, upgrade from OCA): SKIPPED (no --oca PATH / {OCA_ENV})")
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    skipped = sum(r.skipped for r in results)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
