"""The SQL contract (engine/sql.py): statement strings and the parameters callers pass.

No database here: these tests check that every statement is a string, that
the named parameters each statement uses are exactly the ones its callers
pass (read from the callers' source), and a few invariants of the text.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from engine import sql, states

ADDON_DIR = Path(__file__).resolve().parents[2] / "queue_job"

# Which parameters the callers pass to which statement, from reading
# queue_job/jobrunner/database.py, queue_job/executor.py and
# queue_job/models/. An empty set: executed without parameters.
EXPECTED_PARAMS: dict[str, set[str]] = {
    # schema (models/queue_job.py, init)
    "CREATE_INDEXES": set(),
    "CREATE_IDENTITY_INDEX": set(),
    "CREATE_NOTIFY_TRIGGERS": set(),
    # schema (models/queue_job_channel.py, init)
    "CREATE_CHANNEL_NOTIFY_TRIGGER": set(),
    "CREATE_CHANNEL_STARTS": set(),
    "CREATE_CHANNEL_FUNCTIONS": set(),
    # runner: databases and leadership (jobrunner/database.py)
    "IS_ODOO_DATABASE": set(),
    "EXISTING_COLUMNS": {"columns"},
    "EXISTING_CHANNEL_COLUMNS": {"columns"},
    "CHANNEL_SETTINGS": set(),
    "DATABASE_HAS_QUEUE_JOB": set(),
    "TRY_LEAD": set(),
    "LISTEN": set(),
    "DATABASE_IS_UPGRADING": set(),
    "MODULES_BEING_CHANGED": set(),
    "DATABASE_SECRET": set(),
    # runner: what to dispatch
    "PENDING_CHANNELS": set(),
    "RUNNING_BY_CHANNEL": set(),
    "FAILED_CHANNELS": {"channels"},
    "CANDIDATES": {"channels", "per_channel"},
    "CANDIDATES_AGED": {"channel", "step", "per_channel"},
    "RUNNING_BY_KEY": {"keys"},
    "RATE_WINDOWS": {"channels", "periods"},
    "PRUNE_CHANNEL_STARTS": {"keep"},
    "MARK_ENQUEUED": {"ids"},
    "MARK_ENQUEUED_COUNTED": {"ids", "rated_ids", "rated_channels"},
    "PUT_BACK_PENDING": {"uuid", "delay"},
    "NEXT_ETA": set(),
    # runner: healing (also models/queue_job.py requeue_stuck_jobs)
    "HEAL_ORPHANS": {"grace", "in_flight", "max_losses"},
    "WAKE_READY_CHILDREN": set(),
    # worker (executor.py)
    "SET_READ_COMMITTED": set(),
    "START_ENQUEUED": {"uuid", "pid"},
    "START_NEXT": {"channels", "pid"},
    "RELEASE_LEASE": {"id"},
    "RELEASE_ALL_LEASES": set(),
    "START_ENQUEUED_RC": {"uuid", "pid"},
    "RELEASE_AND_START_NEXT": {"id", "channels", "pid"},
    "MARK_DONE": {"id", "result", "try"},
    "POSTPONE": {"id", "seconds", "result", "uncount", "try"},
    "LOCK_OWN_RUN": {"id", "try"},
    # worker's watchdog (watchdog.py)
    "RUN_STATE": {"id"},
    "STOP_OVERRUN": {"id", "try", "seconds", "retry_in"},
    "TERMINATE_BACKEND": {"pid"},
    "CANCEL_STATEMENT": {"pid"},
    # dependencies (models/queue_job_state.py)
    "LOCK_CHILDREN": {"graph_uuid", "children"},
    "WAKE_CHILDREN": {"ids"},
    "CANCEL_CHILDREN": {"id", "graph_uuid", "result"},
    # maintenance (models/queue_job.py autovacuum)
    "CHANNELS_WITH_FINISHED_JOBS": set(),
    "FINISHED_JOBS_OLDER_THAN": {"channel", "deadline", "limit"},
    # failure branches (models/queue_job_failure.py)
    "LOCK_ERROR_HANDLER": {"uuid"},
    "JOB_UUID_EXISTS": {"uuid"},
    "REVIVE_DEPENDANTS": {"id", "graph_uuid", "reason_prefix"},
    "FAILED_WITHOUT_AFTERMATH": {"limit"},
    # batches (models/queue_job_batch.py; the index from models/queue_job.py)
    "CREATE_BATCH_INDEX": set(),
    "BATCH_HAS_UNFINISHED_JOBS": {"id"},
    "BATCH_STARTED": {"id"},
    "FINISH_BATCH": {"id"},
    "BATCH_JOB_COUNTS": {"ids"},
    "BATCHES_TO_CHECK": set(),
    # progress, result files, jobs of a record (progress_writer.py, executor.py, models/queue_job_follow.py)
    "WRITE_PROGRESS": {"id", "try", "done", "total", "message"},
    "JOB_PARTNER_AND_RECORDS": {"id"},
    "SEND_TO_BUS": {"channel", "message"},
    "ENDED_JOBS_AUDIENCE": {"ids"},
    "SET_RESULT_FILE": {"id", "attachment_id"},
    "CREATE_RECORD_REFS_INDEX": set(),
    "JOB_COUNTS_OF_RECORDS": {"refs", "user_id"},
    "JOBS_OF_RECORD": {"refs"},
    "JOBS_OF_RECORDS": {"refs"},
    # recurring jobs (models/queue_job_schedule.py)
    "LOCK_DUE_SCHEDULES": {"now"},
}

# Public string constants that are pieces of statements, not statements.
FRAGMENTS = {"NOTIFY_CHANNEL", "NOW_UTC", "SKIP_WAITING_TWINS", "CHANNELS_CHANGED"}

# Statements sent only as part of a longer one (one round trip for several).
COMPOSED = {
    "SET_READ_COMMITTED": ("START_ENQUEUED_RC", "RELEASE_AND_START_NEXT"),
    "START_ENQUEUED": ("START_ENQUEUED_RC",),
    "START_NEXT": ("RELEASE_AND_START_NEXT",),
    "RELEASE_LEASE": ("RELEASE_AND_START_NEXT",),
}

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def placeholders(statement: str) -> set[str]:
    return set(PLACEHOLDER.findall(statement))


def public_constants() -> dict[str, object]:
    return {name: value for name, value in vars(sql).items() if name.isupper() and not name.startswith("_")}


def statement_names() -> list[str]:
    return sorted(
        name for name, value in public_constants().items() if isinstance(value, str) and name not in FRAGMENTS
    )


def test_every_statement_is_listed_here():
    assert statement_names() == sorted(EXPECTED_PARAMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_statement_is_a_non_empty_string(name):
    statement = getattr(sql, name)
    assert isinstance(statement, str)
    assert statement.strip()


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_statement_uses_exactly_the_parameters_callers_pass(name):
    assert placeholders(getattr(sql, name)) == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_no_stray_percent_sign(name):
    # With parameters, psycopg2 treats every "%" as a format: a lone one
    # breaks the statement. Without parameters there must be no placeholder.
    rest = PLACEHOLDER.sub("", getattr(sql, name))
    assert "%" not in rest


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_no_unformatted_fstring_field(name):
    # a forgotten f prefix would leave "{NOW_UTC}" or "{JOB_LOCK_NS}" in the text
    assert not re.search(r"\{_?[A-Z][A-Z_]*\}", getattr(sql, name))


def _without_quoted(text: str) -> str:
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    return re.sub(r"'(?:[^']|'')*'", "''", text)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_parentheses_are_balanced(name):
    depth = 0
    for char in _without_quoted(getattr(sql, name)):
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0


def test_heal_orphans_parameters():
    assert "%(grace)s" in sql.HEAL_ORPHANS
    assert "%(in_flight)s" in sql.HEAL_ORPHANS
    assert "make_interval(secs => %(grace)s)" in sql.HEAL_ORPHANS
    assert "%(in_flight)s::varchar[]" in sql.HEAL_ORPHANS


def test_postpone_parameters():
    for name in ("id", "seconds", "result", "uncount", "try"):
        assert f"%({name})s" in sql.POSTPONE
    assert "make_interval(secs => %(seconds)s)" in sql.POSTPONE


# -- cross-check with the callers' source -------------------------------------------------


def _calls_with_statements():
    """(file, statement name, keys or None) for every call ``f(sql.X[, {...}])``.

    keys is the set of string keys of a literal dict passed second, an empty
    set when only the statement is passed, None when the parameters are not a
    literal dict (then they cannot be checked here).
    """
    found = []
    for path in sorted(ADDON_DIR.rglob("*.py")):
        if "engine" in path.relative_to(ADDON_DIR).parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for index, arg in enumerate(node.args):
                if not (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "sql"):
                    continue
                if not isinstance(getattr(sql, arg.attr, None), str):
                    continue
                rest = node.args[index + 1 :]
                if not rest and not node.keywords:
                    keys = set()
                elif rest and isinstance(rest[0], ast.Dict):
                    dict_keys = rest[0].keys
                    if all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in dict_keys):
                        keys = {k.value for k in dict_keys}
                    else:
                        keys = None
                else:
                    keys = None
                found.append((str(path.relative_to(ADDON_DIR)), arg.attr, keys))
    return found


CALLS = _calls_with_statements()


def test_callers_were_found():
    files = {file for file, _name, _keys in CALLS}
    assert {"jobrunner/database.py", "executor.py", "models/queue_job.py"} <= files
    names = {name for _file, name, _keys in CALLS}
    assert {"HEAL_ORPHANS", "CANDIDATES", "START_ENQUEUED_RC", "POSTPONE", "CANCEL_CHILDREN"} <= names


@pytest.mark.parametrize("file, name, keys", CALLS, ids=[f"{f}:{n}" for f, n, _k in CALLS])
def test_caller_passes_the_parameters_the_statement_uses(file, name, keys):
    assert name in EXPECTED_PARAMS, f"{file} executes sql.{name}, unknown to this test"
    if keys is None:
        pytest.skip("parameters are not a literal dict")
    assert keys == placeholders(getattr(sql, name))


def test_every_statement_is_executed_somewhere():
    used = {name for _file, name, _keys in CALLS}
    assert sorted(set(EXPECTED_PARAMS) - used - set(COMPOSED)) == []


@pytest.mark.parametrize("part", sorted(COMPOSED))
def test_composed_statements_contain_their_parts(part):
    for whole in COMPOSED[part]:
        assert getattr(sql, part) in getattr(sql, whole)


# -- locks, notifications and states ----------------------------------------------------------


@pytest.mark.parametrize("name", ["RUNNER_LOCK_NS", "JOB_LOCK_NS"])
def test_lock_namespaces_fit_a_signed_32_bit_int(name):
    value = getattr(sql, name)
    assert type(value) is int
    assert -(2**31) <= value <= 2**31 - 1


def test_lock_namespaces_differ():
    assert sql.RUNNER_LOCK_NS != sql.JOB_LOCK_NS


def test_lock_namespaces_are_used_in_the_statements():
    assert sql.TRY_LEAD == f"SELECT pg_try_advisory_lock({sql.RUNNER_LOCK_NS}, 0)"
    # the lease is a session lock taken in the statement that starts the job...
    for statement in (sql.START_ENQUEUED, sql.START_NEXT):
        assert f"pg_advisory_lock({sql.JOB_LOCK_NS}, id)" in statement
        assert "xact" not in statement
    assert sql.RELEASE_LEASE == f"SELECT pg_advisory_unlock({sql.JOB_LOCK_NS}, %(id)s)"
    # ...and the healer only tries it, for its transaction (it must not keep it)
    assert f"pg_try_advisory_xact_lock({sql.JOB_LOCK_NS}, c.id)" in sql.HEAL_ORPHANS


def test_notify_channel_is_the_one_listened_to():
    assert sql.LISTEN == f"LISTEN {sql.NOTIFY_CHANNEL}"
    assert f"pg_notify('{sql.NOTIFY_CHANNEL}', '')" in sql.CREATE_NOTIFY_TRIGGERS
    # channel changes come on the same channel, with a payload of their own
    assert f"pg_notify('{sql.NOTIFY_CHANNEL}', '{sql.CHANNELS_CHANGED}')" in sql.CREATE_CHANNEL_NOTIFY_TRIGGER
    assert sql.CHANNELS_CHANGED


def test_slots_never_start_held_channels_or_keyed_jobs():
    # A worker pulling the next job of its slot skips jobs with a concurrency
    # key and channels paused, rate-limited or aged: only the runner's claim,
    # which counts them, starts those.
    assert "concurrency_key IS NULL" in sql.START_NEXT
    assert "queue_job_channel_held(u.name, true)" in sql.START_NEXT
    for part in ("held.paused", "held.rate_limit", "held.aging_step"):
        assert part in sql.CREATE_CHANNEL_FUNCTIONS
    # ...and a claim never starts a job of a paused channel, whatever the runner read before.
    for name in ("MARK_ENQUEUED", "MARK_ENQUEUED_COUNTED"):
        assert "queue_job_channel_held(queue_job.channel, false)" in getattr(sql, name)


def test_counted_claim_counts_only_claimed_jobs():
    assert "JOIN claimed ON claimed.id = r.id" in sql.MARK_ENQUEUED_COUNTED
    assert "INSERT INTO queue_job_channel_start" in sql.MARK_ENQUEUED_COUNTED


def test_candidates_skip_used_up_keys():
    for name in ("CANDIDATES", "CANDIDATES_AGED"):
        statement = getattr(sql, name)
        assert "concurrency_key IS NULL OR" in statement
        assert "< COALESCE(concurrency_limit, 1)" in statement


def _quoted_states(statement: str) -> set[str]:
    found = set()
    for match in re.finditer(r"state\s*(?:=|<>)\s*'(\w+)'", statement):
        found.add(match.group(1))
    for match in re.finditer(r"state\s+IN\s*\(([^)]*)\)", statement):
        found.update(re.findall(r"'(\w+)'", match.group(1)))
    for match in re.finditer(r"THEN\s+'(\w+)'|ELSE\s+'(\w+)'\s+END", statement):
        found.update(g for g in match.groups() if g)
    return found


# these two look at ir_module_module.state, not at job states
MODULE_STATE_STATEMENTS = {"DATABASE_HAS_QUEUE_JOB", "DATABASE_IS_UPGRADING"}


@pytest.mark.parametrize("name", sorted(set(EXPECTED_PARAMS) - MODULE_STATE_STATEMENTS))
def test_job_states_in_statements_exist(name):
    known = {state for state, _label in states.STATES}
    assert _quoted_states(getattr(sql, name)) - BATCH_STATES.get(name, set()) <= known


# these also name queue_job_batch states (models/queue_job_batch.py)
BATCH_STATES = {
    "BATCHES_TO_CHECK": {"enqueued", "progress"},
    "BATCH_STARTED": {"enqueued", "progress"},
    "FINISH_BATCH": {"enqueued", "progress", "finished"},
}


def test_state_extraction_finds_states():
    # guard for the test above: the extraction does see states
    assert _quoted_states(sql.HEAL_ORPHANS) >= {"started", "enqueued", "failed", "cancelled", "pending"}


def test_running_states_agree_with_the_state_machine():
    running = "(" + ", ".join(f"'{s}'" for s in states.RUNNING_STATES) + ")"
    assert f"state IN {running}" in sql.RUNNING_BY_CHANNEL
    assert f"WHERE state IN {running}" in sql.CREATE_INDEXES


def test_times_are_utc():
    assert sql.NOW_UTC == "(now() AT TIME ZONE 'UTC')"
    for name in ("MARK_ENQUEUED", "START_ENQUEUED", "START_NEXT", "MARK_DONE", "POSTPONE", "CANDIDATES", "NEXT_ETA"):
        statement = getattr(sql, name)
        assert sql.NOW_UTC in statement, name
        assert "now()" not in statement.replace(sql.NOW_UTC, ""), name
