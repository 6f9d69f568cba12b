"""A database running OCA's queue_job 18.0 moves to this queue_job.

OCA's queue_job and the probe addon (tests/upgrade/addons) are installed
from OCA's sources on a fresh database; jobs are stored in every state
through OCA's API, then left as a stopped OCA server leaves them; channels
and job functions are made by hand beside the ones in data. The addons path
is switched to this repository and ``odoo-bin -u queue_job`` runs. Every job
is then compared with what it was, field by field and as its method would
receive it, and a real server (workers and jobrunner) runs the pending ones.

Run: ``python3 -m pytest -q tests/upgrade --oca /path/to/oca/queue`` (or
``QUEUE_JOB_OCA_PATH=...``). Without OCA's sources every test here is
skipped, loudly. ``QUEUE_JOB_TEST_MODE=full`` adds a few hundred jobs.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from harness.odoo_server import OdooServer

from .oca_move import DB_NAME, MoveStack

pytestmark = pytest.mark.odoo

FULL = os.environ.get("QUEUE_JOB_TEST_MODE") == "full"
BULK = 300 if FULL else 0

# role -> state expected right after ``-u queue_job``
STATE_AFTER_MOVE = {
    "plain": "pending", "eta_past": "pending", "eta_future": "pending", "manual": "pending",
    "explicit_channel": "pending", "oca_test_job": "pending", "no_records": "pending",
    "enqueued": "pending", "started": "pending",
    "failed": "failed", "done": "done", "cancelled": "cancelled",
    "g_a": "pending", "g_b": "wait_dependencies", "g_c": "wait_dependencies", "g_d": "wait_dependencies",
    "s_parent": "pending", "s_child": "wait_dependencies",
    "w_parent": "done", "w_child": "pending",
    "key_failed": "failed", "key_unique": "pending", "key_exact": "pending",
    "dup_old": "pending", "dup_new": "pending", "race_1": "pending", "race_2": "pending",
}
REQUEUED = {"enqueued", "started", "s_parent", "dup_old"}  # OCA left them enqueued/started
KEY_CLEARED = {"dup_new": "upgrade-key-2", "race_2": "upgrade-key-3"}
NOT_RUN = {"eta_future", "failed", "done", "cancelled", "w_parent", "key_failed"}

UNCHANGED = (
    "uuid", "graph_uuid", "user_id", "company_id", "name", "model_name", "method_name", "func_string",
    "priority", "exc_name", "exc_message", "exc_info", "date_created", "eta", "retry", "max_retries",
    "channel_method_name", "job_function_id", "channel", "date_done", "date_cancelled", "exec_time",
)
JSON_COLUMNS = ("args", "kwargs", "records", "dependencies")


def as_json(value: Any) -> Any:
    """OCA stores job values as JSON text (in a jsonb string, or in a text column)."""
    return json.loads(value) if isinstance(value, str) else value


def without_tag(call: dict[str, Any]) -> dict[str, Any]:
    """A call as canon() gives it, less its first argument (the tag the probe records apart)."""
    parts = dict(call["dict"])
    parts["args"] = parts["args"][1:]
    return {"dict": sorted([key, value] for key, value in parts.items())}


@dataclass
class Moved:
    stack: MoveStack
    jobs: dict[str, str]  # role -> uuid
    fill: dict[str, Any]
    before: dict[str, dict[str, Any]]  # uuid -> row under OCA
    after: dict[str, dict[str, Any]]  # uuid -> row right after the move
    loaded_before: dict[str, Any]  # uuid -> the call as OCA's Job.load gives it
    loaded_after: dict[str, Any]
    configs_before: dict[str, Any]  # job function name -> its config as OCA's queue reads it
    configs_after: dict[str, Any]
    channels_before: list[dict[str, Any]]
    functions_before: list[dict[str, Any]]
    followers_before: list[dict[str, Any]]
    upgrade_log: str

    def role(self, uuid: str) -> str:
        return next((role for role, job_uuid in self.jobs.items() if job_uuid == uuid), f"job {uuid}")


CHANNELS_SQL = "SELECT id, name, complete_name, parent_id, removal_interval FROM queue_job_channel ORDER BY id"
FUNCTIONS_SQL = (
    "SELECT id, name, model_id, method, channel_id, channel, retry_pattern, related_action"
    " FROM queue_job_function ORDER BY id"
)

FOLLOWERS_SQL = """
SELECT j.uuid, f.partner_id, (SELECT count(*) FROM mail_message m WHERE m.model = 'queue.job' AND m.res_id = j.id) AS messages
  FROM queue_job j JOIN mail_followers f ON f.res_model = 'queue.job' AND f.res_id = j.id ORDER BY j.uuid, f.partner_id
"""


@pytest.fixture(scope="module")
def moved(move_stack: MoveStack) -> Moved:
    errors = move_stack.install_oca()
    assert not errors, "installing OCA's queue_job:\n" + "\n".join(map(str, errors))
    fill = move_stack.shell("fill_oca.py", {"bulk": BULK})
    before = move_stack.jobs()
    loaded_before = move_stack.shell("load_jobs.py")
    followers_before = move_stack.query(FOLLOWERS_SQL)
    channels_before = move_stack.query(CHANNELS_SQL)
    functions_before = move_stack.query(FUNCTIONS_SQL)
    log_path, problems = move_stack.upgrade()
    errors = [record for record in problems if record.level != "WARNING"]
    assert not errors, "odoo-bin -u queue_job logged errors:\n" + "\n".join(map(str, errors))
    after = move_stack.jobs()
    loaded_after = move_stack.shell("load_jobs.py")
    return Moved(move_stack, fill["jobs"], fill, before, after, loaded_before["jobs"], loaded_after["jobs"],
                 loaded_before["configs"], loaded_after["configs"], channels_before, functions_before,
                 followers_before, log_path.read_text(errors="replace"))


def test_module_is_ours(moved: Moved) -> None:
    rows = moved.stack.query("SELECT state, latest_version FROM ir_module_module WHERE name = 'queue_job'")
    assert rows == [{"state": "installed", "latest_version": "18.0.2.0.0"}]


def test_no_job_lost_or_added(moved: Moved) -> None:
    assert set(moved.after) == set(moved.before)
    assert len(moved.before) == len(STATE_AFTER_MOVE) + BULK


def test_states_after_move(moved: Moved) -> None:
    expected = {moved.jobs[role]: state for role, state in STATE_AFTER_MOVE.items()}
    expected.update({uuid: "pending" for role, uuid in moved.jobs.items() if role.startswith("bulk_")})
    got = {uuid: moved.after[uuid]["state"] for uuid in expected}
    assert got == expected, {moved.role(u): (got[u], expected[u]) for u in got if got[u] != expected[u]}


def test_every_job_field_by_field(moved: Moved) -> None:
    for uuid, old in moved.before.items():
        new = moved.after[uuid]
        role = moved.role(uuid)
        for column in UNCHANGED:
            assert new[column] == old[column], f"{role}: {column} {old[column]!r} -> {new[column]!r}"
        for column in JSON_COLUMNS:
            assert not isinstance(new[column], str), f"{role}: {column} still stored as JSON text"
            assert new[column] == as_json(old[column]), f"{role}: {column}"
        if role in KEY_CLEARED:
            assert old["identity_key"] == KEY_CLEARED[role] and new["identity_key"] is None, role
            assert f"identity key {KEY_CLEARED[role]} cleared" in new["result"], role
        else:
            assert new["identity_key"] == old["identity_key"], role
        if role in REQUEUED:
            assert old["state"] in ("enqueued", "started"), role
            assert (new["date_enqueued"], new["date_started"], new["worker_pid"]) == (None, None, None), role
            assert "Moved from OCA's queue_job" in new["result"], role
        elif role not in KEY_CLEARED:
            for column in ("date_enqueued", "date_started", "worker_pid", "result"):
                assert new[column] == old[column], f"{role}: {column}"


def test_jobs_load_as_under_oca(moved: Moved) -> None:
    """Each job's method would get the same records and arguments (dates, recordsets, nesting)."""
    for uuid, before in moved.loaded_before.items():
        after = moved.loaded_after[uuid]
        assert "error" not in after, f"{moved.role(uuid)}: {after.get('error')}"
        assert after == before, moved.role(uuid)
    plain = dict(moved.loaded_after[moved.jobs["plain"]]["call"]["dict"])
    assert plain["records"] == {"recordset": "queue.job.upgrade.probe", "ids": moved.fill["probes"][:1]}
    assert plain["args"] == ["plain", 1, 2.5, "text", [1, {"dict": [["a", None], ["b", [True]]]}]]
    kwargs = dict(plain["kwargs"]["dict"])
    assert kwargs["when"] == {"datetime": "2024-05-06T07:08:09.123456"}
    assert kwargs["day"] == {"date": "2024-02-29"}
    assert kwargs["probes"] == {"recordset": "queue.job.upgrade.probe", "ids": moved.fill["probes"]}


def test_graphs_kept(moved: Moved) -> None:
    jobs, after = moved.jobs, moved.after
    graph = {after[jobs[role]]["graph_uuid"] for role in ("g_a", "g_b", "g_c", "g_d")}
    assert len(graph) == 1 and None not in graph
    assert sorted(after[jobs["g_d"]]["dependencies"]["depends_on"]) == sorted([jobs["g_b"], jobs["g_c"]])
    assert sorted(after[jobs["g_a"]]["dependencies"]["reverse_depends_on"]) == sorted([jobs["g_b"], jobs["g_c"]])
    assert after[jobs["s_child"]]["dependencies"]["depends_on"] == [jobs["s_parent"]]


def test_identity_keys(moved: Moved) -> None:
    rows = moved.stack.query(
        "SELECT identity_key, count(*) AS n FROM queue_job WHERE identity_key IS NOT NULL"
        " AND state IN ('wait_dependencies', 'pending', 'enqueued') GROUP BY identity_key"
    )
    assert all(row["n"] == 1 for row in rows), rows
    keys = {moved.role(uuid): row["identity_key"] for uuid, row in moved.after.items() if row["identity_key"]}
    assert keys["dup_old"] == "upgrade-key-2" and keys["race_1"] == "upgrade-key-3"
    assert keys["key_failed"] == keys["key_unique"] == "upgrade-key-1"
    for role in KEY_CLEARED:
        assert re.search(rf"job {moved.jobs[role]}: identity key '{KEY_CLEARED[role]}' cleared", moved.upgrade_log)


def test_channels_and_functions_kept(moved: Moved) -> None:
    stack = moved.stack
    assert stack.query(CHANNELS_SQL) == moved.channels_before
    twin = moved.fill["functions"]["twin"]
    for old, new in zip(moved.functions_before, stack.query(FUNCTIONS_SQL), strict=True):
        for column in ("retry_pattern", "related_action"):
            assert not isinstance(new[column], str), f"function {new['name']}: {column} still JSON text"
            assert new[column] == as_json(old[column]), f"function {new['name']}: {column}"
        if new["id"] == twin:
            assert (new["name"], new["method"]) == (f"{old['name']}_duplicate_{twin}",
                                                     f"{old['method']}_duplicate_{twin}")
            old, new = {**old, "name": None, "method": None}, {**new, "name": None, "method": None}
        for column in ("id", "name", "model_id", "method", "channel_id", "channel"):
            assert new[column] == old[column], f"function {old['name']}: {column}"
    xmlids = stack.query(
        "SELECT module || '.' || name AS xmlid, res_id FROM ir_model_data WHERE model IN"
        " ('queue.job.channel', 'queue.job.function', 'ir.cron') AND module IN ('queue_job', 'queue_job_upgrade_probe')"
    )
    xmlids = {row["xmlid"]: row["res_id"] for row in xmlids}
    assert {"queue_job.channel_root", "queue_job_upgrade_probe.channel_upgrade",
            "queue_job_upgrade_probe.job_function_probe_run", "queue_job.job_function_queue_job__test_job",
            "queue_job.ir_cron_autovacuum_queue_jobs", "queue_job.ir_cron_queue_job_garbage_collector"} <= set(xmlids)
    assert xmlids["queue_job.channel_root"] == next(c["id"] for c in moved.channels_before if c["name"] == "root")


def test_function_configs_read_as_under_oca(moved: Moved) -> None:
    twin = next(f for f in moved.functions_before if f["id"] == moved.fill["functions"]["twin"])
    assert moved.configs_before[twin["name"]]["job_function_id"] != twin["id"], "OCA used the earlier function"
    configs_after = dict(moved.configs_after)
    renamed = configs_after.pop(f"{twin['name']}_duplicate_{twin['id']}")
    assert (renamed["channel"], renamed["job_function_id"]) == ("root.manual.deep", twin["id"])
    assert configs_after == moved.configs_before
    manual = moved.configs_after["<queue.job.upgrade.probe>.probe_manual"]
    assert manual["channel"] == "root.manual" and manual["retry_pattern"] == [[1, 5], [3, 30]]


def test_followers_kept(moved: Moved) -> None:
    assert moved.followers_before, "OCA subscribed nobody to the failed job"
    assert moved.stack.query(FOLLOWERS_SQL) == moved.followers_before


def test_schema_is_ours(moved: Moved) -> None:
    stack = moved.stack
    indexes = {row["indexname"]: row["indexdef"] for row in stack.query(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'queue_job'")}
    assert "UNIQUE" in indexes["queue_job_identity_key_uniq"]
    assert "queue_job_identity_key_state_partial_index" not in indexes
    triggers = {row["tgname"] for row in stack.query(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'queue_job'::regclass AND NOT tgisinternal")}
    assert triggers == {"queue_job_notify_insert", "queue_job_notify_update"}
    assert not stack.query("SELECT 1 FROM pg_proc WHERE proname = 'queue_job_notify'")
    types = {row["column_name"]: row["data_type"] for row in stack.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'queue_job'")}
    assert {types[c] for c in JSON_COLUMNS} == {"jsonb"}
    assert {"timeout", "hard_timeout", "worker_losses"} <= set(types)
    constraints = {row["conname"] for row in stack.query("SELECT conname FROM pg_constraint")}
    assert {"queue_job_function_name_uniq", "queue_job_channel_removal_interval_positive"} <= constraints


@pytest.fixture(scope="module")
def server(moved: Moved) -> Iterator[OdooServer]:
    odoo = OdooServer(
        moved.stack.cluster, DB_NAME, workers=2, server_wide_modules=("base", "web", "queue_job"),
        addons_path=moved.stack.addons_path, name="moved",
        sections={"queue_job": {"channels": "root:2,root.upgrade:2,root.manual:1", "heal_interval": 1}},
    )
    odoo.start()
    try:
        odoo.wait_for_log(re.escape(f"queue job runner ready for db {DB_NAME}"), timeout=90)
        yield odoo
    finally:
        odoo.stop()


def test_pending_jobs_run(moved: Moved, server: OdooServer) -> None:
    stack, jobs = moved.stack, moved.jobs
    to_run = {role: uuid for role, uuid in jobs.items() if role not in NOT_RUN}
    rows: dict[str, dict[str, Any]] = {}

    def all_done() -> bool:
        nonlocal rows
        rows = stack.jobs()
        return all(rows[uuid]["state"] == "done" for uuid in to_run.values())

    deadline = time.monotonic() + (300 if FULL else 120)
    while not all_done():
        if time.monotonic() > deadline:
            late = {role: rows[uuid]["state"] for role, uuid in to_run.items() if rows[uuid]["state"] != "done"}
            pytest.fail(f"jobs not done after the move: {late}\n{server.log_text()[-4000:]}")
        time.sleep(0.5)
    effects: dict[str, list[str]] = {}
    for row in stack.query("SELECT tag, received FROM queue_job_upgrade_effect"):
        effects.setdefault(row["tag"], []).append(row["received"])
    for role, uuid in to_run.items():
        if role == "oca_test_job":
            continue
        assert len(effects.get(role, [])) == 1, f"{role} ran {len(effects.get(role, []))} times"
        assert json.loads(effects[role][0]) == without_tag(moved.loaded_before[uuid]["call"]), role
    for role in NOT_RUN:
        assert role not in effects, f"{role} ran"
        assert rows[jobs[role]]["state"] == moved.after[jobs[role]]["state"], role
    assert rows[jobs["started"]]["retry"] == moved.before[jobs["started"]]["retry"] + 1

    def started(role: str) -> Any:
        return rows[jobs[role]]["date_started"]

    def finished(role: str) -> Any:
        return rows[jobs[role]]["date_done"]

    assert finished("g_a") <= min(started("g_b"), started("g_c"))
    assert max(finished("g_b"), finished("g_c")) <= started("g_d")
    assert finished("s_parent") <= started("s_child")
    errors = [record for record in server.log_problems() if record.level != "WARNING"]
    assert not errors, "\n".join(map(str, errors))
