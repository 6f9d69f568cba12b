"""Running jobs inside an Odoo worker, each in its own transaction.

A run request from the runner is a *slot*: one job it claimed (state
enqueued), then, while the slot's time budget lasts, the next ready jobs of
the same channels, claimed here one at a time. The slot never runs two jobs
at once, so a channel never runs more jobs than the runner gave it slots.

Every job runs on its own database connection, which holds the job's lease
(see engine/sql.py) from the statement that marks it started until its
outcome is committed.
"""

import logging
import os
import random
import threading
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass

import psycopg2
from psycopg2 import errorcodes

from odoo import SUPERUSER_ID, api
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.sql_db import connection_info_for

from .engine import codec, sql
from . import fields, progress_writer
from .engine.states import CANCELLED, DONE, FAILED, STARTED
from .exception import FailedJobError, JobTimeoutError, RetryableJobError
from .job import Job
from .progress import watched_job_ended
from .watchdog import HARD_LIMIT_RETRY_SECONDS, Watch, Watchdog

_logger = logging.getLogger(__name__)

CONCURRENCY_RETRY_SECONDS = (2, 10)  # random delay after a serialization failure or deadlock
HARD_LIMIT_GRACE = 30  # seconds past the soft time limit before a job is stopped, when no hard limit is set


@dataclass
class Outcome:
    uuid: str
    state: str  # done, failed, pending (retry later), cancelled (superseded)
    seconds: float


def _failure_values(exc, traceback_text):
    name = type(exc).__name__
    module = getattr(type(exc), "__module__", "")
    if module and module != "builtins":
        name = f"{module}.{name}"
    message = getattr(exc, "name", None) or str(exc) or name
    return {"exc_name": name, "exc_message": message, "exc_info": traceback_text}


def _stored_value(env, row, column):
    try:
        return fields.loads_value(row[column], env)
    except codec.UndecodableValue as exc:
        raise codec.UndecodableValue(f"its stored {column} cannot be read: {exc}") from exc


def _deleted_records(env, row):
    """The job's records that no longer exist.

    The method still ran on them, as with OCA: some jobs are meant to run
    after their record is deleted (a connector deleting its remote copy).
    When such a job fails, its message says which records are gone.
    """
    records = fields.loads_value(row["records"], env)
    return records - records.exists()


def _job_from_row(env, row):
    """The Job of a row returned by a start statement, without another query.

    A row that cannot become a Job raises an error whose text, after "The job
    cannot be run: ", tells a person why (see _fail).
    """
    model_name = row["model_name"]
    if model_name not in env.registry:
        raise LookupError(
            f"model {model_name!r} does not exist (any more); is the module that defines it installed?"
        )
    recordset = _stored_value(env, row, "records")
    method_name = row["method_name"] or ""
    if not callable(getattr(type(recordset), method_name, None)):
        raise AttributeError(f"{model_name} has no method {method_name!r} (any more)")
    job = Job(
        getattr(recordset, method_name),
        args=_stored_value(env, row, "args") or (),
        kwargs=_stored_value(env, row, "kwargs") or {},
        priority=row["priority"],
        eta=row["eta"] or None,
        job_uuid=row["uuid"],
        description=row["name"],
        channel=row["channel"],
        identity_key=row["identity_key"],
    )
    job._stored = True
    job.timeout = row["timeout"]
    job.hard_timeout = row["hard_timeout"]
    job.state = STARTED
    job.retry = row["retry"]
    job.max_retries = row["max_retries"]
    job.company_id = row["company_id"]
    job.graph_uuid = row["graph_uuid"]
    job.date_created = row["date_created"]
    job.date_enqueued = row["date_enqueued"]
    job.date_started = row["date_started"]
    job.worker_pid = os.getpid()
    job._load_dependencies(row["dependencies"] or {})
    return job


class SlotRunner:
    """Runs the jobs of one slot in this worker process."""

    def __init__(self, registry, channels=(), budget=0.0, max_jobs=1):
        self.registry = registry
        self.channels = list(channels)
        self.budget = budget
        self.max_jobs = max_jobs
        self.pid = os.getpid()

    def run(self, first_uuid):
        """Run the claimed job, then the next ones of the slot's channels; one connection throughout."""
        outcomes = []
        self._quietly_ended = []
        deadline = time.monotonic() + self.budget
        # Not ``with registry.cursor()``: its exit commits, which fails on a
        # connection that died under the job (database restarted) and that
        # _release_all closed; the outcomes must still reach the runner.
        cr = self.registry.cursor()
        try:
            row = self._claim(cr, sql.START_ENQUEUED_RC, {"uuid": first_uuid, "pid": self.pid})
            if row is None:
                _logger.info("job %s on %s: not enqueued any more, nothing to run", first_uuid, cr.dbname)
            while row is not None:
                started = time.monotonic()
                try:
                    outcome = self._perform(cr, row)
                except psycopg2.Error as exc:
                    if not cr._cnx.closed:
                        raise
                    # The connection died while the outcome was being written
                    # (database restarted): nothing was recorded, and the lease
                    # went with the connection, so the runner takes the job back.
                    outcome = self._not_owned(row["uuid"], cr.dbname, started, reason=str(exc).strip())
                outcomes.append(outcome)
                if not (
                    self.channels
                    and outcome.state == DONE
                    and len(outcomes) < self.max_jobs
                    and time.monotonic() < deadline
                ):
                    break
                row = self._claim(
                    cr,
                    sql.RELEASE_AND_START_NEXT,
                    {"id": row["id"], "channels": self.channels, "pid": self.pid},
                )
        finally:
            self._announce_ended(cr)
            if self._release_all(cr):
                cr.close()
            # else its connection is closed: the pool drops it at the next borrow.
        return outcomes

    def _claim(self, cr, statement, params):
        cr.execute(statement, params)
        values = cr.fetchone()
        cr.commit()
        if values is None:
            return None
        return dict(zip(sql.JOB_ROW_COLUMNS, values))

    def _release_all(self, cr):
        """Give back every lease this connection holds, before it returns to the pool;
        False if the connection is broken (and now closed)."""
        try:
            cr.rollback()
            cr.execute(sql.RELEASE_ALL_LEASES)
            cr.commit()
            return True
        except psycopg2.Error:
            # A broken connection already lost its leases; never let a pooled
            # connection carry one to another request.
            _logger.warning("%s: could not release the job leases; closing the connection", cr.dbname)
            cr._cnx.close()
            return False

    def _perform(self, cr, row):
        started = time.monotonic()
        job_id, uuid, tries = row["id"], row["uuid"], row["retry"]
        env = api.Environment(cr, SUPERUSER_ID, {})
        try:
            job = _job_from_row(env, row)
        except Exception as exc:  # model or method gone, undecodable arguments...
            cr.rollback()
            return self._fail(cr, row, exc, started, loading=True)
        watchdog = Watchdog.get()
        watch = self._watch(cr, row, job)
        try:
            watchdog.start(watch)
            try:
                job._call()
            finally:
                # No interrupt of the watchdog reaches the executor after this.
                watchdog.stop(watch)
                # Before the outcome locks the job's row: the last progress
                # values are written on their own transaction, whatever the outcome.
                watched_job_ended(watchdog, watch)
            env.flush_all()
            result = str(job.result) if job.result not in (None, False, "") else None
            if job.result_attachment:
                cr.execute(sql.SET_RESULT_FILE, {"id": job_id, "attachment_id": job.result_attachment.id})
            cr.execute(sql.MARK_DONE, {"id": job_id, "result": result, "try": tries})
            if cr.rowcount != 1:
                # Cancelled, stopped or taken back while it ran: its work must not count.
                cr.rollback()
                return self._not_owned(uuid, cr.dbname, started)
            if row["notify"] or watch.progress is not None or job.result_attachment:
                self._announce_outcome(env, job_id, uuid)
            else:
                # Told with the slot's other jobs, one bus message per user:
                # a message per job would cost more than the job itself.
                self._quietly_ended.append(job_id)
            cr.commit()
        except RetryableJobError as exc:
            cr.rollback()
            seconds = job._get_retry_seconds(exc.seconds)
            return self._postpone(cr, row, str(exc), seconds, exc.ignore_retry, started)
        except psycopg2.OperationalError as exc:
            if cr._cnx.closed:
                return self._not_owned(uuid, cr.dbname, started, reason=str(exc).strip())
            cr.rollback()
            if not isinstance(exc, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
                return self._fail(cr, row, exc, started)
            seconds = random.randint(*CONCURRENCY_RETRY_SECONDS)
            reason = f"{errorcodes.lookup(exc.pgcode) if exc.pgcode else type(exc).__name__}: retried in {seconds} s"
            _logger.info("job %s on %s: %s", uuid, cr.dbname, reason)
            return self._postpone(cr, row, reason, seconds, True, started)
        except Exception as exc:
            if cr._cnx.closed:
                return self._not_owned(uuid, cr.dbname, started, reason=str(exc).strip())
            cr.rollback()
            if watch.cancelled:
                return self._not_owned(uuid, cr.dbname, started, reason="cancelled")
            return self._fail(cr, row, exc, started)
        self._wake_children(cr, job)
        self._check_batch(cr, row)
        elapsed = time.monotonic() - started
        _logger.debug("job %s on %s (%s): done in %.3fs", uuid, cr.dbname, job.channel, elapsed)
        return Outcome(uuid, DONE, elapsed)

    def _announce_ended(self, cr):
        """Live update of the slot's jobs that ended without progress or notice: one bus message per user."""
        ids, self._quietly_ended = self._quietly_ended, []
        if not ids or cr._cnx.closed:
            return
        try:
            cr.rollback()
            cr.execute(sql.ENDED_JOBS_AUDIENCE, {"ids": ids})
            jobs_of = defaultdict(list)
            for job_id, uuid, state, partner_id, refs in cr.fetchall():
                jobs_of[partner_id].append({"id": job_id, "uuid": uuid, "state": state, "records": refs or []})
            channels = [progress_writer.send_jobs_ended(cr, partner_id, jobs) for partner_id, jobs in jobs_of.items()]
            if channels:
                cr.commit()
        except psycopg2.Error as exc:
            # A live update is a courtesy: the jobs' outcomes are committed already.
            _logger.info("%s: jobs ended but their users could not be told live: %s", cr.dbname, str(exc).strip())
            return
        if channels:
            try:
                progress_writer.wake_bus(*channels)
            except psycopg2.Error as exc:
                _logger.info("%s: could not wake the bus: %s", cr.dbname, str(exc).strip())

    def _announce_outcome(self, env, job_id, uuid):
        """Live update (and end notice) of a job's outcome; a failure here does not undo it."""
        try:
            with env.cr.savepoint():
                done_job = env["queue.job"].browse(job_id)
                done_job.invalidate_recordset()
                done_job._job_ended()
                env.flush_all()
        except Exception:
            _logger.exception("job %s on %s: its user could not be told how it ended", uuid, env.cr.dbname)

    def _watch(self, cr, row, job):
        soft = row["timeout"] or None
        hard = row["hard_timeout"] or (soft + HARD_LIMIT_GRACE if soft else None)
        # A job stopped at its hard limit is tried again as its function's retry pattern says.
        retry_seconds = job._get_retry_seconds() if hard and job.job_config.retry_pattern else HARD_LIMIT_RETRY_SECONDS
        now = time.monotonic()
        return Watch(
            db=cr.dbname,
            connection_info=connection_info_for(cr.dbname)[1],
            job_id=row["id"],
            uuid=row["uuid"],
            tries=row["retry"],
            thread_id=threading.get_ident(),
            backend_pid=cr._cnx.get_backend_pid(),
            soft_at=now + soft if soft else None,
            hard_at=now + hard if hard else None,
            hard_seconds=hard or 0,
            retry_seconds=retry_seconds,
        )

    def _not_owned(self, uuid, db, started, reason="cancelled or taken back while it ran"):
        _logger.info("job %s on %s: outcome not recorded (%s); its transaction was rolled back", uuid, db, reason)
        return Outcome(uuid, CANCELLED, time.monotonic() - started)

    def _postpone(self, cr, row, reason, seconds, ignore_retry, started):
        cr.execute(
            sql.POSTPONE,
            {
                "id": row["id"],
                "try": row["retry"],
                "seconds": float(seconds),
                "result": reason,
                "uncount": 1 if ignore_retry else 0,
            },
        )
        updated = cr.fetchone()
        if updated is not None:
            self._announce_outcome(api.Environment(cr, SUPERUSER_ID, {}), row["id"], row["uuid"])
        cr.commit()
        if updated is None:
            return self._not_owned(row["uuid"], cr.dbname, started)
        _logger.info("job %s on %s: retry in %ss (%s)", row["uuid"], cr.dbname, seconds, reason)
        return Outcome(row["uuid"], updated[0], time.monotonic() - started)

    def _fail(self, cr, row, exc, started, loading=False):
        uuid = row["uuid"]
        text = "".join(traceback.format_exception(exc))
        # READ COMMITTED: the write below also cancels the job's dependants and
        # stores its on_error handler (failure.py), which must see what other
        # transactions committed meanwhile (a handler fired by a sibling).
        cr.execute(sql.SET_READ_COMMITTED)
        cr.execute(sql.LOCK_OWN_RUN, {"id": row["id"], "try": row["retry"]})
        if cr.fetchone() is None:
            cr.rollback()
            return self._not_owned(uuid, cr.dbname, started, reason=f"failed with {type(exc).__name__}")
        env = api.Environment(cr, SUPERUSER_ID, {})
        values = _failure_values(exc, text)
        if loading:
            # Not a bug of the job's code: the message says it all, no traceback in the log.
            values["exc_message"] = f"The job cannot be run: {exc}"
            _logger.error("job %s on %s failed:\n%s", uuid, cr.dbname, values["exc_message"])
        else:
            _logger.error("job %s on %s failed:\n%s", uuid, cr.dbname, text)
            if isinstance(exc, JobTimeoutError) and row["timeout"]:
                values["exc_message"] = f"The job ran past its time limit of {row['timeout']} s"
            deleted = _deleted_records(env, row)
            if deleted:
                values["exc_message"] = (
                    f"Records deleted after the job was enqueued: {deleted!r}. {values['exc_message']}"
                )
        values["state"] = FAILED
        job_model = env["queue.job"]
        record = job_model.browse(row["id"]).with_context(_job_edit_sentinel=job_model.EDIT_SENTINEL)
        record.write(values)
        env.flush_all()
        cr.commit()
        self._check_batch(cr, row)
        return Outcome(uuid, FAILED, time.monotonic() - started)

    def _wake_children(self, cr, job):
        """Children whose parents are now all done become pending (READ COMMITTED)."""
        children = job._reverse_depends_on_uuids
        if not job.graph_uuid or not children:
            return
        for attempt in range(5):
            try:
                cr.execute(sql.SET_READ_COMMITTED)
                job.env["queue.job"]._job_wake_children(job.uuid)
                cr.commit()
                return
            except psycopg2.errors.DeadlockDetected:
                cr.rollback()
                time.sleep(random.uniform(0, 0.1 * 2**attempt))
        _logger.warning("job %s: could not wake its children; the runner will", job.uuid)

    def _check_batch(self, cr, row):
        """After a job of a batch ends: finish the batch if it was its last job (READ COMMITTED).

        Checked after the job's commit, each ending job sees the ones that
        committed before it: the last one to check sees the whole batch ended.
        """
        if not row.get("job_batch_id"):
            return
        try:
            cr.execute(sql.SET_READ_COMMITTED)
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["queue.job.batch"].browse(row["job_batch_id"])._job_batch_check()
            env.flush_all()
            cr.commit()
        except Exception:
            cr.rollback()
            _logger.exception("job %s on %s: could not check its batch; the minute cron will", row["uuid"], cr.dbname)
