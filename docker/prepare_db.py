#!/usr/bin/env python3
"""Wait for PostgreSQL, then make sure the database has the wanted addons.

Run by docker/entrypoint.sh before Odoo starts::

    prepare_db.py --db odoo --modules queue_job,queue_job_monitor [--demo] -- odoo -c /etc/odoo/odoo.conf

The connection comes from libpq's environment (PGHOST, PGPORT, PGUSER,
PGPASSWORD), which the entrypoint sets from DB_HOST and friends. On the
first start the database does not exist: it is created and the modules are
installed by the Odoo command given after ``--`` (with ``-d``, ``-i`` and
``--stop-after-init`` appended). On later starts, a module missing from the
database (an addon added to the image) is installed the same way; one that is
there is left alone (upgrades are the operator's call: ``-u``).

Several nodes may start at once on one database: an advisory lock on the
``postgres`` database lets one of them install while the others wait, then
find the work done.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence

import psycopg2

# pg_advisory_lock key of the install step: "qjDB" in ASCII.
INSTALL_LOCK = 0x716A4442


def log(message: str) -> None:
    print(f"queue_job entrypoint: {message}", file=sys.stderr, flush=True)


def wait_for_postgres(timeout: float) -> psycopg2.extensions.connection:
    """A connection to the ``postgres`` database, once PostgreSQL answers."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            conn = psycopg2.connect(dbname="postgres", connect_timeout=5)
            conn.autocommit = True
            return conn
        except psycopg2.OperationalError as exc:
            if last_error is None:
                log(f"waiting for PostgreSQL ({str(exc).strip().splitlines()[0]})")
            last_error = exc
            time.sleep(1)
    raise SystemExit(f"queue_job entrypoint: PostgreSQL did not answer within {timeout:g}s: {last_error}")


def installed_modules(db: str, wanted: Sequence[str]) -> set[str] | None:
    """Which of ``wanted`` are installed in ``db``; None if it is not an Odoo database."""
    conn = psycopg2.connect(dbname=db, connect_timeout=5)
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
            if not cr.fetchone()[0]:
                return None
            cr.execute(
                "SELECT name FROM ir_module_module WHERE state = 'installed' AND name = ANY(%s)", (list(wanted),)
            )
            return {row[0] for row in cr.fetchall()}
    finally:
        conn.close()


def database_exists(conn: psycopg2.extensions.connection, db: str) -> bool:
    with conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
        return cr.fetchone() is not None


def missing_modules(conn: psycopg2.extensions.connection, db: str, wanted: Sequence[str]) -> list[str]:
    if not database_exists(conn, db):
        return list(wanted)
    installed = installed_modules(db, wanted)
    return [m for m in wanted if installed is None or m not in installed]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(
        prog="prepare_db.py", usage="%(prog)s [--wait S] (--wait-only | --db NAME --modules A,B [--demo] -- ODOO...)"
    )
    parser.add_argument("--db")
    parser.add_argument("--modules", default="", help="comma-separated modules the database must have")
    parser.add_argument("--demo", action="store_true", help="load demo data when creating the database")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for PostgreSQL")
    parser.add_argument("--wait-only", action="store_true", help="only wait for PostgreSQL to answer")
    args = parser.parse_args(argv[:split])
    odoo_command = argv[split + 1:]
    wanted = [m.strip() for m in args.modules.split(",") if m.strip()]
    if not args.wait_only and not (args.db and wanted and odoo_command):
        parser.error("--db, --modules and an Odoo command after -- are required")

    conn = wait_for_postgres(args.wait)
    if args.wait_only:
        conn.close()
        return 0
    try:
        missing = missing_modules(conn, args.db, wanted)
        if not missing:
            log(f"database {args.db} has {', '.join(wanted)}")
            return 0
        with conn.cursor() as cr:
            log("taking the install lock (one node installs, the others wait)")
            cr.execute("SELECT pg_advisory_lock(%s)", (INSTALL_LOCK,))
        missing = missing_modules(conn, args.db, wanted)  # another node may have done it meanwhile
        if not missing:
            log(f"database {args.db} has {', '.join(wanted)}")
            return 0
        creating = not database_exists(conn, args.db)
        log(("creating database %s with %s" if creating else "installing into %s: %s") % (args.db, ", ".join(missing)))
        command = [*odoo_command, "-d", args.db, "-i", ",".join(missing), "--stop-after-init", "--no-http"]
        if creating and not args.demo:
            command.append("--without-demo=all")
        completed = subprocess.run(command)
        if completed.returncode != 0:
            log(f"installing {', '.join(missing)} failed (exit code {completed.returncode}); see the log above")
            return completed.returncode
        still = missing_modules(conn, args.db, wanted)
        if still:
            log(f"modules still not installed in {args.db} after the install: {', '.join(still)}")
            return 1
        log(f"database {args.db} ready")
        return 0
    finally:
        conn.close()  # releases the install lock


if __name__ == "__main__":
    sys.exit(main())
