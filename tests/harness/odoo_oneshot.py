"""One-shot Odoo 18 runs against a :class:`~tests.harness.pgcluster.PgCluster`.

* :func:`init_database` -- ``-i modules --stop-after-init``;
* :func:`run_odoo_tests` -- ``--test-tags`` run with parsed results.

Each run is a separate process in its own session, so that every process it
forks goes down with its process group.  Nothing here imports Odoo in the
calling interpreter.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .odoo_logs import LogRecord, TestCounts, _tail, log_problems, parse_test_summary
from .odoo_setup import (
    OdooError,
    _odoo_env,
    _workdir,
    database_options,
    default_addons_path,
    odoo_bin_cmd,
    write_odoo_conf,
)
from .pgcluster import PgCluster
from .procs import _killpg, free_port, group_pids, signal_pids, wait_pids_gone

__all__ = [
    "InitResult",
    "TestRunResult",
    "init_database",
    "run_odoo_tests",
]

_logger = logging.getLogger(__name__)

_RUN_COUNTER = itertools.count(1)


@dataclass
class InitResult:
    dbname: str
    modules: list[str]
    log_path: Path
    duration: float
    warnings: list[LogRecord]
    errors: list[LogRecord]

    @property
    def problems(self) -> list[LogRecord]:
        return self.warnings + self.errors


@dataclass
class TestRunResult:
    __test__ = False

    returncode: int
    counts: TestCounts
    log_path: Path
    duration: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.counts.ok


def _run_oneshot(cmd: list[str], *, cwd: Path, output_path: Path, env: Mapping[str, str], timeout: float) -> int:
    """Run an Odoo command to completion in its own process group."""
    _logger.info("running %s", " ".join(cmd))
    with open(output_path, "ab") as output:
        proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stdout=output, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except BaseException:
            # Timeout or Ctrl-C: take the whole group down with us.
            _killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            # Threads or children that outlive a --stop-after-init run must
            # not keep the database busy for the next step.
            leftovers = group_pids(proc.pid)
            if leftovers:
                signal_pids(leftovers, signal.SIGKILL)
                wait_pids_gone(leftovers, timeout=10)


def _oneshot_conf(
    cluster: PgCluster,
    workdir: Path,
    stem: str,
    *,
    addons_path: Sequence[str] | None,
    server_wide_modules: Sequence[str],
    http_port: int | None,
    log_level: str,
    extra_options: Mapping[str, Any] | None,
    sections: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[Path, Path]:
    log_path = workdir / f"{stem}.log"
    options: dict[str, Any] = {
        **database_options(cluster),
        "addons_path": list(addons_path) if addons_path else default_addons_path(),
        "data_dir": workdir / "data",
        "server_wide_modules": list(server_wide_modules),
        "logfile": log_path,
        "log_level": log_level,
        "list_db": True,
        "workers": 0,
        "max_cron_threads": 0,
        "http_interface": "127.0.0.1",
        "http_enable": http_port is not None,
        "http_port": http_port,
    }
    options.update(extra_options or {})
    conf_path = write_odoo_conf(workdir / f"{stem}.conf", sections=sections, **options)
    return conf_path, log_path


def init_database(
    cluster: PgCluster,
    dbname: str,
    modules: Sequence[str] = ("base",),
    addons_path: Sequence[str] | None = None,
    extra_options: Mapping[str, Any] | None = None,
    *,
    demo: bool = False,
    server_wide_modules: Sequence[str] = ("base", "web"),
    sections: Mapping[str, Mapping[str, Any]] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    timeout: float = 1800,
    env: Mapping[str, str] | None = None,
) -> InitResult:
    """Create ``dbname`` (if needed) and install ``modules`` with ``--stop-after-init``.

    Raises :class:`OdooError` with the log tail when Odoo exits non-zero.
    The WARNING/ERROR records of the run are returned, as install problems
    often do not make Odoo fail.
    """
    work = _workdir(cluster, workdir)
    stem = f"init-{dbname}-{next(_RUN_COUNTER)}-{os.getpid()}"
    conf_path, log_path = _oneshot_conf(
        cluster, work, stem, addons_path=addons_path, server_wide_modules=server_wide_modules,
        http_port=None, log_level="info", extra_options=extra_options, sections=sections,
    )
    cmd = [*odoo_bin_cmd(), "-c", str(conf_path), "-d", dbname, "-i", ",".join(modules), "--stop-after-init"]
    if not demo:
        cmd.append("--without-demo=all")
    started = time.monotonic()
    returncode = _run_oneshot(cmd, cwd=work, output_path=work / f"{stem}.out", env=_odoo_env(env), timeout=timeout)
    duration = time.monotonic() - started
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    problems = log_problems(text)
    if returncode != 0:
        raise OdooError(
            f"installing {','.join(modules)} into {dbname!r} failed with exit code {returncode}",
            log_tail=_tail(log_path) + "\n--- stdout/stderr ---\n" + _tail(work / f"{stem}.out", 20),
            log_path=log_path,
        )
    # Odoo only warns about unknown module names and still exits 0, so ask
    # the database what really got installed.
    missing = _not_installed(cluster, dbname, modules)
    if missing:
        raise OdooError(
            f"modules not installed in {dbname!r} after -i: {', '.join(missing)}",
            log_tail="\n".join(str(record) for record in problems[-20:]) or _tail(log_path),
            log_path=log_path,
        )
    _logger.info("installed %s into %s in %.1fs (%d warnings/errors in log)",
                 ",".join(modules), dbname, duration, len(problems))
    return InitResult(
        dbname=dbname,
        modules=list(modules),
        log_path=log_path,
        duration=duration,
        warnings=[r for r in problems if r.level == "WARNING"],
        errors=[r for r in problems if r.level != "WARNING"],
    )


def _not_installed(cluster: PgCluster, dbname: str, modules: Sequence[str]) -> list[str]:
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name FROM ir_module_module WHERE state = 'installed' AND name = ANY(%s)",
                        (list(modules),))
            installed = {row[0] for row in cur.fetchall()}
    finally:
        conn.close()
    return [module for module in modules if module not in installed]


def run_odoo_tests(
    cluster: PgCluster,
    dbname: str,
    modules: Sequence[str],
    test_tags: str | None = None,
    *,
    addons_path: Sequence[str] | None = None,
    extra_options: Mapping[str, Any] | None = None,
    demo: bool = False,
    server_wide_modules: Sequence[str] = ("base", "web"),
    sections: Mapping[str, Mapping[str, Any]] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    timeout: float = 3600,
    env: Mapping[str, str] | None = None,
) -> TestRunResult:
    """Install ``modules`` into a fresh ``dbname`` and run their tests.

    ``test_tags`` defaults to ``/module1,/module2``.  The HTTP server runs on a
    free port (workers=0) so that HttpCase tests work.  Returns Odoo's exit
    code, the parsed counts and the log path; it does not raise on failures.
    """
    work = _workdir(cluster, workdir)
    cluster.drop_database(dbname)
    tags = test_tags if test_tags is not None else ",".join(f"/{module}" for module in modules)
    stem = f"test-{dbname}-{next(_RUN_COUNTER)}-{os.getpid()}"
    conf_path, log_path = _oneshot_conf(
        cluster, work, stem, addons_path=addons_path, server_wide_modules=server_wide_modules,
        http_port=free_port(), log_level="info", extra_options=extra_options, sections=sections,
    )
    cmd = [*odoo_bin_cmd(), "-c", str(conf_path), "-d", dbname, "-i", ",".join(modules),
           "--test-tags", tags, "--stop-after-init"]
    if not demo:
        cmd.append("--without-demo=all")
    started = time.monotonic()
    returncode = _run_oneshot(cmd, cwd=work, output_path=work / f"{stem}.out", env=_odoo_env(env), timeout=timeout)
    duration = time.monotonic() - started
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    counts = parse_test_summary(text)
    _logger.info("tests %s on %s: rc=%s %s failed, %s errors of %s tests (%.1fs)",
                 tags, dbname, returncode, counts.failed, counts.errors, counts.tests, duration)
    return TestRunResult(returncode=returncode, counts=counts, log_path=log_path, duration=duration)
