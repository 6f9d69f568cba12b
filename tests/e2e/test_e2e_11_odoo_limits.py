"""Odoo's own limits on its workers, met by jobs: limit_time_real, limit_time_cpu, limit_memory_hard.

A server of its own with tight limits (a worker is killed by the master after
8 s of one request, a request gets 2 s of CPU, a worker 2.5 GiB of address
space) and ``max_worker_losses = 2``, on a copy of the e2e database:

- a job longer than limit_time_real has its worker killed; the runner puts it
  back to pending, counting the try; killed a second time, it fails with a
  message saying its worker died twice. Nothing is left ``started``.
- a job past limit_time_cpu ends the same way: Odoo's worker exits on its
  "CPU time limit exceeded." exception.
- a job asking for more memory than limit_memory_hard gets a MemoryError and
  fails with it; the worker lives on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from .databases import DatabaseReader, dump_database
from .helpers import addons_path, wait_for
from harness.odoo_logs import parse_log
from harness.odoo_rpc import OdooRpc
from harness.odoo_server import OdooServer
from harness.pgcluster import PgCluster

pytestmark = pytest.mark.odoo

DB = "qjlim_e2e"
LIMIT_TIME_REAL = 8  # above the 4 s an idle worker may sleep between two heartbeats
LIMIT_TIME_CPU = 2
GIB = 1024**3


class Limited:
    def __init__(self, cluster: PgCluster, server: OdooServer) -> None:
        self.cluster = cluster
        self.server = server
        self.rpc = OdooRpc(server.url, DB, "admin", "admin")
        self.probe = self.rpc.call("queue.job.probe", "create", {"name": "limits"})

    def enqueue(self, method: str, *args: Any, **options: Any) -> str:
        return self.rpc.call("queue.job.probe", "enqueue_method", [self.probe], method, list(args), **options)

    def row(self, uuid: str) -> dict[str, Any]:
        with DatabaseReader(self.cluster, DB) as db:
            (row,) = db.query(
                "SELECT state, retry, worker_losses, worker_pid, exc_name, exc_message FROM queue_job WHERE uuid = %s",
                (uuid,),
            )
        return dict(zip(("state", "retry", "worker_losses", "worker_pid", "exc_name", "exc_message"), row))

    def effects(self, uuid: str) -> list[str]:
        with DatabaseReader(self.cluster, DB) as db:
            return [tag for (tag,) in db.query(
                "SELECT tag FROM queue_job_probe_effect WHERE job_uuid = %s ORDER BY id", (uuid,))]

    def wait_final(self, uuid: str, timeout: float) -> dict[str, Any]:
        return wait_for(
            lambda: (lambda row: row if row["state"] in ("done", "failed", "cancelled") else None)(self.row(uuid)),
            timeout, f"job {uuid} to end", interval=0.2, describe=lambda: self.row(uuid),
        )

    def run_until_given_up(self, method: str, *args: Any, timeout: float) -> tuple[str, list[str]]:
        """Enqueue a job its worker will not survive: it must fail after two worker deaths.

        Returns its uuid and the log lines written meanwhile."""
        offset = self.server.log_offset()
        uuid = self.enqueue(method, *args)
        row = self.wait_final(uuid, timeout)
        assert row["state"] == "failed", row
        assert row["worker_losses"] == 2, row
        assert row["exc_message"].startswith("The worker running this job died 2 time(s)"), row
        self.server.wait_for_workers(timeout=30)
        self.assert_serves()
        return uuid, [record.first_line for record in parse_log(self.server.log_text(offset))]

    def assert_serves(self) -> None:
        """A short job still runs, and no job is left started or enqueued."""
        uuid = self.enqueue("job_touch", "still serving")
        assert self.wait_final(uuid, 30)["state"] == "done"
        with DatabaseReader(self.cluster, DB) as db:
            stuck = db.query("SELECT uuid, state FROM queue_job WHERE state IN ('started', 'enqueued')")
        assert not stuck, f"jobs left running: {stuck}"


@pytest.fixture(scope="module")
def limited(cluster: PgCluster, odoo_db: str) -> Iterator[Limited]:
    dump_database(cluster, odoo_db, DB, cluster.socket_dir / "odoo")
    server = OdooServer(
        cluster,
        DB,
        workers=2,
        server_wide_modules=("base", "web", "queue_job"),
        addons_path=addons_path(),
        limit_time_real=LIMIT_TIME_REAL,
        options={
            "limit_time_cpu": LIMIT_TIME_CPU,
            "limit_memory_soft": 2 * GIB,
            "limit_memory_hard": int(2.5 * GIB),
        },
        sections={"queue_job": {"channels": "root:2", "heal_interval": 1, "max_worker_losses": 2}},
        name="e2e-limits",
    )
    server.start()
    try:
        server.wait_for_log(re.escape(f"queue job runner ready for db {DB}"), timeout=60)
        yield Limited(cluster, server)
    finally:
        server.stop()
        cluster.drop_database(DB)


def test_job_longer_than_limit_time_real_is_retried_then_fails_saying_its_worker_died(limited: Limited):
    uuid, log = limited.run_until_given_up("job_sleep", 60, "too long", timeout=4 * LIMIT_TIME_REAL + 20)
    assert limited.effects(uuid) == [], "the job never got to its end"
    # The master may say it twice for one worker before that worker is reaped.
    killed = {match[1] for line in log
              if (match := re.match(rf"WorkerHTTP \((\d+)\) timeout after {LIMIT_TIME_REAL}s", line))}
    assert len(killed) == 2, "Odoo's master killed a worker once per try"


def test_job_past_limit_time_cpu_is_retried_then_fails_saying_its_worker_died(limited: Limited):
    # Odoo 18's worker serves requests in a thread: the main thread gets
    # "CPU time limit exceeded." and the worker exits, as after a kill.
    uuid, log = limited.run_until_given_up("job_burn_cpu", 30, "burner", timeout=2 * LIMIT_TIME_REAL + 20)
    assert limited.effects(uuid) == ["burner: started"] * 2, "one run per try, none finished"
    reached = [line for line in log if re.match(rf"Worker \(\d+\) CPU time limit \({LIMIT_TIME_CPU}\) reached", line)]
    assert len(reached) == 2, "Odoo stopped a worker on its CPU limit once per try"


def test_job_past_limit_memory_hard_fails_with_a_memory_error(limited: Limited):
    workers = set(limited.server.worker_pids("http"))
    uuid = limited.enqueue("job_allocate", 4096, "glutton")
    row = limited.wait_final(uuid, 30)
    assert row["state"] == "failed", row
    assert row["exc_name"] == "MemoryError", row
    assert row["retry"] == 1 and not row["worker_losses"], row
    assert limited.effects(uuid) == ["glutton: started"]
    assert row["worker_pid"] in workers and row["worker_pid"] in limited.server.worker_pids("http"), (
        "the worker lives on after a refused allocation")
    limited.assert_serves()
