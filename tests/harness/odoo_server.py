"""Run real Odoo 18 processes against a :class:`~tests.harness.pgcluster.PgCluster`.

Three ways to run Odoo are offered:

* :func:`init_database` -- one-shot ``-i modules --stop-after-init``;
* :func:`run_odoo_tests` -- one-shot ``--test-tags`` run with parsed results;
* :class:`OdooServer` -- a long-running prefork server (master, HTTP workers,
  gevent process) that tests can kill, restart and inspect.

Odoo always runs as a separate process, in its own session, so that every
process it forks can be signalled through one process group.  Nothing here
imports Odoo in the calling interpreter.

All Odoo runs on one cluster share ``<cluster dir>/odoo/data`` as data_dir by
default, so attachments written by ``init_database`` (filestore) are found by
the servers started afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import itertools
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from .pgcluster import PgCluster
from .procs import (
    child_pids,
    descendant_pids,
    free_port,
    group_pids,
    pid_alive,
    proc_cmdline,
    signal_pids,
    wait_pids_gone,
)

__all__ = [
    "REPO_ROOT",
    "OdooError",
    "OdooNotAvailable",
    "OdooRpc",
    "OdooRpcError",
    "OdooProcesses",
    "OdooServer",
    "InitResult",
    "TestCounts",
    "TestRunResult",
    "LogRecord",
    "odoo_importable",
    "odoo_unavailable_reason",
    "odoo_version",
    "odoo_package_dir",
    "odoo_bin_cmd",
    "default_addons_path",
    "database_options",
    "write_odoo_conf",
    "init_database",
    "run_odoo_tests",
    "parse_log",
    "log_problems",
    "parse_test_summary",
]

_logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]

# Servers still running, stopped at interpreter exit so a crashed test run
# does not leave Odoo process groups behind.
_LIVE_SERVERS: set[OdooServer] = set()
_RUN_COUNTER = itertools.count(1)


class OdooError(RuntimeError):
    """An Odoo process failed; ``log_tail`` holds the end of its log."""

    def __init__(self, message: str, log_tail: str = "", log_path: Path | None = None) -> None:
        super().__init__(f"{message}\n--- log tail ({log_path}) ---\n{log_tail}" if log_tail else message)
        self.log_tail = log_tail
        self.log_path = log_path


class OdooNotAvailable(OdooError):
    """``import odoo`` does not work with the interpreter the harness uses."""


# --------------------------------------------------------------- discovery
def _python() -> str:
    # ODOO_PYTHON lets a developer point at a virtualenv holding Odoo while
    # running pytest from another interpreter.
    return os.environ.get("ODOO_PYTHON") or sys.executable


@functools.cache
def _probe_odoo() -> tuple[str | None, str]:
    """(version, diagnostics) from importing odoo in a child interpreter.

    A child keeps Odoo's import-time monkeypatching out of the test process.
    """
    code = "import odoo, odoo.cli, odoo.release; print(odoo.release.version)"
    try:
        proc = subprocess.run([_python(), "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if proc.returncode != 0:
        # The last line of a traceback names the actual problem.
        lines = proc.stderr.strip().splitlines()
        return None, lines[-1] if lines else f"exit code {proc.returncode}"
    return proc.stdout.strip().splitlines()[-1], ""


def odoo_importable() -> bool:
    """True when ``import odoo`` works in the interpreter used to run Odoo."""
    return _probe_odoo()[0] is not None


def odoo_version() -> str | None:
    """Odoo's release string (e.g. ``"18.0-20250421"``), None if not importable."""
    return _probe_odoo()[0]


def odoo_unavailable_reason() -> str | None:
    """Why Odoo cannot be used, or None when it can (for skip messages)."""
    version, diagnostics = _probe_odoo()
    if version is None:
        return f"`import odoo` fails with {_python()}: {diagnostics}"
    if not version.startswith("18."):
        return f"Odoo {version} found, the harness targets Odoo 18"
    return None


def odoo_package_dir() -> Path:
    """Directory of the ``odoo`` package, located without importing it."""
    if os.environ.get("ODOO_PYTHON"):
        proc = subprocess.run(
            [_python(), "-c", "import importlib.util as u; print(u.find_spec('odoo').origin)"],
            capture_output=True, text=True, timeout=60,
        )
        if proc.returncode != 0:
            raise OdooNotAvailable(f"cannot locate odoo with {_python()}: {proc.stderr.strip()}")
        return Path(proc.stdout.strip()).parent
    spec = importlib.util.find_spec("odoo")
    if spec is None or spec.origin is None:
        raise OdooNotAvailable(f"the odoo package is not installed for {_python()}")
    return Path(spec.origin).parent


def odoo_bin_cmd() -> list[str]:
    """argv prefix that starts Odoo's command line (append ``-c conf ...``).

    Prefers the ``odoo-bin`` of the installation; falls back to the harness'
    own launcher file.  Never ``python -c``: see odoo_launcher.py.
    """
    odoo_bin = odoo_package_dir().parent / "odoo-bin"
    if odoo_bin.is_file():
        return [_python(), str(odoo_bin)]
    return [_python(), str(Path(__file__).with_name("odoo_launcher.py"))]


def _holds_addons(path: Path) -> bool:
    if not path.is_dir():
        return False
    return any((child / "__manifest__.py").is_file() for child in path.iterdir() if child.is_dir())


def default_addons_path(extra: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    """Odoo's own addons, this repository's addons and ``tests/addons``.

    Directories without any module are left out: Odoo rejects an addons path
    entry that holds no module, which would happen while the repository's
    addons are still being written.
    """
    odoo_dir = odoo_package_dir()
    candidates = [odoo_dir / "addons", odoo_dir.parent / "addons", REPO_ROOT, REPO_ROOT / "tests" / "addons"]
    candidates += [Path(p) for p in extra]
    paths: list[str] = []
    for candidate in candidates:
        resolved = str(candidate.resolve())
        if resolved not in paths and _holds_addons(candidate):
            paths.append(resolved)
    return paths


def database_options(cluster: PgCluster) -> dict[str, Any]:
    """Odoo ``[options]`` that connect to ``cluster`` over TCP as its login role."""
    return {
        "db_host": cluster.host,
        "db_port": cluster.port,
        "db_user": cluster.user,
        "db_password": cluster.password,
    }


# ------------------------------------------------------------------ config
def _render_conf_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "True" if value else "False"
    elif isinstance(value, (list, tuple, set, frozenset)):
        text = ",".join(str(item) for item in value)
    else:
        text = str(value)
    if "\n" in text:
        raise ValueError(f"config value for {key!r} must be a single line")
    return text


def write_odoo_conf(
    path: str | os.PathLike[str],
    *,
    sections: Mapping[str, Mapping[str, Any]] | None = None,
    **options: Any,
) -> Path:
    """Write an Odoo config file.

    ``options`` go to ``[options]``; ``sections`` adds other sections, e.g.
    ``sections={"queue_job": {"channels": "root:2"}}``.  Sequences are
    comma-joined, booleans become True/False, None values are omitted.
    """
    blocks = {"options": options, **(sections or {})}
    lines: list[str] = []
    for section, values in blocks.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is not None:
                lines.append(f"{key} = {_render_conf_value(key, value)}")
        lines.append("")
    conf_path = Path(path)
    conf_path.parent.mkdir(parents=True, exist_ok=True)
    conf_path.write_text("\n".join(lines), encoding="utf-8")
    return conf_path


def _workdir(cluster: PgCluster, workdir: str | os.PathLike[str] | None) -> Path:
    path = Path(workdir) if workdir is not None else cluster.socket_dir / "odoo"
    (path / "data").mkdir(parents=True, exist_ok=True)
    return path


def _odoo_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["TZ"] = "UTC"
    env["PYTHONUNBUFFERED"] = "1"
    # libpq variables from the developer's shell must not redirect Odoo to
    # another server: the conf file is the only source of truth.
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "ODOO_RC", "OPENERP_SERVER"):
        env.pop(name, None)
    env.update(extra or {})
    return env


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


# ------------------------------------------------------- one-shot commands
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


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


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


# ----------------------------------------------------------------- HTTP/RPC
# Loopback requests must never go through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _post_json(url: str, payload: Mapping[str, Any], timeout: float) -> tuple[int, Any]:
    """POST JSON; returns (HTTP status, decoded body or raw text)."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class OdooRpcError(Exception):
    """A JSON-RPC call returned an error (e.g. an Odoo UserError or AccessError)."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        data = error.get("data") or {}
        self.code: int | None = error.get("code")
        self.name: str = data.get("name") or "unknown"
        self.message: str = data.get("message") or error.get("message") or "RPC error"
        self.debug: str = data.get("debug") or ""
        self.data: Mapping[str, Any] = data
        super().__init__(f"{self.name}: {self.message}")


class OdooRpc:
    """Minimal JSON-RPC client using Odoo's ``/jsonrpc`` endpoint."""

    def __init__(
        self, url: str, db: str, login: str = "admin", password: str = "admin", *, timeout: float = 120
    ) -> None:
        self.url = url.rstrip("/")
        self.db = db
        self.login = login
        self.password = password
        self.timeout = timeout
        self._uid: int | None = None
        self._ids = itertools.count(1)

    def service(self, service: str, method: str, *args: Any) -> Any:
        """Call ``service.method(*args)`` (services: common, db, object)."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
            "id": next(self._ids),
        }
        status, body = _post_json(f"{self.url}/jsonrpc", payload, self.timeout)
        if not isinstance(body, dict):
            raise OdooRpcError({"message": f"HTTP {status}: {str(body)[:500]}"})
        if body.get("error"):
            raise OdooRpcError(body["error"])
        return body.get("result")

    @property
    def uid(self) -> int:
        if self._uid is None:
            uid = self.service("common", "authenticate", self.db, self.login, self.password, {})
            if not uid:
                raise OdooRpcError({"message": f"authentication failed for {self.login!r} on {self.db!r}"})
            self._uid = int(uid)
        return self._uid

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``env[model].method(*args, **kwargs)`` through ``execute_kw``."""
        return self.service("object", "execute_kw", self.db, self.uid, self.password, model, method, list(args), kwargs)


# ------------------------------------------------------------------ server
@dataclass
class OdooProcesses:
    """The process tree of a running prefork server.

    Forked workers are recognised by their Worker class name: from the
    process title when setproctitle is installed, else from the
    ``Worker <Class> (<pid>) alive`` line each worker logs at startup (needs
    log_level info or lower).  ``workers`` maps every forked worker to that
    class name ("?" until the worker has logged), e.g. WorkerHTTP,
    WorkerCron, or an addon's own worker class such as queue_job's runner.
    """

    master: int
    workers: dict[int, str] = field(default_factory=dict)
    gevent: list[int] = field(default_factory=list)
    other: list[int] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[int]:
        """Worker pids of one class name; "http"/"cron" are shorthands, "all" means every worker."""
        wanted = {"http": "WorkerHTTP", "cron": "WorkerCron"}.get(kind, kind)
        return sorted(pid for pid, name in self.workers.items() if kind == "all" or name == wanted)

    @property
    def http_workers(self) -> list[int]:
        return self.of_kind("http")

    @property
    def cron_workers(self) -> list[int]:
        return self.of_kind("cron")


_WORKER_ALIVE_RE = re.compile(r": Worker (?P<cls>\w+) \((?P<pid>\d+)\) alive")
_WORKER_TITLE_RE = re.compile(r"^odoo: (?P<cls>\w+) (?P<pid>\d+)")


class OdooServer:
    """A real Odoo server (prefork when ``workers`` > 0) for end-to-end tests.

    Usage::

        with OdooServer(cluster, "db", workers=2) as server:
            OdooRpc(server.url, "db").call("res.partner", "search_count", [])
            server.kill_worker(server.worker_pids()[0])
    """

    def __init__(
        self,
        cluster: PgCluster,
        dbname: str | None = None,
        *,
        workers: int = 2,
        server_wide_modules: Sequence[str] = ("base", "web", "queue_job"),
        http_port: int | None = None,
        gevent_port: int | None = None,
        addons_path: Sequence[str] | None = None,
        dbfilter: str | None = None,
        list_db: bool = False,
        log_level: str = "info",
        limit_time_real: int = 120,
        max_cron_threads: int = 0,
        options: Mapping[str, Any] | None = None,
        sections: Mapping[str, Mapping[str, Any]] | None = None,
        workdir: str | os.PathLike[str] | None = None,
        name: str = "odoo",
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 180,
    ) -> None:
        self.cluster = cluster
        self.dbname = dbname
        self.workers = workers
        self.http_port = http_port or free_port()
        self.gevent_port = gevent_port or free_port(exclude=[self.http_port])
        self.workdir = _workdir(cluster, workdir)
        self.name = f"{name}-{self.http_port}"
        self.conf_path = self.workdir / f"{self.name}.conf"
        self.log_path = self.workdir / f"{self.name}.log"
        self.output_path = self.workdir / f"{self.name}.out"
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self._env = _odoo_env(env)
        self.options: dict[str, Any] = {
            **database_options(cluster),
            "addons_path": list(addons_path) if addons_path else default_addons_path(),
            "data_dir": self.workdir / "data",
            "server_wide_modules": list(server_wide_modules),
            "workers": workers,
            "max_cron_threads": max_cron_threads,
            "http_interface": "127.0.0.1",
            "http_port": self.http_port,
            "gevent_port": self.gevent_port,
            "http_enable": True,
            "list_db": list_db,
            "db_name": dbname,
            "dbfilter": dbfilter if dbfilter is not None else (f"^{re.escape(dbname)}$" if dbname else None),
            "log_level": log_level,
            "logfile": self.log_path,
            "limit_time_real": limit_time_real,
            "proxy_mode": False,
        }
        self.options.update(options or {})
        self.sections: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (sections or {}).items()}
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_mark = 0
        self._version_info: dict[str, Any] | None = None
        self._class_scan_offset = 0
        self._classes_seen: dict[int, str] = {}

    # -------------------------------------------------------------- basics
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int | None:
        """PID of the master process while it runs."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def command(self) -> list[str]:
        return [*odoo_bin_cmd(), "-c", str(self.conf_path), *self.extra_args]

    def rpc(self, login: str = "admin", password: str = "admin", db: str | None = None) -> OdooRpc:
        database = db or self.dbname
        if not database:
            raise ValueError("no database: pass db= or create the server with a dbname")
        return OdooRpc(self.url, database, login, password)

    # ----------------------------------------------------------- lifecycle
    def start(self, timeout: float | None = None) -> OdooServer:
        """Write the conf, start the master in a new session and wait for HTTP."""
        if self.running:
            return self
        write_odoo_conf(self.conf_path, sections=self.sections, **self.options)
        self._log_mark = self.log_offset()
        _logger.info("starting Odoo: %s", " ".join(self.command()))
        # Closing our handle right away is fine: the child keeps its own copy.
        with open(self.output_path, "ab") as output:
            self._proc = subprocess.Popen(
                self.command(), cwd=self.workdir, env=self._env, stdout=output, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        _LIVE_SERVERS.add(self)
        try:
            self.wait_ready(timeout if timeout is not None else self.start_timeout)
        except BaseException:
            self.kill_all()
            raise
        _logger.info("Odoo up at %s (master pid %s)", self.url, self.pid)
        return self

    def wait_ready(self, timeout: float = 180) -> dict[str, Any] | None:
        """Poll ``/web/webclient/version_info`` until any HTTP answer arrives.

        A JSON answer is returned (and cached in :meth:`version_info`); a
        non-JSON answer (``web`` not server-wide) still means HTTP is up.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise OdooError(f"Odoo exited during startup (exit code {code})",
                                log_tail=self._failure_tail(), log_path=self.log_path)
            try:
                status, body = _post_json(
                    f"{self.url}/web/webclient/version_info",
                    {"jsonrpc": "2.0", "method": "call", "params": {}, "id": 0},
                    timeout=10,
                )
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                status, body = None, None
            if status is not None:
                if isinstance(body, dict) and isinstance(body.get("result"), dict):
                    self._version_info = body["result"]
                return self._version_info
            if time.monotonic() > deadline:
                raise OdooError(f"Odoo did not answer on {self.url} within {timeout:.0f}s",
                                log_tail=self._failure_tail(), log_path=self.log_path)
            time.sleep(0.25)

    def _failure_tail(self) -> str:
        return _tail(self.log_path) + "\n--- stdout/stderr ---\n" + _tail(self.output_path, 30)

    def version_info(self) -> dict[str, Any]:
        """Result of ``/web/webclient/version_info`` (fetched fresh)."""
        status, body = _post_json(
            f"{self.url}/web/webclient/version_info",
            {"jsonrpc": "2.0", "method": "call", "params": {}, "id": 0},
            timeout=30,
        )
        if not isinstance(body, dict) or "result" not in body:
            raise OdooError(f"version_info answered HTTP {status}: {str(body)[:300]}")
        result: dict[str, Any] = body["result"]
        self._version_info = result
        return result

    def health(self) -> tuple[int, str]:
        """(HTTP status, body) of ``GET /web/health``."""
        try:
            with _OPENER.open(f"{self.url}/web/health", timeout=30) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def _group_members(self) -> list[int]:
        if self._proc is None:
            return []
        members = set(group_pids(self._proc.pid))
        if pid_alive(self._proc.pid):
            # Children that moved to their own session are still ours.
            members |= set(descendant_pids(self._proc.pid))
        return sorted(members)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM the process group, SIGKILL whatever is left after ``timeout``."""
        if self._proc is None:
            return None
        pgid = self._proc.pid
        members = self._group_members()
        if self._proc.poll() is None or members:
            _logger.info("stopping Odoo %s (pid %s)", self.url, pgid)
            _killpg(pgid, signal.SIGTERM)
            signal_pids([pid for pid in members if pid != pgid], signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _logger.warning("Odoo master %s ignored SIGTERM for %ss, killing", pgid, timeout)
            survivors = wait_pids_gone(set(members) | set(group_pids(pgid)), timeout=5)
            if survivors or self._proc.poll() is None:
                self._kill_everything(members)
        returncode = self._proc.wait()
        _LIVE_SERVERS.discard(self)
        return returncode

    def kill_all(self) -> None:
        """SIGKILL the master, every worker and every child at once (a crash)."""
        if self._proc is None:
            return
        _logger.info("SIGKILL Odoo process group %s", self._proc.pid)
        self._kill_everything(self._group_members())
        _LIVE_SERVERS.discard(self)

    def _kill_everything(self, members: Iterable[int]) -> None:
        assert self._proc is not None
        pgid = self._proc.pid
        _killpg(pgid, signal.SIGKILL)
        signal_pids(members, signal.SIGKILL)
        self._proc.wait(timeout=30)
        survivors = wait_pids_gone(set(members) | set(group_pids(pgid)), timeout=10)
        if survivors:
            signal_pids(survivors, signal.SIGKILL)
            survivors = wait_pids_gone(survivors, timeout=10)
        if survivors:
            raise OdooError(f"Odoo processes survived SIGKILL: {survivors}")

    def restart(self, timeout: float = 30) -> OdooServer:
        """Graceful stop, then start with the same conf and ports."""
        self.stop(timeout=timeout)
        return self.start()

    def __enter__(self) -> OdooServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<OdooServer {self.url} db={self.dbname} pid={self.pid}>"

    # ----------------------------------------------------------- processes
    def _worker_classes(self) -> dict[int, str]:
        """pid -> Worker class name, from the "Worker X (pid) alive" log lines.

        The log is scanned incrementally; only complete lines are consumed.
        """
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self._class_scan_offset)
                chunk = fh.read()
        except FileNotFoundError:
            return self._classes_seen
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._class_scan_offset += len(complete)
        for match in _WORKER_ALIVE_RE.finditer(complete.decode("utf-8", "replace")):
            self._classes_seen[int(match["pid"])] = match["cls"]
        return self._classes_seen

    def processes(self) -> OdooProcesses:
        """Classify the master's descendants (see :class:`OdooProcesses`)."""
        master = self.pid
        if master is None:
            raise OdooError("Odoo is not running")
        master_argv = proc_cmdline(master)
        classes = self._worker_classes()
        tree = OdooProcesses(master=master)
        direct = set(child_pids(master))
        for pid in descendant_pids(master):
            argv = proc_cmdline(pid)
            titled = _WORKER_TITLE_RE.match(" ".join(argv))
            if pid not in direct:
                tree.other.append(pid)
            elif titled:
                tree.workers[pid] = titled["cls"]
            elif argv == master_argv:
                # A plain fork (no exec): one of the master's workers.
                tree.workers[pid] = classes.get(pid, "?")
            elif "gevent" in argv[1:4]:
                tree.gevent.append(pid)
            else:
                tree.other.append(pid)
        return tree

    def worker_pids(self, kind: str = "http") -> list[int]:
        """PIDs of forked workers: "http" (default), "cron", "all", or a Worker class name."""
        return self.processes().of_kind(kind)

    def gevent_pid(self) -> int | None:
        pids = self.processes().gevent
        return pids[0] if pids else None

    def kill_worker(self, pid: int | None = None, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send ``sig`` to one worker (default: the first HTTP worker); returns its pid."""
        if pid is None:
            workers = self.worker_pids("http")
            if not workers:
                raise OdooError("no HTTP worker to kill", log_tail=_tail(self.log_path), log_path=self.log_path)
            pid = workers[0]
        elif self.pid is None or pid not in descendant_pids(self.pid):
            raise ValueError(f"pid {pid} is not a process of this Odoo server")
        _logger.info("sending %s to Odoo worker %s", sig.name, pid)
        os.kill(pid, sig)
        return pid

    def wait_for_workers(
        self,
        count: int | None = None,
        timeout: float = 30,
        exclude: Iterable[int] = (),
        kind: str = "http",
    ) -> list[int]:
        """Wait until ``count`` workers of ``kind`` (default: the configured
        number of HTTP workers) run, not counting the pids in ``exclude``."""
        wanted = self.workers if count is None else count
        excluded = set(exclude)
        deadline = time.monotonic() + timeout
        while True:
            current = [pid for pid in self.worker_pids(kind) if pid not in excluded]
            if len(current) >= wanted:
                return current
            if time.monotonic() > deadline:
                raise OdooError(f"expected {wanted} {kind} workers, have {current} after {timeout}s",
                                log_tail=_tail(self.log_path), log_path=self.log_path)
            time.sleep(0.1)

    # ---------------------------------------------------------------- logs
    def log_offset(self) -> int:
        """Current size of the log file, to wait only for later lines."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self, since: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(since)
                return fh.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_problems(self, since: int = 0) -> list[LogRecord]:
        return log_problems(self.log_text(since))

    def wait_for_log(
        self, regex: str | re.Pattern[str], timeout: float = 30, since: int | None = None
    ) -> re.Match[str]:
        """Wait until ``regex`` matches the log written since ``since``
        (default: since the last start); returns the match."""
        pattern = re.compile(regex, re.MULTILINE) if isinstance(regex, str) else regex
        offset = self._log_mark if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            match = pattern.search(self.log_text(offset))
            if match:
                return match
            if time.monotonic() > deadline:
                raise OdooError(f"log line matching {pattern.pattern!r} not seen within {timeout}s",
                                log_tail=_tail(self.log_path), log_path=self.log_path)
            time.sleep(0.1)


def _stop_live_servers() -> None:
    for server in list(_LIVE_SERVERS):
        try:
            server.kill_all()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            _logger.exception("could not stop %r", server)


# Registered after pgcluster's handler, so it runs first (atexit is LIFO):
# Odoo goes down before its database.
atexit.register(_stop_live_servers)
