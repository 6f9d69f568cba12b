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
from typing import Any

from .exception import JobCancelledError
from .progress_writer import BUS_PROGRESS, MIN_WRITE_INTERVAL, Progress, ProgressWriter, progress_percent
from .watchdog import Watch, Watchdog, _current_watch

_logger = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 500

__all__ = ["BUS_PROGRESS", "attach_result", "notify_progress", "progress_percent"]


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


def notify_progress(
    done: int,
    total: int | None = None,
    remaining: int | None = None,
    message: str | None = None,
) -> None:
    """Tell how far the running job is: ``done`` of ``total`` (or ``done`` and ``remaining`` more).

    Cheap enough to call for every item: the values are handed to a writer
    thread, which writes them a few times per second at most; the last
    call's values are written when the job ends. Raises JobCancelledError
    when the job was cancelled meanwhile (as seen by the last write or by
    the watchdog), and ValueError for values that make no sense (negative,
    done > total).
    Outside a job run by a worker, it checks its arguments and does nothing.
    """
    # The common call checked in a few comparisons; anything else in detail.
    if not (
        type(done) is int
        and 0 <= done
        and remaining is None
        and (total is None or (type(total) is int and done <= total))
        and (message is None or (type(message) is str and len(message) <= MAX_MESSAGE_LENGTH))
    ):
        done, total, message = _checked(done, total, remaining, message)
    watchdog, watch = _current_watch()
    if watch is None:
        return
    progress = watch.progress
    if progress is None:
        from odoo.modules.registry import Registry

        progress = watch.progress = Progress(registry=Registry(watch.db))
    if watch.cancelled or watch.stopped_at is not None or progress.cancelled:
        watchdog._mark_cancelled(watch)  # seen by the job itself: no interrupt needed
        raise JobCancelledError()
    progress.values = (done, total, message)  # one assignment: the writer thread reads it whole
    progress.version += 1
    now = time.monotonic()
    if now - progress.submitted_at >= MIN_WRITE_INTERVAL:
        progress.submitted_at = now
        ProgressWriter.get().submit(watch)


def flush_progress(watch: Watch) -> None:
    """Write the job's last progress values, if not written yet (when the job ends)."""
    if watch.progress is not None:
        ProgressWriter.get().write_now(watch)


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
