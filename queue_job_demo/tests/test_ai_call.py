import socket
from datetime import datetime, timedelta

from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..models.queue_job_demo_ai_call import ENDPOINT_PARAM, READ_TIMEOUT_PARAM
from ..stub_server import StubServer
from .common import run_stored_job


@tagged("post_install", "-at_install")
class TestAiCall(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stub = StubServer().__enter__()
        cls.addClassCleanup(cls.stub.__exit__, None, None, None)
        cls.env["ir.config_parameter"].set_param(ENDPOINT_PARAM, cls.stub.url)

    def _ask(self):
        call = self.env["queue.job.demo.ai.call"].create({"name": "q", "prompt": "How are you today?"})
        call.action_start()
        return call

    def test_answer_lands_on_the_page(self):
        call = self._ask()
        job = call.job_id
        self.assertEqual(job.channel, "root.demo.ai")
        self.assertEqual((job.timeout, job.hard_timeout), (60, 90), "the job function's time limits")
        job = run_stored_job(self.env, call.job_uuid)
        self.assertEqual(job.state, "done")
        call.invalidate_recordset()
        self.assertEqual(call.state, "done")
        self.assertIn("4 words", call.answer)
        self.assertEqual(self.stub.requests[-1], "How are you today?")

    def test_429_and_5xx_are_retried_with_backoff_then_answered(self):
        self.stub.plan(429, 503)
        call = self._ask()
        before = datetime.now()
        job = run_stored_job(self.env, call.job_uuid)
        self.assertEqual((job.state, job.retry), ("pending", 1))
        self.assertIn("HTTP 429", job.result)
        # Retry-After: 1 from the stub wins over the retry pattern's 5 s
        self.assertLess(job.eta, before + timedelta(seconds=4))
        job = run_stored_job(self.env, call.job_uuid)
        self.assertEqual((job.state, job.retry), ("pending", 2))
        self.assertIn("HTTP 503", job.result)
        # the retry pattern: 15 s after the 2nd try
        self.assertGreater(job.eta, before + timedelta(seconds=10))
        call.invalidate_recordset()
        self.assertEqual((call.state, call.tries), ("queued", 2))
        job = run_stored_job(self.env, call.job_uuid)
        self.assertEqual(job.state, "done")

    def test_unreachable_and_slow_endpoints_are_retried(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed_port = sock.getsockname()[1]
        self.env["ir.config_parameter"].set_param(ENDPOINT_PARAM, f"http://127.0.0.1:{closed_port}/v1/complete")
        job = run_stored_job(self.env, self._ask().job_uuid)
        self.assertEqual(job.state, "pending")
        self.assertIn("cannot be reached", job.result)

        self.env["ir.config_parameter"].set_param(ENDPOINT_PARAM, self.stub.url + "?delay=2")
        self.env["ir.config_parameter"].set_param(READ_TIMEOUT_PARAM, "1")
        job = run_stored_job(self.env, self._ask().job_uuid)
        self.assertEqual(job.state, "pending")
        self.assertIn("did not answer within 1 s", job.result)

    def test_a_refused_question_fails_with_the_reason(self):
        self.stub.plan(400)
        call = self._ask()
        job = run_stored_job(self.env, call.job_uuid)
        self.assertEqual(job.state, "failed")
        self.assertIn("refused the question (HTTP 400)", job.exc_message)
        call.invalidate_recordset()
        self.assertEqual(call.state, "failed")

    def test_cancel_button(self):
        call = self._ask()
        call.action_cancel_job()
        call.invalidate_recordset()
        self.assertEqual(call.state, "cancelled")
        with self.assertRaisesRegex(UserError, "no job left to cancel"):
            call.action_cancel_job()
        other = new_test_user(self.env, "other_user", groups="base.group_user")
        call.action_start()
        with self.assertRaises(AccessError):
            call.with_user(other).action_cancel_job()

    def test_only_administrators_set_the_endpoint(self):
        user = new_test_user(self.env, "plain_user", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(user).create(
                {"queue_job_demo_ai_endpoint": "http://127.0.0.1:1/steal"}).execute()
        settings = self.env["res.config.settings"].create({"queue_job_demo_ai_endpoint": "ftp://nope"})
        with self.assertRaisesRegex(UserError, "http:// or https://"):
            settings.execute()
        endpoint = "http://127.0.0.1:9/v1/complete"
        self.env["res.config.settings"].create({"queue_job_demo_ai_endpoint": endpoint}).execute()
        self.assertEqual(self.env["ir.config_parameter"].get_param(ENDPOINT_PARAM), endpoint)

    def test_stub_listens_on_loopback_only(self):
        self.assertEqual(self.stub.server_address[0], "127.0.0.1")
        with self.assertRaisesRegex(ValueError, "127.0.0.1 only"):
            StubServer(host="0.0.0.0")
