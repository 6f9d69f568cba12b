"""Building jobs and graphs of jobs: ``delayable()``, ``chain()``, ``group()``.

A Delayable is one future job. Chains run their members one after the
other; groups run them side by side; ``on_done`` connects any of them to
what runs after. ``delay()`` on the top-most object stores the whole graph
in the current transaction (see delayable_graph.py). ``on_error`` names a
job that runs when one of the jobs it guards fails for good (see failure.py).
"""

import itertools
import logging

from . import failure
from .delayable_graph import DelayableGraph
from .engine.graph import Graph  # noqa: F401  (OCA's path to it)
from .job import Job
from .job import Job as _StoredJob  # not replaced by trap_jobs(), which patches Job
from .utils import must_run_without_delay  # noqa: F401  (OCA's path to it)

_logger = logging.getLogger(__name__)

JOB_PROPERTIES = (
    "priority", "eta", "max_retries", "description", "channel", "identity_key", "timeout", "notify", "concurrency_key",
)  # fmt: skip


def group(*delayables):
    """Delayables that may run at the same time; what follows waits for all."""
    return DelayableGroup(*delayables)


def chain(*delayables):
    """Delayables that run one after the other."""
    return DelayableChain(*delayables)


def _check_handler(handler):
    if not isinstance(handler, Delayable):
        raise TypeError(f"on_error() takes a Delayable (record.delayable().method(...)), got {handler!r}")
    if handler._job_method is None:
        raise ValueError(f"no method was called on {handler.recordset} given to on_error()")
    if len(handler._graph.vertices()) > 1:
        raise ValueError("an on_error handler is one job: it cannot have on_done jobs of its own")
    failure.check_handler_method(handler._job_method)
    return handler


class DelayableChain:
    """Delayables (or chains, or groups) that run one after the other."""

    __slots__ = ("_graph", "_chain_head", "_chain_tail", "_on_error_handlers")

    def __init__(self, *delayables):
        if not delayables:
            raise ValueError("chain() needs at least one delayable")
        self._graph = DelayableGraph()
        previous = delayables[0]
        self._graph.add_vertex(previous)
        for delayable in delayables[1:]:
            self._graph.add_edge(previous, delayable)
            previous = delayable
        self._chain_head = delayables[0]
        self._chain_tail = previous
        self._on_error_handlers = []

    def _head(self):
        return self._chain_head._head()

    def _tail(self):
        return self._chain_tail._tail()

    def __repr__(self):
        inner = "\n\t".join(repr(self._graph).split("\n"))
        return f"DelayableChain(\n\t{inner}\n)"

    def on_done(self, *delayables):
        """Run ``delayables`` once the last member of the chain is done."""
        for delayable in delayables:
            self._graph.add_edge(self._chain_tail, delayable)
        return self

    def on_error(self, handler):
        """Run ``handler`` (a Delayable) if a job of the chain fails for good; see failure.py."""
        self._on_error_handlers.append(_check_handler(handler))
        return self

    def delay(self):
        self._graph.delay(self)


class DelayableGroup:
    """Delayables (or chains, or groups) that may run at the same time."""

    __slots__ = ("_graph", "_delayables", "_on_error_handlers")

    def __init__(self, *delayables):
        if not delayables:
            raise ValueError("group() needs at least one delayable")
        self._graph = DelayableGraph()
        self._delayables = set(delayables)
        self._on_error_handlers = []
        for delayable in delayables:
            self._graph.add_vertex(delayable)

    def _head(self):
        return itertools.chain.from_iterable(member._head() for member in self._delayables)

    def _tail(self):
        return itertools.chain.from_iterable(member._tail() for member in self._delayables)

    def __repr__(self):
        inner = "\n\t".join(repr(self._graph).split("\n"))
        return f"DelayableGroup(\n\t{inner}\n)"

    def on_done(self, *delayables):
        """Run ``delayables`` once every member of the group is done."""
        for member in self._delayables:
            for child in delayables:
                self._graph.add_edge(member, child)
        return self

    def on_error(self, handler):
        """Run ``handler`` (a Delayable) if a job of the group fails for good; see failure.py."""
        self._on_error_handlers.append(_check_handler(handler))
        return self

    def delay(self):
        self._graph.delay(self)


class Delayable:
    """One future job: ``record.delayable(priority=5).method(arg).delay()``.

    Job properties can also be set later with ``set()``, which returns self.
    """

    _properties = JOB_PROPERTIES
    __slots__ = JOB_PROPERTIES + (
        "recordset",
        "_graph",
        "_job_method",
        "_job_args",
        "_job_kwargs",
        "_generated_job",
        "_on_error_handlers",
    )

    def __init__(
        self,
        recordset,
        priority=None,
        eta=None,
        max_retries=None,
        description=None,
        channel=None,
        identity_key=None,
        timeout=None,
        notify=None,
        concurrency_key=None,
    ):
        self._graph = DelayableGraph()
        self._graph.add_vertex(self)
        self.recordset = recordset
        self.priority = priority
        self.eta = eta
        self.max_retries = max_retries
        self.description = description
        self.channel = channel
        self.identity_key = identity_key
        self.timeout = timeout
        self.notify = notify
        self.concurrency_key = concurrency_key
        self._job_method = None
        self._job_args = ()
        self._job_kwargs = {}
        self._generated_job = None
        self._on_error_handlers = []

    def _head(self):
        return [self]

    def _tail(self):
        return [self]

    def __repr__(self):
        method = self._job_method.__name__ if self._job_method else ""
        return f"Delayable({self.recordset}.{method}({self._job_args}, {self._job_kwargs}))"

    def __del__(self):
        if self._job_method is not None and not self._generated_job:
            _logger.warning("Delayable %s was prepared but never delayed", self)

    def set(self, *args, **kwargs):
        """Set job properties from a dict and/or keywords; returns self."""
        for properties in (*args, kwargs):
            for key, value in properties.items():
                if key not in self._properties:
                    raise ValueError(f"unknown job property {key!r} (known: {', '.join(self._properties)})")
                setattr(self, key, value)
        return self

    def on_done(self, *delayables):
        """Run ``delayables`` once this job is done."""
        for child in delayables:
            self._graph.add_edge(self, child)
        return self

    def on_error(self, handler):
        """Run ``handler`` (a Delayable) if this job, or one after it, fails for good; see failure.py."""
        self._on_error_handlers.append(_check_handler(handler))
        return self

    def delay(self):
        """Store this job and every job connected to it."""
        self._graph.delay(self)

    def _build_job(self, job_class=None):
        if self._generated_job:
            return self._generated_job
        if self._job_method is None:
            raise ValueError(f"no method was called on {self.recordset} before delay()")
        self._generated_job = (job_class or Job)(
            self._job_method,
            args=self._job_args,
            kwargs=self._job_kwargs,
            priority=self.priority,
            max_retries=self.max_retries,
            eta=self.eta,
            description=self.description,
            channel=self.channel,
            identity_key=self.identity_key,
            # Only when given: trapped calls then look exactly as with OCA.
            **({"timeout": self.timeout} if self.timeout is not None else {}),
            **({"notify": self.notify} if self.notify is not None else {}),
            **({"concurrency_key": self.concurrency_key} if self.concurrency_key is not None else {}),
        )
        return self._generated_job

    def _build_handler_job(self):
        # Built, never stored here: failure.py stores it when a guarded job
        # fails. Not trapped by trap_jobs() either: it is not enqueued now.
        return self._build_job(job_class=_StoredJob)

    def _store_args(self, *args, **kwargs):
        self._job_args = args
        self._job_kwargs = kwargs
        return self

    def __getattr__(self, name):
        if name in self.__slots__:
            raise AttributeError(name)
        if name in self.recordset._fields:
            raise AttributeError(f"only methods can be delayed ({name} is a field of {self.recordset._name})")
        method = getattr(self.recordset, name)
        if not callable(method):
            raise AttributeError(f"only methods can be delayed ({name} of {self.recordset._name})")
        self._job_method = method
        return self._store_args

    def _execute_direct(self):
        assert self._generated_job
        self._generated_job.perform()


class DelayableRecordset:
    """``record.with_delay(...)``: the next method call is stored as a job.

    The call returns the Job (for a job that turned out to be a duplicate,
    by identity key, the existing one).
    """

    __slots__ = ("delayable",)

    def __init__(
        self,
        recordset,
        priority=None,
        eta=None,
        max_retries=None,
        description=None,
        channel=None,
        identity_key=None,
        timeout=None,
        notify=None,
        concurrency_key=None,
    ):
        self.delayable = Delayable(
            recordset,
            priority=priority,
            eta=eta,
            max_retries=max_retries,
            description=description,
            channel=channel,
            identity_key=identity_key,
            timeout=timeout,
            notify=notify,
            concurrency_key=concurrency_key,
        )

    @property
    def recordset(self):
        return self.delayable.recordset

    def __getattr__(self, name):
        def delay_call(*args, **kwargs):
            getattr(self.delayable, name)(*args, **kwargs).delay()
            return self.delayable._generated_job

        return delay_call

    def __str__(self):
        recordset = self.delayable.recordset
        return f"DelayableRecordset({recordset._name}{getattr(recordset, '_ids', '')})"

    __repr__ = __str__
