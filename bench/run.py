#!/usr/bin/env python3
"""Benchmark queue_job, and OCA's queue_job 18.0 side by side.

    python3 bench/run.py [--oca /path/to/oca/queue] [--quick] [--out results.json]

Each queue runs on its own throwaway PostgreSQL cluster and Odoo server
(workers=2), one after the other; see bench/README.md for what each figure
means. Prints the table on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.lib import measures
from bench.lib.measures import FULL, QUICK, Sizes
from bench.lib.report import render
from bench.lib.stack import OURS, Flavour, Stack, oca_flavour
from tests.harness.odoo_setup import odoo_unavailable_reason, odoo_version

_logger = logging.getLogger("bench")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oca", type=Path, help="checkout of OCA's queue repository, 18.0 (or its queue_job directory)")
    parser.add_argument("--quick", action="store_true", help="sizes divided by ~10 (a couple of minutes)")
    parser.add_argument("--out", type=Path, help="write the raw numbers there as JSON")
    parser.add_argument("--workers", type=int, default=2, help="Odoo HTTP workers (default: %(default)s)")
    parser.add_argument("--durable", action="store_true", help="PostgreSQL with fsync (default: fsync=off)")
    parser.add_argument("--keep", action="store_true", help="keep the clusters' directories and logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def run_flavour(flavour: Flavour, sizes: Sizes, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure for one queue; an error stops this flavour, recorded in the result."""
    result: dict[str, Any] = {"label": flavour.label, "addons_dir": str(flavour.addons_dir),
                              "loadavg_at_start": os.getloadavg(), "workers": args.workers}
    stack = Stack(flavour, workers=args.workers, durable=args.durable, keep=args.keep)
    started = time.monotonic()
    try:
        stack.create()
        result["addons_path"] = stack.addons_path
        result["enqueue"] = measures.enqueue(stack, sizes.enqueue)
        result["drain"] = {}
        measures.start(stack, "root:2", sizes)
        result["drain"]["root:2"] = measures.drain(stack, sizes.drain)
        result["first_start"] = measures.first_start(stack, sizes.first_start)
        result["latency"] = measures.latency(stack, sizes.latency)
        measures.start(stack, "root:4", sizes)
        result["drain"]["root:4"] = measures.drain(stack, sizes.drain)
        result["backlog"] = {}
        for size in sizes.backlogs:
            result["backlog"][str(size)] = measures.backlog(
                stack, size, sizes.backlog_drain, "root:2", sizes.ready_timeout)
    except Exception as exc:  # report what we have, and why the rest is missing
        _logger.exception("%s: benchmark stopped", flavour.label)
        result["error"] = f"{type(exc).__name__}: {exc}"[:3000]
    finally:
        try:
            result["log_problems"] = stack.log_problems()
        except OSError as exc:
            result["log_problems"] = [f"could not read the logs: {exc}"]
        stack.close()
        result["seconds"] = time.monotonic() - started
        if args.keep:
            result["kept_dir"] = str(stack.cluster.root)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    reason = odoo_unavailable_reason()
    if reason:
        _logger.error("cannot run the benchmark: %s", reason)
        return 2
    flavours = [OURS]
    if args.oca:
        try:
            flavours.append(oca_flavour(args.oca))
        except ValueError as exc:
            _logger.error("--oca: %s", exc)
            return 2
    sizes = QUICK if args.quick else FULL
    meta = {"quick": args.quick, "sizes": dataclasses.asdict(sizes), "workers": args.workers, "durable": args.durable,
            "odoo_version": odoo_version(), "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    results = {flavour.key: run_flavour(flavour, sizes, args) for flavour in flavours}
    if args.out:
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str) + "\n")
        _logger.info("raw numbers written to %s", args.out)
    print(render(results, sizes, meta), flush=True)
    return 1 if any(result.get("error") for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
