"""The monitor's figures, computed from the statements of :mod:`.sql`.

Plain functions over a database cursor: the dashboard, the metrics endpoint,
the snapshots and the alert rules all read the queue through them.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Mapping

from odoo.addons.queue_job.engine import sql as queue_job_sql
from odoo.addons.queue_job.engine.channels import ChannelTree
from odoo.addons.queue_job.engine.live_channels import merge_channels, stored_channels
from odoo.addons.queue_job.jobrunner.settings import channels_config

from . import sql

WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}
DEFAULT_SILENT_AFTER = 120.0  # seconds without a dispatch while jobs are ready


def percentile_from_buckets(buckets: Mapping[int, int], quantile: float) -> float | None:
    """The ``quantile`` of a histogram of :data:`sql.HISTOGRAM_BOUNDS` buckets.

    Linear within the bucket it falls in, as Prometheus' histogram_quantile
    does; a value in the +Inf bucket is reported as the last bound.
    """
    total = sum(buckets.values())
    if not total:
        return None
    bounds = sql.HISTOGRAM_BOUNDS
    rank = quantile * total
    seen = 0
    for index in range(len(bounds) + 1):
        count = buckets.get(index, 0)
        if count and seen + count >= rank:
            if index == len(bounds):
                return bounds[-1]
            lower = bounds[index - 1] if index else 0.0
            return lower + (bounds[index] - lower) * (rank - seen) / count
        seen += count
    return bounds[-1]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def channel_settings(cr, names) -> dict[str, dict]:
    """Capacity on this server, paused or not, and the record of each channel.

    Capacities are odoo.conf's (``[queue_job] channels``) with the settings
    changed in the interface merged over them, as the runner merges them.
    """
    cr.execute(queue_job_sql.CHANNEL_SETTINGS)
    configured = ChannelTree.from_config(channels_config())
    live = merge_channels((configured.spec(name) for name in configured.names), stored_channels(cr.fetchall()))
    cr.execute(sql.CHANNEL_RECORDS)
    record_ids = dict(cr.fetchall())
    settings = {}
    for name in set(names) | set(live.paused):
        capacity = None
        for ancestor in live.tree.lineage(live.tree.resolve(name)):
            if live.tree.spec(ancestor).capacity is not None:
                capacity = live.tree.spec(ancestor).capacity
                break
        settings[name] = {
            "capacity": capacity,
            "paused": live.is_paused(name),
            "paused_here": name in live.paused,
            "channel_id": record_ids.get(name),
        }
    return settings


def channel_depths(cr) -> list[dict]:
    """Jobs of each channel by state, its oldest ready job and its settings: what a scrape shows.

    Reads only the jobs not finished, never the done ones.
    """
    return _channel_rows(cr, _depth_rows(cr))


def channel_figures(cr) -> list[dict]:
    """Depth, flow, latency and failures of each channel that has jobs or had some in the hour."""
    rows = _depth_rows(cr)
    cr.execute(sql.CHANNEL_FLOW_LAST_HOUR)
    for channel, done_5m, done_1h, wait_p50, wait_p95, run_p50, run_p95 in cr.fetchall():
        rows[channel].update(
            throughput_5m=done_5m / 5.0, throughput_1h=done_1h / 60.0,
            wait_p50=wait_p50, wait_p95=wait_p95, run_p50=run_p50, run_p95=run_p95,
        )  # fmt: skip
    since = now(cr) - datetime.timedelta(hours=1)
    cr.execute(sql.OUTCOMES_SINCE_BY_CHANNEL, {"since": since})
    for channel, done, failed, retried in cr.fetchall():
        done, failed = done or 0, failed or 0
        rows[channel].update(
            done_1h_count=done, failed_1h=failed, retried_1h=retried or 0,
            failure_rate_1h=_rate(failed, done + failed),
        )  # fmt: skip
    return _channel_rows(cr, rows)


def _depth_rows(cr) -> dict[str, dict]:
    rows: dict[str, dict] = defaultdict(dict)
    cr.execute(sql.CHANNEL_DEPTH)
    for channel, enqueued, started, ready, scheduled, waiting, failed, oldest in cr.fetchall():
        rows[channel].update(
            running=enqueued + started, started=started, ready=ready, scheduled=scheduled,
            waiting=waiting, failed=failed, oldest_ready_age=float(oldest) if oldest is not None else None,
        )  # fmt: skip
    return rows


def _channel_rows(cr, rows: dict[str, dict]) -> list[dict]:
    """One row per channel known (configured, stored or with jobs), every figure defaulted."""
    settings = channel_settings(cr, rows)
    result = []
    for channel in sorted(settings):
        row = {
            "channel": channel, "running": 0, "started": 0, "ready": 0, "scheduled": 0, "waiting": 0,
            "failed": 0, "oldest_ready_age": None, "throughput_5m": 0.0, "throughput_1h": 0.0,
            "wait_p50": None, "wait_p95": None, "run_p50": None, "run_p95": None,
            "done_1h_count": 0, "failed_1h": 0, "retried_1h": 0, "failure_rate_1h": None,
        }  # fmt: skip
        row.update(rows[channel])
        row.update(settings[channel])
        row["utilisation"] = _rate(row["running"], row["capacity"] or 0)
        result.append(row)
    return result


def function_figures(cr, window: str = "1h") -> list[dict]:
    """Jobs finished, failure rate, run-time p50/p95 and last failure per job function."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}: use one of {', '.join(WINDOWS)}")
    since = now(cr) - datetime.timedelta(seconds=WINDOWS[window])
    cr.execute(sql.FUNCTION_COUNTS_SINCE, {"since": since})
    counts: dict[str, dict] = defaultdict(lambda: {"done": 0, "failed": 0, "retried": 0, "run": {}})
    for func, kind, bucket, n, _seconds in cr.fetchall():
        if kind == "run":
            counts[func]["run"][bucket] = n
        else:
            counts[func][kind] += n
    cr.execute(sql.LAST_FAILURE_BY_FUNCTION)
    last_failure = dict(cr.fetchall())
    result = []
    for func in sorted(counts):
        c = counts[func]
        finished = c["done"] + c["failed"]
        result.append({
            "function": func, "jobs": finished, "done": c["done"], "failed": c["failed"],
            "retried": c["retried"], "failure_rate": _rate(c["failed"], finished),
            "run_p50": percentile_from_buckets(c["run"], 0.5),
            "run_p95": percentile_from_buckets(c["run"], 0.95),
            "last_failure": last_failure.get(func) if c["failed"] else None,
        })  # fmt: skip
    return result


_RUNNER_PID = re.compile(r"queue_job runner (\d+)")


def runner_state(cr, silent_after: float = DEFAULT_SILENT_AFTER, channels: list[dict] | None = None) -> dict:
    """Which runner leads this database, its last dispatch, jobs in flight, silent or not.

    ``channels``: the channel figures if the caller has them (saves a pass over the pending jobs).
    """
    current = now(cr)
    cr.execute(sql.CLEAR_STATS_SNAPSHOT)
    cr.execute(sql.RUNNER_LEADER)
    row = cr.fetchone()
    leader = None
    if row:
        backend_pid, address, hostname, application, since, state, wait_event = row
        match = _RUNNER_PID.search(application or "")
        leader = {
            "backend_pid": backend_pid,
            "host": hostname or address or "local socket",
            "pid": int(match.group(1)) if match else None,
            "application_name": application or "",
            "since": since,
            "listening": state == "idle" or wait_event == "ClientRead",
        }
    cr.execute(sql.LAST_DISPATCH)
    last_dispatch = cr.fetchone()[0]
    if channels is None:
        cr.execute(sql.IN_FLIGHT_AND_READY)
        in_flight, ready = cr.fetchone()
    else:
        in_flight = sum(row["running"] for row in channels)
        ready = sum(row["ready"] for row in channels)
    silence = (current - last_dispatch).total_seconds() if last_dispatch else None
    silent = bool(ready) and (leader is None or silence is None or silence > silent_after)
    return {
        "leader": leader,
        "last_dispatch": last_dispatch,
        "seconds_since_dispatch": silence,
        "in_flight": in_flight,
        "ready": ready,
        "silent": silent,
        "silent_after": silent_after,
    }


def stuck_started(cr, grace: float = 60.0) -> dict[str, int]:
    """Started jobs past their hard time limit (plus ``grace`` seconds), per channel."""
    cr.execute(sql.STUCK_STARTED, {"grace": grace})
    return dict(cr.fetchall())


def counts_since(cr, since: datetime.datetime, channel: str | None = None, function: str | None = None) -> dict:
    """Outcomes and histograms since ``since``, optionally of one channel and/or job function.

    Returns {"done": n, "failed": n, "retried": n, "enqueued": n, "cancelled": n,
    "run": {bucket: n}, "wait": {bucket: n}}.
    """
    cr.execute(sql.COUNTS_SINCE, {"since": since})
    result: dict = {kind: 0 for kind in sql.COUNTER_KINDS}
    result.update(run=defaultdict(int), wait=defaultdict(int))
    for row_channel, func, kind, bucket, n, _seconds in cr.fetchall():
        if channel and row_channel != channel:
            continue
        if function and func != function:
            continue
        if kind in sql.HISTOGRAM_KINDS:
            result[kind][bucket] += n
        else:
            result[kind] += n
    return result


def counter_totals(cr) -> list[tuple]:
    """(channel, function, kind, bucket, n, seconds) since the monitor was installed."""
    cr.execute(sql.COUNTER_TOTALS)
    return cr.fetchall()


def fold_counters(cr, wait: bool = True) -> bool:
    """Move the committed deltas into the counts; False when another fold held the lock and ``wait`` is off."""
    if wait:
        cr.execute(sql.FOLD_LOCK)
    else:
        cr.execute(sql.TRY_FOLD_LOCK)
        if not cr.fetchone()[0]:
            return False
    cr.execute(sql.FOLD_DELTAS)
    return True


def now(cr) -> datetime.datetime:
    cr.execute(sql.NOW)
    return cr.fetchone()[0]
