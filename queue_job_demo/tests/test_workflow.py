from odoo.tests import TransactionCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import run_pending_jobs


@tagged("post_install", "-at_install")
class TestWorkflow(TransactionCase):
    def _workflow(self, mode="none"):
        return self.env["queue.job.demo.workflow"].create({"name": "wf", "contact_count": 20, "failure_mode": mode})

    def test_import_then_checks_in_parallel_then_summary(self):
        record = self._workflow()
        with trap_jobs() as trap:
            record.action_start()
            trap.assert_jobs_count(5)
            by_method = {job.method_name: job for job in trap.enqueued_jobs if job.method_name != "step_check"}
            checks = [job for job in trap.enqueued_jobs if job.method_name == "step_check"]
            self.assertEqual({job.args for job in checks}, {("email",), ("phone",), ("name",)})
            for check in checks:
                self.assertEqual(check.depends_on, {by_method["step_import"]})
            self.assertEqual(by_method["step_summary"].depends_on, set(checks))
            trap.perform_enqueued_jobs()
        self.assertEqual(record.state, "done")
        self.assertEqual(len(record.partner_ids), 20)
        # 20 contacts: n=0,10 have no email; n=0,7,14 no phone; names repeat every 18
        self.assertEqual({check.name: check.problem_count for check in record.check_ids},
                         {"email": 2, "phone": 3, "name": 4})
        self.assertIn("20 contacts imported and checked: 9 problems", record.summary)

    def test_busy_step_is_retried_later(self):
        record = self._workflow("busy")
        record.action_start()
        run_pending_jobs(self.env, [("graph_uuid", "=", record.graph_uuid), ("eta", "=", False)])
        phone = record.step_job_ids.filtered(lambda job: job.args == ["phone"] or job.args == ("phone",))
        self.assertEqual(phone.state, "pending")
        self.assertEqual(phone.retry, 1)
        self.assertTrue(phone.eta, "retried later, not at once")
        self.assertEqual(record.state, "running")
        # once the directory is no longer busy, the retry succeeds and the summary follows
        record.busy_until = False
        record.failure_mode = "none"
        phone.eta = False
        run_pending_jobs(self.env, [("graph_uuid", "=", record.graph_uuid)])
        record.invalidate_recordset()
        self.assertEqual(record.state, "done")

    def test_failed_step_cancels_the_rest_until_fixed_then_the_workflow_goes_on(self):
        record = self._workflow("broken")
        record.action_start()
        run_pending_jobs(self.env, [("graph_uuid", "=", record.graph_uuid)])
        record.invalidate_recordset()
        self.assertEqual(record.state, "failed")
        self.assertIn("phone directory refused", record.error_message)
        # The steps after a failed one are cancelled, saying why...
        summary = record.step_job_ids.filtered(lambda job: job.method_name == "step_summary")
        self.assertEqual(summary.state, "cancelled")
        self.assertIn("failed", summary.result)
        failed = record.step_job_ids.filtered(lambda job: job.state == "failed")
        action = failed.open_related_action()
        self.assertEqual((action["res_model"], action["res_id"]), (record._name, record.id))

        record.failure_mode = "none"
        record.action_retry_failed()
        # ... and wait again once the failed step is retried.
        self.assertEqual(summary.state, "wait_dependencies")
        run_pending_jobs(self.env, [("graph_uuid", "=", record.graph_uuid)])
        record.invalidate_recordset()
        self.assertEqual(record.state, "done")
        self.assertEqual(len(record.check_ids), 3)
