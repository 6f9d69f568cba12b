"""Enqueue many independent jobs at once, with one COPY instead of one INSERT each.

    from odoo.addons.queue_job.bulk import enqueue_many

    enqueue_many(partner.delayable(priority=20).export_to_crm() for partner in partners)

Each item is a Delayable with its method called, as for ``delay()``; they
must not be linked into a graph (use ``delay()`` for chains and groups).
The jobs are stored in the current transaction, like ``with_delay()``.
Identity keys are honoured: an item whose key matches a waiting job (or an
earlier item) is not stored. Returns the uuids of the stored jobs.
"""

import gc
import io
import json
import uuid as uuidlib
from contextlib import contextmanager
from datetime import datetime

from . import insert_buffer
from .engine import codec, sql
from .engine.states import PENDING
from .fields import _encode_extra, encode_recordset, record_refs
from .job import DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY, Job
from .utils import must_run_without_delay

COLUMNS = (
    "uuid", "user_id", "company_id", "name", "model_name", "method_name", "records", "args",
    "kwargs", "func_string", "state", "priority", "eta", "max_retries", "retry", "date_created",
    "channel", "channel_method_name", "job_function_id", "identity_key", "dependencies",
    "timeout", "hard_timeout", "worker_losses", "notify", "record_refs",
)  # fmt: skip

_EMPTY_DEPENDENCIES = json.dumps({"depends_on": [], "reverse_depends_on": []})


def _copy_text(value):
    if value is None:
        return r"\N"
    if isinstance(value, list):  # record_refs: "model,id" needs quoting in an array literal
        value = "{" + ",".join(f'"{item}"' for item in value) + "}"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_line(row):
    return "\t".join([_copy_text(value) for value in row]) + "\n"


class _FunctionInfo:
    """What every job of one (model, method) shares: looked up once per call."""

    def __init__(self, recordset, method_name):
        function_model = recordset.env["queue.job.function"].sudo()
        self.name = function_model.job_function_name(recordset._name, method_name)
        self.config = function_model.job_config(self.name)
        doc = getattr(type(recordset), method_name).__doc__
        self.description = (
            doc.strip().splitlines()[0].strip() if doc and doc.strip() else f"{recordset._name}.{method_name}"
        )


def _row(delayable, info, uid, company_id, now):
    method_name = delayable._job_method.__name__
    recordset = delayable.recordset
    args, kwargs = tuple(delayable._job_args), dict(delayable._job_kwargs)
    probe = Job.__new__(Job)  # only for eta parsing and the identity function
    probe._eta = None
    probe.eta = delayable.eta
    identity = delayable.identity_key
    if identity is not None and not isinstance(identity, str):
        identity = identity(Job(delayable._job_method, args=args, kwargs=kwargs))
    arguments = [repr(arg) for arg in args] + [f"{key}={value!r}" for key, value in kwargs.items()]
    refs = record_refs(recordset, args, kwargs)
    return (
        str(uuidlib.uuid4()),
        uid,
        company_id,
        delayable.description or info.description,
        recordset._name,
        method_name,
        json.dumps(encode_recordset(recordset)),
        codec.dumps(args, _encode_extra) if args else "[]",
        codec.dumps(kwargs, _encode_extra) if kwargs else "{}",
        f"{recordset!r}.{method_name}({', '.join(arguments)})",
        PENDING,
        DEFAULT_PRIORITY if delayable.priority is None else delayable.priority,
        probe.eta,
        DEFAULT_MAX_RETRIES if delayable.max_retries is None else delayable.max_retries,
        0,
        now,
        delayable.channel or info.config.channel,
        info.name,
        info.config.job_function_id,
        identity or None,
        _EMPTY_DEPENDENCIES,
        delayable.timeout or info.config.timeout or 0,
        0 if delayable.timeout else info.config.hard_timeout or 0,
        0,
        bool(info.config.notify if delayable.notify is None else delayable.notify),
        refs,
    )


@contextmanager
def _cyclic_gc_paused():
    # Building thousands of rows allocates enough to set off full collections
    # of the whole Odoo heap (50-100 ms each on a loaded registry), which
    # would cost more than the rows themselves. Reference counting still
    # frees everything; the collector runs again afterwards.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def enqueue_many(delayables):
    """Store many independent jobs in the current transaction; return their uuids."""
    with _cyclic_gc_paused():
        return _enqueue_many(delayables)


def _enqueue_many(delayables):
    items = list(delayables)
    if not items:
        return []
    env = items[0].recordset.env
    if must_run_without_delay(env):
        for item in items:
            item.delay()
        return [item._generated_job.uuid for item in items]
    now = datetime.now()
    company_id = env.context.get("company_id") or env.company.id
    infos = {}
    rows = []
    for item in items:
        if item._job_method is None:
            raise ValueError(f"{item!r}: call the method to delay before enqueue_many()")
        if len(item._graph.vertices()) > 1 or item._graph.edges():
            raise ValueError(f"{item!r} is part of a graph: use delay() for chains and groups")
        key = (item.recordset._name, item._job_method.__name__)
        if key not in infos:
            infos[key] = _FunctionInfo(item.recordset, key[1])
        rows.append(_row(item, infos[key], env.uid, company_id, now))
        item._generated_job = True  # stored below: no "never delayed" warning
    env["queue.job"].flush_model()
    cr = env.cr
    if any(row[COLUMNS.index("identity_key")] for row in rows):
        inserted = insert_buffer.insert_rows(cr, COLUMNS, rows, suffix=sql.SKIP_WAITING_TWINS)
        return [row[0] for row in inserted]
    buffer = io.StringIO("".join([_copy_line(row) for row in rows]))
    cr._obj.copy_expert(f"COPY queue_job ({', '.join(COLUMNS)}) FROM STDIN", buffer)
    return [row[0] for row in rows]
