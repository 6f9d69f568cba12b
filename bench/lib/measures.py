"""The figures of bench/run.py, each measured on a running :class:`~bench.lib.stack.Stack`.

Every time that is compared with a commit is read from the database clock
(``clock_timestamp()``), as is the commit time itself, so that the bench's
own scheduling does not enter the figures.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from . import jobs, procstat
from .stack import Stack

_logger = logging.getLogger(__name__)

DRAIN_PRIORITY = 10
BACKLOG_PRIORITY = 100
DRAIN_POLL = 0.05  # seconds between two looks at a draining batch
LATENCY_POLL = 0.002
WARM_UP_JOBS = 20


@dataclass(frozen=True)
class Sizes:
    enqueue: int  # jobs per enqueue batch
    drain: int  # no-op jobs per drain
    latency: int  # single jobs, one after the other
    first_start: int  # jobs committed at once before the first start
    backlogs: tuple[int, ...]  # pending jobs in the table when the runner starts
    backlog_drain: int  # no-op jobs drained with the backlog in the table
    ready_timeout: float  # seconds a runner may take to become ready


FULL = Sizes(enqueue=5000, drain=2000, latency=100, first_start=5000,
             backlogs=(1000, 1_000_000), backlog_drain=2000, ready_timeout=1800)
QUICK = Sizes(enqueue=500, drain=200, latency=10, first_start=500,
              backlogs=(1000, 20_000), backlog_drain=200, ready_timeout=600)


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def drain_timeout(count: int) -> float:
    return 120 + count * 0.5


def start(stack: Stack, channels: str, sizes: Sizes) -> None:
    """(Re)start the server with ``channels`` and warm its workers up."""
    stack.start_server(channels, sizes.ready_timeout)
    stack.warm_up(WARM_UP_JOBS)


# -- enqueue -------------------------------------------------------------------


def enqueue(stack: Stack, count: int) -> dict[str, Any]:
    """Enqueue rates (server stopped), then the template jobs for everything else."""
    stack.stop_server()
    result = stack.shell("enqueue.py", {"jobs": count})
    jobs.make_templates(stack.connect(), result.pop("templates"))
    for key in ("with_delay", "bulk"):
        if result.get(key):
            _logger.info("%s: enqueue %s: %.0f jobs/s", stack.flavour.label, key, result[key]["jobs_per_s"])
    return result


# -- drain ------------------------------------------------------------------------


def drain(stack: Stack, count: int) -> dict[str, Any]:
    """Commit ``count`` no-op jobs at once; time until all are done; CPU by process kind."""
    conn = stack.connect()
    server = stack.server
    assert server is not None
    exclude = {stack.backend_pid()}
    before = procstat.snapshot(server, stack.cluster, stack.flavour.runner_class, exclude)
    batch = jobs.insert_jobs(conn, "bench_noop", count, DRAIN_PRIORITY)
    drained = jobs.wait_drained(conn, batch, DRAIN_POLL, drain_timeout(count))
    after = procstat.snapshot(server, stack.cluster, stack.flavour.runner_class, exclude)
    cpu, lost = procstat.cpu_seconds(before, after)
    seconds = drained.finished_at - batch.committed_at
    finished = drained.done + drained.failed
    per_job = {kind: 1000 * value / finished if finished else None for kind, value in cpu.items()}
    per_job["total"] = 1000 * sum(cpu.values()) / finished if finished else None
    result = {
        "jobs": count, "done": drained.done, "failed": drained.failed, "unfinished": drained.unfinished,
        "timed_out": drained.timed_out, "seconds": seconds,
        "jobs_per_s": drained.done / seconds if seconds > 0 else None,
        "cpu_seconds": cpu, "cpu_ms_per_job": per_job, "processes_lost": lost,
    }
    _logger.info("%s: drained %d/%d jobs in %.2fs (%.0f jobs/s, %.2f ms CPU/job)", stack.flavour.label,
                 drained.done, count, seconds, result["jobs_per_s"] or 0, per_job["total"] or 0)
    return result


# -- latency ------------------------------------------------------------------------


def latency(stack: Stack, count: int, timeout: float = 60) -> dict[str, Any]:
    """One bench_stamp job at a time: commit-to-start (its stamp) and commit-to-done (seen by polling)."""
    conn = stack.connect()
    starts: list[float] = []
    dones: list[float] = []
    for n in range(count):
        batch = jobs.insert_jobs(conn, "bench_stamp", 1, DRAIN_PRIORITY, token_prefix=f"latency{n}-")
        drained = jobs.wait_drained(conn, batch, LATENCY_POLL, timeout)
        if drained.done != 1:
            _logger.warning("%s: latency job %d not done after %ss", stack.flavour.label, n, timeout)
            continue
        dones.append(1000 * (drained.finished_at - batch.committed_at))
        stamp = jobs.stamp_of(conn, f"latency{n}-1")
        if stamp is not None:
            starts.append(1000 * (stamp - batch.committed_at))
    start_ms = {"p50": percentile(starts, 0.5), "p95": percentile(starts, 0.95)}
    done_ms = {"p50": percentile(dones, 0.5), "p95": percentile(dones, 0.95)}
    _logger.info("%s: latency p50 start %.1f ms, done %.1f ms", stack.flavour.label,
                 start_ms["p50"] or -1, done_ms["p50"] or -1)
    return {"jobs": count, "completed": len(dones), "start_ms": start_ms, "done_ms": done_ms,
            "raw_start_ms": starts, "raw_done_ms": dones}


# -- first start ------------------------------------------------------------------


def first_start(stack: Stack, count: int, timeout: float = 300) -> dict[str, Any]:
    """Commit ``count`` bench_stamp jobs at once (with_delay loop); the first stamp minus the commit."""
    conn = stack.connect()
    prefix = "first-"
    shell = stack.shell("first_start.py", {"jobs": count, "prefix": prefix})
    deadline = time.monotonic() + timeout
    stamp = jobs.first_stamp(conn, prefix)
    while stamp is None and time.monotonic() < deadline:
        time.sleep(0.05)
        stamp = jobs.first_stamp(conn, prefix)
    cancelled = jobs.cancel_pending(conn)  # the rest is not what we measure
    left = jobs.wait_nothing_unfinished(conn, drain_timeout(count))
    delay = None if stamp is None else 1000 * (stamp - shell["committed_at"])
    _logger.info("%s: first start %.0f ms after committing %d jobs", stack.flavour.label, delay or -1, count)
    return {"jobs": count, "delay_ms": delay, "enqueue_seconds": shell["enqueue_seconds"],
            "cancelled_after": cancelled, "unfinished_after": left}


# -- backlog ---------------------------------------------------------------------


def backlog(stack: Stack, size: int, drain_jobs: int, channels: str, ready_timeout: float) -> dict[str, Any]:
    """Start the server on ``size`` pending jobs; readiness, runner memory, drain with the backlog there."""
    conn = stack.connect()
    stack.stop_server()
    jobs.clear_jobs(conn)
    filling = time.monotonic()
    jobs.insert_jobs(conn, "bench_noop", size, BACKLOG_PRIORITY)
    fill_seconds = time.monotonic() - filling
    jobs.vacuum_analyze(conn)
    _logger.info("%s: %d pending jobs stored in %.1fs; starting the server", stack.flavour.label, size, fill_seconds)
    started = stack.start_server(channels, ready_timeout)
    rss_ready = procstat.rss_mib(started.runner_pid)
    # No warm-up: the backlog starts running at once and warms the workers,
    # and every second waited here takes jobs out of the backlog.
    drained = drain(stack, drain_jobs)
    runner_after = stack.runner_pid()
    result = {
        "backlog": size, "fill_seconds": fill_seconds, "channels": channels,
        "ready_s": started.ready_at - started.spawned_at,
        "load_s": None if started.runner_started_at is None else started.ready_at - started.runner_started_at,
        "runner_pid": started.runner_pid, "runner_pid_after": runner_after,
        "rss_mib_ready": rss_ready, "rss_mib_after": procstat.rss_mib(runner_after),
        "drain": drained,
    }
    stack.stop_server()  # before it works through the backlog
    result["backlog_left"] = jobs.count_pending(conn, BACKLOG_PRIORITY)
    jobs.clear_jobs(conn)
    return result
