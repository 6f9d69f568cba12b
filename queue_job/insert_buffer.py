"""Rows of new jobs wait on their cursor and reach the table in one INSERT.

A ``with_delay()`` loop used to send one INSERT per job: a round trip and a
statement to parse and plan each time, most of the cost of enqueuing. The
rows are now kept on the cursor (``cr.precommit.data``) and written by one
multi-row INSERT when the transaction is flushed, exactly when the ORM
writes its own pending changes:

- at commit, and when a savepoint is entered or released (``cr.flush()``
  runs the precommit hooks);
- when queue.job is searched or flushed (``search``, ``search_count``,
  ``read_group``, ``flush_model()``), and on ``env.flush_all()``, so code
  that flushes before raw SQL, as Odoo asks, sees the rows.

A rollback, of the transaction or of a savepoint that flushed on entry,
drops the rows buffered since, as it drops the ORM's pending writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from odoo import api

BUFFER_KEY = "queue_job.rows_to_insert"
ROWS_PER_STATEMENT = 1000


def buffer_rows(cr: Any, columns: Sequence[str], rows: list[tuple]) -> None:
    """Keep ``rows`` (values in ``columns`` order, converted for the database) until the next flush."""
    data = cr.precommit.data
    buffered = data.get(BUFFER_KEY)
    if buffered is None:
        buffered = data[BUFFER_KEY] = {}
        cr.precommit.add(lambda: flush_rows(cr))
    buffered.setdefault(tuple(columns), []).extend(rows)


def flush_rows(cr: Any) -> None:
    """INSERT the rows buffered on ``cr``, if any."""
    # Popped before writing: a precommit hook that runs after this one and
    # enqueues a job starts a new buffer, with its own hook.
    buffered = cr.precommit.data.pop(BUFFER_KEY, None)
    for columns, rows in (buffered or {}).items():
        insert_rows(cr, columns, rows)


def insert_rows(cr: Any, columns: Sequence[str], rows: list[tuple], suffix: str = "") -> list[tuple]:
    """INSERT ``rows`` now, ``suffix`` (e.g. a RETURNING clause) after each statement; what they return."""
    row_placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    returned = []
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        cr.execute(
            f"INSERT INTO queue_job ({', '.join(columns)}) "
            f"VALUES {', '.join([row_placeholder] * len(chunk))} {suffix}",
            [value for row in chunk for value in row],
            # With a conflict clause, a serialization failure is expected
            # now and then (a twin committed meanwhile); Odoo retries it.
            log_exceptions=not suffix,
        )
        if suffix:
            returned.extend(cr.fetchall())
    return returned


def has_buffered_rows(cr: Any) -> bool:
    return bool(cr.precommit.data.get(BUFFER_KEY))


def install_flush_all_hook() -> None:
    """Make ``env.flush_all()`` write the buffered rows too."""
    if getattr(api.Environment.flush_all, "_queue_job_rows", False):
        return
    original = api.Environment.flush_all

    def flush_all(self):
        original(self)
        if self.cr.precommit.data.get(BUFFER_KEY):
            flush_rows(self.cr)

    flush_all._queue_job_rows = True
    api.Environment.flush_all = flush_all
