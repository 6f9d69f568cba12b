"""The chaos rounds, shared by the pytest tests and ``python3 -m tests.chaos``.

The stack: a throwaway PostgreSQL cluster, one database with ``queue_job`` and
``queue_job_probe``, and a prefork Odoo server ("node") with 2 HTTP workers
and the jobrunner (``channels = root:2,root.probe:1``, ``heal_interval = 1``).
It lives for the whole run: rounds follow one another on the same cluster and
database; a fault that kills a node replaces it.

A round:

1. checks the stack is healthy: the node's workers are up, one runner, and
   that runner holds the runner lock of the database;
2. enqueues a mix of jobs in root and root.probe, in one transaction over
   JSON-RPC: short ``job_touch``, ``job_sleep`` of 0.2-3 s (a few of 3 s
   spread through the queue, so that whenever the fault comes a job is
   mid-run), ``job_fail`` and ``job_retry_until(2)``;
3. waits until a tenth of the jobs ended and a ``job_sleep`` with at least a
   second of work left runs, then injects the fault (for the worker kill: the
   worker running that job);
4. recovers what an operator would (starts the killed server again; nothing
   for a killed worker or runner, nor for PostgreSQL: they must come back by
   themselves), then waits until no job of the round is pending, enqueued,
   started or waiting (at most HEAL_DEADLINE s after the fault);
5. checks every job: touch, sleep and retry_until end done with exactly one
   effect row, job_fail ends failed with ``odoo.exceptions.UserError`` and
   its message; a job whose worker died at the fault went back to pending
   within REQUEUE_LIMIT s with the lost try counted.

Counted per round: *lost* (a job that vanished or is still pending/waiting at
the deadline), *stranded* (still started or enqueued), *ran twice* (more
than one effect row for one job uuid: each committed run of a probe job
writes one, in the transaction that marks it done), *time to heal* (from
the fault until the first job started by a request a runner sent after the
fault, or until every job ended if none had to start). A round passes only
with no lost, stranded or twice-run job and no other problem: a job that
did not end as its function says, a lost try not counted, a job not put
back within REQUEUE_LIMIT s, a time to heal over HEAL_LIMIT s, a runner not
leading again within RECONNECT_LIMIT s of PostgreSQL being back, a standby
runner that dispatched or did not take over within FAILOVER_LIMIT s.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2

TESTS_DIR = Path(__file__).resolve().parents[1]
# Same module names as pytest gives them (tests/ is its rootdir basedir), so
# the harness is imported once whichever way the suite is started.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from e2e.helpers import addons_path, load_engine_module, wait_for  # noqa: E402
from harness.odoo_oneshot import init_database  # noqa: E402
from harness.odoo_rpc import OdooRpc  # noqa: E402
from harness.odoo_server import OdooServer  # noqa: E402
from harness.odoo_setup import OdooError  # noqa: E402
from harness.pgcluster import PgCluster  # noqa: E402
from harness.procs import pid_alive  # noqa: E402

_logger = logging.getLogger("tests.chaos")

DB_NAME = "qj_chaos"
MODULES = ("queue_job", "queue_job_probe")
SERVER_WIDE_MODULES = ("base", "web", "queue_job")
WORKERS = 2
QUEUE_JOB_SECTION = {
    "channels": "root:2,root.probe:1",
    "heal_interval": 1,
    # A job handed to a worker by a runner that died since is put back after
    # this long; the default (60 s) would make every round that kills a
    # runner last a minute more.
    "enqueued_grace": 10,
    # Small, for the job that kills its own worker; no round makes a job
    # lose its worker more than once.
    "max_worker_losses": 2,
}
HEAL_DEADLINE = 120.0  # seconds after the fault for every job of the round to end
REQUEUE_LIMIT = 60.0  # a job whose worker died is pending again within this many seconds
FAILOVER_LIMIT = 30.0  # the standby runner leads within this many seconds of the leader's death
# The queue works again within this many seconds of the fault: below the
# runner's 30 s poll, so a runner that only finds work again by polling fails.
HEAL_LIMIT = 25.0
RECONNECT_LIMIT = 10.0  # the runner leads again within this many seconds of PostgreSQL being back
READY = f"queue job runner ready for db {DB_NAME}"
STANDBY = f"another runner dispatches for db {DB_NAME}; standing by"
RUNNER_LOCK_NS = load_engine_module("sql").RUNNER_LOCK_NS
FINAL = ("done", "failed", "cancelled")
WAITING = ("pending", "wait_dependencies")
RUNNING = ("enqueued", "started")
USER_ERROR = "odoo.exceptions.UserError"


# ------------------------------------------------------------------ modes
@dataclass(frozen=True)
class Mode:
    name: str
    rounds: int  # per fault
    jobs: int  # per round


MODES = {"quick": Mode("quick", 1, 60), "full": Mode("full", 5, 300)}


def current_mode(default: str = "quick") -> Mode:
    name = os.environ.get("QUEUE_JOB_TEST_MODE") or default
    if name not in MODES:
        raise ValueError(f"QUEUE_JOB_TEST_MODE={name!r}: expected one of {', '.join(MODES)}")
    return MODES[name]


def utcnow() -> dt.datetime:
    """Now, as queue_job stores times: UTC without time zone (same clock as the local cluster)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# ------------------------------------------------------------------ jobs
@dataclass
class PlannedJob:
    kind: str  # touch, sleep, fail, retry, killer
    method: str
    args: list[Any]
    channel: str
    seconds: float = 0.0  # work of a job_sleep
    uuid: str = ""

    def mismatch(self, row: dict[str, Any], runs: int) -> str | None:
        """Why this job did not end as its function says, or None."""
        state = row["state"]
        if self.kind == "fail":
            if state != "failed" or row["exc_name"] != USER_ERROR or row["exc_message"] != self.args[0]:
                return (f"expected failed ({USER_ERROR}: {self.args[0]}), "
                        f"got {state} ({row['exc_name']}: {row['exc_message']})")
            if runs:
                return f"failed but left {runs} effect row(s)"
            return None
        if self.kind == "killer":
            message = row["exc_message"] or ""
            if state != "failed" or row["exc_name"] != "queue_job.WorkerLost" or "worker" not in message.lower() \
                    or "died" not in message:
                return f"expected failed saying its worker died, got {state} ({row['exc_name']}: {message})"
            return None
        if state != "done":
            return f"expected done, got {state} ({row['exc_name']}: {row['exc_message']})"
        if runs != 1:
            return f"done with {runs} effect rows"
        if self.kind == "retry" and row["retry"] < 2:
            return f"retry_until(2) done after {row['retry']} tries"
        return None


def make_plan(count: int, rng: random.Random, label: str, quiet: bool = False) -> list[PlannedJob]:
    """The round's jobs; ``quiet``: touch and sleep only (no retry ETA, no NOTIFY once they run)."""
    jobs = []
    for n in range(count):
        channel = "root.probe" if n % 2 else "root"
        draw = rng.random()
        if quiet and draw >= 0.65:
            draw = rng.random() * 0.65
        if draw < 0.45:
            jobs.append(PlannedJob("touch", "job_touch", [f"{label} touch"], channel))
        elif draw < 0.65:
            # Mostly short, some up to 3 s.
            seconds = round(0.2 + 2.8 * rng.random() ** 2, 2)
            jobs.append(PlannedJob("sleep", "job_sleep", [seconds, f"{label} sleep"], channel, seconds))
        elif draw < 0.80:
            jobs.append(PlannedJob("fail", "job_fail", [f"chaos failure {label} #{n}"], channel))
        else:
            jobs.append(PlannedJob("retry", "job_retry_until", [2, f"{label} retry"], channel))
    # Long jobs spread through the queue (jobs start in about the order they
    # were enqueued): whenever the fault comes, one of them is mid-run.
    for fraction in (0.15, 0.3, 0.45, 0.6, 0.75, 0.9):
        n = int(count * fraction)
        channel = jobs[n].channel
        jobs[n] = PlannedJob("sleep", "job_sleep", [3.0, f"{label} long sleep"], channel, 3.0)
    return jobs


# ---------------------------------------------------------------- results
@dataclass
class RoundResult:
    number: int
    fault: str
    jobs: int = 0
    done: int = 0
    failed: int = 0
    lost: int = 0
    stranded: int = 0
    ran_twice: int = 0
    heal_seconds: float | None = None
    seconds: float = 0.0  # wall time of the whole round
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.lost or self.stranded or self.ran_twice or self.problems)

    def describe(self) -> str:
        lines = [f"round {self.number} ({self.fault}): {'passed' if self.passed else 'FAILED'} in {self.seconds:.0f} s"]
        lines += [f"  problem: {p}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"  ... and {len(self.problems) - 20} more problems")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


COLUMNS = ("round", "fault", "jobs", "done", "failed", "lost", "stranded", "ran twice", "time to heal", "result")


def format_table(results: Iterable[RoundResult], title: str = "") -> str:
    rows = [
        (
            str(r.number), r.fault, str(r.jobs), str(r.done), str(r.failed), str(r.lost), str(r.stranded),
            str(r.ran_twice), "-" if r.heal_seconds is None else f"{r.heal_seconds:.1f} s",
            "ok" if r.passed else "FAILED",
        )
        for r in results
    ]
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(COLUMNS)]

    def line(cells):
        return "  ".join(cell.ljust(w) if i == 1 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))

    out = [title] if title else []
    out += [line(COLUMNS), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    return "\n".join(out)


# ----------------------------------------------------------------- faults
@dataclass
class Fault:
    """What a fault did: when, and the jobs whose worker it killed mid-run."""

    at: dt.datetime  # UTC, as queue_job stores times
    monotonic: float
    lost: dict[str, dict[str, Any]] = field(default_factory=dict)  # uuid -> row when its worker died


FAULTS = {
    "worker": "kill -9 worker",
    "runner": "kill -9 runner",
    "server": "kill -9 server + start",
    "postgres": "restart PostgreSQL",
    "failover": "2nd runner, kill -9 1st",
}
FAULT_ORDER = tuple(FAULTS)
# The respawned runner inherits slots held by the dead runner's jobs: with
# only touch and sleep jobs, nothing but its own re-checks tells it when they
# free up (found by the chaos rounds: it waited for its 30 s poll).
QUIET_RUNNER = "kill -9 runner, touch/sleep only"
KILLER = "job kills its worker"


class ChaosStack:
    """The cluster, the database and the Odoo node(s), and the rounds run against them."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.cluster: PgCluster | None = None
        self.nodes: list[OdooServer] = []  # every node started, for the final cleanup
        self.primary: OdooServer | None = None  # the node whose runner dispatches
        self.standby: OdooServer | None = None
        self.results: list[RoundResult] = []
        self._conn = None
        self._before_restart: tuple[list[int], list[int]] = ([], [])  # runner and HTTP worker pids

    # ------------------------------------------------------- lifecycle
    def start(self) -> ChaosStack:
        keep = os.environ.get("CHAOS_KEEP") == "1"  # keep the cluster directory (logs) for a post-mortem
        self.cluster = PgCluster(fast=True, keep=keep, password=secrets.token_hex(16), auth="scram-sha-256")
        self.cluster.start()
        result = init_database(self.cluster, DB_NAME, MODULES, addons_path=addons_path(),
                               server_wide_modules=SERVER_WIDE_MODULES)
        if result.errors:
            raise RuntimeError("errors while installing:\n" + "\n".join(map(str, result.errors)))
        self.primary = self._start_node()
        self.primary.wait_for_log(re.escape(READY), timeout=60)
        self.assert_healthy()
        return self

    def _start_node(self) -> OdooServer:
        assert self.cluster is not None
        node = OdooServer(
            self.cluster, DB_NAME, workers=WORKERS, server_wide_modules=SERVER_WIDE_MODULES,
            addons_path=addons_path(), sections={"queue_job": dict(QUEUE_JOB_SECTION)},
            name=f"chaos{len(self.nodes) + 1}",
        )
        self.nodes.append(node)  # before start(): a node that fails to start is cleaned up too
        node.start()
        return node

    def close(self) -> None:
        """Stop every process this stack started, even after a failure."""
        for node in self.nodes:
            try:
                node.stop()
            except Exception:  # noqa: BLE001 - go on with the others, then kill what is left
                _logger.exception("could not stop %r; killing it", node)
                try:
                    node.kill_all()
                except Exception:  # noqa: BLE001
                    _logger.exception("could not kill %r", node)
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
            self._conn = None
        if self.cluster is not None:
            self.cluster.close()

    # ------------------------------------------------------------ SQL
    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run a statement on our own connection, reconnecting after a PostgreSQL restart."""
        assert self.cluster is not None
        for attempt in range(5):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self.cluster.connect(DB_NAME, autocommit=True)
                with self._conn.cursor() as cur:
                    cur.execute(statement, params)
                    return cur.fetchall() if cur.description else []
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                if self._conn is not None:
                    try:
                        self._conn.close()
                    except psycopg2.Error:
                        pass
                self._conn = None
                if attempt == 4:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    ROW_COLUMNS = ("uuid", "state", "retry", "worker_pid", "worker_losses", "date_enqueued", "date_started",
                   "date_done", "exc_name", "exc_message", "channel")

    def rows(self, uuids: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = self.query(f"SELECT {', '.join(self.ROW_COLUMNS)} FROM queue_job WHERE uuid = ANY(%s)", (list(uuids),))
        return {row[0]: dict(zip(self.ROW_COLUMNS, row)) for row in rows}

    def effect_counts(self, uuids: Iterable[str]) -> dict[str, int]:
        return dict(self.query(
            "SELECT job_uuid, count(*) FROM queue_job_probe_effect WHERE job_uuid = ANY(%s) GROUP BY job_uuid",
            (list(uuids),),
        ))

    def leader_pid(self) -> int | None:
        """The pid of the runner holding the runner lock of the database (None if none, or several)."""
        holders = self.query(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = 0 AND l.objsubid = 2"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (RUNNER_LOCK_NS,),
        )
        if len(holders) != 1:
            return None
        match = re.fullmatch(r"queue_job runner (\d+)", holders[0][0] or "")
        return int(match.group(1)) if match else None

    # --------------------------------------------------------- health
    def runner_pids(self, node: OdooServer | None = None) -> list[int]:
        node = node or self.primary
        assert node is not None
        return node.worker_pids("RunnerWorker")

    def assert_healthy(self, timeout: float = 60) -> None:
        """The primary's master and workers are up, it has one runner, and that runner leads the database."""
        node = self.primary
        assert node is not None and node.running, f"the Odoo master died; see {node and node.log_path}"
        node.wait_for_workers(timeout=timeout)
        wait_for(lambda: len(self.runner_pids()) == 1, timeout, "exactly one RunnerWorker",
                 describe=lambda: node.processes())
        wait_for(lambda: self.leader_pid() in self.runner_pids(), timeout,
                 "the primary's runner to hold the runner lock", interval=0.2, describe=self.diagnostics)

    def diagnostics(self) -> str:
        parts = []
        for node in self.nodes:
            if node.running:
                try:
                    parts.append(f"{node}: {node.processes()}")
                except Exception as exc:  # noqa: BLE001 - best effort
                    parts.append(f"{node}: {exc!r}")
        try:
            parts.append(f"runner lock held by pid {self.leader_pid()}")
            rows = self.query("SELECT state, channel, count(*) FROM queue_job GROUP BY 1, 2 ORDER BY 1, 2")
            parts.append("jobs by state:\n" + "\n".join(f"  {row}" for row in rows))
        except Exception as exc:  # noqa: BLE001 - best effort
            parts.append(f"database: {exc!r}")
        for node in self.nodes[-2:]:
            log = node.log_text().splitlines()
            parts.append(f"log of {node.name} ({node.log_path}), last 40 lines:\n" + "\n".join(log[-40:]))
        return "\n".join(parts)

    # ---------------------------------------------------------- rounds
    def enqueue(self, jobs: list[PlannedJob], label: str) -> None:
        assert self.primary is not None
        rpc = OdooRpc(self.primary.url, DB_NAME, "admin", "admin")
        uuids = rpc.call("queue.job.probe", "enqueue_chaos", [[j.method, j.args, j.channel] for j in jobs], label)
        assert len(uuids) == len(jobs)
        for job, uuid in zip(jobs, uuids):
            job.uuid = uuid

    def wait_mid_run(self, jobs: list[PlannedJob], timeout: float = 90) -> dict[str, Any]:
        """Wait until a tenth of the jobs ended and a job_sleep with a second of work left runs; return its row."""
        sleeps = {job.uuid: job for job in jobs if job.kind == "sleep"}
        uuids = [job.uuid for job in jobs]
        deadline = time.monotonic() + timeout
        while True:
            now = self.query("SELECT now() AT TIME ZONE 'UTC'")[0][0]
            rows = self.rows(uuids)
            ended = sum(1 for row in rows.values() if row["state"] in FINAL)
            if ended >= len(jobs) // 10:
                running = [
                    (sleeps[uuid].seconds - (now - row["date_started"]).total_seconds(), row)
                    for uuid, row in rows.items()
                    if uuid in sleeps and row["state"] == "started" and row["worker_pid"] and row["date_started"]
                ]
                running = [(left, row) for left, row in running if left >= 1.0]
                if running:
                    return max(running, key=lambda item: item[0])[1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no job_sleep ran with a second of work left within {timeout}s "
                                     f"({ended} of {len(jobs)} jobs ended)")
            time.sleep(0.05)

    def _started_on(self, uuids: Iterable[str], pids: Iterable[int]) -> dict[str, dict[str, Any]]:
        pids = set(pids)
        return {uuid: row for uuid, row in self.rows(uuids).items()
                if row["state"] == "started" and row["worker_pid"] in pids}

    def _fault_worker(self, result, jobs, victim) -> Fault:
        node = self.primary
        pid = victim["worker_pid"]
        assert pid in node.worker_pids("http"), f"worker_pid {pid} of job {victim['uuid']} is no HTTP worker of {node}"
        fault = Fault(utcnow(), time.monotonic(), {victim["uuid"]: victim})
        node.kill_worker(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), 10, f"worker {pid} to die")
        # The master replaces it by itself.
        node.wait_for_workers(timeout=30, exclude=[pid])
        return fault

    def _fault_runner(self, result, jobs, victim) -> Fault:
        node = self.primary
        (runner,) = self.runner_pids()
        offset = node.log_offset()
        fault = Fault(utcnow(), time.monotonic())
        node.kill_worker(runner, signal.SIGKILL)
        wait_for(lambda: not pid_alive(runner), 10, f"runner {runner} to die")
        # The master starts a new runner, which leads again: nothing to do but wait.
        node.wait_for_log(re.escape(READY), timeout=60, since=offset)
        result.notes.append(f"new runner leads {time.monotonic() - fault.monotonic:.1f} s after the kill")
        return fault

    def _fault_server(self, result, jobs, victim) -> Fault:
        node = self.primary
        pids = set(node.processes().workers)
        fault = Fault(utcnow(), time.monotonic())
        node.kill_all()
        # Nothing runs now: every job still started lost its worker.
        fault.lost = self._started_on([j.uuid for j in jobs], pids)
        node.start()
        node.wait_for_log(re.escape(READY), timeout=60)
        result.notes.append(f"{len(fault.lost)} job(s) were running; server up and leading again "
                            f"{time.monotonic() - fault.monotonic:.1f} s after the kill")
        return fault

    def _fault_postgres(self, result, jobs, victim) -> Fault:
        assert self.cluster is not None
        node = self.primary
        master, runners, workers = node.pid, self.runner_pids(), node.worker_pids("http")
        # Fast shutdown (sessions terminated) or immediate (a crash: recovery at start),
        # and down for a few seconds, so that reconnecting fails for a while.
        mode = "fast" if result.number % 2 else "immediate"
        down = 2.0 + 2 * ((result.number - 1) % 3)
        offset = node.log_offset()
        fault = Fault(utcnow(), time.monotonic())
        self.cluster.stop(mode=mode)
        time.sleep(down)
        self.cluster.restart()  # starts it again on the same port
        back = time.monotonic()
        result.fault = f"{FAULTS['postgres']} ({mode})"
        result.notes.append(f"PostgreSQL down for {back - fault.monotonic:.1f} s")
        # Nothing to recover: the runner and the workers must reconnect by themselves.
        try:
            node.wait_for_log(re.escape(READY), timeout=RECONNECT_LIMIT, since=offset)
            result.notes.append(f"the runner leads again {time.monotonic() - back:.1f} s after PostgreSQL is back")
        except OdooError:
            result.problems.append(f"the runner did not lead again within {RECONNECT_LIMIT:g} s of PostgreSQL "
                                   "being back")
        assert node.pid == master
        self._before_restart = (runners, workers)
        return fault

    def _prepare_failover(self, result) -> None:
        """Start a second node on the same database: its runner must stand by."""
        leader = self.leader_pid()
        assert leader in self.runner_pids(), f"runner lock held by {leader}, not by the primary's runner"
        self.standby = self._start_node()
        self.standby.wait_for_log(re.escape(STANDBY), timeout=60)
        if READY in self.standby.log_text(self.standby._log_mark):
            result.problems.append("the second node's runner said it leads while the first one led")
        if self.leader_pid() != leader:
            result.problems.append(f"the runner lock moved from {leader} to {self.leader_pid()} "
                                   "when the 2nd node started")

    def _fault_failover(self, result, jobs, victim) -> Fault:
        old, new = self.primary, self.standby
        assert old is not None and new is not None
        # Exactly one runner dispatched: no job of the round ran on the standby's workers.
        on_standby = [row["uuid"] for row in self.rows([j.uuid for j in jobs]).values()
                      if row["worker_pid"] in set(new.worker_pids("http"))]
        if on_standby:
            result.problems.append(f"{len(on_standby)} job(s) ran on the standby node's workers: {on_standby[:5]}")
        pids = set(old.processes().workers)
        offset = new.log_offset()
        fault = Fault(utcnow(), time.monotonic())
        old.kill_all()  # the leader's whole process group
        fault.lost = self._started_on([j.uuid for j in jobs], pids)
        try:
            new.wait_for_log(re.escape(READY), timeout=FAILOVER_LIMIT, since=offset)
            result.notes.append(f"standby took over {time.monotonic() - fault.monotonic:.1f} s after the kill")
        except OdooError:
            result.problems.append(f"the standby runner did not take over within {FAILOVER_LIMIT:g} s")
            new.wait_for_log(re.escape(READY), timeout=HEAL_DEADLINE, since=offset)
        self.primary, self.standby = new, None
        return fault

    def run_round(self, number: int, fault_name: str, quiet: bool = False) -> RoundResult:
        result = RoundResult(number, QUIET_RUNNER if quiet else FAULTS[fault_name])
        label = f"r{number}-{fault_name}{'-quiet' if quiet else ''}"
        rng = random.Random(label)
        started = time.monotonic()
        jobs: list[PlannedJob] = []
        fault = None
        _logger.info("chaos round %s: %s", number, result.fault)
        try:
            self.assert_healthy()
            if fault_name == "failover":
                self._prepare_failover(result)
            jobs = make_plan(self.mode.jobs, rng, label, quiet)
            self.enqueue(jobs, label)
            result.jobs = len(jobs)
            victim = self.wait_mid_run(jobs)
            fault = getattr(self, f"_fault_{fault_name}")(result, jobs, victim)
            requeued = self._observe(jobs, fault, result)
            self._evaluate(jobs, fault, requeued, result)
            if result.heal_seconds is None or result.heal_seconds > HEAL_LIMIT:
                healed = "never" if result.heal_seconds is None else f"{result.heal_seconds:.1f} s"
                result.problems.append(f"the queue stalled: no job sent by a runner started within {HEAL_LIMIT:g} s "
                                       f"of the fault ({healed})")
            self.assert_healthy()
            if fault_name == "postgres":
                runners, workers = self._before_restart
                replaced = [kind for kind, before, now in (
                    ("runner", runners, self.runner_pids()), ("HTTP workers", workers, self.primary.worker_pids("http"))
                ) if before != now]
                result.notes.append(f"{' and '.join(replaced)} replaced after the restart" if replaced else
                                    "the same runner and HTTP worker processes went on after the restart")
        except Exception as exc:  # noqa: BLE001 - a broken round is reported, and the next one runs
            _logger.exception("chaos round %s (%s) broke", number, result.fault)
            result.problems.append(f"round broke: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            result.notes.append(self.diagnostics())
            if jobs and jobs[0].uuid and fault is not None and not (result.done or result.failed):
                try:
                    self._evaluate(jobs, fault, {}, result)
                except Exception:  # noqa: BLE001
                    _logger.exception("could not evaluate the jobs of the broken round")
        result.seconds = time.monotonic() - started
        self.results.append(result)
        _logger.info("%s", result.describe())
        return result

    def _observe(self, jobs: list[PlannedJob], fault: Fault, result: RoundResult) -> dict[str, float]:
        """Wait until every job of the round ended (or the deadline); measure the healing."""
        uuids = [job.uuid for job in jobs]
        deadline = fault.monotonic + HEAL_DEADLINE
        requeued: dict[str, float] = {}  # lost job -> seconds from the fault until it left its dead worker
        first_start = None
        while True:
            rows = self.rows(uuids)
            now = time.monotonic()
            for uuid, before in fault.lost.items():
                row = rows.get(uuid)
                gone = row is None or row["state"] != "started" or row["retry"] != before["retry"]
                if gone and uuid not in requeued:
                    requeued[uuid] = now - fault.monotonic
            if first_start is None:
                # Started after the fault by a request a runner sent after the fault (a
                # job a worker pulls within its slot has date_enqueued = date_started).
                found = self.query(
                    "SELECT date_started, date_enqueued, uuid FROM queue_job WHERE uuid = ANY(%s)"
                    " AND date_enqueued > %s AND date_started > date_enqueued ORDER BY date_started LIMIT 1",
                    (uuids, fault.at),
                )
                if found:
                    first_start, enqueued_at, uuid = found[0]
                    result.notes.append(
                        f"first job sent by a runner after the fault: {uuid}, enqueued "
                        f"{(enqueued_at - fault.at).total_seconds():.2f} s and started "
                        f"{(first_start - fault.at).total_seconds():.2f} s after it"
                    )
            if len(rows) == len(uuids) and all(row["state"] in FINAL for row in rows.values()):
                if first_start is None:
                    result.heal_seconds = now - fault.monotonic
                break
            if now > deadline:
                break
            time.sleep(0.2)
        if first_start is not None:
            result.heal_seconds = max(0.0, (first_start - fault.at).total_seconds())
        return requeued

    def _evaluate(self, jobs: list[PlannedJob], fault: Fault, requeued: dict[str, float], result: RoundResult) -> None:
        uuids = [job.uuid for job in jobs]
        rows = self.rows(uuids)
        effects = self.effect_counts(uuids)
        result.done = result.failed = result.lost = result.stranded = result.ran_twice = 0
        for job in jobs:
            row = rows.get(job.uuid)
            runs = effects.get(job.uuid, 0)
            if runs > 1:
                result.ran_twice += 1
                result.problems.append(f"{job.kind} job {job.uuid}: {runs} effect rows")
            if row is None:
                result.lost += 1
                result.problems.append(f"{job.kind} job {job.uuid} vanished")
                continue
            state = row["state"]
            if state in RUNNING:
                result.stranded += 1
                result.problems.append(f"{job.kind} job {job.uuid} left {state} (worker_pid {row['worker_pid']})")
                continue
            if state not in FINAL:
                result.lost += 1
                result.problems.append(f"{job.kind} job {job.uuid} never ended: {state}")
                continue
            result.done += state == "done"
            result.failed += state == "failed"
            mismatch = job.mismatch(row, runs)
            if mismatch:
                result.problems.append(f"{job.kind} job {job.uuid}: {mismatch}")
            # Every lost worker counted a try, and a job that ended by a run of its own had one more.
            losses = row["worker_losses"] or 0
            own_end = 0 if row["exc_name"] == "queue_job.WorkerLost" else 1
            if row["retry"] < losses + own_end:
                ended_by = "by itself" if own_end else "by the healer"
                result.problems.append(f"{job.kind} job {job.uuid}: lost its worker {losses} time(s), ended "
                                       f"{ended_by}, yet only {row['retry']} tries counted")
        losses = sum(1 for row in rows.values() if row["worker_losses"])
        if losses:
            result.notes.append(f"{losses} job(s) lost their worker and were run again")
        for uuid, before in fault.lost.items():
            row = rows.get(uuid)
            if row is None or row["state"] not in FINAL:
                continue  # counted above
            if row["retry"] <= before["retry"]:
                if row["date_done"] is not None and row["date_done"] <= fault.at:
                    result.notes.append(f"job {uuid} ended just before the fault")
                    continue
                result.problems.append(f"job {uuid}: its worker died at try {before['retry']}, "
                                       f"yet it ended after {row['retry']} tries: the lost try was not counted")
            elif not row["worker_losses"]:
                result.problems.append(f"job {uuid}: its worker died, yet worker_losses is 0")
            seconds = requeued.get(uuid)
            if seconds is None or seconds > REQUEUE_LIMIT:
                result.problems.append(f"job {uuid}: not put back within {REQUEUE_LIMIT:g} s of its worker's death "
                                       f"({'never' if seconds is None else f'{seconds:.1f} s'})")
        if fault.lost:
            slowest = max(requeued.get(uuid, float("inf")) for uuid in fault.lost)
            result.notes.append(f"{len(fault.lost)} job(s) killed mid-run, all put back within {slowest:.1f} s")

    # ------------------------------------------------- worker killer
    def run_worker_killer(self, number: int = 1) -> RoundResult:
        """A job whose method kills its own worker: fails once max_worker_losses (2) workers died, saying so."""
        result = RoundResult(number, f"{KILLER} (max_worker_losses={QUEUE_JOB_SECTION['max_worker_losses']})")
        started = time.monotonic()
        try:
            self.assert_healthy()
            job = PlannedJob("killer", "job_kill_worker", [], "root")
            self.enqueue([job], f"r{number}-killer")
            result.jobs = 1
            dead_since: dict[int, float] = {}  # try -> when its worker was first seen dead
            back_after: dict[int, float] = {}  # try -> seconds until the job left that dead worker
            first_death = None
            deadline = time.monotonic() + HEAL_DEADLINE
            while True:
                row = self.rows([job.uuid])[job.uuid]
                now = time.monotonic()
                for tries, since in dead_since.items():
                    if tries not in back_after and not (row["state"] == "started" and row["retry"] == tries):
                        back_after[tries] = now - since
                if row["state"] == "started" and row["worker_pid"] and not pid_alive(row["worker_pid"]):
                    dead_since.setdefault(row["retry"], now)
                    first_death = first_death or now
                if row["state"] in FINAL or now > deadline:
                    break
                time.sleep(0.05)
            if first_death is not None:
                result.heal_seconds = time.monotonic() - first_death
            self._evaluate([job], Fault(utcnow(), time.monotonic()), {}, result)
            row = self.rows([job.uuid])[job.uuid]
            losses = QUEUE_JOB_SECTION["max_worker_losses"]
            if row["worker_losses"] != losses or row["retry"] != losses:
                result.problems.append(f"expected {losses} worker losses in {losses} tries, got "
                                       f"{row['worker_losses']} in {row['retry']}")
            for tries, seconds in back_after.items():
                if seconds > REQUEUE_LIMIT:
                    result.problems.append(f"try {tries}: put back {seconds:.1f} s after its worker died")
            result.notes.append(f"exc_message: {row['exc_message']}")
            # The master replaced the killed workers.
            self.assert_healthy()
        except Exception as exc:  # noqa: BLE001
            _logger.exception("chaos check %s broke", result.fault)
            result.problems.append(f"check broke: {type(exc).__name__}: {exc}")
            result.notes.append(self.diagnostics())
        result.seconds = time.monotonic() - started
        self.results.append(result)
        return result


def run_rounds(stack: ChaosStack, numbers: Iterable[int], faults: Iterable[str], quiet_runner: bool = False,
               progress: Callable[[RoundResult], None] | None = None) -> list[RoundResult]:
    """Rounds interleaved: every fault of round 1, then of round 2...; ``quiet_runner`` adds QUIET_RUNNER."""
    results = []
    plays = [(name, False) for name in faults] + ([("runner", True)] if quiet_runner else [])
    for number in numbers:
        for name, quiet in plays:
            result = stack.run_round(number, name, quiet)
            results.append(result)
            if progress:
                progress(result)
    return results
