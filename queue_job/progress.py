"""What a running job tells the people who wait for it: progress and result files.

    from odoo.addons.queue_job.progress import attach_result, notify_progress

    def export_partners(self):
        rows = []
        for done, partner in enumerate(self, start=1):
            rows.append(partner._export_row())
            notify_progress(done, total=len(self), message=partner.display_name)
        return attach_result("partners.csv", "\\n".join(rows), "text/csv")

``notify_progress()`` is meant to be called as often as the job likes (every
row): its values reach the job's row a few times per second at most, on a
short transaction of their own, so they are seen while the job runs and kept
when the job rolls back; the last values are written when the job ends. Each
call is also a cancellation point. Outside a job run by a worker, it only
checks its arguments.

``attach_result()`` stores a file as the job's result, in the job's
transaction: it is downloadable from the job and removed with it.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2

from .engine import sql
from .exception import JobCancelledError
from .watchdog import Watch, Watchdog, _current_watch

_logger = logging.getLogger(__name__)

MIN_WRITE_INTERVAL = 0.25  # seconds between two progress writes of one job
MAX_MESSAGE_LENGTH = 500
BUS_PROGRESS = "queue_job/progress"  # bus notification type of progress and state changes

__all__ = ["attach_result", "notify_progress", "progress_percent"]


@dataclass
class _Progress:
    """Progress of one running job, kept on its Watch."""

    done: int = 0
    total: int | None = None
    message: str | None = None
    dirty: bool = False
    written_at: float = float("-inf")
    partner_id: int | None = None  # of the job's user, who gets the bus messages
    records: list | None = None  # "model,id" the job runs on, where the browser shows it


def _whole_number(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"notify_progress(): {name} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"notify_progress(): {name} cannot be negative, got {value}")
    return value


def _checked(done: Any, total: Any, remaining: Any, message: Any) -> tuple[int, int | None, str | None]:
    done = _whole_number("done", done)
    if total is not None:
        total = _whole_number("total", total)
    if remaining is not None:
        remaining = _whole_number("remaining", remaining)
        if total is not None and done + remaining != total:
            raise ValueError(
                f"notify_progress(): done ({done}) + remaining ({remaining}) is not total ({total})"
            )
        total = done + remaining
    if total is not None and done > total:
        raise ValueError(f"notify_progress(): done ({done}) is more than total ({total})")
    if message is not None:
        if not isinstance(message, str):
            raise ValueError(f"notify_progress(): message must be a string, got {message!r}")
        message = message[:MAX_MESSAGE_LENGTH]
    return done, total, message


def progress_percent(done: int | None, total: int | None) -> float:
    """0-100; 0 when the total is unknown, 100 for a total of 0."""
    if not total:
        return 100.0 if total == 0 and done is not None else 0.0
    return round(100.0 * min(done or 0, total) / total, 2)


def notify_progress(
    done: int,
    total: int | None = None,
    remaining: int | None = None,
    message: str | None = None,
) -> None:
    """Tell how far the running job is: ``done`` of ``total`` (or ``done`` and ``remaining`` more).

    Cheap enough to call for every item: at most a few writes per second
    reach the database, and the last call's values are written when the job
    ends. Raises JobCancelledError when the job was cancelled meanwhile, and
    ValueError for values that make no sense (negative, done > total).
    Outside a job run by a worker, it checks its arguments and does nothing.
    """
    done, total, message = _checked(done, total, remaining, message)
    watchdog, watch = _current_watch()
    if watch is None:
        return
    if watch.cancelled or watch.stopped_at is not None:
        raise JobCancelledError()
    progress = watch.progress
    if progress is None:
        progress = watch.progress = _Progress()
    progress.done, progress.total, progress.message, progress.dirty = done, total, message, True
    now = time.monotonic()
    if now - progress.written_at >= MIN_WRITE_INTERVAL:
        progress.written_at = now
        if not _write(watch, progress):
            watchdog._mark_cancelled(watch)
            raise JobCancelledError()


def flush_progress(watch: Watch) -> None:
    """Write the job's last progress values, if not written yet (when the job ends)."""
    progress = watch.progress
    if progress is None or not progress.dirty:
        return
    try:
        _write(watch, progress)
    except Exception as exc:  # the job's outcome matters more than its last progress
        _logger.warning("job %s on %s: last progress not written: %s", watch.uuid, watch.db, exc)


def _write(watch: Watch, progress: _Progress) -> bool:
    """Write the progress on a short transaction of its own; False when the job is no longer ours."""
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry

    registry = Registry(watch.db)
    try:
        with registry.cursor() as cr:
            cr.execute(sql.SET_READ_COMMITTED)
            cr.execute(
                sql.WRITE_PROGRESS,
                {
                    "id": watch.job_id,
                    "try": watch.tries,
                    "done": progress.done,
                    "total": progress.total,
                    "message": progress.message,
                },
            )
            if cr.fetchone() is None:
                return False  # cancelled, stopped or taken back
            progress.dirty = False
            env = api.Environment(cr, SUPERUSER_ID, {})
            if progress.partner_id is None:
                cr.execute(sql.JOB_USER_AND_RECORDS, {"id": watch.job_id})
                user_id, progress.records = cr.fetchone()
                progress.partner_id = env["res.users"].browse(user_id).partner_id.id if user_id else 0
            if progress.partner_id:
                env["bus.bus"]._sendone(
                    env["res.partner"].browse(progress.partner_id),
                    BUS_PROGRESS,
                    {
                        "id": watch.job_id,
                        "uuid": watch.uuid,
                        "state": "started",
                        "progress": progress_percent(progress.done, progress.total),
                        "progress_done": progress.done,
                        "progress_total": progress.total,
                        "progress_message": progress.message or "",
                        "records": progress.records or [],
                    },
                )
    except psycopg2.Error as exc:
        # Progress is a courtesy: a busy or restarting database does not fail the job.
        _logger.info("job %s on %s: progress not written now: %s", watch.uuid, watch.db, str(exc).strip())
    return True


# -- result files -------------------------------------------------------------

_running = threading.local()


@contextmanager
def running_job(job: Any):
    """Mark ``job`` as the one this thread runs (Job._call), for attach_result()."""
    previous = getattr(_running, "job", None)
    _running.job = job
    try:
        yield
    finally:
        _running.job = previous


def current_job() -> Any:
    """The Job this thread runs, or None."""
    return getattr(_running, "job", None)


def attach_result(name: str, content: bytes | str, mimetype: str | None = None):
    """Store ``content`` as a result file of the running job; return the ``ir.attachment``.

    The file is written in the job's transaction (a job that fails leaves no
    file), linked to the job, offered for download on the job and in the
    notification of its end, and removed with the job. A text is stored
    UTF-8 encoded. The last file attached is the job's result file, unless
    the job returns an ``ir.attachment`` itself.
    """
    job = current_job()
    if job is None:
        raise RuntimeError("attach_result() can only be called from inside a running job")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"attach_result(): the file needs a name, got {name!r}")
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not isinstance(content, (bytes, bytearray)):
        raise ValueError(f"attach_result(): content must be bytes or str, got {type(content).__name__}")
    mimetype = mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"
    job_record = job.db_record() if job._stored else None
    attachment = (
        job.env["ir.attachment"]
        .sudo()
        .create(
            {
                "name": name.strip(),
                "datas": base64.b64encode(bytes(content)),
                "mimetype": mimetype,
                "res_model": "queue.job" if job_record else False,
                "res_id": job_record.id if job_record else False,
            }
        )
    )
    job.result_attachment = attachment
    return attachment.with_env(job.env)


def result_file_of(job: Any, result: Any):
    """The job's result file: the ir.attachment it returned, else the last it attached, else None."""
    if _is_attachment(result):
        attachment = result[:1].sudo()
        if not attachment.res_model and job._stored:
            # Not held by any record: the job holds it, and takes it away with it.
            attachment.write({"res_model": "queue.job", "res_id": job.db_record().id})
        return attachment
    return getattr(job, "result_attachment", None)


def _is_attachment(value: Any) -> bool:
    return getattr(value, "_name", None) == "ir.attachment" and bool(getattr(value, "ids", None))


def watched_job_ended(watchdog: Watchdog, watch: Watch) -> None:
    """Called by the worker once a job's code returned or raised."""
    flush_progress(watch)
