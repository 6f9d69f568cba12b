"""The plain-text table of bench/run.py: ours and OCA side by side, with ratios.

Every ratio reads the same way: above 1, ours is better. Rates (jobs/s) are
divided ours/OCA; costs (ms, seconds, MiB) OCA/ours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import procstat
from .measures import Sizes

Result = dict[str, Any]
Getter = Callable[[Result], Any]


@dataclass(frozen=True)
class Row:
    label: str
    unit: str
    rate: bool | None  # True: higher is better (ours/OCA); False: a cost (OCA/ours); None: no ratio
    get: Getter
    oca_get: Getter | None = None  # OCA's comparable figure, when it is not the same one


def _path(*keys: str) -> Getter:
    def get(result: Result) -> Any:
        value: Any = result
        for key in keys:
            if not isinstance(value, dict) or value.get(key) is None:
                return None
            value = value[key]
        return value

    return get


def rows(sizes: Sizes, workers: int) -> list[Row | str]:
    table: list[Row | str] = [
        f"Enqueue {sizes.enqueue} no-op jobs in one transaction, commit included",
        Row("with_delay() loop", "jobs/s", True, _path("enqueue", "with_delay", "jobs_per_s")),
        Row("bulk.enqueue_many() (OCA: none, vs its loop)", "jobs/s", True,
            _path("enqueue", "bulk", "jobs_per_s"), _path("enqueue", "with_delay", "jobs_per_s")),
        f"Drain {sizes.drain} no-op jobs committed at once (workers={workers})",
    ]
    for channels in ("root:2", "root:4"):
        table.append(Row(f"drain rate, channels {channels}", "jobs/s", True, _path("drain", channels, "jobs_per_s")))
    for channels in ("root:2", "root:4"):
        table.append(f"CPU per job during the drain, channels {channels}")
        for kind in (*procstat.KINDS, "total"):
            table.append(Row(kind, "ms/job", False, _path("drain", channels, "cpu_ms_per_job", kind)))
    table += [
        f"Latency of {sizes.latency} single jobs, one at a time (channels root:2)",
        Row("commit to start, p50", "ms", False, _path("latency", "start_ms", "p50")),
        Row("commit to start, p95", "ms", False, _path("latency", "start_ms", "p95")),
        Row("commit to done seen by the client, p50", "ms", False, _path("latency", "done_ms", "p50")),
        Row("commit to done seen by the client, p95", "ms", False, _path("latency", "done_ms", "p95")),
        f"First start after committing {sizes.first_start} jobs at once (channels root:2)",
        Row("commit to first start", "ms", False, _path("first_start", "delay_ms")),
    ]
    for size in sizes.backlogs:
        key = str(size)
        table += [
            f"Backlog of {size} pending jobs (priority 100) when the server starts (channels root:2)",
            Row("runner ready, from server launch", "s", False, _path("backlog", key, "ready_s")),
            Row("runner ready, from runner start", "s", False, _path("backlog", key, "load_s")),
            Row(f"drain rate of {sizes.backlog_drain} priority-10 jobs", "jobs/s", True,
                _path("backlog", key, "drain", "jobs_per_s")),
            Row("runner RSS when ready", "MiB", False, _path("backlog", key, "rss_mib_ready")),
            Row("runner RSS after the drain", "MiB", False, _path("backlog", key, "rss_mib_after")),
            Row("backlog jobs still pending after the drain", "jobs", None, _path("backlog", key, "backlog_left")),
        ]
    return table


def _number(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(row: Row, ours: Any, oca: Any) -> str:
    if row.rate is None or not isinstance(ours, (int, float)) or not isinstance(oca, (int, float)):
        return ""
    top, bottom, way = (ours, oca, "ours/OCA") if row.rate else (oca, ours, "OCA/ours")
    if bottom <= 0:
        return ""
    return f"{top / bottom:.2f} ({way})"


def render(results: dict[str, Result], sizes: Sizes, meta: dict[str, Any]) -> str:
    ours = results.get("ours", {})
    oca = results.get("oca")
    lines = [
        f"queue_job benchmark ({'quick' if meta.get('quick') else 'full'} sizes) - {meta.get('date', '')}",
        (f"Odoo {meta.get('odoo_version')}, {meta.get('cpus')} CPUs, server workers={meta.get('workers')}, "
         f"PostgreSQL {'durable' if meta.get('durable') else 'fsync=off'}"),
    ]
    if oca is not None:
        lines.append("Ratio above 1: ours is better (rates are ours/OCA, costs OCA/ours).")
    header = f"  {'figure':<50} {'unit':<7} {'ours':>10}"
    if oca is not None:
        header += f" {'OCA':>10}  ratio"
    lines += ["", header]
    for row in rows(sizes, meta.get("workers", 0)):
        if isinstance(row, str):
            lines += ["", row]
            continue
        mine = row.get(ours)
        line = f"  {row.label:<50} {row.unit:<7} {_number(mine):>10}"
        if oca is not None:
            theirs = (row.oca_get or row.get)(oca)
            shown = _number(theirs) if row.oca_get is None else f"({_number(theirs)})"
            line += f" {shown:>10}  {_ratio(row, mine, theirs)}"
        lines.append(line.rstrip())
    lines += ["", *notes(results)]
    return "\n".join(lines)


def notes(results: dict[str, Result]) -> list[str]:
    """Errors, jobs that did not drain and log problems, per flavour."""
    out = []
    for key, result in results.items():
        label = result.get("label", key)
        if result.get("error"):
            out.append(f"{label}: ERROR {result['error']}")
        for where, drained in _drains(result):
            if drained.get("done") != drained.get("jobs"):
                out.append(f"{label}: {where}: {drained.get('done')} of {drained.get('jobs')} jobs done "
                           f"({drained.get('failed')} failed/cancelled, {drained.get('unfinished')} unfinished)")
        problems: Counter[str] = Counter(result.get("log_problems", []))
        if problems:
            out.append(f"{label}: {sum(problems.values())} warning/error log lines, e.g.:")
            out += [f"    {count}x {line[:200]}" for line, count in problems.most_common(8)]
        else:
            out.append(f"{label}: no warning or error in the Odoo logs")
    return out


def _drains(result: Result) -> list[tuple[str, Result]]:
    found = [(f"drain {channels}", value) for channels, value in (result.get("drain") or {}).items()]
    for size, value in (result.get("backlog") or {}).items():
        if isinstance(value, dict) and value.get("drain"):
            found.append((f"drain with a backlog of {size}", value["drain"]))
    return found
