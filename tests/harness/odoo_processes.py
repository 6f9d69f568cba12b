"""How a running prefork Odoo 18 server's processes are told apart."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "OdooProcesses",
]


@dataclass
class OdooProcesses:
    """The process tree of a running prefork server.

    Forked workers are recognised by their Worker class name: from the
    process title when setproctitle is installed, else from the
    ``Worker <Class> (<pid>) alive`` line each worker logs at startup (needs
    log_level info or lower).  ``workers`` maps every forked worker to that
    class name ("?" until the worker has logged), e.g. WorkerHTTP,
    WorkerCron, or an addon's own worker class such as queue_job's runner.
    """

    master: int
    workers: dict[int, str] = field(default_factory=dict)
    gevent: list[int] = field(default_factory=list)
    other: list[int] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[int]:
        """Worker pids of one class name; "http"/"cron" are shorthands, "all" means every worker."""
        wanted = {"http": "WorkerHTTP", "cron": "WorkerCron"}.get(kind, kind)
        return sorted(pid for pid, name in self.workers.items() if kind == "all" or name == wanted)

    @property
    def http_workers(self) -> list[int]:
        return self.of_kind("http")

    @property
    def cron_workers(self) -> list[int]:
        return self.of_kind("cron")


_WORKER_ALIVE_RE = re.compile(r": Worker (?P<cls>\w+) \((?P<pid>\d+)\) alive")
_WORKER_TITLE_RE = re.compile(r"^odoo: (?P<cls>\w+) (?P<pid>\d+)")
