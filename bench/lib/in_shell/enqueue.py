"""Run inside ``odoo-bin shell`` (which provides ``env``), the Odoo server stopped.

Times enqueuing ``n`` no-op jobs in one transaction, commit included: with a
plain ``with_delay()`` loop, then with ``queue_job.bulk.enqueue_many`` when
the installed queue_job has it. Each timed batch is deleted afterwards. Then
stores two template jobs (``bench_noop()``, ``bench_stamp("BENCHTOKEN")``)
that bench/lib/jobs.py copies with SQL. Results go to the JSON file named in
``QUEUE_JOB_BENCH_PARAMS``.
"""

import json
import os
import time
from collections.abc import Callable
from typing import Any

env: Any = globals()["env"]  # given by odoo-bin shell
params = json.loads(os.environ["QUEUE_JOB_BENCH_PARAMS"])
n = int(params["jobs"])
warmup = int(params.get("warmup", 20))
model = env["queue.job.bench"]


def forget_jobs() -> None:
    env.cr.execute("DELETE FROM queue_job")
    env.cr.commit()


def loop(count: int) -> None:
    for _ in range(count):
        model.with_delay().bench_noop()


def timed(enqueue: Callable[[int], None]) -> dict[str, Any]:
    enqueue(warmup)  # the first calls load job functions, channels, caches...
    env.cr.rollback()
    started = time.perf_counter()
    enqueue(n)
    env.cr.commit()
    seconds = time.perf_counter() - started
    env.cr.execute("SELECT count(*) FROM queue_job WHERE state = 'pending'")
    stored = env.cr.fetchone()[0]
    forget_jobs()
    return {"jobs": n, "stored": stored, "seconds": seconds, "jobs_per_s": n / seconds if seconds else None}


def bulk(count: int) -> None:
    from odoo.addons.queue_job.bulk import enqueue_many

    enqueue_many(model.delayable().bench_noop() for _ in range(count))


forget_jobs()
result: dict[str, Any] = {"jobs": n, "with_delay": timed(loop)}
try:
    import odoo.addons.queue_job.bulk  # noqa: F401 - OCA's queue_job has no bulk API
except ImportError:
    result["bulk"] = None
else:
    result["bulk"] = timed(bulk)

noop = model.with_delay().bench_noop()
stamp = model.with_delay().bench_stamp("BENCHTOKEN")
env.cr.commit()
result["templates"] = {"bench_noop": noop.uuid, "bench_stamp": stamp.uuid}

with open(params["result_path"], "w", encoding="utf-8") as fh:
    json.dump(result, fh)
