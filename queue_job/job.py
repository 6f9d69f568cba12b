"""The Job: a method call on a recordset, stored to run later.

``Job`` is the domain object; ``queue.job`` is its row. Code that delays
work never builds a Job by hand: ``record.with_delay().method(...)`` or
``record.delayable()`` do.
"""

import hashlib
import inspect
import logging
import os
import uuid as uuidlib
import weakref
from datetime import datetime, timedelta

import odoo

from . import fields as job_fields
from . import progress as job_progress
from .engine import retry as retry_policy
from .engine.states import (
    CANCELLED,
    DONE,
    ENQUEUED,
    FAILED,
    PENDING,
    STARTED,
    STATES,
    WAIT_DEPENDENCIES,
)
from .exception import FailedJobError, NoSuchJobError, RetryableJobError

__all__ = [
    "CANCELLED",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_PRIORITY",
    "DONE",
    "ENQUEUED",
    "FAILED",
    "Job",
    "PENDING",
    "RETRY_INTERVAL",
    "STARTED",
    "STATES",
    "WAIT_DEPENDENCIES",
    "identity_exact",
    "identity_exact_hasher",
]

DEFAULT_PRIORITY = 10  # smaller runs first
DEFAULT_MAX_RETRIES = retry_policy.DEFAULT_MAX_RETRIES
RETRY_INTERVAL = retry_policy.RETRY_INTERVAL

_logger = logging.getLogger(__name__)


def identity_exact_hasher(job_):
    """A sha1 fed with the model, method, record ids and all arguments."""
    hasher = hashlib.sha1()
    hasher.update(job_.model_name.encode("utf-8"))
    hasher.update(job_.method_name.encode("utf-8"))
    hasher.update(str(sorted(job_.recordset.ids)).encode("utf-8"))
    hasher.update(str(job_.args).encode("utf-8"))
    hasher.update(str(sorted(job_.kwargs.items())).encode("utf-8"))
    return hasher


def identity_exact(job_):
    """Identity key: same model, method, records and arguments.

    ``record.with_delay(identity_key=identity_exact).export()`` enqueues
    nothing when the same call already waits to run.
    """
    return identity_exact_hasher(job_).hexdigest()


def _is_model_method(func):
    return inspect.ismethod(func) and isinstance(func.__self__.__class__, odoo.models.MetaModel)


class Job:
    """A delayed method call and its bookkeeping (state, tries, dates, result).

    Attributes mirror the ``queue.job`` fields: ``uuid``, ``state``,
    ``priority``, ``eta``, ``retry``, ``max_retries``, ``args``, ``kwargs``,
    ``recordset``, ``method_name``, ``channel``, ``identity_key``,
    ``graph_uuid``, ``date_*``, ``result``, ``exc_*``, ``company_id``.
    """

    # -- loading -----------------------------------------------------------

    @classmethod
    def load(cls, env, job_uuid):
        """The job with this uuid; NoSuchJobError if there is none."""
        record = cls.db_records_from_uuids(env, [job_uuid])
        if not record:
            raise NoSuchJobError(f"Job {job_uuid} does not exist (any more).")
        return cls._load_from_db_record(record)

    @classmethod
    def load_many(cls, env, job_uuids):
        """The jobs with these uuids; unknown uuids are skipped."""
        return {cls._load_from_db_record(record) for record in cls.db_records_from_uuids(env, job_uuids)}

    @staticmethod
    def db_records_from_uuids(env, job_uuids):
        model = env["queue.job"].sudo()
        return model.search([("uuid", "in", tuple(job_uuids))]).with_env(env).sudo()

    @classmethod
    def _load_from_db_record(cls, record):
        recordset = record.records
        if not callable(getattr(type(recordset), record.method_name or "", None)):
            raise AttributeError(
                f"{record.model_name} has no method {record.method_name!r} (any more)"
            )
        job_ = cls(
            getattr(recordset, record.method_name),
            args=record.args,
            kwargs=record.kwargs,
            priority=record.priority,
            eta=record.eta or None,
            job_uuid=record.uuid,
            description=record.name,
            channel=record.channel,
            identity_key=record.identity_key,
        )
        job_.timeout = record.timeout
        job_.hard_timeout = record.hard_timeout
        for name in ("date_created", "date_enqueued", "date_started", "date_done", "date_cancelled"):
            setattr(job_, name, record[name] or None)
        job_._stored = True
        job_.state = record.state
        job_.graph_uuid = record.graph_uuid or None
        job_.result = record.result or None
        job_.exc_name = record.exc_name or None
        job_.exc_message = record.exc_message or None
        job_.exc_info = record.exc_info or None
        job_.retry = record.retry
        job_.max_retries = record.max_retries
        job_.company_id = record.company_id.id or None
        job_.worker_pid = record.worker_pid or None
        dependencies = record.dependencies or {}
        job_._depends_on_uuids.update(dependencies.get("depends_on", []))
        job_._reverse_depends_on_uuids.update(dependencies.get("reverse_depends_on", []))
        return job_

    # -- construction ------------------------------------------------------

    def __init__(
        self,
        func,
        args=None,
        kwargs=None,
        priority=None,
        eta=None,
        job_uuid=None,
        max_retries=None,
        description=None,
        channel=None,
        identity_key=None,
        timeout=None,
        notify=None,
    ):
        if args is None:
            args = ()
        if isinstance(args, list):
            args = tuple(args)
        if not isinstance(args, tuple):
            raise TypeError(f"job args must be a tuple, got {args!r}")
        if kwargs is None:
            kwargs = {}
        if not isinstance(kwargs, dict):
            raise TypeError(f"job kwargs must be a dict, got {kwargs!r}")
        if not _is_model_method(func):
            raise TypeError(f"only methods of Odoo models can be delayed, got {func!r}")

        recordset = func.__self__
        self.env = recordset.env
        self.recordset = recordset
        self.method_name = func.__name__
        self.job_model = self.env["queue.job"]
        self.job_model_name = "queue.job"
        self.job_config = self.env["queue.job.function"].sudo().job_config(self.job_function_name)

        self.state = PENDING
        self.retry = 0
        self.max_retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        self._uuid = job_uuid
        self.graph_uuid = None
        self.args = args
        self.kwargs = kwargs
        self.priority = DEFAULT_PRIORITY if priority is None else priority
        self._description = description
        self.identity_key = identity_key

        self._depends_on_uuids = set()
        self._reverse_depends_on_uuids = set()
        self._depends_on = set()
        self._reverse_depends_on = weakref.WeakSet()

        self.date_created = datetime.now()
        self.date_enqueued = None
        self.date_started = None
        self.date_done = None
        self.date_cancelled = None
        self.result = None
        self.result_attachment = None  # ir.attachment: the job's result file
        self.exc_name = None
        self.exc_message = None
        self.exc_info = None
        self.company_id = self.env.context.get("company_id") or self.env.company.id
        self._eta = None
        self.eta = eta
        self.channel = channel
        self.worker_pid = None
        self._stored = False
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0):
            raise ValueError(f"timeout must be a whole number of seconds >= 0, got {timeout!r}")
        self.timeout = timeout or self.job_config.timeout or 0
        self.hard_timeout = 0 if timeout else self.job_config.hard_timeout or 0
        self.notify = bool(self.job_config.notify if notify is None else notify)

    # -- identity and description -----------------------------------------

    @property
    def uuid(self):
        if self._uuid is None:
            self._uuid = str(uuidlib.uuid4())
        return self._uuid

    @property
    def identity_key(self):
        if self._identity_key is None and self._identity_key_func:
            self._identity_key = self._identity_key_func(self)
        return self._identity_key

    @identity_key.setter
    def identity_key(self, value):
        if value is None or isinstance(value, str):
            self._identity_key = value or None
            self._identity_key_func = None
        else:
            self._identity_key = None
            self._identity_key_func = value

    @property
    def model_name(self):
        return self.recordset._name

    @property
    def user_id(self):
        return self.recordset.env.uid

    @property
    def job_function_name(self):
        return self.env["queue.job.function"].job_function_name(self.recordset._name, self.method_name)

    @property
    def func(self):
        return getattr(self.recordset.with_context(job_uuid=self.uuid), self.method_name)

    @property
    def func_string(self):
        arguments = [repr(arg) for arg in self.args]
        arguments += [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"{self.recordset!r}.{self.method_name}({', '.join(arguments)})"

    @property
    def description(self):
        if self._description:
            return self._description
        doc = getattr(self.recordset, self.method_name).__doc__
        if doc and doc.strip():
            return doc.strip().splitlines()[0].strip()
        return f"{self.model_name}.{self.method_name}"

    @property
    def channel(self):
        return self._channel or self.job_config.channel

    @channel.setter
    def channel(self, value):
        self._channel = value

    @property
    def eta(self):
        return self._eta

    @eta.setter
    def eta(self, value):
        if not value:
            self._eta = None
        elif isinstance(value, timedelta):
            self._eta = datetime.now() + value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._eta = datetime.now() + timedelta(seconds=value)
        elif isinstance(value, datetime):
            self._eta = value
        else:
            raise TypeError(
                f"eta must be a datetime, a timedelta or a number of seconds, got {value!r}"
            )

    @property
    def exec_time(self):
        if self.date_done and self.date_started:
            return (self.date_done - self.date_started).total_seconds()
        return None

    # -- dependencies ------------------------------------------------------

    def add_depends(self, jobs):
        if self in jobs:
            raise ValueError("a job cannot depend on itself")
        self._depends_on_uuids |= {j.uuid for j in jobs}
        self._depends_on.update(jobs)
        for parent in jobs:
            parent._reverse_depends_on_uuids.add(self.uuid)
            parent._reverse_depends_on.add(self)
        if any(j.state != DONE for j in jobs):
            self.state = WAIT_DEPENDENCIES

    @property
    def depends_on(self):
        if not self._depends_on and self._depends_on_uuids:
            self._depends_on = Job.load_many(self.env, self._depends_on_uuids)
        return self._depends_on

    @property
    def reverse_depends_on(self):
        if not self._reverse_depends_on and self._reverse_depends_on_uuids:
            # A plain set: the children loaded here have no other owner, a
            # WeakSet would lose them at once (the weak set only serves to
            # avoid parent <-> child cycles while a graph is being built).
            self._reverse_depends_on = Job.load_many(self.env, self._reverse_depends_on_uuids)
        return set(self._reverse_depends_on)

    def _dependencies_value(self):
        return {
            "depends_on": sorted(self._depends_on_uuids | {j.uuid for j in self._depends_on}),
            "reverse_depends_on": sorted(
                self._reverse_depends_on_uuids | {j.uuid for j in self._reverse_depends_on}
            ),
        }

    def enqueue_waiting(self):
        """Children whose parents are all done become pending."""
        self.env["queue.job"]._job_wake_children(self.uuid)

    def cancel_dependent_jobs(self):
        self.env["queue.job"]._job_cancel_children(self.uuid)

    # -- running -----------------------------------------------------------

    def perform(self):
        """Run the job now, in the current transaction, counting one try."""
        self.retry += 1
        return self._call()

    def _call(self):
        try:
            with job_progress.running_job(self):
                self.result = self.func(*tuple(self.args), **self.kwargs)
                attachment = job_progress.result_file_of(self, self.result)
                if attachment:
                    self.result_attachment = attachment
                    if job_progress._is_attachment(self.result):
                        self.result = attachment.name
        except RetryableJobError as err:
            decision = retry_policy.decide_retry(self.retry, self.max_retries, err.ignore_retry)
            if not decision.count_try:
                self.retry -= 1
            if not decision.retry:
                raise FailedJobError(f"Max. retries ({self.max_retries}) reached: {err}") from err
            raise
        return self.result

    def _get_retry_seconds(self, seconds=None):
        return retry_policy.retry_delay(self.job_config.retry_pattern, self.retry, seconds)

    def postpone(self, result=None, seconds=None):
        """Set the eta of the next try: ``seconds`` from now, or per the retry pattern."""
        self.eta = timedelta(seconds=self._get_retry_seconds(seconds))
        self.exc_name = None
        self.exc_info = None
        if result is not None:
            self.result = result

    # -- state changes (in memory; ``store()`` saves them) -----------------

    def set_pending(self, result=None, reset_retry=True):
        self.state = WAIT_DEPENDENCIES if any(j.state != DONE for j in self.depends_on) else PENDING
        self.date_enqueued = None
        self.date_started = None
        self.date_done = None
        self.date_cancelled = None
        self.worker_pid = None
        if reset_retry:
            self.retry = 0
        if result is not None:
            self.result = result

    def set_enqueued(self):
        self.state = ENQUEUED
        self.date_enqueued = datetime.now()
        self.date_started = None
        self.worker_pid = None

    def set_started(self):
        self.state = STARTED
        self.date_started = datetime.now()
        self.worker_pid = os.getpid()

    def set_done(self, result=None):
        self.state = DONE
        self.exc_name = None
        self.exc_message = None
        self.exc_info = None
        self.date_done = datetime.now()
        if result is not None:
            self.result = result

    def set_cancelled(self, result=None):
        self.state = CANCELLED
        self.date_cancelled = datetime.now()
        if result is not None:
            self.result = result

    def set_failed(self, **kw):
        self.state = FAILED
        for key, value in kw.items():
            if value is not None:
                setattr(self, key, value)

    # -- storage -----------------------------------------------------------

    def db_record(self):
        return self.db_records_from_uuids(self.env, [self.uuid])

    def job_record_with_same_identity_key(self):
        """The waiting job with the same identity key, if any."""
        return (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("identity_key", "=", self.identity_key),
                    ("state", "in", [WAIT_DEPENDENCIES, PENDING, ENQUEUED]),
                ],
                limit=1,
            )
        )

    def _store_values(self, create=False):
        vals = {
            "state": self.state,
            "priority": self.priority,
            "retry": self.retry,
            "max_retries": self.max_retries,
            "exc_name": self.exc_name or False,
            "exc_message": self.exc_message or False,
            "exc_info": self.exc_info or False,
            "company_id": self.company_id or False,
            "result": str(self.result) if self.result else False,
            "date_enqueued": self.date_enqueued or False,
            "date_started": self.date_started or False,
            "date_done": self.date_done or False,
            "exec_time": self.exec_time or False,
            "date_cancelled": self.date_cancelled or False,
            "eta": self.eta or False,
            "identity_key": self.identity_key or False,
            "worker_pid": self.worker_pid or False,
            "graph_uuid": self.graph_uuid or False,
            "timeout": self.timeout or 0,
            "hard_timeout": self.hard_timeout or 0,
            "dependencies": self._dependencies_value(),
        }
        if self.result_attachment:
            vals["result_attachment_id"] = self.result_attachment.id
        if create:
            vals.update(
                {
                    "user_id": self.env.uid,
                    "channel": self.channel,
                    "uuid": self.uuid,
                    "name": self.description,
                    "func_string": self.func_string,
                    "date_created": self.date_created,
                    "model_name": self.recordset._name,
                    "method_name": self.method_name,
                    "job_function_id": self.job_config.job_function_id,
                    "channel_method_name": self.job_function_name,
                    "records": self.recordset,
                    "args": self.args,
                    # Encoded here, not left to the field: a kwargs dict
                    # shaped like a stored object ({"_type": ...}) would be
                    # taken as already encoded and read back as that object
                    # (e.g. a superuser recordset). Encoding refuses it.
                    "kwargs": job_fields.to_jsonable(self.kwargs, "kwargs"),
                    "notify": self.notify,
                    "record_refs": job_fields.record_refs(self.recordset, self.args, self.kwargs),
                }
            )
        # Hooks on the delayed model may add values, never override ours.
        extra = self._store_values_from_model()
        vals.update({key: value for key, value in extra.items() if key not in vals})
        return vals

    def _store_values_from_model(self):
        vals = {}
        for hook in (f"_job_store_values_for_{self.method_name}", "_job_store_values"):
            handler = getattr(self.recordset, hook, None)
            if handler is not None:
                vals = handler(self)
        return vals

    def store(self):
        """Save the job: insert it when new, update it otherwise.

        Returns the stored job: for a new job whose identity key matches a
        job already waiting, that one.
        """
        model = self.env["queue.job"]
        if self._stored:
            record = self.db_record()
            record.with_context(_job_edit_sentinel=model.EDIT_SENTINEL).write(self._store_values())
            return self
        stored = model._job_insert([self])[0]
        self._stored = True
        return stored

    # -- comparison --------------------------------------------------------

    def __eq__(self, other):
        return isinstance(other, Job) and self.uuid == other.uuid

    def __hash__(self):
        return hash(self.uuid)

    def __repr__(self):
        return f"<Job {self.uuid}, priority:{self.priority}>"

    # -- related action ----------------------------------------------------

    def related_action(self):
        """The action the "Related" button opens, or None when disabled."""
        record = self.db_record()
        config = self.job_config
        if not config.related_action_enable:
            return None
        funcname = config.related_action_func_name or record._default_related_action
        if not isinstance(funcname, str):
            raise ValueError("related_action func_name must be the name of a method of queue.job")
        return getattr(record, funcname)(**(config.related_action_kwargs or {}))
