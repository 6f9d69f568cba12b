"""Running a stored job in a test the way a worker would, outcome included."""

import traceback

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job


def run_stored_job(env, uuid: str):
    """Run the stored job ``uuid`` in a savepoint and store its outcome; returns its queue.job record.

    As in a worker: a failing job's work is rolled back and its error kept;
    a RetryableJobError puts it back to pending with a later ETA.
    """
    job = Job.load(env, uuid)
    job.set_started()
    job.store()
    try:
        with env.cr.savepoint():
            result = job.perform()
            env.flush_all()
    except RetryableJobError as exc:
        job.postpone(result=str(exc), seconds=exc.seconds)
        job.set_pending(reset_retry=False)
    except Exception as exc:  # what the worker does with any other error
        job.set_failed(exc_name=type(exc).__name__, exc_message=str(exc), exc_info=traceback.format_exc())
    else:
        job.set_done(result=str(result) if result else None)
    job.store()
    if job.state == "done":
        job.enqueue_waiting()
    env.invalidate_all()
    return job.db_record()


def run_pending_jobs(env, domain, limit: int = 50) -> None:
    """Run the pending jobs matching ``domain``, and those they wake, until none is left."""
    for _round in range(limit):
        pending = env["queue.job"].sudo().search(domain + [("state", "=", "pending")], order="priority, id", limit=1)
        if not pending:
            return
        run_stored_job(env, pending.uuid)
    raise AssertionError(f"jobs still pending after {limit} runs")
