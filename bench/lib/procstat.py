"""CPU time and memory of the processes of one Odoo server and its PostgreSQL cluster.

Read from /proc (Linux only): utime+stime of every process, by kind, before
and after a measure. A process that appears in between counts from zero; one
that disappears is lost, except PostgreSQL backends, whose time the
postmaster collects when it reaps them (its cutime+cstime).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tests.harness.odoo_server import OdooServer
from tests.harness.pgcluster import PgCluster
from tests.harness.procs import descendant_pids

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Process kinds, in report order.
HTTP = "http workers"
RUNNER = "jobrunner"
MASTER = "master"
OTHER = "other odoo"  # gevent (websocket) process, cron workers
POSTGRES = "postgresql"
KINDS = (HTTP, RUNNER, MASTER, OTHER, POSTGRES)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            raw = fh.read()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(utime+stime, cutime+cstime) of ``pid`` in clock ticks, None if it is gone."""
    fields = _stat(pid)
    if fields is None:
        return None
    # man 5 proc: utime is field 14, stime 15, cutime 16, cstime 17.
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def rss_mib(pid: int | None) -> float | None:
    """VmRSS of ``pid`` in MiB, None if unknown."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class CpuSnapshot:
    ticks: dict[str, dict[int, int]] = field(default_factory=dict)  # kind -> pid -> utime+stime
    reaped_postgres: int = 0  # postmaster's cutime+cstime: backends that exited


def server_pids(server: OdooServer, runner_class: str) -> dict[str, list[int]]:
    """The server's processes by kind (the runner is the worker of class ``runner_class``)."""
    tree = server.processes()
    runner = set(tree.of_kind(runner_class))
    http = set(tree.of_kind("http"))
    others = [pid for pid in tree.workers if pid not in runner | http]
    return {
        HTTP: sorted(http),
        RUNNER: sorted(runner),
        MASTER: [tree.master],
        OTHER: sorted(others + tree.gevent + tree.other),
    }


def snapshot(server: OdooServer, cluster: PgCluster, runner_class: str, exclude: set[int]) -> CpuSnapshot:
    """CPU ticks of every process of ``server`` and ``cluster`` (minus ``exclude``: our own backends)."""
    snap = CpuSnapshot()
    kinds = server_pids(server, runner_class)
    postmaster = cluster.pid
    if postmaster is not None:
        kinds[POSTGRES] = [postmaster, *descendant_pids(postmaster)]
        reaped = cpu_ticks(postmaster)
        snap.reaped_postgres = reaped[1] if reaped else 0
    for kind, pids in kinds.items():
        snap.ticks[kind] = {}
        for pid in pids:
            ticks = None if pid in exclude else cpu_ticks(pid)
            if ticks is not None:
                snap.ticks[kind][pid] = ticks[0]
    return snap


def cpu_seconds(before: CpuSnapshot, after: CpuSnapshot) -> tuple[dict[str, float], int]:
    """Seconds of CPU by kind between two snapshots, and how many processes vanished."""
    seconds: dict[str, float] = {}
    lost = 0
    for kind in KINDS:
        old, new = before.ticks.get(kind, {}), after.ticks.get(kind, {})
        ticks = sum(value - old.get(pid, 0) for pid, value in new.items())
        if kind == POSTGRES:
            ticks += after.reaped_postgres - before.reaped_postgres
        if kind != POSTGRES:  # exited backends are in reaped_postgres
            lost += len(set(old) - set(new))
        seconds[kind] = ticks / CLOCK_TICKS
    return seconds, lost
