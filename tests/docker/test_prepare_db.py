"""docker/prepare_db.py against a throwaway PostgreSQL, with a stand-in for Odoo's install command.

The stand-in does what ``odoo -d DB -i MODULES --stop-after-init`` leaves
behind that prepare_db.py looks at (the database, ir_module_module rows), and
logs each call, so that the tests see which installs prepare_db.py asks for.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from harness.docker_image import DOCKER_DIR, environ_without_libpq
from harness.pgcluster import PgCluster

SCRIPT = DOCKER_DIR / "prepare_db.py"

FAKE_ODOO = textwrap.dedent("""
    import os, sys, time, psycopg2
    args = sys.argv[1:]
    db, modules = args[args.index("-d") + 1], args[args.index("-i") + 1].split(",")
    with open(sys.argv[1], "a") as log:
        log.write(" ".join(args[1:]) + "\\n")
    conn = psycopg2.connect(dbname="postgres"); conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
        if not cr.fetchone():
            cr.execute(f'CREATE DATABASE "{db}"')
    time.sleep(float(os.environ.get("FAKE_INSTALL_SECONDS", "0")))  # a second node comes knocking meanwhile
    conn = psycopg2.connect(dbname=db); conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute("CREATE TABLE IF NOT EXISTS ir_module_module (name varchar, state varchar)")
        for name in modules:
            if name != "broken":
                cr.execute("INSERT INTO ir_module_module VALUES (%s, 'installed')", (name,))
    sys.exit(3 if "broken" in modules else 0)
""")


@pytest.fixture
def fake_odoo(tmp_path: Path) -> tuple[list[str], Path]:
    script = tmp_path / "fake_odoo.py"
    script.write_text(FAKE_ODOO)
    log = tmp_path / "calls.log"
    log.touch()
    return [sys.executable, str(script), str(log)], log


def prepare(cluster: PgCluster, db: str, modules: str, odoo: list[str], *extra: str,
            install_seconds: float = 0) -> subprocess.Popen[str]:
    env = {**environ_without_libpq(), "PGHOST": cluster.host, "PGPORT": str(cluster.port),
           "PGUSER": cluster.user, "PGPASSWORD": cluster.password, "FAKE_INSTALL_SECONDS": str(install_seconds)}
    command = [sys.executable, str(SCRIPT), "--db", db, "--modules", modules, "--wait", "10", *extra, "--", *odoo]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    output, _ = process.communicate(timeout=60)
    return process.returncode, output


def test_first_start_creates_the_database_once_even_with_two_nodes(cluster, fake_odoo):
    odoo, log = fake_odoo
    nodes = [prepare(cluster, "shop", "queue_job,queue_job_monitor", odoo, install_seconds=1) for _ in range(2)]
    results = [finish(node) for node in nodes]
    assert [code for code, _ in results] == [0, 0], results
    assert log.read_text().splitlines() == [
        "-d shop -i queue_job,queue_job_monitor --stop-after-init --no-http --without-demo=all"
    ]
    assert any("creating database shop" in out for _, out in results)
    # A later start finds everything in place and runs no install.
    code, output = finish(prepare(cluster, "shop", "queue_job,queue_job_monitor", odoo))
    assert code == 0 and "has queue_job, queue_job_monitor" in output
    assert len(log.read_text().splitlines()) == 1


def test_an_addon_new_to_the_image_is_installed_alone(cluster, fake_odoo):
    odoo, log = fake_odoo
    assert finish(prepare(cluster, "shop2", "queue_job", odoo))[0] == 0
    code, output = finish(prepare(cluster, "shop2", "queue_job,queue_job_demo", odoo, "--demo"))
    assert code == 0, output
    calls = log.read_text().splitlines()
    assert calls[1] == "-d shop2 -i queue_job_demo --stop-after-init --no-http"
    assert "installing into shop2: queue_job_demo" in output


def test_a_failed_install_stops_the_start(cluster, fake_odoo):
    odoo, _log = fake_odoo
    code, output = finish(prepare(cluster, "shop3", "queue_job,broken", odoo))
    assert code == 3
    assert "installing queue_job, broken failed (exit code 3)" in output


def test_postgresql_that_never_answers_is_reported(fake_odoo):
    odoo, log = fake_odoo
    env = {**environ_without_libpq(), "PGHOST": "127.0.0.1", "PGPORT": "1", "PGUSER": "odoo"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--db", "x", "--modules", "queue_job", "--wait", "2", "--", *odoo],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "PostgreSQL did not answer within 2s" in result.stderr
    assert log.read_text() == ""
