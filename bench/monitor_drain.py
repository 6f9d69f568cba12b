#!/usr/bin/env python3
"""What queue_job_monitor costs the queue: the drain rate with and without it.

    python3 bench/monitor_drain.py [--quick] [--rounds N]

Two stacks of this queue_job (each its own cluster, database and server,
workers=2, channels root:2): one without the monitor, one with
queue_job_monitor installed and server-wide (its counting triggers on) and
``/queue_job/metrics`` scraped every 5 s while the jobs drain. The two
drain the same no-op jobs in turns, A B A B ..., one server up at a time,
so a machine whose speed drifts affects both alike; the table gives each
round and the medians.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.lib import measures  # noqa: E402
from bench.lib.measures import FULL, QUICK  # noqa: E402
from bench.lib.stack import DB_NAME, OURS, Stack  # noqa: E402
from tests.harness.odoo_setup import odoo_unavailable_reason  # noqa: E402

_logger = logging.getLogger("bench.monitor_drain")

TOKEN = "bench-metrics-token"
SCRAPE_INTERVAL = 5.0
CHANNELS = "root:2"


class Scraper(threading.Thread):
    """GET /queue_job/metrics every SCRAPE_INTERVAL seconds, as Prometheus would."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{base_url}/queue_job/metrics?db={DB_NAME}"
        self.stopped = threading.Event()
        self.scrapes: list[float] = []  # seconds each scrape took
        self.errors = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            started = time.monotonic()
            request = urllib.request.Request(self.url, headers={"Authorization": f"Bearer {TOKEN}"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                self.scrapes.append(time.monotonic() - started)
            except OSError:
                self.errors += 1
            self.stopped.wait(SCRAPE_INTERVAL)


def drain_round(stack: Stack, count: int, scraped: bool, sizes) -> dict:
    measures.start(stack, CHANNELS, sizes)
    scraper = Scraper(stack.server.url) if scraped else None
    if scraper:
        scraper.start()
    try:
        result = measures.drain(stack, count)
    finally:
        if scraper:
            scraper.stopped.set()
            scraper.join()
        stack.stop_server()
    if scraper:
        result["scrapes"] = len(scraper.scrapes)
        result["scrape_errors"] = scraper.errors
        result["scrape_median_ms"] = 1000 * statistics.median(scraper.scrapes) if scraper.scrapes else None
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller drains, 2 rounds")
    parser.add_argument("--rounds", type=int, help="drains per stack (default: 2 quick, 4 full)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    reason = odoo_unavailable_reason()
    if reason:
        _logger.error("cannot run the benchmark: %s", reason)
        return 2
    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or (2 if args.quick else 4)
    # Long enough that several scrapes fall inside every drain.
    count = max(sizes.drain, 6000 if args.quick else 20000)
    plain = Stack(OURS, workers=2, durable=False, keep=False)
    monitored = Stack(OURS, workers=2, durable=False, keep=False, extra_addons=("queue_job_monitor",),
                      queue_job_options={"metrics_token": TOKEN})
    rates: dict[str, list[float]] = {"without": [], "with": []}
    rows = []
    try:
        for stack in (plain, monitored):
            stack.create()
            measures.enqueue(stack, QUICK.enqueue)  # also stores the template jobs the drains copy
        for round_number in range(1, rounds + 1):
            for key, stack, scraped in (("without", plain, False), ("with", monitored, True)):
                result = drain_round(stack, count, scraped, sizes)
                if result["unfinished"] or result["failed"]:
                    raise RuntimeError(f"round {round_number} {key}: {result['unfinished']} unfinished, "
                                       f"{result['failed']} failed")
                rates[key].append(result["jobs_per_s"])
                rows.append((round_number, key, result))
    finally:
        plain.close()
        monitored.close()
    print(f"Drain of {count} no-op jobs, channels {CHANNELS}, workers=2; with: queue_job_monitor installed, "
          f"server-wide, /queue_job/metrics scraped every {SCRAPE_INTERVAL:.0f} s")
    kinds = ("http workers", "jobrunner", "postgresql")
    print(f"{'round':>5}  {'monitor':<8} {'jobs/s':>8} {'CPU ms/job':>10} "
          + " ".join(f"{kind:>12}" for kind in kinds) + f" {'scrapes':>8} {'scrape ms':>9}")
    for round_number, key, result in rows:
        scrape_ms = result.get("scrape_median_ms")
        per_job = result["cpu_ms_per_job"]
        print(f"{round_number:>5}  {key:<8} {result['jobs_per_s']:>8.0f} {per_job['total']:>10.2f} "
              + " ".join(f"{per_job.get(kind) or 0:>12.2f}" for kind in kinds)
              + f" {result.get('scrapes', ''):>8} {'' if scrape_ms is None else f'{scrape_ms:.0f}':>9}")
    without, with_monitor = statistics.median(rates["without"]), statistics.median(rates["with"])
    print(f"median drain rate: without {without:.0f} jobs/s, with {with_monitor:.0f} jobs/s: "
          f"{100 * (with_monitor - without) / without:+.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
