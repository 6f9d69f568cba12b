"""End-to-end tests of queue_job against a live prefork Odoo 18 server.

One session-wide stack serves every test of this directory:

* a throwaway PostgreSQL cluster (``PgCluster(fast=True)``);
* one database with ``queue_job`` and ``queue_job_probe`` installed, once;
* one prefork Odoo server (2 HTTP workers, the jobrunner as a child of the
  master) with ``[queue_job] channels = root:2,root.probe:1`` and
  ``heal_interval = 1``.

Jobs are enqueued through the ORM (an ``odoo-bin shell`` process fed a
script on stdin, see ``Stack.orm``) and over JSON-RPC (as admin and as a
plain internal user); results are read with psycopg2 straight from the
cluster. Tests that kill processes leave the server as they found it.

Without an importable Odoo every test here is skipped, with the reason (tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import secrets

import pytest
from harness.odoo_oneshot import init_database
from harness.odoo_server import OdooServer
from harness.pgcluster import PgCluster

from .helpers import (
    CHANNELS,
    DB_NAME,
    HEAL_INTERVAL,
    MODULES,
    RUNNER_READY,
    Stack,
    addons_path,
)


@pytest.fixture(scope="session")
def cluster():
    # E2E_KEEP=1 keeps the cluster directory (data, Odoo conf and logs) for a post-mortem.
    # A password of its own: on a machine shared with other test runs, an
    # Odoo left connected to a port this cluster reuses cannot get in.
    pg = PgCluster(fast=True, keep=os.environ.get("E2E_KEEP") == "1",
                   password=secrets.token_hex(16), auth="scram-sha-256")
    pg.start()
    try:
        yield pg
    finally:
        pg.close()


@pytest.fixture(scope="session")
def odoo_db(cluster: PgCluster) -> str:
    result = init_database(cluster, DB_NAME, MODULES, addons_path=addons_path(),
                           server_wide_modules=("base", "web", "queue_job"))
    assert not result.errors, "errors while installing:\n" + "\n".join(map(str, result.errors))
    return DB_NAME


@pytest.fixture(scope="session")
def server(cluster: PgCluster, odoo_db: str):
    odoo = OdooServer(
        cluster,
        odoo_db,
        workers=2,
        server_wide_modules=("base", "web", "queue_job"),
        addons_path=addons_path(),
        sections={"queue_job": {"channels": CHANNELS, "heal_interval": HEAL_INTERVAL}},
        name="e2e",
    )
    odoo.start()
    try:
        odoo.wait_for_log(re.escape(RUNNER_READY), timeout=60)
        yield odoo
    finally:
        odoo.stop()


@pytest.fixture(scope="session")
def stack(cluster: PgCluster, server: OdooServer):
    st = Stack(cluster, server)
    try:
        yield st
    finally:
        st.close()
