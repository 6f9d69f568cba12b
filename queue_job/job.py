"""The Job: a method call on a recordset, stored to run later.

``Job`` is the domain object; ``queue.job`` is its row (how one becomes the
other: job_storage.py; its parents and children: job_dependencies.py). Code
that delays work never builds a Job by hand: ``record.with_delay().method(...)``
or ``record.delayable()`` do.
"""

import inspect
import logging
import os
import uuid as uuidlib
import weakref
from datetime import datetime, timedelta

import odoo

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
from .exception import FailedJobError, NoSuchJobError, RetryableJobError  # noqa: F401  (NoSuchJobError: OCA's path to it)
from .identity import identity_exact, identity_exact_hasher
from .job_dependencies import JobDependencies
from .job_storage import JobStorage

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


def enqueue_company_id(env):
    """The company a new job belongs to: ``company_id`` of the context when
    the context has that key (None: no company), else the current company."""
    if "company_id" in env.context:
        return env.context["company_id"] or None
    return env.company.id


def _is_model_method(func):
    return inspect.ismethod(func) and isinstance(func.__self__.__class__, odoo.models.MetaModel)


class Job(JobStorage, JobDependencies):
    """A delayed method call and its bookkeeping (state, tries, dates, result).

    Attributes mirror the ``queue.job`` fields: ``uuid``, ``state``,
    ``priority``, ``eta``, ``retry``, ``max_retries``, ``args``, ``kwargs``,
    ``recordset``, ``method_name``, ``channel``, ``identity_key``,
    ``graph_uuid``, ``date_*``, ``result``, ``exc_*``, ``company_id``.
    """

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
        concurrency_key=None,
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
        self.concurrency_key = concurrency_key
        self.concurrency_limit = self.job_config.concurrency_limit or 1

        self._depends_on_uuids = set()
        self._reverse_depends_on_uuids = set()
        self._depends_on = set()
        self._reverse_depends_on = weakref.WeakSet()
        # on_error handlers guarding this job, as failure.handler_spec() describes them.
        self.on_error_specs = []

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
        self.company_id = enqueue_company_id(self.env)
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
    def concurrency_key(self):
        """The key of at most ``concurrency_limit`` running jobs: given to with_delay()
        (a string, or a function of the job), else computed by the job function's expression."""
        if not self._concurrency_key_done:
            self._concurrency_key_done = True
            source = self._concurrency_key_source
            if callable(source):
                value = source(self)
            elif source is None and self.job_config.concurrency_key:
                value = self.env["queue.job.function"].sudo()._job_concurrency_key(self)
            else:
                value = source
            self._concurrency_key_value = str(value) if value not in (None, False, "") else None
        return self._concurrency_key_value

    @concurrency_key.setter
    def concurrency_key(self, value):
        if value is not None and not (isinstance(value, str) or callable(value)):
            raise ValueError(f"concurrency_key must be a string or a function of the job, got {value!r}")
        self._concurrency_key_source = value
        self._concurrency_key_value = None
        self._concurrency_key_done = False

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
