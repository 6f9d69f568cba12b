"""Helpers of the end-to-end tests: the live stack, waiting, parsing RPC answers."""

from __future__ import annotations

import importlib.util
import json
import re
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]
# The harness is imported as the package ``harness`` (from tests/), the name
# pytest gives it when it collects tests/harness, so there is one copy of it.
if str(REPO_ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "tests"))

from harness.odoo_logs import parse_log  # noqa: E402
from harness.odoo_oneshot import init_database  # noqa: E402
from harness.odoo_rpc import OdooRpc  # noqa: E402
from harness.odoo_server import OdooServer  # noqa: E402
from harness.odoo_setup import _odoo_env, default_addons_path, odoo_bin_cmd  # noqa: E402
from harness.pgcluster import PgCluster  # noqa: E402

DB_NAME = "qj_e2e"
MODULES = ("queue_job", "queue_job_probe")
CHANNELS = "root:2,root.probe:1"
HEAL_INTERVAL = 1
PLAIN_LOGIN = "e2e_plain"
PLAIN_PASSWORD = "e2e-plain-pw-42"
RUNNER_READY = f"queue job runner ready for db {DB_NAME}"
FINAL_STATES = ("done", "failed", "cancelled")


def load_engine_module(name: str) -> Any:
    """A module of queue_job/engine (which imports no Odoo), loaded by path.

    ``import queue_job`` would import Odoo into the test process.
    """
    path = REPO_ROOT / "queue_job" / "engine" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"queue_job_e2e_engine_{name}", path)
    assert spec and spec.loader, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNNER_LOCK_NS = load_engine_module("sql").RUNNER_LOCK_NS


def addons_path() -> list[str]:
    """Odoo's own addons, the repository root and tests/addons (from REPO_ROOT)."""
    paths = default_addons_path()
    for wanted in (REPO_ROOT, REPO_ROOT / "tests" / "addons"):
        if str(wanted.resolve()) not in paths:
            paths.append(str(wanted.resolve()))
    return paths


# --------------------------------------------------------------------- waiting
def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.1,
    describe: Callable[[], Any] | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{describe()}" if describe else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{detail}")
        time.sleep(interval)


_JOB_REPR = re.compile(r"<Job ([0-9a-f-]{36}), priority:-?\d+>")


def job_uuid_from_rpc(value: Any) -> str:
    """The uuid in the JSON-RPC answer of a method returning a Job ("<Job uuid, priority:N>")."""
    match = _JOB_REPR.fullmatch(str(value))
    assert match, f"expected a Job from the RPC call, got {value!r}"
    return match.group(1)


# ------------------------------------------------------ a stack of one's own
@contextmanager
def own_stack(db: str, modules: Iterable[str], *, name: str, ready_timeout: float = 120,
              demo: bool = False, **server_options: Any) -> Iterator[tuple[PgCluster, OdooServer]]:
    """A cluster, ``db`` with ``modules`` installed and a server whose runner is ready; all gone on exit.

    For a test module whose stack differs from the session's (other addons,
    settings, a threaded server); ``server_options`` go to OdooServer
    (prefork, workers=2 unless given). ``server_wide_modules``, when given,
    serves both the install and the server; else each keeps its own default.
    """
    wide = {"server_wide_modules": server_options["server_wide_modules"]} if "server_wide_modules" in server_options else {}
    cluster = PgCluster(fast=True, password=secrets.token_hex(16), auth="scram-sha-256")
    cluster.start()
    server = None
    try:
        result = init_database(cluster, db, tuple(modules), addons_path=addons_path(), demo=demo, **wide)
        assert not result.errors, "\n".join(map(str, result.errors))
        server = OdooServer(cluster, db, addons_path=addons_path(), name=name, **server_options)
        server.start()
        server.wait_for_log(re.escape(f"queue job runner ready for db {db}"), timeout=ready_timeout)
        yield cluster, server
    finally:
        if server:
            server.stop()
        cluster.close()


# ----------------------------------------------------------------------- stack
class Stack:
    """The live stack and the helpers tests use to drive and observe it."""

    def __init__(self, cluster: PgCluster, server: OdooServer) -> None:
        self.cluster = cluster
        self.server = server
        self.db = DB_NAME
        self._conn = cluster.connect(DB_NAME, autocommit=True)
        self._shell_runs = 0
        # uuids of the jobs tests make fail on purpose: their ERROR log
        # records are the only ones test_e2e_99_server_log accepts.
        self.expected_failures: set[str] = set()
        self.admin = OdooRpc(server.url, DB_NAME, "admin", "admin")
        self.admin_uid = self.admin.uid
        self.plain_uid = self._create_plain_user()
        self.plain = OdooRpc(server.url, DB_NAME, PLAIN_LOGIN, PLAIN_PASSWORD)
        assert self.plain.uid == self.plain_uid

    def close(self) -> None:
        self._conn.close()

    def _create_plain_user(self) -> int:
        group = self.admin.call("ir.model.data", "check_object_reference", "base", "group_user")
        uid = self.admin.call("res.users", "create", {
            "name": "E2E Plain User",
            "login": PLAIN_LOGIN,
            "password": PLAIN_PASSWORD,
            "groups_id": [(6, 0, [group[1]])],
        })
        manager = self.admin.call("ir.model.data", "check_object_reference", "queue_job", "group_queue_job_manager")
        groups = self.admin.call("res.users", "read", [uid], ["groups_id"])[0]["groups_id"]
        assert manager[1] not in groups, "the plain user must not be a queue manager"
        return int(uid)

    # -------------------------------------------------------------- SQL
    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def execute(self, sql: str, params: Any = None) -> int:
        with self._conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount

    def jobs(self, uuids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """uuid -> queue_job row (as a dict) for these jobs."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT * FROM queue_job WHERE uuid = ANY(%s)", (list(uuids),))
            names = [column.name for column in cur.description]
            return {row["uuid"]: row for row in (dict(zip(names, values)) for values in cur.fetchall())}

    def job(self, uuid: str) -> dict[str, Any]:
        rows = self.jobs([uuid])
        assert uuid in rows, f"job {uuid} not found in queue_job"
        return rows[uuid]

    def effects(self, uuids: Iterable[str]) -> list[dict[str, Any]]:
        """Effect rows (one per committed run) of these jobs, in creation order."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT id, probe_id, tag, job_uuid, create_uid FROM queue_job_probe_effect"
                " WHERE job_uuid = ANY(%s) ORDER BY id",
                (list(uuids),),
            )
            names = [column.name for column in cur.description]
            return [dict(zip(names, values)) for values in cur.fetchall()]

    def effect_count(self, uuid: str) -> int:
        return self.query("SELECT count(*) FROM queue_job_probe_effect WHERE job_uuid = %s", (uuid,))[0][0]

    @contextmanager
    def busy_probe_channel(self) -> Iterator[str]:
        """Keep root.probe (capacity 1) busy with one started job until the block exits.

        The blocker is a job_touch (channel root.probe) on a probe whose row
        this test holds locked: the job starts, then waits on the lock, so
        the channel stays busy for exactly as long as the test needs,
        whatever the machine's load. Yields the blocker's uuid; on exit the
        lock is released and the blocker ends.
        """
        probe_id = self.admin.call("queue.job.probe", "create", {"name": "blocker"})
        lock = self.cluster.connect(self.db)
        try:
            with lock.cursor() as cur:
                cur.execute("SELECT id FROM queue_job_probe WHERE id = %s FOR UPDATE", (probe_id,))
            uuid = job_uuid_from_rpc(self.admin.call("queue.job.probe", "enqueue_touch", [probe_id]))
            wait_for(lambda: self.job(uuid)["state"] == "started", 30, "the blocker job to start",
                     describe=lambda: self.describe_jobs([uuid]))
            yield uuid
            row = self.job(uuid)
            assert row["state"] == "started", f"the blocker ended while it was held: {row['state']}"
        finally:
            lock.rollback()
            lock.close()
        row = self.wait_final([uuid], timeout=30)[uuid]
        assert row["state"] == "done", self.describe_jobs([uuid])

    def describe_jobs(self, uuids: Iterable[str]) -> str:
        rows = self.jobs(uuids)
        return "\n".join(
            f"  {u} state={r['state']} retry={r['retry']} channel={r['channel']} "
            f"started={r['date_started']} done={r['date_done']} exc={r['exc_name']}: {r['exc_message']}"
            for u, r in rows.items()
        )

    def wait_final(self, uuids: Iterable[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Wait until every job is done, failed or cancelled; return their rows."""
        wanted = list(uuids)

        def final():
            rows = self.jobs(wanted)
            return rows if len(rows) == len(wanted) and all(r["state"] in FINAL_STATES for r in rows.values()) else None

        return wait_for(final, timeout, f"{len(wanted)} jobs to end", interval=0.2,
                        describe=lambda: self.describe_jobs(wanted))

    # -------------------------------------------------------------- ORM
    def orm(self, script: str, timeout: float = 180) -> Any:
        """Run ``script`` in ``odoo-bin shell`` against the live database.

        The script sees ``env`` (superuser), ``admin`` and ``plain`` (the two
        users as records) and sets ``result`` to something JSON-serialisable;
        the transaction is committed after the script, then ``result`` is
        returned.
        """
        self._shell_runs += 1
        log_path = self.server.workdir / f"shell-{self._shell_runs}.log"
        program = "\n".join([
            "import json",
            "result = None",
            "admin = env['res.users'].browse(%d)" % self.admin_uid,
            "plain = env['res.users'].browse(%d)" % self.plain_uid,
            textwrap.dedent(script),
            "env.cr.commit()",
            "print('E2E-RESULT:' + json.dumps(result, default=str), flush=True)",
            "",
        ])
        cmd = [*odoo_bin_cmd(), "shell", "-c", str(self.server.conf_path), "-d", self.db,
               "--no-http", "--logfile", str(log_path)]
        proc = subprocess.run(cmd, input=program, capture_output=True, text=True, timeout=timeout,
                              cwd=self.server.workdir, env=_odoo_env(), start_new_session=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("E2E-RESULT:")]
        if proc.returncode != 0 or not lines:
            log_tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
            raise AssertionError(
                f"odoo shell failed (exit {proc.returncode})\n--- stdout ---\n{proc.stdout[-2000:]}"
                f"\n--- stderr ---\n{proc.stderr[-3000:]}\n--- log ---\n{log_tail}"
            )
        return json.loads(lines[-1][len("E2E-RESULT:"):])

    # ----------------------------------------------------------- health
    def runner_pids(self) -> list[int]:
        return self.server.worker_pids("RunnerWorker")

    def diagnostics(self) -> str:
        """What a failed test report shows: processes, connections, job states, log tail."""
        parts = []
        try:
            parts.append(f"processes: {self.server.processes() if self.server.running else 'master not running'}")
        except Exception as exc:  # noqa: BLE001 - best effort
            parts.append(f"processes: {exc!r}")
        try:
            rows = self.query(
                "SELECT pid, application_name, client_addr, client_port, state, left(query, 80)"
                " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            parts.append("connections:\n" + "\n".join(f"  {row}" for row in rows))
            rows = self.query(
                "SELECT l.classid, l.objid, l.pid, l.granted FROM pg_locks l"
                " WHERE l.locktype = 'advisory' ORDER BY l.pid"
            )
            parts.append("advisory locks:\n" + "\n".join(f"  {row}" for row in rows))
            rows = self.query("SELECT state, channel, count(*) FROM queue_job GROUP BY 1, 2 ORDER BY 1, 2")
            parts.append("jobs by state:\n" + "\n".join(f"  {row}" for row in rows))
        except Exception as exc:  # noqa: BLE001 - best effort
            parts.append(f"database: {exc!r}")
        log = self.server.log_text().splitlines()
        parts.append(f"server log ({self.server.log_path}), last 80 lines:\n" + "\n".join(log[-80:]))
        return "\n".join(parts)

    def assert_healthy(self, timeout: float = 30) -> None:
        """Master up, every HTTP worker and one runner alive, the runner leading the database."""
        assert self.server.running, f"the Odoo master died; see {self.server.log_path}"
        self.server.wait_for_workers(timeout=timeout)
        wait_for(lambda: len(self.runner_pids()) == 1, timeout, "exactly one RunnerWorker process",
                 describe=lambda: self.server.processes())
        wait_for(self._runner_leads, timeout, f"the runner to lead {self.db}", interval=0.2)

    def _runner_leads(self) -> bool:
        """The live runner said it leads the database, and the runner lock is held.

        The lock is the leadership contract of queue_job/engine/sql.py: a
        runner holds (RUNNER_LOCK_NS, 0) while it dispatches for a database.
        """
        ready = [record.pid for record in parse_log(self.server.log_text())
                 if record.logger.endswith("jobrunner.runner") and record.first_line.strip() == RUNNER_READY]
        if not ready or ready[-1] not in self.runner_pids():
            return False
        (held,), = self.query(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid = 0 AND objsubid = 2"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (RUNNER_LOCK_NS,),
        )
        return held == 1
