"""Self-checks of the harness: PostgreSQL clusters always, Odoo servers when Odoo 18 imports.

Run from the repository root: ``python3 -m pytest tests/harness -q``.
"""

from __future__ import annotations

import os
import shutil
import socket
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from .odoo_logs import parse_test_summary
from .odoo_oneshot import init_database, run_odoo_tests
from .odoo_rpc import OdooRpcError
from .odoo_server import OdooServer
from .odoo_setup import (
    OdooError,
    default_addons_path,
    odoo_unavailable_reason,
    write_odoo_conf,
)
from .pgcluster import PgCluster
from .procs import group_pids, pid_alive, port_is_free

ODOO_MISSING = odoo_unavailable_reason()
if ODOO_MISSING:
    # Surfaces in pytest's warnings summary even without -rs.
    warnings.warn(f"Odoo self-checks of tests/harness are SKIPPED: {ODOO_MISSING}", stacklevel=1)

needs_odoo = pytest.mark.skipif(
    ODOO_MISSING is not None,
    reason=f"needs an importable Odoo 18 -- {ODOO_MISSING}",
)


def _processes_using(path: Path) -> list[tuple[int, str]]:
    """Live processes whose argv mentions ``path`` (postmaster -D, odoo-bin -c)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not pid_alive(int(entry)):
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if str(path) in argv:
            found.append((int(entry), argv))
    return found


# ------------------------------------------------------------ PostgreSQL
def _fetch(cluster: PgCluster, dbname: str, query: str) -> list[tuple[Any, ...]]:
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall()
    finally:
        conn.close()


def test_cluster_start_connect_and_cleanup() -> None:
    cluster = PgCluster()
    with cluster:
        assert cluster.running
        assert cluster.host == "127.0.0.1"
        assert not port_is_free(cluster.port)
        assert _fetch(cluster, "postgres", "SELECT current_user, current_setting('max_connections')") == [
            ("odoo", "200")
        ]
        # The login role may create databases but is no superuser, like in production.
        roles = _fetch(cluster, "postgres", "SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = current_user")
        assert roles == [(True, False)]
        conn = psycopg2.connect(cluster.dsn("postgres"))
        conn.close()
        root, pid = cluster.root, cluster.pid
        assert root is not None and pid is not None
        assert _processes_using(root)
    assert not pid_alive(pid)
    assert not root.exists()
    assert not _processes_using(root)


def test_cluster_database_create_drop_with_open_connection() -> None:
    with PgCluster(fast=True) as cluster:
        cluster.create_database("harness_db")
        assert cluster.database_exists("harness_db")
        lingering = cluster.connect("harness_db")
        try:
            assert cluster.backend_pids("harness_db")
            # Dropping must not be blocked by a client that is still connected.
            cluster.drop_database("harness_db")
        finally:
            lingering.close()
        assert not cluster.database_exists("harness_db")
        cluster.drop_database("harness_db")  # missing_ok by default


def test_cluster_data_survives_restart() -> None:
    with PgCluster(fast=True) as cluster:
        settings = _fetch(cluster, "postgres", "SELECT current_setting('fsync'), current_setting('synchronous_commit')")
        assert settings == [("off", "off")]
        cluster.create_database("restart_db")
        conn = cluster.connect("restart_db")
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')")
        conn.close()
        port, old_pid = cluster.port, cluster.pid
        cluster.restart()
        assert cluster.port == port
        assert cluster.pid != old_pid
        assert _fetch(cluster, "restart_db", "SELECT v FROM t") == [("kept",)]


def test_cluster_kill_then_start_recovers_committed_data() -> None:
    with PgCluster() as cluster:
        cluster.create_database("crash_db")
        conn = cluster.connect("crash_db")
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
        pid = cluster.pid
        assert pid is not None
        cluster.kill()
        assert not pid_alive(pid)
        assert not cluster.running
        with pytest.raises(psycopg2.OperationalError), conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.close()
        cluster.start()
        assert _fetch(cluster, "crash_db", "SELECT v FROM t") == [(1,)]
        assert "database system was interrupted" in cluster.server_log()


def test_cluster_keep_flag_keeps_directory() -> None:
    cluster = PgCluster(keep=True)
    try:
        with cluster:
            root = cluster.root
        assert root is not None and (root / "data" / "PG_VERSION").is_file()
        assert not cluster.running
    finally:
        if cluster.root is not None:
            shutil.rmtree(cluster.root, ignore_errors=True)


def test_clusters_coexist_on_distinct_ports() -> None:
    with PgCluster(fast=True) as first, PgCluster(fast=True) as second:
        assert first.port != second.port
        assert _fetch(first, "postgres", "SELECT 1") == _fetch(second, "postgres", "SELECT 1")


# ------------------------------------------------------- no-Odoo helpers
def test_write_odoo_conf_renders_sections(tmp_path: Path) -> None:
    conf = write_odoo_conf(
        tmp_path / "odoo.conf",
        workers=2,
        list_db=False,
        server_wide_modules=["base", "web", "queue_job"],
        db_name=None,
        sections={"queue_job": {"channels": "root:2"}},
    )
    assert conf.read_text() == (
        "[options]\nworkers = 2\nlist_db = False\nserver_wide_modules = base,web,queue_job\n\n"
        "[queue_job]\nchannels = root:2\n"
    )


def test_parse_test_summary_on_odoo18_lines() -> None:
    # Lines as Odoo 18 writes them to its logfile (captured from a real run).
    records = [
        "2026-11-21 18:07:33,615 10222 ERROR tt odoo.addons.harness_probe.tests.test_probe: "
        "ERROR: TestProbe.test_error",
        "Traceback (most recent call last):",
        '  File "x.py", line 11, in test_error',
        "ValueError: boom",
        "2026-11-21 18:07:33,618 10222 ERROR tt odoo.addons.harness_probe.tests.test_probe: "
        "FAIL: TestProbe.test_fail",
        "2026-11-21 18:07:33,666 10222 ERROR tt odoo.modules.loading: Module harness_probe: "
        "1 failures, 1 errors of 3 tests ",
        "2026-11-21 18:07:38,136 10222 INFO tt odoo.service.server: 1 post-tests in 0.02s, 3 queries ",
        "2026-11-21 18:07:38,136 10222 INFO tt odoo.tests.stats: harness_probe: 8 tests 0.05s 13 queries ",
        "2026-11-21 18:07:38,136 10222 ERROR tt odoo.tests.result: "
        "1 failed, 1 error(s) of 4 tests when loading database 'tt' ",
    ]
    # (Odoo ends most records with a space: an empty perf_info field.)
    log = "\n".join(records) + "\n"
    counts = parse_test_summary(log)
    assert (counts.failed, counts.errors, counts.tests, counts.post_tests) == (1, 1, 4, 1)
    assert counts.summary_found and not counts.ok
    assert counts.failing_modules == {"harness_probe": (1, 1, 3)}
    assert len(counts.failing_tests) == 2
    assert not parse_test_summary("no summary here").summary_found


# ------------------------------------------------------------------ Odoo
@pytest.fixture(scope="module")
def odoo_cluster() -> Iterator[PgCluster]:
    with PgCluster(fast=True) as cluster:
        root = cluster.root
        assert root is not None
        yield cluster
    # Every Odoo process (argv holds its conf under root) and the postmaster
    # (argv holds -D root/data) must be gone once the harness cleaned up.
    assert not _processes_using(root)


@pytest.fixture(scope="module")
def base_db(odoo_cluster: PgCluster) -> str:
    result = init_database(odoo_cluster, "harness_base", ["base"])
    assert result.log_path.is_file()
    assert not result.errors, [str(record) for record in result.errors]
    return "harness_base"


@pytest.mark.odoo
@needs_odoo
def test_odoo_server_workers_respawn_and_clean_stop(odoo_cluster: PgCluster, base_db: str) -> None:
    server = OdooServer(odoo_cluster, base_db, workers=2, server_wide_modules=("base", "web"))
    with server:
        info = server.version_info()
        assert str(info["server_version"]).startswith("18."), info
        assert server.health()[0] == 200

        tree = server.processes()
        assert len(tree.http_workers) == 2, tree
        assert len(tree.gevent) == 1, tree

        rpc = server.rpc()
        assert rpc.call("res.users", "search_count", [("login", "=", "admin")]) == 1
        with pytest.raises(OdooRpcError):
            rpc.call("res.users", "no_such_method")

        mark = server.log_offset()
        killed = server.kill_worker(tree.http_workers[0])
        respawned = server.wait_for_workers(exclude=[killed], timeout=30)
        assert killed not in respawned and len(respawned) == 2
        server.wait_for_log(r"Worker WorkerHTTP \(\d+\) alive", since=mark)
        assert server.version_info()["server_version"] == info["server_version"]

        # A crash of everything, then a start on the same ports and conf.
        old_pgid = server.pid
        assert old_pgid is not None
        server.kill_all()
        assert not server.running and not group_pids(old_pgid)
        server.start()
        assert server.version_info()["server_version"] == info["server_version"]
        pgid = server.pid
    assert pgid is not None and not group_pids(pgid)
    assert not pid_alive(pgid)


@pytest.mark.odoo
@needs_odoo
def test_odoo_server_startup_failure_is_reported(odoo_cluster: PgCluster) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        taken_port = blocker.getsockname()[1]
        server = OdooServer(odoo_cluster, None, workers=2, server_wide_modules=("base", "web"),
                            http_port=taken_port, start_timeout=60)
        with pytest.raises(OdooError) as excinfo:
            server.start()
    assert "exited during startup" in str(excinfo.value)
    assert "Address already in use" in str(excinfo.value)
    assert not server.running


@pytest.mark.odoo
@needs_odoo
def test_run_odoo_tests_counts_real_results(odoo_cluster: PgCluster, tmp_path: Path) -> None:
    module = tmp_path / "addons" / "harness_probe"
    (module / "tests").mkdir(parents=True)
    (module / "__init__.py").write_text("")
    (module / "__manifest__.py").write_text(repr({
        "name": "Harness probe", "version": "18.0.1.0.0", "depends": ["base"], "license": "LGPL-3",
    }))
    (module / "tests" / "__init__.py").write_text("from . import test_probe\n")
    (module / "tests" / "test_probe.py").write_text(textwrap.dedent("""\
        from odoo.tests.common import TransactionCase, tagged


        class TestProbe(TransactionCase):
            def test_pass(self):
                self.assertTrue(self.env["res.users"].search_count([]))

            def test_fail(self):
                self.assertEqual(1, 2)

            def test_error(self):
                raise ValueError("boom")


        @tagged("post_install", "-at_install")
        class TestProbePost(TransactionCase):
            def test_post(self):
                self.assertTrue(True)
        """))
    result = run_odoo_tests(odoo_cluster, "harness_tests", ["harness_probe"],
                            addons_path=default_addons_path([tmp_path / "addons"]))
    assert result.returncode != 0
    counts = result.counts
    assert counts.summary_found, result.log_path.read_text()[-3000:]
    assert (counts.failed, counts.errors, counts.tests, counts.post_tests) == (1, 1, 4, 1)
    assert counts.failing_modules == {"harness_probe": (1, 1, 3)}
    assert sorted(name.split(":")[0] for name in counts.failing_tests) == ["ERROR", "FAIL"]
