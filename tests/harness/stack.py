"""A throwaway local stack: PostgreSQL + Odoo 18 with queue_job, for trying things out.

Run from the repository root::

    python3 -m tests.harness.stack                 # queue_job (+ demo/monitor if present)
    python3 -m tests.harness.stack --modules base  # just Odoo
    python3 -m tests.harness.stack --port 8069 --workers 2 --channels root:4

It prints the URL to open and keeps running until Ctrl-C (or SIGTERM), then
stops everything and deletes its temporary directories unless ``--keep``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any
from collections.abc import Sequence

from .odoo_setup import (
    HOW_TO_GET_ODOO,
    REPO_ROOT,
    OdooError,
    default_addons_path,
    odoo_unavailable_reason,
)

try:
    from .odoo_oneshot import init_database
    from .odoo_server import OdooServer
    from .pgcluster import PgCluster, PgClusterError
except ModuleNotFoundError as exc:
    if exc.name != "psycopg2" or __name__ != "__main__":
        raise
    # A fresh machine: no Odoo, hence no psycopg2 either.
    sys.exit(f"Cannot start the stack: psycopg2 is not installed (Odoo 18 brings it). {HOW_TO_GET_ODOO}")

_logger = logging.getLogger("tests.harness.stack")

DB_NAME = "queue_job_demo"
OPTIONAL_ADDONS = ("queue_job_demo", "queue_job_monitor")
# The capacities of queue_job_demo's channels (its data creates the channels):
# AI calls one at a time, newsletter chunks at least 2 s apart.
DEMO_CHANNELS = "root:2,root.demo:2,root.demo.ai:1,root.demo.newsletter:1:throttle=2,root.demo.traffic:1"


def _has_manifest(module: str) -> bool:
    return (REPO_ROOT / module / "__manifest__.py").is_file()


def default_modules() -> list[str]:
    """queue_job, plus the demo and monitor addons once they exist."""
    return ["queue_job", *[module for module in OPTIONAL_ADDONS if _has_manifest(module)]]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.harness.stack",
        description="Start a throwaway PostgreSQL + Odoo 18 stack with queue_job.",
    )
    parser.add_argument("--modules", default=None,
                        help=f"comma-separated modules to install (default: {','.join(default_modules())})")
    parser.add_argument("--db", default=DB_NAME, help="database name (default: %(default)s)")
    parser.add_argument("--port", type=int, default=None, help="Odoo HTTP port (default: a free port)")
    parser.add_argument("--workers", type=int, default=2, help="Odoo HTTP workers (default: %(default)s)")
    parser.add_argument("--channels", default=None, help="[queue_job] channels, e.g. root:2")
    # queue_job_monitor server-wide: its /queue_job/metrics and /health answer before a database is chosen.
    parser.add_argument("--server-wide-modules", default="base,web,queue_job,queue_job_monitor",
                        help="server_wide_modules (default: %(default)s)")
    parser.add_argument("--demo", action=argparse.BooleanOptionalAction, default=None,
                        help="load demo data (default: yes when queue_job_demo is installed, so its pages are populated)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories on exit")
    parser.add_argument("--log-level", default="info", help="Odoo log_level (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging for the harness itself")
    return parser.parse_args(argv)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> Any:
    # SIGTERM (e.g. `kill <pid>`) should clean up exactly like Ctrl-C.
    raise KeyboardInterrupt


def _banner(server: OdooServer, cluster: PgCluster, args: argparse.Namespace, modules: list[str],
            server_wide: list[str]) -> str:
    return "\n".join([
        "",
        "Odoo 18 stack is up.",
        f"  Open:        {server.url}/web/login?db={args.db}",
        "  Login:       admin / admin",
        f"  Database:    {args.db} (modules: {', '.join(modules)})",
        f"  Workers:     {args.workers}, server-wide modules: {','.join(server_wide)}",
        *([f"  Channels:    {args.channels}"] if args.channels else []),
        f"  Odoo log:    {server.log_path}",
        f"  Odoo conf:   {server.conf_path}",
        f"  PostgreSQL:  psql \"host={cluster.host} port={cluster.port} user={cluster.user} "
        f"password={cluster.password} dbname={args.db}\"",
        "Press Ctrl-C to stop" + (" (files are kept)." if args.keep else " and delete everything."),
        "",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    reason = odoo_unavailable_reason()
    if reason:
        print(f"Cannot start the stack: Odoo 18 is not importable ({reason}).\n{HOW_TO_GET_ODOO}",
              file=sys.stderr)
        return 2

    modules = [m.strip() for m in args.modules.split(",") if m.strip()] if args.modules else default_modules()
    server_wide = [m.strip() for m in args.server_wide_modules.split(",") if m.strip()]
    addons_dirs = [Path(p) for p in default_addons_path()]
    absent = [m for m in server_wide if not any((d / m / "__manifest__.py").is_file() for d in addons_dirs)]
    if absent:
        # A server-wide module that is not on disk makes every Odoo process
        # log a critical error; drop it so the stack is still usable.
        _logger.warning("server-wide module(s) %s not found in %s, not loading them", absent, addons_dirs)
        server_wide = [m for m in server_wide if m not in absent]
    with_demo_addon = "queue_job_demo" in modules
    demo = with_demo_addon if args.demo is None else args.demo
    args.channels = args.channels or (DEMO_CHANNELS if with_demo_addon else None)
    sections = {"queue_job": {"channels": args.channels}} if args.channels else None

    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    cluster = PgCluster(fast=True, keep=args.keep)
    server: OdooServer | None = None
    try:
        cluster.start()
        _logger.info("installing %s into %s (a bare base install takes ~20s)", ",".join(modules), args.db)
        result = init_database(cluster, args.db, modules, demo=demo,
                               server_wide_modules=server_wide, sections=sections)
        for record in result.problems:
            _logger.warning("install log: %s", record.first_line)
        server = OdooServer(
            cluster, args.db, workers=args.workers, server_wide_modules=server_wide,
            http_port=args.port, sections=sections, log_level=args.log_level,
        )
        server.start()
        print(_banner(server, cluster, args, modules, server_wide), flush=True)
        while server.running:
            time.sleep(1)
        _logger.error("Odoo exited on its own (exit code %s); see %s", server.returncode, server.log_path)
        return 1
    except KeyboardInterrupt:
        _logger.info("stopping")
        return 0
    except (OdooError, PgClusterError) as exc:
        _logger.error("%s", exc)
        return 1
    finally:
        # Ignore further Ctrl-C while tearing down, or we would leak processes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if server is not None:
            server.stop()
        cluster.close()
        if args.keep and cluster.root is not None:
            print(f"Kept {cluster.root}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
