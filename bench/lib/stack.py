"""One queue under test: its PostgreSQL cluster, database, Odoo server and shell.

Both addons are named ``queue_job``, so each flavour gets its own cluster,
database and addons path (Odoo's addons, the directory holding the flavour's
``queue_job``, and bench/addons), and the flavours run one after the other.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2.extensions

from tests.harness.odoo_logs import parse_log
from tests.harness.odoo_oneshot import init_database
from tests.harness.odoo_server import OdooServer
from tests.harness.odoo_setup import (
    REPO_ROOT,
    OdooError,
    database_options,
    default_addons_path,
    odoo_bin_cmd,
    write_odoo_conf,
)
from tests.harness.pgcluster import PgCluster

from . import jobs

_logger = logging.getLogger(__name__)

BENCH_ADDONS = REPO_ROOT / "bench" / "addons"
IN_SHELL = Path(__file__).resolve().parent / "in_shell"
DB_NAME = "queue_job_bench"
MODULES = ("queue_job", "queue_job_bench")
SERVER_WIDE = ("base", "web", "queue_job")


@dataclass(frozen=True)
class Flavour:
    """What differs between the two queues, as seen from outside."""

    key: str  # "ours" or "oca"
    label: str
    addons_dir: Path  # the directory holding this flavour's queue_job/
    runner_class: str  # Worker class of the runner process (from the "Worker X (pid) alive" log line)
    runner_start: str  # log line when the runner starts working (after any start delay)
    runner_ready: str  # log line when the runner dispatches for the database
    snapshot: bool = False  # run a copy of queue_job taken at the start, not the working tree


# Ours is copied when the run starts: an edit of the working tree during a
# long run must not give a server code that does not match its database.
OURS = Flavour("ours", "ours", REPO_ROOT, "RunnerWorker",
               r"queue job runner starting", r"queue job runner ready for db", snapshot=True)


def oca_flavour(path: Path) -> Flavour:
    """OCA's queue_job 18.0, from a checkout of OCA's queue repository (or its queue_job directory)."""
    path = path.resolve()
    if (path / "__manifest__.py").is_file() and path.name == "queue_job":
        path = path.parent
    if not (path / "queue_job" / "__manifest__.py").is_file():
        raise ValueError(f"{path} holds no queue_job addon")
    return Flavour("oca", "OCA", path, "WorkerJobRunner",
                   r"initializing database connections", r"database connections ready")


def _odoo_addons_dirs() -> list[str]:
    ours = {str(REPO_ROOT.resolve()), str((REPO_ROOT / "tests" / "addons").resolve())}
    return [path for path in default_addons_path() if path not in ours]


def log_epoch(stamp: str) -> float:
    """An Odoo log timestamp (the server runs with TZ=UTC) as epoch seconds."""
    parsed = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
    return parsed.replace(tzinfo=UTC).timestamp()


@dataclass
class Started:
    spawned_at: float  # epoch, just before the master was launched
    runner_started_at: float | None  # epoch of the runner's start line
    ready_at: float  # epoch of the runner's ready line
    runner_pid: int | None


class Stack:
    """Cluster + database + server of one flavour; ``close()`` removes everything."""

    def __init__(
        self, flavour: Flavour, *, workers: int, durable: bool, keep: bool,
        extra_addons: tuple[str, ...] = (), queue_job_options: dict[str, str] | None = None,
    ) -> None:
        """``extra_addons``: addons of this repository installed (and loaded server-wide) too."""
        self.flavour = flavour
        self.workers = workers
        self.extra_addons = extra_addons
        self.queue_job_options = queue_job_options or {}
        self.addons_path: list[str] = []
        self.cluster = PgCluster(fast=not durable, keep=keep)
        self.server: OdooServer | None = None
        self.conn: psycopg2.extensions.connection | None = None
        self._shell_runs = 0

    # -- lifecycle ---------------------------------------------------------------

    def create(self) -> None:
        """Start the cluster and install queue_job and queue_job_bench into a new database."""
        self.cluster.start()
        addons_dir = self.flavour.addons_dir
        if self.flavour.snapshot:
            addons_dir = self.cluster.socket_dir / "addons"
            for addon in ("queue_job", *self.extra_addons):
                shutil.copytree(self.flavour.addons_dir / addon, addons_dir / addon,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        self.addons_path = [*_odoo_addons_dirs(), str(addons_dir), str(BENCH_ADDONS)]
        modules = (*MODULES, *self.extra_addons)
        _logger.info("%s: installing %s (addons path %s)", self.flavour.label, ",".join(modules), self.addons_path)
        result = init_database(self.cluster, DB_NAME, modules, addons_path=self.addons_path)
        for record in result.errors:
            _logger.warning("%s install: %s", self.flavour.label, record.first_line)
        self.server = OdooServer(
            self.cluster, DB_NAME, workers=self.workers, server_wide_modules=(*SERVER_WIDE, *self.extra_addons),
            addons_path=self.addons_path, sections={"queue_job": {"channels": "root:1", **self.queue_job_options}},
            name=f"odoo-{self.flavour.key}",
        )

    def connect(self) -> psycopg2.extensions.connection:
        """The bench's own autocommit connection (its backend is left out of CPU figures)."""
        if self.conn is None or self.conn.closed:
            self.conn = self.cluster.connect(DB_NAME, autocommit=True, application_name="queue_job bench")
        return self.conn

    def backend_pid(self) -> int:
        return int(self.connect().get_backend_pid())

    def close(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.close()
        if self.server is not None:
            self.server.stop()
        self.cluster.close()

    # -- server ------------------------------------------------------------------

    def start_server(self, channels: str, ready_timeout: float) -> Started:
        """(Re)start the server with ``[queue_job] channels``; wait until its runner is ready."""
        server = self._server()
        if server.running:
            server.stop()
        server.sections["queue_job"] = {**self.queue_job_options, "channels": channels}
        since = server.log_offset()
        spawned_at = time.time()
        server.start()
        server.wait_for_workers(timeout=60)
        server.wait_for_log(self.flavour.runner_ready, timeout=ready_timeout, since=since)
        records = parse_log(server.log_text(since))
        first_ready = next(i for i, r in enumerate(records) if re.search(self.flavour.runner_ready, r.message))
        # The last start before the ready line: a runner that restarted loads everything again.
        starts = [r for r in records[:first_ready] if re.search(self.flavour.runner_start, r.message)]
        runner_pid = self.runner_pid()
        info = Started(
            spawned_at=spawned_at,
            runner_started_at=log_epoch(starts[-1].time) if starts else None,
            ready_at=log_epoch(records[first_ready].time),
            runner_pid=runner_pid,
        )
        _logger.info("%s: server up with channels %s, runner %s ready after %.1fs",
                     self.flavour.label, channels, runner_pid, info.ready_at - spawned_at)
        return info

    def warm_up(self, count: int) -> None:
        """Run ``count`` no-op jobs and forget them: the first requests of a worker cost more.

        Also waits for the gevent process, which boots after the HTTP workers.
        """
        server = self._server()
        try:
            server.wait_for_log(r"Evented Service \(longpolling\) running", timeout=30)
        except OdooError:
            _logger.warning("%s: the gevent process did not start", self.flavour.label)
        conn = self.connect()
        batch = jobs.insert_jobs(conn, "bench_noop", count, priority=1)
        drained = jobs.wait_drained(conn, batch, 0.05, timeout=60, stall=30)
        if drained.unfinished:
            _logger.warning("%s: %d warm-up jobs not done after a minute", self.flavour.label, drained.unfinished)
        jobs.delete_batch(conn, batch)

    def stop_server(self) -> None:
        if self.server is not None and self.server.running:
            self.server.stop()

    def runner_pid(self, timeout: float = 30) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self._server().worker_pids(self.flavour.runner_class)
            if pids:
                return pids[0]
            time.sleep(0.1)
        _logger.warning("%s: no %s process found", self.flavour.label, self.flavour.runner_class)
        return None

    def _server(self) -> OdooServer:
        if self.server is None:
            raise RuntimeError("call create() first")
        return self.server

    # -- odoo-bin shell ------------------------------------------------------------

    def shell(self, script: str, params: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
        """Run bench/lib/in_shell/<script> in ``odoo-bin shell``; return the JSON it wrote."""
        self._shell_runs += 1
        workdir = self.cluster.socket_dir / "odoo"
        stem = f"shell-{self.flavour.key}-{self._shell_runs}"
        conf = write_odoo_conf(
            workdir / f"{stem}.conf", **database_options(self.cluster), addons_path=self.addons_path,
            data_dir=workdir / "data", server_wide_modules=list(SERVER_WIDE), workers=0,
            max_cron_threads=0, http_enable=False, logfile=workdir / f"{stem}.log", log_level="info",
        )
        result_path = workdir / f"{stem}.json"
        env = {key: value for key, value in os.environ.items()
               if key not in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "ODOO_RC")}
        env.update(
            TZ="UTC", PYTHONUNBUFFERED="1",
            ODOO_QUEUE_JOB_CHANNELS="root:0",  # no runner thread in the shell process
            QUEUE_JOB_BENCH_PARAMS=json.dumps({**params, "result_path": str(result_path)}),
        )
        command = [*odoo_bin_cmd(), "shell", "-c", str(conf), "-d", DB_NAME, "--no-http"]
        with open(IN_SHELL / script, "rb") as stdin, open(workdir / f"{stem}.out", "wb") as out:
            proc = subprocess.run(command, stdin=stdin, stdout=out, stderr=subprocess.STDOUT,
                                  cwd=workdir, env=env, timeout=timeout, check=False)
        if proc.returncode != 0 or not result_path.exists():
            tail = (workdir / f"{stem}.log").read_text(errors="replace")[-4000:]
            raise OdooError(f"odoo-bin shell {script} failed (exit code {proc.returncode})",
                            log_tail=tail, log_path=workdir / f"{stem}.log")
        result: dict[str, Any] = json.loads(result_path.read_text())
        return result

    # -- logs ------------------------------------------------------------------------

    def log_problems(self) -> list[str]:
        """WARNING/ERROR lines of every Odoo log of this stack (install, shells, server)."""
        workdir = self.cluster.socket_dir / "odoo"
        lines = []
        for path in sorted(workdir.glob("*.log")):
            for record in parse_log(path.read_text(errors="replace")):
                if record.level in ("WARNING", "ERROR", "CRITICAL"):
                    lines.append(f"{path.name}: {record.level} {record.logger}: {record.first_line}")
        return lines
