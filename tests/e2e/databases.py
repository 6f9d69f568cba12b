"""Databases beside the stack's: copied, renamed, dropped and dumped the way
Odoo's database manager does it, and read from the test side."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from .helpers import FINAL_STATES, PgCluster, wait_for

# What Odoo's database manager (odoo/service/db.py) does to databases, done
# straight on the cluster while a server serves them: it cuts every other
# connection first, then copies, renames or drops.
def _cluster_admin(cluster: PgCluster, statement: str | sql.Composable, params: Any = None) -> None:
    conn = cluster.connect("postgres", superuser=True, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
    finally:
        conn.close()


def _disconnected(cluster: PgCluster, name: str, statement: sql.Composable, attempts: int = 10) -> None:
    """Cut the connections to ``name``, then run ``statement``; again if a client came back in between."""
    for attempt in range(attempts):
        _cluster_admin(cluster, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        try:
            _cluster_admin(cluster, statement)
            return
        except psycopg2.errors.ObjectInUse:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)


def copy_database(cluster: PgCluster, source: str, target: str) -> None:
    _disconnected(cluster, source, sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {}").format(
        sql.Identifier(target), sql.Identifier(cluster.user), sql.Identifier(source)))


def rename_database(cluster: PgCluster, old: str, new: str) -> None:
    _disconnected(cluster, old, sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
        sql.Identifier(old), sql.Identifier(new)))


def drop_database(cluster: PgCluster, name: str) -> None:
    _disconnected(cluster, name, sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))


def dump_database(cluster: PgCluster, source: str, target: str, workdir: Path) -> None:
    """``target``: a copy of ``source`` without its jobs, made with pg_dump, which (unlike
    CREATE DATABASE ... TEMPLATE) works while a server is connected to ``source``."""
    dump = workdir / f"{source}.dump"
    env = dict(os.environ, PGPASSWORD=cluster.password)
    connection = ["-h", cluster.host, "-p", str(cluster.port), "-U", cluster.user]
    subprocess.run([str(cluster.pg_bin / "pg_dump"), *connection, "-Fc", "-Z0", "-f", str(dump), source],
                   check=True, env=env, capture_output=True, timeout=300)
    cluster.drop_database(target)
    cluster.create_database(target)
    try:
        subprocess.run([str(cluster.pg_bin / "pg_restore"), *connection, "--no-owner", "--no-acl", "-j", "2",
                        "-d", target, str(dump)], check=True, env=env, capture_output=True, timeout=300)
    finally:
        dump.unlink()
    with DatabaseReader(cluster, target) as db:
        db.execute("DELETE FROM queue_job_probe_effect; DELETE FROM queue_job_probe; DELETE FROM queue_job")
    filestore = workdir / "data" / "filestore"
    if (filestore / source).is_dir():
        shutil.copytree(filestore / source, filestore / target, dirs_exist_ok=True)


class DatabaseReader:
    """Jobs and probe effects of one database, read from the test side (autocommit)."""

    def __init__(self, cluster: PgCluster, name: str) -> None:
        self.name = name
        self.conn = cluster.connect(name, autocommit=True)

    def __enter__(self) -> DatabaseReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def execute(self, statement: str, params: Any = None) -> None:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)

    def jobs(self, uuids: Iterable[str]) -> dict[str, dict[str, Any]]:
        with self.conn.cursor() as cur:
            cur.execute("SELECT uuid, state, date_created, date_enqueued, date_started, date_done, worker_pid,"
                        " exc_info FROM queue_job WHERE uuid = ANY(%s)", (list(uuids),))
            names = [column.name for column in cur.description]
            return {row[0]: dict(zip(names, row)) for row in cur.fetchall()}

    def effect_counts(self, uuids: Iterable[str]) -> dict[str, int]:
        return dict(self.query("SELECT job_uuid, count(*) FROM queue_job_probe_effect WHERE job_uuid = ANY(%s)"
                               " GROUP BY job_uuid", (list(uuids),)))

    def describe(self, uuids: Iterable[str]) -> str:
        return f"jobs of {self.name}:\n" + "\n".join(
            f"  {uuid} {row['state']} enqueued={row['date_enqueued']} started={row['date_started']}"
            f" {(row['exc_info'] or '')[-300:]}"
            for uuid, row in self.jobs(uuids).items())

    def wait_done(self, uuids: Iterable[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Wait until the jobs end; assert each is done and ran exactly once here. Returns their rows."""
        wanted = list(uuids)

        def ended():
            rows = self.jobs(wanted)
            return rows if len(rows) == len(wanted) and all(r["state"] in FINAL_STATES for r in rows.values()) else None

        rows = wait_for(ended, timeout, f"{len(wanted)} jobs of {self.name} to end", interval=0.2,
                        describe=lambda: self.describe(wanted))
        assert all(row["state"] == "done" for row in rows.values()), self.describe(wanted)
        assert self.effect_counts(wanted) == dict.fromkeys(wanted, 1), f"each job ran once in {self.name}"
        return rows
