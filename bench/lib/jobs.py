"""Jobs written and watched with plain SQL, identically for both queues.

Both addons store a job as a ``queue_job`` row. The bench copies two real
jobs that ``with_delay()`` stored (``bench_noop()`` and
``bench_stamp("BENCHTOKEN")``, see in_shell/enqueue.py) into a template
table, then creates any number of jobs with one ``INSERT ... SELECT
generate_series`` over the columns both schemas share. Columns whose
encoding differs (``args``: text in OCA, jsonb here) are copied from the
template, so each queue reads back what it wrote itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypeAlias

import psycopg2.extensions

Connection: TypeAlias = psycopg2.extensions.connection

TEMPLATE_TABLE = "queue_job_bench_template"
STAMP_TABLE = "queue_job_bench_stamp"
TOKEN = "BENCHTOKEN"
EMPTY_DEPENDENCIES = '{"depends_on": [], "reverse_depends_on": []}'

# Copied as they are from the template job.
COPIED_COLUMNS = (
    "user_id", "company_id", "name", "model_name", "method_name", "records", "kwargs",
    "max_retries", "channel", "channel_method_name", "job_function_id",
)  # fmt: skip

UNFINISHED = ("wait_dependencies", "pending", "enqueued", "started")


@dataclass
class Batch:
    """Jobs created by one statement: ids first_id..last_id, committed at ``committed_at`` (DB clock)."""

    first_id: int
    last_id: int
    count: int
    committed_at: float


@dataclass
class Drained:
    done: int
    failed: int  # failed or cancelled
    unfinished: int
    finished_at: float  # DB clock when the last poll ran
    timed_out: bool


def fetch_one(conn: Connection, query: str, params: object = None) -> tuple[Any, ...]:
    with conn.cursor() as cr:
        cr.execute(query, params)
        row: tuple[Any, ...] | None = cr.fetchone()
    assert row is not None, query
    return row


def execute(conn: Connection, query: str, params: object = None) -> None:
    with conn.cursor() as cr:
        cr.execute(query, params)


def db_clock(conn: Connection) -> float:
    return float(fetch_one(conn, "SELECT extract(epoch FROM clock_timestamp())::float8")[0])


def make_templates(conn: Connection, uuids: dict[str, str]) -> None:
    """Move the jobs ``uuids`` (method name -> uuid) out of queue_job into the template table."""
    execute(conn, f"DROP TABLE IF EXISTS {TEMPLATE_TABLE}")
    execute(conn, f"CREATE TABLE {TEMPLATE_TABLE} AS SELECT * FROM queue_job WHERE uuid = ANY(%s)",
            (list(uuids.values()),))
    count = fetch_one(conn, f"SELECT count(DISTINCT method_name) FROM {TEMPLATE_TABLE}")[0]
    if count != len(uuids):
        raise RuntimeError(f"template jobs {uuids} not found in queue_job")
    clear_jobs(conn)


def _column_type(conn: Connection, column: str) -> str:
    return str(fetch_one(
        conn,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = 'queue_job'::regclass AND attname = %s",
        (column,),
    )[0])


def insert_jobs(conn: Connection, method: str, count: int, priority: int, token_prefix: str = "") -> Batch:
    """Commit ``count`` pending jobs copied from the ``method`` template, in one statement.

    A ``bench_stamp`` job gets the token ``<token_prefix><n>``, n = 1..count.
    ``conn`` must be in autocommit mode: the statement is the transaction.
    """
    args_type = _column_type(conn, "args")
    copied = ", ".join(COPIED_COLUMNS)
    query = f"""
        WITH ins AS (
            INSERT INTO queue_job (uuid, state, priority, date_created, eta, retry, identity_key,
                                   dependencies, args, func_string, {copied})
            SELECT gen_random_uuid()::text, 'pending', %(priority)s, now() AT TIME ZONE 'UTC', NULL, 0, NULL,
                   %(dependencies)s,
                   CAST(replace(t.args::text, %(token)s, %(prefix)s || g) AS {args_type}),
                   replace(t.func_string, %(token)s, %(prefix)s || g),
                   {", ".join(f"t.{column}" for column in COPIED_COLUMNS)}
              FROM {TEMPLATE_TABLE} t CROSS JOIN generate_series(1, %(count)s) AS g
             WHERE t.method_name = %(method)s
             ORDER BY g
            RETURNING id)
        SELECT min(id), max(id), count(*) FROM ins
    """
    params = {"priority": priority, "dependencies": EMPTY_DEPENDENCIES, "token": TOKEN,
              "prefix": token_prefix, "count": count, "method": method}
    assert conn.autocommit, "insert_jobs() needs an autocommit connection"
    first_id, last_id, inserted = fetch_one(conn, query, params)
    committed_at = db_clock(conn)
    if inserted != count:
        raise RuntimeError(f"inserted {inserted} {method} jobs instead of {count}")
    return Batch(first_id, last_id, inserted, committed_at)


def wait_drained(conn: Connection, batch: Batch, interval: float, timeout: float, stall: float = 60) -> Drained:
    """Poll every ``interval`` seconds until no job of ``batch`` is unfinished.

    Gives up after ``timeout`` seconds, or when no job of the batch finished
    for ``stall`` seconds (a queue that stopped working).
    """
    query = f"""
        SELECT count(*) FILTER (WHERE state = 'done'),
               count(*) FILTER (WHERE state IN ('failed', 'cancelled')),
               count(*) FILTER (WHERE state IN {UNFINISHED!r}),
               extract(epoch FROM clock_timestamp())::float8
          FROM queue_job WHERE id BETWEEN %s AND %s
    """
    deadline = time.monotonic() + timeout
    progress, progress_at = -1, time.monotonic()
    while True:
        done, failed, unfinished, now = fetch_one(conn, query, (batch.first_id, batch.last_id))
        if done + failed != progress:
            progress, progress_at = done + failed, time.monotonic()
        timed_out = time.monotonic() > min(deadline, progress_at + stall)
        if not unfinished or timed_out:
            return Drained(done, failed, unfinished, float(now), timed_out and bool(unfinished))
        time.sleep(interval)


def wait_nothing_unfinished(conn: Connection, timeout: float) -> int:
    """Wait until the whole table has no unfinished job; returns how many are left."""
    deadline = time.monotonic() + timeout
    while True:
        left = int(fetch_one(conn, f"SELECT count(*) FROM queue_job WHERE state IN {UNFINISHED!r}")[0])
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def stamp_of(conn: Connection, token: str) -> float | None:
    row = fetch_one(conn, f"SELECT extract(epoch FROM min(started_at))::float8 FROM {STAMP_TABLE}"
                          " WHERE token = %s", (token,))
    return None if row[0] is None else float(row[0])


def first_stamp(conn: Connection, prefix: str) -> float | None:
    row = fetch_one(conn, f"SELECT extract(epoch FROM min(started_at))::float8 FROM {STAMP_TABLE}"
                          " WHERE token LIKE %s", (prefix + "%",))
    return None if row[0] is None else float(row[0])


def cancel_pending(conn: Connection) -> int:
    with conn.cursor() as cr:
        cr.execute("UPDATE queue_job SET state = 'cancelled', date_cancelled = now() AT TIME ZONE 'UTC'"
                   " WHERE state = 'pending'")
        return int(cr.rowcount)


def delete_batch(conn: Connection, batch: Batch) -> None:
    execute(conn, "DELETE FROM queue_job WHERE id BETWEEN %s AND %s", (batch.first_id, batch.last_id))


def clear_jobs(conn: Connection) -> None:
    """Empty queue_job (and what references it) and the stamp table."""
    execute(conn, "TRUNCATE queue_job CASCADE")
    execute(conn, f"TRUNCATE {STAMP_TABLE}")


def vacuum_analyze(conn: Connection) -> None:
    execute(conn, "VACUUM ANALYZE queue_job")


def count_pending(conn: Connection, priority: int) -> int:
    return int(fetch_one(conn, "SELECT count(*) FROM queue_job WHERE state = 'pending' AND priority = %s",
                         (priority,))[0])
