"""Failure branches: what happens when a job of a graph fails for good.

``chain(a, b).on_error(handler)`` (or ``group(...)``, or a single
Delayable) guards every job of the chain, and the jobs after it. When a
guarded job fails for good (out of tries, or a FailedJobError):

- the jobs that depended on it, directly or not, are cancelled, their
  result saying which job failed and why;
- the handler job is stored and runs like any job. Its method receives one
  more keyword argument, ``failure``: a dict with the failed job's
  ``uuid``, ``name``, ``model_name``, ``method_name``, ``func_string``,
  ``exc_name``, ``exc_message`` and ``graph_uuid`` (the traceback stays on
  the failed job: ``env["queue.job"].search([("uuid", "=", failure["uuid"])])``).

The handler is not stored when the graph is: it is described (model,
method, records, arguments, options, and a uuid chosen at ``delay()``) in
the ``dependencies`` of each guarded job, so a graph that succeeds leaves
nothing behind. It runs at most once per graph, whatever the number of
guarded jobs that fail: the first failure fires it, the others find its
uuid taken.

Both steps happen in the transaction that marks the job failed (a
``write()`` of state failed: the worker, or ``Job.store()``). A job failed
by the runner (worker lost too many times) or the watchdog (hard time
limit, out of tries) is marked failed by plain SQL; the one-minute cron
(``queue.job._job_heal_failures``) finishes its aftermath.

A person who requeues a failed job, or sets it to done, brings back the
dependants its failure cancelled: they wait again for it (and, set done,
run). The handler, which ran when the job failed, is not recalled, nor run
again if the job fails again. Setting a failed job to cancelled changes
nothing more. A job cancelled by a person (not failed) never fires a
handler; its dependants are cancelled.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from . import fields as job_fields

_logger = logging.getLogger(__name__)

FAILURE_KWARG = "failure"
FAILURE_KEYS = (
    "uuid", "name", "model_name", "method_name", "func_string", "exc_name", "exc_message", "graph_uuid",
)  # fmt: skip


def check_handler_method(method: Any) -> None:
    """Refuse a handler method that cannot receive the ``failure`` keyword argument."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return  # no signature to read (a C function): let the call tell
    if any(p.kind == p.VAR_KEYWORD or p.name == FAILURE_KWARG for p in parameters):
        return
    raise ValueError(
        f"on_error handler {method.__self__._name}.{method.__name__}() must accept the keyword "
        f"argument {FAILURE_KWARG!r} (or **kwargs): it receives the failed job's details"
    )


def handler_spec(job: Any) -> dict:
    """What to store about a handler Job (never stored itself) in the jobs it guards."""
    spec = {
        "uuid": job.uuid,
        "model": job.model_name,
        "method": job.method_name,
        "records": job_fields.to_jsonable(job.recordset, "on_error records"),
        "args": job_fields.to_jsonable(list(job.args), "on_error args"),
        "kwargs": job_fields.to_jsonable(job.kwargs, "on_error kwargs"),
        "priority": job.priority,
        "max_retries": job.max_retries,
        "description": job._description,
        "channel": job._channel,
    }
    if job.timeout:
        spec["timeout"] = job.timeout
    return spec


def failure_details(record: Any) -> dict:
    """The ``failure`` argument a handler receives, from the failed ``queue.job`` row."""
    return {key: record[key] or None for key in FAILURE_KEYS}


def handler_job(env: Any, spec: dict, failed: Any) -> Any:
    """The handler Job of ``spec``, for the failed ``queue.job`` record ``failed``."""
    from .job import Job  # job.py imports this module's neighbours: keep the cycle lazy

    records = job_fields.loads_value(spec["records"], env)
    kwargs = dict(job_fields.loads_value(spec["kwargs"], env) or {})
    kwargs[FAILURE_KWARG] = failure_details(failed)
    job = Job(
        getattr(records, spec["method"]),
        args=tuple(job_fields.loads_value(spec["args"], env) or ()),
        kwargs=kwargs,
        priority=spec.get("priority"),
        max_retries=spec.get("max_retries"),
        description=spec.get("description") or None,
        channel=spec.get("channel") or None,
        job_uuid=spec["uuid"],
        timeout=spec.get("timeout") or None,
    )
    job.graph_uuid = failed.graph_uuid
    return job


def cancel_reason(record: Any) -> str:
    """The result written on the jobs cancelled because ``record`` failed."""
    error = record.exc_message or record.exc_name or "no message"
    return f"{cancel_reason_prefix(record.uuid)}{record.name}) failed: {error}"


def cancel_reason_prefix(job_uuid: str) -> str:
    """How the result of a job cancelled because ``job_uuid`` failed begins (to find them again)."""
    return f"Cancelled: job {job_uuid} ("
