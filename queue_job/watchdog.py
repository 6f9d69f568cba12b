"""Watching the job a worker runs: time limits and cancellation.

One watchdog thread per worker process looks at the running job about
twice a second, on a connection of its own:

- past the soft time limit, the job gets JobTimeoutError raised in its
  thread (it may catch it to clean up);
- someone cancelled the job (or it was taken back from this worker): the
  job gets JobCancelledError, and its current SQL statement is cancelled;
  the job may also ask itself, at once, with job_cancel_requested();
- past the hard time limit, the job is stopped for real: its row goes back
  to pending (or failed when out of tries), its database session is
  terminated so its transaction ends, and if the thread still runs a few
  seconds later, the worker process exits (the master starts a new one).

Exceptions are delivered between two Python bytecodes: code blocked in a C
call sees them when the call returns; the hard limit does not wait for that.
"""

import ctypes
import logging
import os
import signal
import threading
import time
from contextlib import closing
from dataclasses import dataclass

import psycopg2

from .engine import sql
from .engine.states import STARTED
from .exception import JobCancelledError, JobTimeoutError

_logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
KILL_GRACE_SECONDS = 10.0  # after the hard limit, before the worker process exits
HARD_LIMIT_RETRY_SECONDS = 60  # when a stopped job is tried again, if its function has no retry pattern


@dataclass
class Watch:
    db: str
    connection_info: dict
    job_id: int
    uuid: str
    tries: int
    thread_id: int
    backend_pid: int
    soft_at: float | None  # monotonic deadlines
    hard_at: float | None
    hard_seconds: float = 0.0
    retry_seconds: int = HARD_LIMIT_RETRY_SECONDS  # after a hard stop
    cancelled: bool = False
    timed_out: bool = False
    stopped_at: float | None = None
    database_errors: int = 0  # in a row; only the first is a warning
    progress: object = None  # progress.notify_progress() state of the job


def _raise_in_thread(thread_id, exc_class):
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_class))


def _clear_interrupt(thread_id):
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


class Watchdog:
    """Per-process watcher of the one job this process runs at a time."""

    _instance = None
    _lock = threading.Lock()

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._instance is None or cls._instance._pid != os.getpid():
                cls._instance = cls()
            return cls._instance

    @classmethod
    def running(cls):
        """This process's watchdog if it has one, without starting one."""
        watchdog = cls._instance
        return watchdog if watchdog is not None and watchdog._pid == os.getpid() else None

    def __init__(self):
        self._pid = os.getpid()
        self._watch = None
        self._connections = {}
        self._connections_lock = threading.Lock()
        # Held while an interrupt is sent, and to stop watching: once stop()
        # returned, nothing more is sent to the job's thread.
        self._interrupt_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="queue_job watchdog", daemon=True)
        self._thread.start()

    def start(self, watch):
        with self._interrupt_lock:
            self._watch = watch
        self._wake.set()

    def stop(self, watch):
        """Stop watching ``watch`` and drop an interrupt still on its way to the job's thread.

        Called from that thread, where an interrupt sent before the lock was
        taken may still land: this retries until it is through.
        """
        while True:
            try:
                with self._interrupt_lock:
                    if self._watch is watch:
                        self._watch = None
                _clear_interrupt(watch.thread_id)
                return
            except (JobTimeoutError, JobCancelledError):
                continue  # the job is over: too late for it

    def current(self):
        return self._watch

    def cancel_requested(self, watch) -> bool:
        """Whether the job was cancelled or taken back, asked of the database now."""
        if watch.cancelled or watch.stopped_at is not None:
            return True
        row = self._execute(watch, sql.RUN_STATE, {"id": watch.job_id})
        if row is not None and row[0] == STARTED and row[1] == watch.tries:
            return False
        # Seen by the job itself: the watchdog does not interrupt it for this.
        self._mark_cancelled(watch)
        return True

    def _mark_cancelled(self, watch):
        """True for the first to see the cancellation while the job runs."""
        with self._interrupt_lock:
            first = not watch.cancelled and self._watch is watch
            watch.cancelled = True
        return first

    def _loop(self):
        while True:
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            watch = self._watch
            if watch is None:
                continue
            try:
                self._check(watch)
                watch.database_errors = 0
            except psycopg2.Error as exc:
                # A dropped database or a PostgreSQL restart fails every look
                # until the job ends: say it once.
                watch.database_errors += 1
                level = logging.WARNING if watch.database_errors == 1 else logging.DEBUG
                _logger.log(level, "watchdog of job %s on %s: %s", watch.uuid, watch.db, str(exc).strip())
                with self._connections_lock:
                    self._connections.pop(watch.db, None)
            except Exception:
                _logger.exception("watchdog of job %s failed", watch.uuid)

    def _connection(self, watch):
        # Shared by this thread and the job's (cancel_requested); psycopg2
        # serialises the statements of two threads on one connection.
        with self._connections_lock:
            conn = self._connections.get(watch.db)
            if conn is None or conn.closed:
                info = dict(watch.connection_info, application_name=f"queue_job watchdog {os.getpid()}")
                conn = psycopg2.connect(**info)
                conn.autocommit = True
                self._connections[watch.db] = conn
            return conn

    def _execute(self, watch, statement, params):
        with closing(self._connection(watch).cursor()) as cr:
            cr.execute(statement, params)
            return cr.fetchone() if cr.description else None

    def _check(self, watch):
        now = time.monotonic()
        if watch.stopped_at is not None:
            if self._watch is watch and now - watch.stopped_at > KILL_GRACE_SECONDS:
                _logger.error("job %s on %s ignores its hard time limit: exiting the worker", watch.uuid, watch.db)
                os.kill(os.getpid(), signal.SIGKILL)
            return
        if watch.hard_at is not None and now >= watch.hard_at:
            self._stop(watch)
            return
        if watch.soft_at is not None and now >= watch.soft_at and not watch.timed_out:
            watch.timed_out = True
            _logger.warning("job %s on %s: soft time limit reached", watch.uuid, watch.db)
            self._interrupt(watch, JobTimeoutError)
        row = self._execute(watch, sql.RUN_STATE, {"id": watch.job_id})
        owned = row is not None and row[0] == STARTED and row[1] == watch.tries
        # The job may have ended while we looked: then this is not a cancellation.
        if not owned and self._mark_cancelled(watch):
            _logger.info("job %s on %s was cancelled or taken back: interrupting it", watch.uuid, watch.db)
            self._interrupt(watch, JobCancelledError, cancel_statement=True)

    def _stop(self, watch):
        watch.stopped_at = time.monotonic()
        row = self._execute(
            watch,
            sql.STOP_OVERRUN,
            {
                "id": watch.job_id,
                "try": watch.tries,
                "seconds": f"{watch.hard_seconds:g}",
                "retry_in": watch.retry_seconds,
            },
        )
        if row is None:
            return  # it ended (or was taken back) just now
        _logger.error(
            "job %s on %s: hard time limit of %ss reached; stopped, now %s",
            watch.uuid, watch.db, f"{watch.hard_seconds:g}", row[0],
        )
        # Ending the session ends the job's transaction, whatever its code is doing.
        self._execute(watch, sql.TERMINATE_BACKEND, {"pid": watch.backend_pid})
        self._interrupt(watch, JobCancelledError)

    def _interrupt(self, watch, exc_class, cancel_statement=False):
        # Only while the job's own code runs: stop() takes the same lock.
        with self._interrupt_lock:
            if self._watch is not watch:
                return
            _raise_in_thread(watch.thread_id, exc_class)
            if cancel_statement:
                # The exception waits for the statement to return; do not wait for it.
                self._execute(watch, sql.CANCEL_STATEMENT, {"pid": watch.backend_pid})


def _current_watch() -> tuple[Watchdog | None, Watch | None]:
    watchdog = Watchdog.running()
    watch = watchdog.current() if watchdog is not None else None
    if watch is None or watch.thread_id != threading.get_ident():
        return None, None
    return watchdog, watch


def job_cancel_requested() -> bool:
    """True when the job running in this thread was cancelled, stopped or taken back.

    Asks the database at once (the job's own transaction cannot see it). A
    job that returns after this has its work rolled back all the same.
    Outside a job, False.
    """
    watchdog, watch = _current_watch()
    if watch is None:
        return False
    return watchdog.cancel_requested(watch)


def check_job_cancelled() -> None:
    """Raise JobCancelledError when the job running in this thread was cancelled (see job_cancel_requested)."""
    if job_cancel_requested():
        raise JobCancelledError()
