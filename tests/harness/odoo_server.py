"""Run a real Odoo 18 server against a :class:`~tests.harness.pgcluster.PgCluster`.

:class:`OdooServer` is a long-running prefork server (master, HTTP workers,
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
import logging
import os
import re
import signal
import subprocess
import time
import urllib.error
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from .odoo_logs import LogRecord, _tail, log_problems
from .odoo_processes import _WORKER_ALIVE_RE, _WORKER_TITLE_RE, OdooProcesses
from .odoo_rpc import _OPENER, OdooRpc, _post_json
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
from .procs import (
    _killpg,
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
    "OdooServer",
]

_logger = logging.getLogger(__name__)

# Servers still running, stopped at interpreter exit so a crashed test run
# does not leave Odoo process groups behind.
_LIVE_SERVERS: set[OdooServer] = set()


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
