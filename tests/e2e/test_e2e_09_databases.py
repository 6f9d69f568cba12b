"""Databases come and go, and get upgraded, under one running server.

A server of its own (no ``db_name``, ``dbfilter = ^qjdb_``, the runner
listing databases every 2 s) serves copies of the e2e database. While it
runs, databases are created, dropped, renamed and duplicated the way Odoo's
database manager does it, and upgraded with ``odoo-bin -u``: jobs must run
exactly once, in their own database, never during an upgrade, and the runner
must keep serving the other databases.

The copies come from a template dumped from the session's ``qj_e2e`` (the
session server may be connected to it, which rules out ``CREATE DATABASE ...
TEMPLATE qj_e2e``); the template's name is outside the filter, so nothing
ever connects to it.
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions
import pytest

from .databases import DatabaseReader, copy_database, drop_database, dump_database, rename_database
from .helpers import CHANNELS, addons_path, job_uuid_from_rpc, wait_for
from harness.odoo_logs import LogRecord, parse_log
from harness.odoo_rpc import OdooRpc
from harness.odoo_server import OdooServer
from harness.odoo_setup import _odoo_env, odoo_bin_cmd
from harness.pgcluster import PgCluster

pytestmark = pytest.mark.odoo

TEMPLATE = "qjtpl_09"
DB_REFRESH = 2  # [queue_job] db_refresh_interval of the server under test
PICKUP = DB_REFRESH + 15  # a new database's first jobs are done within this (its registry loads first)
ETA_AFTER_COPY = 12  # seconds: copied jobs become due once the copy got its own secret
RUNNER_LOGGER = "odoo.addons.queue_job.jobrunner.runner"


class Farm:
    """The server under test and the databases it serves."""

    def __init__(self, cluster: PgCluster, server: OdooServer) -> None:
        self.cluster = cluster
        self.server = server
        self._rpc: dict[str, OdooRpc] = {}

    def create(self, name: str) -> None:
        copy_database(self.cluster, TEMPLATE, name)

    def db(self, name: str) -> DatabaseReader:
        return DatabaseReader(self.cluster, name)

    def rpc(self, db: str) -> OdooRpc:
        if db not in self._rpc:
            self._rpc[db] = OdooRpc(self.server.url, db, "admin", "admin")
        return self._rpc[db]

    def enqueue(self, db: str, count: int = 1, **options: Any) -> list[str]:
        """``count`` touch jobs in ``db`` over JSON-RPC, each on a probe of its own."""
        rpc = self.rpc(db)
        uuids = []
        for n in range(count):
            probe = rpc.call("queue.job.probe", "create", {"name": f"{db} {n}"})
            uuids.append(job_uuid_from_rpc(rpc.call("queue.job.probe", "enqueue_touch", [probe], **options)))
        return uuids

    def load_registry_everywhere(self, db: str) -> None:
        """Have every HTTP worker load ``db``'s registry (a first load applies the modules marked
        for upgrade, as ``-u`` does)."""
        offset = self.server.log_offset()
        workers = set(self.server.worker_pids("http"))

        def served() -> set[int]:
            return {record.pid for record in self.log(offset) if record.db == db and record.logger == "werkzeug"}

        for _attempt in range(20):
            calls = [threading.Thread(target=self.rpc(db).call, args=("res.users", "search_count", []))
                     for _worker in workers]
            for call in calls:
                call.start()
            for call in calls:
                call.join()
            if workers <= served():
                return
        raise AssertionError(f"HTTP workers {workers - served()} never served {db}")

    def runner_pids(self) -> list[int]:
        return self.server.worker_pids("RunnerWorker")

    def log(self, since: int) -> list[LogRecord]:
        return parse_log(self.server.log_text(since))

    def wait_ready(self, name: str, since: int, timeout: float = PICKUP) -> None:
        self.server.wait_for_log(rf"queue job runner ready for db {re.escape(name)}\s*$", timeout=timeout,
                                 since=since)

    def wait_lost(self, name: str, since: int) -> None:
        """The runner noticed that ``name`` went: its connection was cut, or the listing lacks it."""
        self.server.wait_for_log(rf"lost database {re.escape(name)} \(|database {re.escape(name)} is gone",
                                 timeout=DB_REFRESH + 5, since=since)

    def restart_http_workers(self) -> None:
        """As limit_request or limit_memory_* recycle them: the new workers start with empty caches."""
        old = self.server.worker_pids("http")
        for pid in old:
            self.server.kill_worker(pid, signal.SIGTERM)
        self.server.wait_for_workers(timeout=30, exclude=old)

    def assert_runner_sane(self, since: int, gone: str | None = None) -> None:
        """One runner alive; no ERROR since ``since``, but those of the one request that ran a job
        in database ``gone`` when it went (Odoo logs the failed query and the failed request)."""
        assert self.server.running, "the Odoo master died"
        wait_for(lambda: len(self.runner_pids()) == 1, 30, "exactly one RunnerWorker",
                 describe=lambda: self.server.processes())
        errors = [record for record in self.log(since) if record.level in ("ERROR", "CRITICAL")]
        cut_off = [record for record in errors if record.db == gone and record.logger != RUNNER_LOGGER]
        assert len(cut_off) <= 3 and len({record.pid for record in cut_off}) <= 1, (
            f"errors keep coming about {gone}:\n" + "\n\n".join(map(str, cut_off)))
        unexpected = [str(record) for record in errors if record not in cut_off]
        assert not unexpected, "errors in the server log:\n" + "\n\n".join(unexpected)


@pytest.fixture(scope="module")
def template(cluster: PgCluster, odoo_db: str) -> Iterator[str]:
    dump_database(cluster, odoo_db, TEMPLATE, cluster.socket_dir / "odoo")
    yield TEMPLATE
    cluster.drop_database(TEMPLATE)


@pytest.fixture(scope="module")
def farm(cluster: PgCluster, template: str) -> Iterator[Farm]:
    for name in ("qjdb_a", "qjdb_b"):
        copy_database(cluster, template, name)
    server = OdooServer(
        cluster,
        None,
        workers=2,
        dbfilter="^qjdb_.*$",
        server_wide_modules=("base", "web", "queue_job"),
        addons_path=addons_path(),
        sections={"queue_job": {"channels": CHANNELS, "heal_interval": 1, "db_refresh_interval": DB_REFRESH}},
        name="e2e-databases",
    )
    server.start()
    farm = Farm(cluster, server)
    try:
        for name in ("qjdb_a", "qjdb_b"):
            farm.wait_ready(name, since=0, timeout=60)
        yield farm
    finally:
        server.stop()
        with DatabaseReader(cluster, "postgres") as postgres:
            leftovers = postgres.query("SELECT datname FROM pg_database WHERE datname ~ '^qj(db|out)_'")
        for (name,) in leftovers:
            cluster.drop_database(name)


# ----------------------------------------------------------- come and go
def test_new_database_is_served_without_restart(farm: Farm):
    (runner,) = farm.runner_pids()
    offset = farm.server.log_offset()
    farm.create("qjdb_new")
    created = time.monotonic()
    farm.wait_ready("qjdb_new", since=offset, timeout=DB_REFRESH + 5)
    with farm.db("qjdb_new") as db:
        db.wait_done(farm.enqueue("qjdb_new", 3), timeout=PICKUP)
    assert time.monotonic() - created < 60
    assert farm.runner_pids() == [runner], "the runner was restarted to pick up a new database"
    with farm.db("qjdb_a") as db:
        db.wait_done(farm.enqueue("qjdb_a", 2), timeout=30)
    farm.assert_runner_sane(offset)


def test_dropped_database_does_not_stop_the_runner(farm: Farm):
    offset = farm.server.log_offset()
    farm.create("qjdb_drop")
    farm.wait_ready("qjdb_drop", since=offset)
    with farm.db("qjdb_drop") as db:
        db.wait_done(farm.enqueue("qjdb_drop"), timeout=PICKUP)
        # When the database goes: one job running, one waiting for its ETA.
        (running,) = farm.rpc("qjdb_drop").call("queue.job.probe", "enqueue_chaos", [["job_sleep", [2], None]])
        farm.enqueue("qjdb_drop", eta=3)
        wait_for(lambda: db.jobs([running])[running]["state"] == "started", 10, "the job to start",
                 describe=lambda: db.describe([running]))
    (runner,) = farm.runner_pids()
    dropped_at = farm.server.log_offset()
    drop_database(farm.cluster, "qjdb_drop")
    farm.wait_lost("qjdb_drop", since=dropped_at)

    for name in ("qjdb_a", "qjdb_b"):
        with farm.db(name) as db:
            db.wait_done(farm.enqueue(name, 2), timeout=30)
    time.sleep(DB_REFRESH + 1)  # more listings: the dropped database stays forgotten
    assert farm.runner_pids() == [runner], "the runner died or was restarted when a database was dropped"
    complaints = [str(record) for record in farm.log(dropped_at)
                  if record.logger == RUNNER_LOGGER and record.level != "INFO" and "qjdb_drop" in record.message]
    assert len(complaints) <= 2, "the runner keeps trying the dropped database:\n" + "\n".join(complaints)
    farm.assert_runner_sane(offset, gone="qjdb_drop")


def test_renamed_database_is_served_under_its_new_name_while_the_filter_allows(farm: Farm):
    offset = farm.server.log_offset()
    farm.create("qjdb_ren")
    farm.wait_ready("qjdb_ren", since=offset)
    with farm.db("qjdb_ren") as db:
        db.wait_done(farm.enqueue("qjdb_ren"), timeout=PICKUP)

    renamed_at = farm.server.log_offset()
    rename_database(farm.cluster, "qjdb_ren", "qjdb_ren2")
    farm.wait_ready("qjdb_ren2", since=renamed_at)
    with farm.db("qjdb_ren2") as db:
        db.wait_done(farm.enqueue("qjdb_ren2", 2), timeout=PICKUP)
        # Due when the database will have left the filter.
        (due_later,) = farm.enqueue("qjdb_ren2", eta=4)
    with farm.db("qjdb_a") as db:
        db.wait_done(farm.enqueue("qjdb_a"), timeout=30)

    renamed_at = farm.server.log_offset()
    rename_database(farm.cluster, "qjdb_ren2", "qjout_ren3")
    farm.wait_lost("qjdb_ren2", since=renamed_at)
    time.sleep(4 + DB_REFRESH)
    with farm.db("qjout_ren3") as db:
        assert db.jobs([due_later])[due_later]["state"] == "pending", "a job of a database outside the filter ran"
        (runners,), = db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                               " AND application_name LIKE 'queue_job runner%%'")
        assert runners == 0, "the runner is connected to a database outside the filter"
    assert "qjout_ren3" not in farm.server.log_text(renamed_at)
    for name in ("qjdb_a", "qjdb_b"):
        with farm.db(name) as db:
            db.wait_done(farm.enqueue(name), timeout=30)
    farm.assert_runner_sane(offset)


def test_duplicated_database_runs_its_own_copy_of_each_job_once(farm: Farm):
    """Duplicated as Odoo's database manager does it: copied, then given a new uuid and secret.

    The copy arrives with the source's pending jobs, same uuids. The runner
    may sign requests for the copy with the copied secret before Odoo
    replaces it (here: a job of the copy runs first); the copied jobs, due
    later, then go to HTTP workers that know only the new secret (recycled,
    as limit_request does).
    """
    offset = farm.server.log_offset()
    farm.create("qjdb_src")
    farm.wait_ready("qjdb_src", since=offset)
    with farm.db("qjdb_src") as db:
        db.wait_done(farm.enqueue("qjdb_src"), timeout=PICKUP)
    copied = farm.enqueue("qjdb_src", 3, eta=ETA_AFTER_COPY)
    copied_at = farm.server.log_offset()
    copy_database(farm.cluster, "qjdb_src", "qjdb_dup")
    with farm.db("qjdb_dup") as dup, farm.db("qjdb_src") as src:
        assert sorted(dup.jobs(copied)) == sorted(copied)
        farm.wait_ready("qjdb_dup", since=copied_at)
        dup.wait_done(farm.enqueue("qjdb_dup"), timeout=PICKUP)
        # What ir.config_parameter.init(force=True) does after Odoo's copy.
        dup.execute("UPDATE ir_config_parameter SET value = md5(random()::text)"
                    " WHERE key IN ('database.secret', 'database.uuid')")
        farm.restart_http_workers()
        assert {row["state"] for row in dup.jobs(copied).values()} == {"pending"}, (
            "the copied jobs ran before the copy's secret changed: raise ETA_AFTER_COPY")

        src.wait_done(copied, timeout=30)
        dup.wait_done(copied, timeout=30)
        own = {name: farm.enqueue(name, 2) for name in ("qjdb_src", "qjdb_dup")}
        src.wait_done(own["qjdb_src"], timeout=30)
        dup.wait_done(own["qjdb_dup"], timeout=30)
        assert not dup.jobs(own["qjdb_src"]) and not src.jobs(own["qjdb_dup"])
    farm.assert_runner_sane(offset)


# -------------------------------------------------------------- upgrades
UPGRADED = "qjdb_upg"


def _log_time(record: LogRecord) -> datetime.datetime:
    return datetime.datetime.strptime(record.time, "%Y-%m-%d %H:%M:%S,%f")


@pytest.fixture(scope="module")
def upgraded_db(farm: Farm) -> str:
    offset = farm.server.log_offset()
    farm.create(UPGRADED)
    farm.wait_ready(UPGRADED, since=offset)
    with farm.db(UPGRADED) as db:
        db.wait_done(farm.enqueue(UPGRADED), timeout=PICKUP)
    farm.load_registry_everywhere(UPGRADED)
    return UPGRADED


def clone_job(db: DatabaseReader, template: str) -> str:
    """A new job, due now, copied from the pending job ``template``: the row with_delay() inserts,
    written straight in SQL so that no request reaches a worker (it would reload its registry)."""
    columns = [row[0] for row in db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = 'queue_job' AND column_name <> 'id' ORDER BY ordinal_position")]
    now = "(now() AT TIME ZONE 'UTC')"
    overrides = {"uuid": "gen_random_uuid()::text", "eta": "NULL",
                 "date_created": now, "create_date": now, "write_date": now}
    values = ", ".join(overrides.get(column, f'"{column}"') for column in columns)
    names = ", ".join(f'"{column}"' for column in columns)
    (uuid,), = db.query(f"INSERT INTO queue_job ({names}) SELECT {values} FROM queue_job WHERE uuid = %s"
                        " RETURNING uuid", (template,))
    return uuid


@dataclass
class UpgradeRun:
    """Jobs enqueued one after the other while ``odoo-bin -u queue_job`` ran, and what became of them."""

    started: datetime.datetime  # the modules are marked: the upgrade changes the database from now on
    committed: datetime.datetime  # just before the upgrade commits
    jobs: dict[str, dict[str, Any]]
    reloads: dict[int, datetime.datetime]  # HTTP worker pid -> when it reloaded the registry
    queue_job_locked: bool  # the upgrade held queue_job exclusively while jobs were enqueued elsewhere
    others_stalled: str | None  # why those jobs were not done meanwhile
    log_offset: int

    @property
    def held(self) -> list[str]:
        """The jobs enqueued while the upgrade changed the database."""
        return [uuid for uuid, row in self.jobs.items() if self.started <= row["date_created"] < self.committed]


def hold_module_data(cluster: PgCluster, db: str, module: str) -> psycopg2.extensions.connection:
    """A transaction holding the rows of ``module``'s ir.model.access.csv: an upgrade that reloads
    that file waits at that point until the transaction ends (a long upgrade, made to order)."""
    conn = cluster.connect(db)
    with conn.cursor() as cur:
        cur.execute("SELECT a.id FROM ir_model_access a JOIN ir_model_data d"
                    " ON d.model = 'ir.model.access' AND d.res_id = a.id WHERE d.module = %s FOR UPDATE OF a",
                    (module,))
        assert cur.rowcount, f"{module} has no access rules to hold"
    return conn


@pytest.fixture(scope="module")
def upgrade_run(farm: Farm, upgraded_db: str) -> UpgradeRun:
    """``-u queue_job`` (queue_job_probe follows) while jobs keep coming, held twice for a while:
    loading queue_job's data, then queue_job_probe's."""
    name = upgraded_db
    (template,) = farm.enqueue(name, eta=3600)
    fed: list[str] = []
    stop = threading.Event()

    def feed() -> None:
        with farm.db(name) as db:
            while not stop.is_set():
                fed.append(clone_job(db, template))
                time.sleep(0.15)

    holds = {module: hold_module_data(farm.cluster, name, module) for module in ("queue_job", "queue_job_probe")}
    feeder = threading.Thread(target=feed, name="feeder")
    upgrade_log = farm.server.workdir / f"upgrade-{name}.log"
    offset = farm.server.log_offset()
    feeder.start()
    upgrade = subprocess.Popen(
        [*odoo_bin_cmd(), "-c", str(farm.server.conf_path), "-d", name, "-u", "queue_job",
         "--stop-after-init", "--no-http", "--workers", "0", "--max-cron-threads", "0",
         "--logfile", str(upgrade_log)],
        cwd=farm.server.workdir, env=_odoo_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with farm.db(name) as db:
            def upgrade_waits_for(module: str) -> bool:
                return bool(db.query(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND %s = ANY(pg_blocking_pids(pid))",
                    (f"odoo-{upgrade.pid}", holds[module].get_backend_pid())))

            wait_for(lambda: upgrade_waits_for("queue_job"), 90, "the upgrade to reach queue_job's data",
                     describe=lambda: upgrade_log.read_text(errors="replace")[-2000:])
            (queue_job_locked,), = db.query(
                "SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE a.application_name = %s AND l.relation = 'queue_job'::regclass"
                " AND l.mode = 'AccessExclusiveLock' AND l.granted", (f"odoo-{upgrade.pid}",))
            with farm.db("qjdb_a") as other:
                try:
                    other.wait_done(farm.enqueue("qjdb_a", 2), timeout=15)
                    others_stalled = None
                except AssertionError as exc:
                    others_stalled = str(exc)
            holds.pop("queue_job").close()
            wait_for(lambda: upgrade_waits_for("queue_job_probe"), 30, "the upgrade to reach queue_job_probe's data",
                     describe=lambda: upgrade_log.read_text(errors="replace")[-2000:])
            time.sleep(2)  # jobs keep coming
            holds.pop("queue_job_probe").close()
        upgrade.wait(timeout=120)
        time.sleep(0.5)
    finally:
        stop.set()
        feeder.join()
        for conn in holds.values():
            conn.close()
        if upgrade.poll() is None:
            os.killpg(upgrade.pid, signal.SIGKILL)
            upgrade.wait()
    records = parse_log(upgrade_log.read_text(errors="replace"))
    assert upgrade.returncode == 0, "\n".join(map(str, records[-30:]))
    # It writes the marks just before it logs that it loads the marked
    # modules, and commits just after "Modules loaded.".
    loading = [r for r in records if re.fullmatch(r"loading \d+ modules\.\.\.", r.first_line.strip())]
    loaded = [r for r in records if r.first_line.strip() == "Modules loaded."]
    assert len(loading) == 2 and loaded, "\n".join(map(str, records[-30:]))
    with farm.db(name) as db:
        jobs = db.wait_done(fed, timeout=30)
        db.execute("DELETE FROM queue_job WHERE uuid = %s", (template,))
    # A worker reloads the registry before Odoo tags the request's thread
    # with the database: the record says "?".
    reloads: dict[int, datetime.datetime] = {}
    for record in farm.log(offset):
        if record.db in (name, "?") and "Reloading the model registry after database signaling" in record.message:
            reloads.setdefault(record.pid, _log_time(record))
    return UpgradeRun(_log_time(loading[-1]), _log_time(loaded[-1]), jobs, reloads, queue_job_locked,
                      others_stalled, offset)


def test_modules_marked_for_upgrade_pause_dispatching(farm: Farm, upgraded_db: str):
    """Marked with the Apps menu's "Upgrade", not applied yet: its jobs wait, other databases run."""
    offset = farm.server.log_offset()
    with farm.db(upgraded_db) as db:
        db.execute("UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'queue_job_probe'")
        waiting = farm.enqueue(upgraded_db, 2)
        farm.server.wait_for_log(rf"db {upgraded_db} is being upgraded; dispatching paused", timeout=10,
                                 since=offset)
        time.sleep(1.5)
        assert {row["state"] for row in db.jobs(waiting).values()} == {"pending"}, db.describe(waiting)
        with farm.db("qjdb_a") as other:
            other.wait_done(farm.enqueue("qjdb_a"), timeout=30)
        db.execute("UPDATE ir_module_module SET state = 'installed' WHERE name = 'queue_job_probe'")
        db.wait_done(waiting, timeout=10)
    farm.server.wait_for_log(rf"db {upgraded_db} upgraded; dispatching resumed", timeout=5, since=offset)
    farm.assert_runner_sane(offset)


def test_no_dispatch_while_odoo_bin_u_runs(farm: Farm, upgrade_run: UpgradeRun):
    """``odoo-bin -u`` while the server runs and jobs keep coming. It marks the modules and loads
    the first in one transaction: until that commits, other sessions see no module state change,
    only the lock its writes hold on ir_module_module."""
    run = upgrade_run
    # The runner looks right before it claims: a claim that raced the
    # upgrade's first write by a few milliseconds is no pause ignored.
    since = run.started + datetime.timedelta(milliseconds=50)
    during = [uuid for uuid, row in run.jobs.items() if since <= row["date_enqueued"] <= run.committed]
    assert not during, f"jobs dispatched while the database was being upgraded ({since} - {run.committed}): {during}"
    assert len(run.held) >= 3, f"too few jobs enqueued during the upgrade ({run.started} - {run.committed})"
    farm.assert_runner_sane(run.log_offset)


def test_other_databases_are_served_while_one_is_upgraded(upgrade_run: UpgradeRun):
    """While ``-u queue_job`` held queue_job exclusively (it recreates the table's triggers), jobs
    of another database were done: the runner never waits on the database being upgraded."""
    assert upgrade_run.queue_job_locked, "the upgrade did not hold queue_job: this test proves nothing any more"
    assert upgrade_run.others_stalled is None, upgrade_run.others_stalled


def test_jobs_held_by_an_upgrade_run_on_the_new_code(upgrade_run: UpgradeRun):
    """The worker that ran each job held by the upgrade had reloaded the registry before starting it."""
    run = upgrade_run
    stale = [f"{uuid} (worker {run.jobs[uuid]['worker_pid']})" for uuid in run.held
             if not run.reloads.get(run.jobs[uuid]["worker_pid"], datetime.datetime.max)
             <= run.jobs[uuid]["date_started"]]
    assert run.held and not stale, f"jobs run on the registry from before the upgrade: {stale}; reloads: {run.reloads}"
