"""Run inside ``odoo-bin shell`` (which provides ``env``), the server running.

Enqueues ``n`` ``bench_stamp("<prefix><i>")`` jobs with a ``with_delay()``
loop in one transaction, commits, and notes the database clock right after
the commit: the bench compares it with the first stamp of the batch.
Results go to the JSON file named in ``QUEUE_JOB_BENCH_PARAMS``.
"""

import json
import os
import time
from typing import Any

env: Any = globals()["env"]  # given by odoo-bin shell
params = json.loads(os.environ["QUEUE_JOB_BENCH_PARAMS"])
n = int(params["jobs"])
prefix = params["prefix"]
model = env["queue.job.bench"]

started = time.perf_counter()
for i in range(n):
    model.with_delay().bench_stamp(f"{prefix}{i}")
env.cr.commit()
env.cr.execute("SELECT extract(epoch FROM clock_timestamp())::float8")
committed_at = env.cr.fetchone()[0]
env.cr.rollback()
result = {"jobs": n, "committed_at": committed_at, "enqueue_seconds": time.perf_counter() - started}

with open(params["result_path"], "w", encoding="utf-8") as fh:
    json.dump(result, fh)
