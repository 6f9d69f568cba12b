"""No-delay modes: the job runs at once, in the caller's transaction, and nothing is stored."""

import os
from unittest import mock

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.delay import chain, group


@tagged("post_install", "-at_install")
class TestNoDelay(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Immediate Partner"})

    def setUp(self):
        super().setUp()
        self.job_count = self.env["queue.job"].search_count([])
        # Whatever the machine running the tests has set.
        patcher = mock.patch.dict(os.environ)
        patcher.start()
        self.addCleanup(patcher.stop)
        os.environ.pop("QUEUE_JOB__NO_DELAY", None)

    def _assert_nothing_stored(self):
        self.env.invalidate_all()
        self.assertEqual(self.env["queue.job"].search_count([]), self.job_count)

    def _bodies(self, partner):
        messages = partner.message_ids.filtered(lambda m: m.message_type == "comment").sorted("id")
        return [str(m.body).replace("<p>", "").replace("</p>", "") for m in messages]

    def test_default_is_delayed(self):
        self.partner.with_delay().write({"ref": "later"})
        self.assertFalse(self.partner.ref)
        self.assertEqual(self.env["queue.job"].search_count([]), self.job_count + 1)

    def _check_runs_now(self, partner):
        job = partner.with_delay(priority=3).write({"ref": "now"})
        self.assertEqual(self.partner.ref, "now")
        self.assertIs(job.result, True)
        self.assertEqual(job.retry, 1)
        self._assert_nothing_stored()

    def test_context_key(self):
        self._check_runs_now(self.partner.with_context(queue_job__no_delay=True))

    def test_legacy_context_key(self):
        self._check_runs_now(self.partner.with_context(test_queue_job_no_delay=True))

    def test_context_key_false(self):
        self.partner.with_context(queue_job__no_delay=False).with_delay().write({"ref": "later"})
        self.assertFalse(self.partner.ref)
        self.assertEqual(self.env["queue.job"].search_count([]), self.job_count + 1)

    def test_env_var(self):
        os.environ["QUEUE_JOB__NO_DELAY"] = "1"
        with self.assertLogs("odoo.addons.queue_job.utils", level="WARNING") as logs:
            self._check_runs_now(self.partner)
        self.assertIn("QUEUE_JOB__NO_DELAY", logs.output[0])

    def test_graph_runs_in_order(self):
        partner = self.partner.with_context(queue_job__no_delay=True)
        steps = {label: partner.delayable().message_post(body=label, message_type="comment") for label in "abcd"}
        chain(steps["d"], group(steps["b"], steps["c"]), steps["a"]).delay()
        bodies = self._bodies(self.partner)
        self.assertEqual(len(bodies), 4)
        self.assertEqual(bodies[0], "d")
        self.assertEqual(set(bodies[1:3]), {"b", "c"})
        self.assertEqual(bodies[3], "a")
        self._assert_nothing_stored()

    def test_graph_env_var(self):
        os.environ["QUEUE_JOB__NO_DELAY"] = "yes"
        with self.assertLogs("odoo.addons.queue_job.utils", level="WARNING"):
            first = self.partner.delayable().write({"ref": "1"})
            second = self.partner.delayable().message_post(body="2", message_type="comment")
            first.on_done(second).delay()
        self.assertEqual(self.partner.ref, "1")
        self.assertEqual(self._bodies(self.partner), ["2"])
        self._assert_nothing_stored()
