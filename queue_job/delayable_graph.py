"""Storing a graph of Delayables: ``delay()`` on a Delayable, chain or group.

The graph is flattened to one edge per parent job and child job, its jobs
built, given one graph uuid and their ``on_error`` handlers, then stored
parents first (or run at once where jobs must not be delayed).
"""

import uuid
from collections import deque

from . import failure
from .engine.graph import Graph
from .job import Job as _StoredJob  # not replaced by trap_jobs(), which patches delay.Job
from .utils import must_run_without_delay


def _delay_module():
    # delay.py builds on this module, so it is looked up when a graph is
    # stored: its Delayable, and its Job, which trap_jobs() patches there.
    from . import delay

    return delay


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

    def _error_handlers(self, top):
        """(handler, guarded Delayables) for every ``on_error`` of ``top`` and of the nodes inside it."""
        vertices = self.vertices()
        if vertices == {top} and not top._on_error_handlers:
            return []  # with_delay(), or a lone Delayable: nothing to walk
        handlers = []
        seen = set()
        to_visit = deque([top, *vertices])
        while to_visit:
            node = to_visit.popleft()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            for handler in getattr(node, "_on_error_handlers", ()):
                handlers.append((handler, _delayables_under(node)))
            to_visit.extend(node._graph.vertices())
        return handlers

    def delay(self, top=None):
        graph = self._connect_graphs()
        vertices = graph.vertices()
        for vertex in vertices:
            vertex._build_job()
        handlers = self._error_handlers(top)
        jobs = [vertex._generated_job for vertex in vertices]
        if handlers and len(jobs) == 1:
            # A single job guarded by a handler is a graph of one: the
            # handler shares its graph uuid, to be found beside it.
            jobs[0].graph_uuid = str(uuid.uuid4())
        else:
            self._ensure_same_graph_uuid(jobs)
        for handler, guarded in handlers:
            spec = failure.handler_spec(handler._build_handler_job())
            for delayable in guarded:
                delayable._generated_job.on_error_specs.append(spec)

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
                vertex._generated_job = _delay_module().Job._load_from_db_record(existing)
            return

        for vertex in graph.topological_sort():
            stored = vertex._generated_job.store()
            # A single job may turn out to be the twin of one enqueued
            # concurrently (same identity key): hand out the one that exists.
            if isinstance(stored, _StoredJob) and len(vertices) == 1:
                vertex._generated_job = stored


def _delayables_under(node):
    """Every Delayable that ``node`` (a Delayable, chain or group) contains or leads to with on_done."""
    found, seen = [], set()
    to_visit = deque([node])
    while to_visit:
        current = to_visit.popleft()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _delay_module().Delayable):
            found.append(current)
        to_visit.extend(current._graph.vertices())
        for children in current._graph._graph.values():
            to_visit.extend(children)
    return found
