from unittest import mock

from odoo.tests import tagged

from ..wizards import queue_job_bulk_action
from .common import MonitorCase


@tagged("post_install", "-at_install")
class TestBulkAction(MonitorCase):
    def wizard(self, domain, operation):
        return self.env["queue.job.bulk.action"].with_context(active_domain=domain).create({"operation": operation})

    def states(self, ids):
        return sorted(self.env["queue.job"].browse(ids).mapped("state"))

    def test_every_job_of_the_search_not_only_the_page(self):
        failed = [self.insert_job("failed", "root.bulk") for _n in range(7)]
        running = self.insert_job("started", "root.bulk", started_ago=1)
        other = self.insert_job("failed", "root.other")
        wizard = self.wizard([("channel", "=", "root.bulk")], "requeue")
        # The count is shown before confirming: every match, the running job included.
        self.assertEqual(wizard.job_count, 8)
        # active_ids (the page) is ignored when the whole search is selected.
        wizard.with_context(active_ids=failed[:2]).action_confirm()
        self.assertEqual(self.states(failed), ["pending"] * 7)
        self.assertEqual(self.states([running]), ["started"], "a running job is never requeued")
        self.assertEqual(self.states([other]), ["failed"])

    def test_big_sets_are_changed_by_jobs(self):
        failed = [self.insert_job("failed", "root.big") for _n in range(5)]
        with mock.patch.object(queue_job_bulk_action, "BACKGROUND_ABOVE", 2):
            wizard = self.wizard([("channel", "=", "root.big")], "cancel")
            self.assertTrue(wizard.background)
            wizard.action_confirm()
        self.assertEqual(self.states(failed), ["failed"] * 5, "nothing changed before the jobs run")
        bulk_jobs = self.env["queue.job"].search([("method_name", "=", "_monitor_bulk_change")])
        self.assertEqual(len(bulk_jobs), 3)
        self.assertEqual(set(bulk_jobs.mapped("channel")), {"root.queue_job_monitor"})
        for job in bulk_jobs:
            records = self.env["queue.job"].browse(job.records.ids)
            records._monitor_bulk_change("cancel")
        self.assertEqual(self.states(failed), ["cancelled"] * 5)

    def test_selected_ids_without_a_search(self):
        jobs = [self.insert_job("failed", "root.sel") for _n in range(3)]
        wizard = self.env["queue.job.bulk.action"].with_context(active_ids=jobs[:2]).create({"operation": "done"})
        self.assertEqual(wizard.job_count, 2)
        wizard.action_confirm()
        self.assertEqual(self.states(jobs), ["done", "done", "failed"])
