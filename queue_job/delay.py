"""Building jobs and graphs of jobs: ``delayable()``, ``chain()``, ``group()``.

A Delayable is one future job. Chains run their members one after the
other; groups run them side by side; ``on_done`` connects any of them to
what runs after. ``delay()`` on the top-most object stores the whole graph
in the current transaction.

>>> g = Graph()
>>> g.add_edge("a", "b"); g.add_edge("b", "c"); g.add_edge("a", "d")
>>> order = list(g.topological_sort())
>>> order.index("a") < order.index("b") < order.index("c")
True
"""

import itertools
import logging
import uuid
from collections import defaultdict, deque

from .job import Job
from .job import Job as _StoredJob  # not replaced by trap_jobs(), which patches Job
from .utils import must_run_without_delay

_logger = logging.getLogger(__name__)

JOB_PROPERTIES = (
    "priority", "eta", "max_retries", "description", "channel", "identity_key", "timeout", "notify",
)  # fmt: skip


def group(*delayables):
    """Delayables that may run at the same time; what follows waits for all."""
    return DelayableGroup(*delayables)


def chain(*delayables):
    """Delayables that run one after the other."""
    return DelayableChain(*delayables)


class Graph:
    """A directed acyclic graph of hashable vertices."""

    __slots__ = ("_graph",)

    def __init__(self, graph=None):
        self._graph = graph if graph else {}

    def add_vertex(self, vertex):
        self._graph.setdefault(vertex, set())

    def add_edge(self, parent, child):
        self.add_vertex(child)
        self._graph.setdefault(parent, set()).add(child)

    def vertices(self):
        return set(self._graph)

    def edges(self):
        return [(parent, child) for parent, children in self._graph.items() for child in children]

    def root_vertices(self):
        children = set().union(*self._graph.values()) if self._graph else set()
        return set(self._graph) - children

    def paths(self, vertex):
        """Every maximal path without a cycle starting at ``vertex``."""
        path, seen = [vertex], {vertex}

        def walk():
            extended = False
            for child in self._graph[path[-1]]:
                if child in seen:
                    continue
                extended = True
                seen.add(child)
                path.append(child)
                yield from walk()
                path.pop()
                seen.discard(child)
            if not extended:
                yield list(path)

        yield from walk()

    def topological_sort(self):
        """Vertices, each after all of its parents (Kahn's algorithm)."""
        indegree = defaultdict(int)
        for _parent, child in self.edges():
            indegree[child] += 1
        ready = deque(self.root_vertices())
        while ready:
            vertex = ready.popleft()
            yield vertex
            for child in self._graph[vertex]:
                indegree[child] -= 1
                if not indegree[child]:
                    ready.append(child)

    def __repr__(self):
        lines = [
            " → ".join(repr(vertex) for vertex in path)
            for root in self.root_vertices()
            for path in self.paths(root)
        ]
        return "\n".join(lines)


class DelayableGraph(Graph):
    """The graph of Delayables, chains and groups, flattened and stored by ``delay()``."""

    def _merge_graph(self, graph):
        # Connect every tail of a node to every head of the nodes after it.
        for vertex, children in graph._graph.items():
            heads = {head for child in children for head in child._head()}
            for tail in vertex._tail():
                self._graph.setdefault(tail, set()).update(heads)

    def _connect_graphs(self):
        flat = DelayableGraph()
        flat._merge_graph(self)
        seen = set()
        to_visit = deque([self])
        while to_visit:
            current = to_visit.popleft()
            if id(current) in seen:
                continue
            seen.add(id(current))
            for vertex in current.vertices():
                flat._merge_graph(vertex._graph)
                to_visit.append(vertex._graph)
        return flat

    def _has_to_execute_directly(self, vertices):
        return any(must_run_without_delay(env) for env in {v.recordset.env for v in vertices})

    @staticmethod
    def _ensure_same_graph_uuid(jobs):
        if not jobs:
            raise ValueError("expected at least one job")
        if len(jobs) == 1:
            if jobs[0].graph_uuid:
                raise ValueError(f"{jobs[0]} is a single job and cannot have a graph uuid")
            return
        existing = {job.graph_uuid for job in jobs if job.graph_uuid}
        if len(existing) > 1:
            raise ValueError("jobs of several graphs cannot depend on each other")
        graph_uuid = existing.pop() if existing else str(uuid.uuid4())
        for job in jobs:
            job.graph_uuid = graph_uuid

    def delay(self):
        graph = self._connect_graphs()
        vertices = graph.vertices()
        for vertex in vertices:
            vertex._build_job()
        self._ensure_same_graph_uuid([vertex._generated_job for vertex in vertices])

        if self._has_to_execute_directly(vertices):
            for delayable in graph.topological_sort():
                delayable._execute_direct()
            return

        for parent, child in graph.edges():
            child._generated_job.add_depends({parent._generated_job})

        # When every job of the graph that has an identity key already has a
        # waiting twin, the graph is already enqueued: hand out the twins.
        keyed = [vertex for vertex in vertices if vertex.identity_key]
        twins = {}
        for vertex in keyed:
            existing = vertex._generated_job.job_record_with_same_identity_key()
            if not existing:
                twins = {}
                break
            twins[vertex] = existing
        if twins:
            for vertex, existing in twins.items():
                vertex._generated_job = Job._load_from_db_record(existing)
            return

        for vertex in graph.topological_sort():
            stored = vertex._generated_job.store()
            # A single job may turn out to be the twin of one enqueued
            # concurrently (same identity key): hand out the one that exists.
            if isinstance(stored, _StoredJob) and len(vertices) == 1:
                vertex._generated_job = stored


class DelayableChain:
    """Delayables (or chains, or groups) that run one after the other."""

    __slots__ = ("_graph", "_chain_head", "_chain_tail")

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

    def delay(self):
        self._graph.delay()


class DelayableGroup:
    """Delayables (or chains, or groups) that may run at the same time."""

    __slots__ = ("_graph", "_delayables")

    def __init__(self, *delayables):
        if not delayables:
            raise ValueError("group() needs at least one delayable")
        self._graph = DelayableGraph()
        self._delayables = set(delayables)
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

    def delay(self):
        self._graph.delay()


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
        self._job_method = None
        self._job_args = ()
        self._job_kwargs = {}
        self._generated_job = None

    def _head(self):
        return [self]

    def _tail(self):
        return [self]

    def __repr__(self):
        method = self._job_method.__name__ if self._job_method else ""
        return f"Delayable({self.recordset}.{method}({self._job_args}, {self._job_kwargs}))"

    def __del__(self):
        if self._job_method is not None and not self._generated_job:
            _logger.warning("%s was prepared but never delayed", self)

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

    def delay(self):
        """Store this job and every job connected to it."""
        self._graph.delay()

    def _build_job(self):
        if self._generated_job:
            return self._generated_job
        if self._job_method is None:
            raise ValueError(f"no method was called on {self.recordset} before delay()")
        self._generated_job = Job(
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
        )
        return self._generated_job

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
