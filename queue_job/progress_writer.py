"""The thread that writes running jobs' progress, so that notify_progress() never waits for the database.

One per worker process. notify_progress() leaves the latest values on the
job's Watch and, at most every MIN_WRITE_INTERVAL, asks this thread to write
them; the thread writes whatever is latest when it gets there, on a short
transaction of its own, and sends them to the job's user over the bus. A
write that finds the job no longer owned by its run (cancelled, stopped,
taken back) flags the progress: the job's next notify_progress() raises
JobCancelledError (the watchdog, which looks on its own, is left alone: it
still interrupts a job that does not call notify_progress() again). When the job ends, the worker writes the last
values itself (write_now), before the job's outcome.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

import psycopg2

from .engine import sql
from .engine.states import STARTED
from .watchdog import Watch

_logger = logging.getLogger(__name__)

MIN_WRITE_INTERVAL = 0.25  # seconds between two progress writes of one job
LOCK_TIMEOUT = 10.0  # seconds the end of a job waits for a progress write under way
BUS_PROGRESS = "queue_job/progress"  # bus notification type of progress and state changes


def progress_percent(done: int | None, total: int | None) -> float:
    """0-100; 0 when the total is unknown, 100 for a total of 0."""
    if not total:
        return 100.0 if total == 0 and done is not None else 0.0
    return round(100.0 * min(done or 0, total) / total, 2)


@dataclass
class Progress:
    """Progress of one running job, kept on its Watch."""

    values: tuple = (0, None, None)  # (done, total, message), replaced whole by each call
    version: int = 0  # calls so far
    written_version: int = 0
    submitted_at: float = float("-inf")
    partner_id: int | None = None  # of the job's user, who gets the bus messages
    records: list | None = None  # "model,id" the job runs on, where the browser shows it
    cancelled: bool = False  # a write found the job no longer this run's
    registry: object = None  # the job's, looked up in the job's thread (the writer must not wait for Registry's lock)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one write at a time


class ProgressWriter:
    _instance = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> ProgressWriter:
        with cls._instance_lock:
            if cls._instance is None or cls._instance._pid != os.getpid():
                cls._instance = cls()
            return cls._instance

    def __init__(self):
        self._pid = os.getpid()
        self._pending: dict[str, Watch] = {}
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="queue_job progress writer", daemon=True)
        self._thread.start()

    def submit(self, watch: Watch) -> None:
        with self._condition:
            self._pending[watch.uuid] = watch
            self._condition.notify()

    def write_now(self, watch: Watch) -> None:
        """Write the job's latest values now, in the calling thread, if not written yet."""
        with self._condition:
            self._pending.pop(watch.uuid, None)
        try:
            self._write_latest(watch)
        except Exception as exc:  # the job's outcome matters more than its last progress
            _logger.warning("job %s on %s: last progress not written: %s", watch.uuid, watch.db, exc)

    def _loop(self):
        while True:
            with self._condition:
                while not self._pending:
                    self._condition.wait()
                _uuid, watch = self._pending.popitem()
            try:
                if not self._write_latest(watch):
                    watch.progress.cancelled = True
            except Exception:
                _logger.exception("job %s on %s: progress not written", watch.uuid, watch.db)

    def _write_latest(self, watch: Watch) -> bool:
        progress = watch.progress
        if not progress.lock.acquire(timeout=LOCK_TIMEOUT):
            _logger.warning("job %s on %s: a progress write is stuck; this one is skipped", watch.uuid, watch.db)
            return True
        try:
            version, values = progress.version, progress.values
            if version == progress.written_version:
                return True
            owned = _write(watch, progress, values)
            if owned:
                progress.written_version = version
            return owned
        finally:
            progress.lock.release()


def _write(watch: Watch, progress: Progress, values: tuple) -> bool:
    """Write the progress on a short transaction of its own; False when the job is no longer this run's.

    No ORM here: an Environment needs the registry's lock, which the job's
    thread may hold (e.g. while Odoo runs tests or loads modules).
    """
    done, total, message = values
    try:
        with progress.registry.cursor() as cr:
            cr.execute(sql.SET_READ_COMMITTED)
            cr.execute(
                sql.WRITE_PROGRESS,
                {"id": watch.job_id, "try": watch.tries, "done": done, "total": total, "message": message},
            )
            if cr.fetchone() is None:
                cr.execute(sql.RUN_STATE, {"id": watch.job_id})
                row = cr.fetchone()
                return row is not None and row[0] == STARTED and row[1] == watch.tries
            if progress.partner_id is None:
                cr.execute(sql.JOB_PARTNER_AND_RECORDS, {"id": watch.job_id})
                partner_id, progress.records = cr.fetchone()
                progress.partner_id = partner_id or 0
            if progress.partner_id:
                channel = _send_to_bus(cr, watch, progress, done, total, message)
                cr.postcommit.add(lambda: _wake_bus(channel))
    except psycopg2.Error as exc:
        # Progress is a courtesy: a busy or restarting database does not fail the job.
        _logger.info("job %s on %s: progress not written now: %s", watch.uuid, watch.db, str(exc).strip())
    return True


def _send_to_bus(cr, watch: Watch, progress: Progress, done, total, message):
    from odoo.addons.bus.models.bus import json_dump

    channel = (watch.db, "res.partner", progress.partner_id)
    payload = {
        "id": watch.job_id,
        "uuid": watch.uuid,
        "state": STARTED,
        "progress": progress_percent(done, total),
        "progress_done": done,
        "progress_total": total,
        "progress_message": message or "",
        "records": progress.records or [],
    }
    cr.execute(
        sql.SEND_TO_BUS,
        {"channel": json_dump(channel), "message": json_dump({"type": BUS_PROGRESS, "payload": payload})},
    )
    return channel


def send_jobs_ended(cr, partner_id: int, jobs: list[dict]):
    """One bus message telling a user that these jobs of theirs ended; its channel."""
    from odoo.addons.bus.models.bus import json_dump

    channel = (cr.dbname, "res.partner", partner_id)
    cr.execute(
        sql.SEND_TO_BUS,
        {"channel": json_dump(channel), "message": json_dump({"type": BUS_PROGRESS, "payload": {"jobs": jobs}})},
    )
    return channel


def _wake_bus(*channels) -> None:
    from odoo.addons.bus.models.bus import ODOO_NOTIFY_FUNCTION, json_dump
    from odoo.sql_db import db_connect
    from odoo.tools import SQL

    with db_connect("postgres").cursor() as cr:
        cr.execute(SQL("SELECT %s('imbus', %s)", SQL.identifier(ODOO_NOTIFY_FUNCTION), json_dump(list(channels))))


wake_bus = _wake_bus
