"""The graph of a job's chain or group, drawn on its form (tours in static/tests/tours).

Screenshots: with ``QUEUE_JOB_SCREENSHOT_DIR`` set, the tours save
``job_graph.png`` (7 jobs) and ``job_graph_big.png`` (292 jobs) there, at
1280x800; without it they run the same steps and save nothing.
"""

from odoo.tests.common import HttpCase, tagged

from odoo.addons.queue_job.delay import chain, group
from odoo.addons.queue_job.job import Job

from .tour_screenshots import answering_screenshots


@tagged("post_install", "-at_install")
class TestGraphWidgetTour(HttpCase):
    browser_size = "1280x800"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Graph Tour Partner"})

    def _step(self, name):
        return self.partner.delayable(description=name).write({"comment": name})

    def _record(self, delayable):
        return self.env["queue.job"].search([("uuid", "=", delayable._generated_job.uuid)])

    def _start_tour(self, job, tour):
        with answering_screenshots("queue_job_graph_screenshot:", "o_queue_job_screenshot_"):
            self.start_tour(f"/odoo/action-queue_job.action_queue_job/{job.id}", tour, login="admin", timeout=180)

    def test_small_graph(self):
        """chain(group(A, B, G), C, group(D, E), F): A done, B failed, G pending, the rest cancelled by B."""
        steps = {name: self._step(f"Graph step {name}") for name in "ABCDEFG"}
        chain(
            group(steps["A"], steps["B"], steps["G"]), steps["C"], group(steps["D"], steps["E"]), steps["F"]
        ).delay()
        jobs = {name: self._record(step) for name, step in steps.items()}
        jobs["A"].button_done()
        self._fail(jobs["B"])
        self.assertEqual(
            {name: job.state for name, job in jobs.items()},
            {
                "A": "done",
                "B": "failed",
                "G": "pending",
                "C": "cancelled",
                "D": "cancelled",
                "E": "cancelled",
                "F": "cancelled",
            },
        )
        self.assertEqual(len(jobs["C"].dependency_graph["nodes"]), 7)
        self._start_tour(jobs["C"], "queue_job_graph_tour")

    def _fail(self, job):
        failed = Job.load(self.env, job.uuid)
        failed.set_failed(exc_name="ValueError", exc_message="the tour needs a failed job")
        failed.store()

    def test_big_graph(self):
        """A first job, 29 chains of 10 jobs, a last job: 292 jobs and 319 arrows.

        The first job is done, and so are the first steps of some chains; the
        tour opens chain 14's step 5, which failed.
        """
        first = self._step("Graph first")
        last = self._step("Graph last")
        chains = []
        for number in range(29):
            names = [f"Graph chain {number} step {step}" for step in range(10)]
            if number == 3:
                names[4] += " with a description long enough to be cut"
            chains.append(chain(*[self._step(name) for name in names]))
        chain(first, group(*chains), last).delay()
        jobs = self.env["queue.job"].search([("graph_uuid", "=", self._record(first).graph_uuid)])
        by_name = {job.name: job for job in jobs}
        by_name["Graph first"].button_done()
        for number, done in [(number, number % 7) for number in range(0, 29, 2)] + [(14, 5)]:
            for step in range(done):
                by_name[f"Graph chain {number} step {step}"].button_done()
        self._fail(by_name["Graph chain 14 step 5"])
        self._fail(by_name["Graph chain 20 step 6"])
        job = by_name["Graph chain 14 step 5"]
        graph = job.dependency_graph
        self.assertEqual((len(graph["nodes"]), len(graph["edges"])), (292, 319))
        self.assertEqual(
            set(jobs.mapped("state")), {"done", "failed", "pending", "wait_dependencies", "cancelled"}
        )
        self._start_tour(job, "queue_job_graph_big_tour")
