"""Helpers for testing code that enqueues jobs.

``trap_jobs()`` catches the jobs a piece of code enqueues, without storing
them, so a test can check what was enqueued and then run the jobs in-process::

    with trap_jobs() as trap:
        partner.button_export()
        trap.assert_jobs_count(1, only=partner.export_record)
        trap.assert_enqueued_job(
            partner.export_record, args=("crm",), kwargs={}, properties={"priority": 15}
        )
        trap.perform_enqueued_jobs()
"""

import doctest
import logging
import typing
from contextlib import contextmanager
from itertools import groupby
from operator import attrgetter
from unittest import TestCase, mock

from odoo.tests.case import TestCase as _TestCase
from odoo.tests.common import MetaCase

from odoo.addons.queue_job.delay import Graph
from odoo.addons.queue_job.job import Job


@contextmanager
def trap_jobs():
    """Trap the jobs enqueued in the block; yields a JobsTrap."""
    with mock.patch("odoo.addons.queue_job.delay.Job", name="Job Class") as job_class:
        with JobsTrap(job_class) as trap:
            yield trap


class JobCall(typing.NamedTuple):
    method: typing.Callable
    args: tuple
    kwargs: dict
    properties: dict

    def __eq__(self, other):
        if not isinstance(other, JobCall):
            return NotImplemented
        return (
            self.method.__self__ == other.method.__self__
            and self.method.__func__ == other.method.__func__
            and self.args == other.args
            and self.kwargs == other.kwargs
            and self.properties == other.properties
        )


class JobsTrap:
    """What ``trap_jobs()`` caught: ``calls`` (one per enqueue) and ``enqueued_jobs``.

    Jobs are real Job objects whose ``store()`` does nothing. A job whose
    identity key matches one already trapped is recorded as a call but not
    kept as a job, as it would not be stored.
    """

    def __init__(self, job_mock):
        self.job_mock = job_mock
        self.job_mock.side_effect = self._add_job
        self.calls = []
        self.enqueued_jobs = []
        self._store_patchers = []
        self._test_case = TestCase()

    def jobs_count(self, only=None):
        return len(self._filtered_enqueued_jobs(only)) if only else len(self.enqueued_jobs)

    def assert_jobs_count(self, expected, only=None):
        self._test_case.assertEqual(self.jobs_count(only=only), expected)

    def assert_enqueued_job(self, method, args=None, kwargs=None, properties=None):
        """Fail unless ``method`` was enqueued with exactly these args and kwargs.

        Only the properties given (priority, eta, channel...) are compared.
        """
        properties = properties or {}
        expected = JobCall(method=method, args=args or (), kwargs=kwargs or {}, properties=properties)
        actual = [
            JobCall(
                method=call.method,
                args=call.args,
                kwargs=call.kwargs,
                properties={key: value for key, value in call.properties.items() if key in properties},
            )
            for call in self.calls
        ]
        if expected not in actual:
            listing = "\n".join(f" * {self._format_job_call(call)}" for call in actual)
            raise AssertionError(
                f"Job {self._format_job_call(expected)} was not enqueued.\nActual enqueued jobs:\n{listing}"
            )

    def perform_enqueued_jobs(self):
        """Run the trapped jobs in-process: graphs in dependency order, others by priority."""

        def graph_of(job):
            return job.graph_uuid or ""

        jobs = sorted(self.enqueued_jobs, key=graph_of)
        self.enqueued_jobs = []
        for graph_uuid, members in groupby(jobs, key=graph_of):
            if graph_uuid:
                self._perform_graph_jobs(members)
            else:
                self._perform_single_jobs(members)

    def _perform_single_jobs(self, jobs):
        for job in sorted(jobs, key=attrgetter("priority")):
            job.perform()

    def _perform_graph_jobs(self, jobs):
        graph = Graph()
        for job in jobs:
            graph.add_vertex(job)
            for parent in job._depends_on:
                graph.add_edge(parent, job)
        for job in graph.topological_sort():
            job.perform()

    def _add_job(self, *args, **kwargs):
        job = Job(*args, **kwargs)
        if not job.identity_key or all(j.identity_key != job.identity_key for j in self.enqueued_jobs):
            self.enqueued_jobs.append(job)
            patcher = mock.patch.object(job, "store")
            self._store_patchers.append(patcher)
            patcher.start()
        properties = dict(kwargs)
        job_args = properties.pop("args", None) or ()
        job_kwargs = properties.pop("kwargs", None) or {}
        self.calls.append(JobCall(method=args[0], args=job_args, kwargs=job_kwargs, properties=properties))
        return job

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        for patcher in self._store_patchers:
            patcher.stop()

    def _filtered_enqueued_jobs(self, job_method):
        return [
            job
            for job in self.enqueued_jobs
            if job.func.__self__ == job_method.__self__ and job.func.__func__ == job_method.__func__
        ]

    def _format_job_call(self, call):
        # str(), not repr(): tests written for OCA match these messages.
        arguments = [str(arg) for arg in call.args]
        arguments += [f"{key}={value}" for key, value in call.kwargs.items()]
        properties = ", ".join(f"{key}={value}" for key, value in call.properties.items())
        return f"<{call.method.__self__}>.{call.method.__name__}({', '.join(arguments)}) with properties ({properties})"

    def __repr__(self):
        return repr(self.calls)


class JobCounter:
    """Counts the jobs created since it was made."""

    def __init__(self, env):
        self.env = env
        self.existing = self.search_all()

    def count_all(self):
        return len(self.search_all())

    def count_created(self):
        return len(self.search_created())

    def count_existing(self):
        return len(self.existing)

    def search_created(self):
        return self.search_all() - self.existing

    def search_all(self):
        return self.env["queue.job"].search([])


class JobMixin:
    def job_counter(self):
        return JobCounter(self.env)

    def perform_jobs(self, jobs):
        for job in jobs.search_created():
            Job.load(self.env, job.uuid).perform()

    @contextmanager
    def trap_jobs(self):
        with trap_jobs() as trap:
            yield trap


@contextmanager
def mock_with_delay():
    """Deprecated: use ``trap_jobs()``. Mocks ``with_delay()`` itself.

    Yields ``(delayable_cls, delayable)``: the mocked DelayableRecordset class
    and the object its calls return.
    """
    with mock.patch(
        "odoo.addons.queue_job.models.base.DelayableRecordset",
        name="DelayableRecordset",
        spec=True,
    ) as delayable_cls:
        delayable = mock.MagicMock(name="DelayableBinding")
        delayable_cls.return_value = delayable
        yield delayable_cls, delayable


class OdooDocTestCase(doctest.DocTestCase, _TestCase, MetaCase("DummyCase", (), {})):
    """A doctest that Odoo's test runner picks up and names readably."""

    def __init__(self, doctest_case, optionflags=0, setUp=None, tearDown=None, checker=None, seq=0):
        super().__init__(
            doctest_case._dt_test, optionflags=optionflags, setUp=setUp, tearDown=tearDown, checker=checker
        )
        self.test_sequence = seq

    def setUp(self):
        super().setUp()
        logging.getLogger(__name__).info("Running tests for %s", self._dt_test.name)


def load_doctests(module):
    """A ``load_tests`` function running the doctests of ``module`` as Odoo tests."""

    def load_tests(loader, tests, ignore):
        for index, case in enumerate(doctest.DocTestSuite(module)):
            odoo_test = OdooDocTestCase(case, seq=index)
            odoo_test.test_tags = {"standard", "at_install", "queue_job", "doctest"}
            tests.addTest(odoo_test)
        return tests

    return load_tests
