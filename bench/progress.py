"""Cost of following jobs: notify_progress() in a loop, and the jobs of one record among many.

    python3 bench/progress.py                 # 10,000 calls; lookup among 1,000,000 jobs
    python3 bench/progress.py --jobs 100000   # a smaller table

Starts a throwaway PostgreSQL cluster, installs queue_job, then in this process:

1. runs one job with the worker's own code (``SlotRunner``, watched by the
   watchdog, as a ``/queue_job/runjob`` request does) whose code calls
   ``notify_progress(i, total=10000)`` 10,000 times, timed with
   ``time.perf_counter()`` around the loop; the number of progress writes
   that reached the database is counted too. The same loop outside a job
   (arguments checked only) is the baseline;
2. fills queue_job with ``--jobs`` rows, each on its own partner reference
   (``INSERT ... SELECT generate_series``), and times the counts by state of
   the jobs of one record (``queue.job._job_counts_of``, the smart button's
   query), median of 50, with the plan PostgreSQL chose.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CALLS = 10_000


def _odoo_registry(cluster, dbname):
    import odoo
    from odoo.modules.registry import Registry

    from tests.harness.odoo_setup import database_options, default_addons_path, write_odoo_conf

    workdir = Path(tempfile.mkdtemp(prefix="bench-progress-"))
    conf = write_odoo_conf(
        workdir / "odoo.conf",
        **database_options(cluster),
        data_dir=workdir / "data",
        addons_path=default_addons_path([ROOT]),
        log_level="warn",
    )
    odoo.tools.config.parse_config(["-c", str(conf), "-d", dbname])
    return Registry(dbname)


def bench_notify_progress(registry) -> dict:
    from unittest import mock

    from odoo import SUPERUSER_ID, api
    from odoo.addons.queue_job import progress_writer
    from odoo.addons.queue_job.engine import sql
    from odoo.addons.queue_job.executor import SlotRunner
    from odoo.addons.queue_job.progress import notify_progress

    started = time.perf_counter()
    for done in range(1, CALLS + 1):
        notify_progress(done, total=CALLS)
    outside = time.perf_counter() - started

    measured = {}
    writes = []
    real_write = progress_writer._write

    def counting_write(watch, state, values):
        writes.append(values[0])
        return real_write(watch, state, values)

    def _bench_progress_job(partner):
        loop_started = time.perf_counter()
        for done in range(1, CALLS + 1):
            notify_progress(done, total=CALLS, message="bench")
        measured["loop"] = time.perf_counter() - loop_started
        measured["writes_in_loop"] = len(writes)

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        partner = env["res.partner"].create({"name": "bench progress"})
        with mock.patch.object(registry["res.partner"], "_bench_progress_job", _bench_progress_job, create=True):
            uuid = partner.with_delay(channel="root.bench")._bench_progress_job().uuid
    with mock.patch.object(registry["res.partner"], "_bench_progress_job", _bench_progress_job, create=True), \
            mock.patch.object(progress_writer, "_write", counting_write):
        with registry.cursor() as cr:
            cr.execute("SELECT id FROM queue_job WHERE uuid = %s", (uuid,))
            cr.execute(sql.MARK_ENQUEUED, {"ids": [cr.fetchone()[0]]})
        outcomes = SlotRunner(registry, (), budget=60.0, max_jobs=1).run(uuid)
    return {
        "state": outcomes[0].state,
        "outside_ms": outside * 1000,
        "loop_ms": measured["loop"] * 1000,
        "writes_in_loop": measured["writes_in_loop"],
        "writes_total": len(writes),
    }


def bench_jobs_of_record(registry, jobs: int) -> dict:
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        template = env["res.partner"].with_delay(channel="root.bench").exists()
        env["queue.job"].flush_model()
        started = time.perf_counter()
        # Copies of the template job, job i on partner i, done: the table of a busy site.
        cr.execute(
            """
            INSERT INTO queue_job (uuid, user_id, company_id, name, model_name, method_name, records,
                                   args, kwargs, func_string, state, priority, max_retries, retry,
                                   date_created, date_done, channel, channel_method_name,
                                   dependencies, timeout, hard_timeout, worker_losses, record_refs)
            SELECT gen_random_uuid()::varchar, user_id, company_id, name, model_name, method_name, records,
                   args, kwargs, func_string, 'done', priority, max_retries, 1,
                   date_created, date_created, channel, channel_method_name,
                   dependencies, timeout, hard_timeout, 0, ARRAY['res.partner,' || g]::varchar[]
              FROM queue_job, generate_series(1000001, 1000000 + %s) AS g
             WHERE uuid = %s
            """,
            (jobs, template.uuid),
        )
        filled = time.perf_counter() - started
        cr.execute("ANALYZE queue_job")
    target = 1_000_000 + jobs // 2
    timings = []
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        partner = env["res.partner"].browse(target)
        for _ in range(50):
            started = time.perf_counter()
            counts = env["queue.job"]._job_counts_of(partner)
            timings.append(time.perf_counter() - started)
        from odoo.addons.queue_job.engine import sql

        cr.execute("EXPLAIN ANALYZE " + sql.JOB_COUNTS_OF_RECORDS,
                   {"refs": [f"res.partner,{target}"], "user_id": None})
        plan = "\n".join(row[0] for row in cr.fetchall())
    return {
        "rows": jobs,
        "fill_s": filled,
        "counts": counts,
        "median_ms": statistics.median(timings) * 1000,
        "max_ms": max(timings) * 1000,
        "plan": plan,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="rows in queue_job for the lookup")
    args = parser.parse_args()

    from tests.harness.odoo_oneshot import init_database
    from tests.harness.odoo_setup import default_addons_path
    from tests.harness.pgcluster import PgCluster

    with PgCluster(fast=True) as cluster:
        dbname = "bench_progress"
        print("installing queue_job...", file=sys.stderr)
        init_database(cluster, dbname, ["queue_job"], addons_path=default_addons_path([ROOT]))
        registry = _odoo_registry(cluster, dbname)
        result = bench_notify_progress(registry)
        print(f"notify_progress x {CALLS:,} outside a job (arguments checked): {result['outside_ms']:.1f} ms")
        print(f"notify_progress x {CALLS:,} in a job run by a worker: {result['loop_ms']:.1f} ms in all, "
              f"{result['writes_in_loop']} write(s) during the loop, {result['writes_total']} with the last "
              f"one at the end (job {result['state']})")
        if args.jobs:
            print(f"filling queue_job with {args.jobs:,} jobs...", file=sys.stderr)
            lookup = bench_jobs_of_record(registry, args.jobs)
            print(f"jobs of one record among {lookup['rows']:,} jobs (filled in {lookup['fill_s']:.1f} s): "
                  f"median {lookup['median_ms']:.2f} ms, max {lookup['max_ms']:.2f} ms of 50; "
                  f"counts {lookup['counts']}")
            print(lookup["plan"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
