"""Moving a database from OCA's queue_job 18.0 to this queue_job.

Loaded by path from the migration scripts of 18.0.2.0.0 (``-u queue_job``
on a database whose installed queue_job is older), so it imports nothing of
the addon: the tables are OCA's when it runs. Every step is idempotent and
does nothing on a database that is already in this queue_job's shape.

What OCA's rows look like and what changes:

* ``args``, ``kwargs``, ``records`` (and ``retry_pattern``,
  ``related_action`` of job functions) are jsonb *strings* holding JSON
  text: they become the JSON documents themselves.
* ``dependencies`` is a text column (base_sparse_field's Serialized): it
  becomes jsonb, which the graph statements of engine/sql.py read.
* A job OCA left ``enqueued`` or ``started`` (its server stopped) goes back
  to ``pending`` and runs again; the interrupted try is not counted.
* OCA's identity key index is not unique: among the jobs that will wait to
  run, the oldest one of each key keeps it; the others keep running as
  before but lose the key (written in their result and in the log).
* OCA has no unique job function name: a later function with the name of
  an earlier one (OCA only ever used the earliest) is renamed; its jobs
  point to the earlier one.
* OCA's notify trigger and identity index are dropped (this queue_job's
  init() creates its own).
"""

from __future__ import annotations

import logging

import psycopg2

_logger = logging.getLogger("odoo.addons.queue_job.migrations")

WAITING_STATES = ("wait_dependencies", "pending", "enqueued")
NOTE_PREFIX = "Moved from OCA's queue_job: "

# A cast that gives NULL instead of failing on text that is not JSON.
_TRY_JSONB = """
CREATE OR REPLACE FUNCTION pg_temp.queue_job_try_jsonb(value text) RETURNS jsonb AS $$
BEGIN
    RETURN value::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$ LANGUAGE plpgsql IMMUTABLE
"""


def _column_type(cr, table: str, column: str) -> str | None:
    cr.execute(
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s AND column_name = %s",
        (table, column),
    )
    row = cr.fetchone()
    return row[0] if row else None


def _note(text: str) -> str:
    """SQL appending a line to ``result`` (kept when there is one)."""
    return f"concat_ws(E'\\n', NULLIF(result, ''), {text})"


def drop_oca_triggers(cr) -> None:
    """OCA notifies every row change; init() installs one notification per statement."""
    cr.execute("DROP TRIGGER IF EXISTS queue_job_notify ON queue_job")
    cr.execute("DROP FUNCTION IF EXISTS queue_job_notify()")
    cr.execute("DROP INDEX IF EXISTS queue_job_identity_key_state_partial_index")


def decode_json_strings(cr, table: str, columns: tuple[str, ...]) -> None:
    """jsonb strings holding JSON text become the JSON they hold."""
    cr.execute(_TRY_JSONB)
    for column in columns:
        if _column_type(cr, table, column) != "jsonb":
            continue
        cr.execute(
            f"UPDATE {table} SET {column} = pg_temp.queue_job_try_jsonb({column} #>> '{{}}')"
            f" WHERE jsonb_typeof({column}) = 'string'"
            f"   AND pg_temp.queue_job_try_jsonb({column} #>> '{{}}') IS NOT NULL"
        )
        if cr.rowcount:
            _logger.info("queue_job: %s.%s: %d values stored as JSON text decoded", table, column, cr.rowcount)
        cr.execute(f"SELECT id FROM {table} WHERE jsonb_typeof({column}) = 'string' LIMIT 20")
        bad = [row[0] for row in cr.fetchall()]
        if bad:
            _logger.warning("queue_job: %s.%s of ids %s is not JSON text; left as it is", table, column, bad)


JOB_VALUE_COLUMNS = ("args", "kwargs", "records")


def convert_job_values(cr) -> None:
    """Decode the JSON text of job values and make ``dependencies`` jsonb.

    One ALTER TABLE rewrites the table once for every column; when a value
    is not JSON (the cast fails), the columns are converted row by row
    instead, leaving that value as it is, with a warning.
    """
    dependencies_text = _column_type(cr, "queue_job", "dependencies") in ("text", "character varying")
    columns = [column for column in JOB_VALUE_COLUMNS if _column_type(cr, "queue_job", column) == "jsonb"]
    counts = {}
    if columns:
        cr.execute("SELECT " + ", ".join(
            f"count(*) FILTER (WHERE jsonb_typeof({column}) = 'string')" for column in columns) + " FROM queue_job")
        counts = {column: count for column, count in zip(columns, cr.fetchone()) if count}
    clauses = [
        f"ALTER COLUMN {column} TYPE jsonb USING CASE WHEN jsonb_typeof({column}) = 'string'"
        f" THEN ({column} #>> '{{}}')::jsonb ELSE {column} END"
        for column in counts
    ]
    if dependencies_text:
        clauses.append("ALTER COLUMN dependencies TYPE jsonb USING NULLIF(btrim(dependencies), '')::jsonb")
    if not clauses:
        return
    try:
        with cr.savepoint(flush=False):
            cr.execute("ALTER TABLE queue_job " + ", ".join(clauses), log_exceptions=False)
    except psycopg2.DataError as exc:
        _logger.warning("queue_job: some job values are not JSON (%s); converting row by row", exc.pgerror)
        decode_json_strings(cr, "queue_job", JOB_VALUE_COLUMNS)
        dependencies_to_jsonb(cr)
        return
    for column, count in counts.items():
        _logger.info("queue_job: queue_job.%s: %d values stored as JSON text decoded", column, count)
    if dependencies_text:
        _logger.info("queue_job: queue_job.dependencies converted from text to jsonb")


def dependencies_to_jsonb(cr) -> None:
    """OCA's text column becomes jsonb; a value that is not JSON is reported and dropped."""
    if _column_type(cr, "queue_job", "dependencies") not in ("text", "character varying"):
        return
    cr.execute(_TRY_JSONB)
    cr.execute(
        "SELECT uuid, state FROM queue_job WHERE NULLIF(btrim(dependencies), '') IS NOT NULL"
        " AND pg_temp.queue_job_try_jsonb(dependencies) IS NULL"
    )
    for uuid, state in cr.fetchall():
        _logger.warning("queue_job: job %s (%s): its dependencies are not JSON; they are dropped", uuid, state)
    cr.execute(
        "ALTER TABLE queue_job ALTER COLUMN dependencies TYPE jsonb"
        " USING pg_temp.queue_job_try_jsonb(NULLIF(btrim(dependencies), ''))"
    )
    _logger.info("queue_job: queue_job.dependencies converted from text to jsonb")


def requeue_interrupted(cr) -> None:
    """Jobs OCA's stopped server had handed to a worker run again, from pending."""
    for state, why in (
        ("started", "was running when OCA's server stopped; it runs again (the interrupted try is not counted)"),
        ("enqueued", "was handed to a worker of OCA's server, not started; it runs again"),
    ):
        cr.execute(
            f"""UPDATE queue_job
                   SET state = 'pending', date_enqueued = NULL, date_started = NULL, worker_pid = NULL,
                       result = {_note('%s')}
                 WHERE state = %s
             RETURNING uuid, channel""",
            (NOTE_PREFIX + why, state),
        )
        for uuid, channel in cr.fetchall():
            _logger.info("queue_job: job %s (channel %s) %s: back to pending", uuid, channel, state)


def default_channel(cr) -> None:
    """A job to run needs a channel: the runner only looks at named ones."""
    cr.execute(
        "UPDATE queue_job SET channel = 'root'"
        " WHERE (channel IS NULL OR btrim(channel) = '') AND state = ANY(%s) RETURNING uuid",
        (list(WAITING_STATES),),
    )
    for (uuid,) in cr.fetchall():
        _logger.warning("queue_job: job %s had no channel; it runs in root", uuid)


def resolve_identity_twins(cr) -> None:
    """At most one waiting job per identity key (this queue_job's index is unique).

    The oldest waiting job keeps the key; the later ones still run, as they
    would have with OCA, but no longer absorb new jobs with that key. Nothing
    is deleted or cancelled.
    """
    cr.execute(
        f"""WITH ranked AS (
                SELECT id, identity_key,
                       first_value(uuid) OVER twins AS kept_uuid,
                       row_number() OVER twins AS rank
                  FROM queue_job
                 WHERE identity_key IS NOT NULL AND state = ANY(%(waiting)s)
                WINDOW twins AS (PARTITION BY identity_key ORDER BY date_created NULLS LAST, id)
            )
            UPDATE queue_job q
               SET identity_key = NULL,
                   result = {_note("format(%(note)s, r.identity_key, r.kept_uuid)")}
              FROM ranked r
             WHERE q.id = r.id AND r.rank > 1
         RETURNING q.uuid, r.identity_key, r.kept_uuid""",
        {
            "waiting": list(WAITING_STATES),
            "note": NOTE_PREFIX + "identity key %s cleared: job %s waits with the same key and keeps it",
        },
    )
    for uuid, key, kept in cr.fetchall():
        _logger.warning(
            "queue_job: job %s: identity key %r cleared, job %s waits with the same key and keeps it "
            "(both run)", uuid, key, kept,
        )


def resolve_function_twins(cr) -> None:
    """One job function per name; OCA used the earliest, the later ones are renamed."""
    cr.execute(
        """WITH ranked AS (
               SELECT id, name, first_value(id) OVER twins AS kept_id, row_number() OVER twins AS rank
                 FROM queue_job_function
                WHERE COALESCE(name, '') <> ''
               WINDOW twins AS (PARTITION BY name ORDER BY id)
           )
           SELECT id, name, kept_id FROM ranked WHERE rank > 1"""
    )
    for function_id, name, kept_id in cr.fetchall():
        cr.execute("UPDATE queue_job SET job_function_id = %s WHERE job_function_id = %s", (kept_id, function_id))
        repointed = cr.rowcount
        suffix = f"_duplicate_{function_id}"
        cr.execute(
            "UPDATE queue_job_function SET name = name || %s, method = method || %s WHERE id = %s",
            (suffix, suffix, function_id),
        )
        _logger.warning(
            "queue_job: job function %s (id %s) duplicates id %s, the one OCA used: renamed %s%s, "
            "its %d job(s) now point to id %s", name, function_id, kept_id, name, suffix, repointed, kept_id,
        )


def clamp_removal_interval(cr) -> None:
    cr.execute(
        "UPDATE queue_job_channel SET removal_interval = 0 WHERE removal_interval < 0 RETURNING complete_name"
    )
    for (name,) in cr.fetchall():
        _logger.warning("queue_job: channel %s had a negative removal interval; set to 0 (same effect)", name)


def migrate_before_schema(cr) -> None:
    """Everything that must happen before the ORM updates the schema and init() builds indexes."""
    if _column_type(cr, "queue_job", "uuid") is None:
        return
    drop_oca_triggers(cr)
    convert_job_values(cr)
    if _column_type(cr, "queue_job_function", "id") is not None:
        decode_json_strings(cr, "queue_job_function", ("retry_pattern", "related_action"))
        resolve_function_twins(cr)
    requeue_interrupted(cr)
    default_channel(cr)
    resolve_identity_twins(cr)
    if _column_type(cr, "queue_job_channel", "removal_interval") is not None:
        clamp_removal_interval(cr)
