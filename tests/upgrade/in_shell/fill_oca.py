"""Run inside ``odoo-bin shell`` on a database with OCA's queue_job: store jobs
in every state, and channels and job functions made by hand.

Jobs are enqueued through the public API (``with_delay()``, chains and
groups); the states a stopped server leaves behind (enqueued, started,
failed, done...) are then written the way OCA's runner and workers write
them. Writes ``{role: uuid}`` and the hand-made records' ids to the JSON
file named in ``QUEUE_JOB_UPGRADE_PARAMS``.
"""

import json
import os
from datetime import date, datetime, timedelta
from typing import Any

from odoo.addons.queue_job.delay import chain, group
from odoo.addons.queue_job.job import identity_exact

env: Any = globals()["env"]  # given by odoo-bin shell
params = json.loads(os.environ["QUEUE_JOB_UPGRADE_PARAMS"])
cr = env.cr

Probe = env["queue.job.upgrade.probe"]
probe = Probe.create({"name": "first"})
probe2 = Probe.create({"name": "second"})
partner = env.ref("base.partner_admin")
root = env.ref("queue_job.channel_root")

# Channels and job functions made by hand in the UI.
manual = env["queue.job.channel"].create({"name": "manual", "parent_id": root.id, "removal_interval": 12})
deep = env["queue.job.channel"].create({"name": "deep", "parent_id": manual.id})
probe_model = env.ref("queue_job_upgrade_probe.model_queue_job_upgrade_probe")
manual_function = env["queue.job.function"].create({
    "model_id": probe_model.id, "method": "probe_manual", "channel_id": manual.id,
    "retry_pattern": {1: 5, 3: 30}, "related_action": {"enable": True, "func_name": "open_probe"},
})
# OCA has no unique constraint on the name: a second function for a method
# that data already configures (OCA only ever used the first one).
twin_function = env["queue.job.function"].create({
    "model_id": probe_model.id, "method": "probe_run", "channel_id": deep.id,
})

jobs: dict[str, str] = {}


def store(role: str, delayed) -> None:
    jobs[role] = delayed.uuid


def set_state(role: str, sql: str, values: tuple = ()) -> None:
    cr.execute(f"UPDATE queue_job SET {sql} WHERE uuid = %s", (*values, jobs[role]))


now = datetime.now()
ago = now - timedelta(minutes=3)
every_kind = {
    "when": datetime(2024, 5, 6, 7, 8, 9, 123456), "day": date(2024, 2, 29), "partner": partner,
    "probes": probe | probe2, "nested": {"list": [1, 2.5, None, True], "text": "é\t\"x\"\n"},
}

store("plain", probe.with_delay(priority=3, max_retries=7, description="plain job").probe_run(
    "plain", 1, 2.5, "text", [1, {"a": None, "b": [True]}], **every_kind))
store("eta_past", probe.with_delay(eta=2).probe_run("eta_past", eta=True))
store("eta_future", probe.with_delay(eta=timedelta(days=1)).probe_run("eta_future"))
store("manual", probe2.with_delay().probe_manual("manual", x=1))
store("explicit_channel", probe.with_delay(channel="root.manual.deep").probe_run("explicit_channel"))
store("oca_test_job", env["queue.job"].with_delay()._test_job())
store("no_records", Probe.with_delay().probe_run("no_records", day=date(2023, 1, 1)))

store("enqueued", probe.with_delay().probe_run("enqueued"))
set_state("enqueued", "state = 'enqueued', date_enqueued = %s", (ago,))
store("started", probe.with_delay(max_retries=5).probe_run("started", when=now))
set_state("started", "state = 'started', date_enqueued = %s, date_started = %s, worker_pid = 424242, retry = 2",
          (ago, ago))
store("failed", probe.with_delay(max_retries=2).probe_run("failed", 42))
set_state("failed", "state = 'failed', retry = 2, date_started = %s, exc_name = 'ValueError', "
          "exc_message = 'boom', exc_info = 'Traceback (most recent call last):\nValueError: boom'", (ago,))
# As OCA's worker does when a job fails: the managers follow it, a message says so.
env["queue.job"].search([("uuid", "=", jobs["failed"])])._message_post_on_failure()
store("done", probe.with_delay().probe_run("done", [1, 2]))
set_state("done", "state = 'done', retry = 1, date_started = %s, date_done = %s, exec_time = 0.25, "
          "result = 'ran done'", (ago, ago))
store("cancelled", probe.with_delay().probe_run("cancelled"))
set_state("cancelled", "state = 'cancelled', date_cancelled = %s, result = 'Cancelled by Admin'", (ago,))

# A graph: a, then b and c, then d.
g_a, g_b, g_c, g_d = (probe.delayable().probe_run(tag) for tag in ("g_a", "g_b", "g_c", "g_d"))
chain(g_a, group(g_b, g_c), g_d).delay()
for role, delayable in (("g_a", g_a), ("g_b", g_b), ("g_c", g_c), ("g_d", g_d)):
    jobs[role] = delayable._generated_job.uuid
# A graph whose parent was running when the server stopped.
s_parent, s_child = probe.delayable().probe_run("s_parent"), probe2.delayable().probe_run("s_child", k="v")
chain(s_parent, s_child).delay()
jobs["s_parent"], jobs["s_child"] = s_parent._generated_job.uuid, s_child._generated_job.uuid
set_state("s_parent", "state = 'started', date_enqueued = %s, date_started = %s, retry = 0", (ago, ago))
# A graph whose parent finished but whose child was never woken.
w_parent, w_child = probe.delayable().probe_run("w_parent"), probe.delayable().probe_run("w_child")
chain(w_parent, w_child).delay()
jobs["w_parent"], jobs["w_child"] = w_parent._generated_job.uuid, w_child._generated_job.uuid
set_state("w_parent", "state = 'done', retry = 1, date_done = %s, result = 'ran w_parent'", (ago,))

# Identity keys. A failed job keeps its key beside a waiting one.
store("key_failed", probe.with_delay(identity_key="upgrade-key-1").probe_run("key_failed"))
set_state("key_failed", "state = 'failed', retry = 5, exc_name = 'ValueError', exc_message = 'old'")
store("key_unique", probe.with_delay(identity_key="upgrade-key-1").probe_run("key_unique"))
store("key_exact", probe.with_delay(identity_key=identity_exact).probe_run("key_exact", 7))
# OCA lets a key be enqueued again while its job runs: both wait after the move.
store("dup_old", probe.with_delay(identity_key="upgrade-key-2").probe_run("dup_old"))
set_state("dup_old", "state = 'started', date_enqueued = %s, date_started = %s, retry = 1", (ago, ago))
store("dup_new", probe.with_delay(identity_key="upgrade-key-2").probe_run("dup_new"))
# Two transactions racing past OCA's search-then-insert check.
store("race_1", probe.with_delay(identity_key="upgrade-key-3").probe_run("race_1"))
store("race_2", probe2.with_delay().probe_run("race_2"))
set_state("race_2", "identity_key = 'upgrade-key-3'")

# Bulk, in full mode: pending and done jobs, to see the move at some size.
for index in range(int(params.get("bulk", 0))):
    delayed = probe.with_delay().probe_run(f"bulk_{index}", index)
    if index % 2:
        cr.execute("UPDATE queue_job SET state = 'done', date_done = %s WHERE uuid = %s", (ago, delayed.uuid))
    else:
        jobs[f"bulk_{index}"] = delayed.uuid

env.cr.commit()
result = {
    "jobs": jobs,
    "channels": {"manual": manual.id, "deep": deep.id},
    "functions": {"manual": manual_function.id, "twin": twin_function.id},
    "probes": [probe.id, probe2.id],
}
with open(params["result_path"], "w") as out:
    json.dump(result, out)
