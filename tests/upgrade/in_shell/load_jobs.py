"""Run inside ``odoo-bin shell``: load every job with the installed queue_job's
``Job.load`` and write what it would be called with, in canonical form
(``queue_job_upgrade_probe.models.probe.canon``), and how each job function
configures its jobs, to the JSON file named in ``QUEUE_JOB_UPGRADE_PARAMS``. Works with OCA's queue_job and with this one.
"""

import json
import os
from typing import Any

from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job_upgrade_probe.models.probe import canon

env: Any = globals()["env"]  # given by odoo-bin shell
params = json.loads(os.environ["QUEUE_JOB_UPGRADE_PARAMS"])

loaded: dict[str, Any] = {}
env.cr.execute("SELECT uuid FROM queue_job ORDER BY id")
for (uuid,) in env.cr.fetchall():
    try:
        job = Job.load(env, uuid)
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        loaded[uuid] = {"error": f"{type(exc).__name__}: {exc}"}
        continue
    loaded[uuid] = {
        "call": canon({"records": job.recordset, "args": list(job.args), "kwargs": job.kwargs}),
        "method": job.method_name,
        "depends_on": sorted(j.uuid for j in job.depends_on),
        "reverse_depends_on": sorted(j.uuid for j in job.reverse_depends_on),
    }

# How each job function configures its jobs, as the queue reads it.
configs: dict[str, Any] = {}
functions = env["queue.job.function"]
for name in functions.search([]).mapped("name"):
    config = functions.job_config(name)
    configs[name] = {
        "channel": config.channel,
        "retry_pattern": sorted([key, list(value) if isinstance(value, tuple) else value]
                                for key, value in config.retry_pattern.items()),
        "related_action": [config.related_action_enable, config.related_action_func_name,
                           config.related_action_kwargs],
        "job_function_id": config.job_function_id,
    }
env.cr.rollback()
with open(params["result_path"], "w") as out:
    json.dump({"jobs": loaded, "configs": configs}, out)
