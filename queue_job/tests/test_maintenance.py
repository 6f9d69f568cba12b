"""Autovacuum of finished jobs and the related action of a job."""

from datetime import datetime, timedelta

from odoo.exceptions import UserError
from odoo.tests.common import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestAutovacuum(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Vacuum Partner"})
        cls.root = cls.env.ref("queue_job.channel_root")
        cls.short = cls.env["queue.job.channel"].create(
            {"name": "vacuum_short", "parent_id": cls.root.id, "removal_interval": 3}
        )

    def _job(self, state, days_ago, channel=None, date_field="date_done"):
        job = self.partner.with_delay(channel=channel).write({"ref": state})
        record = self.env["queue.job"].search([("uuid", "=", job.uuid)])
        values = {"state": state}
        if days_ago is not None:
            values[date_field] = datetime.now() - timedelta(days=days_ago)
        # As a worker would write it (no state machine check).
        record.with_context(_job_edit_sentinel=record.EDIT_SENTINEL).write(values)
        return record

    def test_autovacuum(self):
        old_done = self._job("done", 40)
        young_done = self._job("done", 5)
        old_cancelled = self._job("cancelled", 40, date_field="date_cancelled")
        old_pending = self._job("pending", None)
        old_pending.with_context(_job_edit_sentinel=old_pending.EDIT_SENTINEL).write(
            {"date_created": datetime.now() - timedelta(days=90)}
        )
        # Chosen by date whatever the state, as OCA does (migrated or hand-written rows)...
        old_failed = self._job("failed", 40)
        failed_undated = self._job("failed", None)
        # ... but never a job a worker holds.
        old_started = self._job("started", 40)
        short_done = self._job("done", 5, channel="root.vacuum_short")
        short_young = self._job("done", 1, channel="root.vacuum_short")
        # A sub-channel without a record of its own keeps its parent's retention.
        short_child = self._job("done", 5, channel="root.vacuum_short.child")

        self.assertTrue(self.env["queue.job"].autovacuum())

        self.assertFalse(old_done.exists())
        self.assertFalse(old_cancelled.exists())
        self.assertFalse(short_done.exists())
        self.assertFalse(short_child.exists())
        self.assertTrue(young_done.exists())
        self.assertTrue(old_pending.exists())
        self.assertFalse(old_failed.exists())
        self.assertTrue(failed_undated.exists())
        self.assertTrue(old_started.exists())
        self.assertTrue(short_young.exists())

    def test_autovacuum_root_interval(self):
        self.root.removal_interval = 2
        done = self._job("done", 5)
        younger = self._job("done", 1)
        self.env["queue.job"].autovacuum()
        self.assertFalse(done.exists())
        self.assertTrue(younger.exists())

    def test_autovacuum_cron(self):
        cron = self.env.ref("queue_job.ir_cron_autovacuum_queue_jobs")
        self.assertEqual(cron.model_id.model, "queue.job")
        self.assertIn("autovacuum", cron.code)


@tagged("post_install", "-at_install")
class TestRelatedAction(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partners = cls.env["res.partner"].create([{"name": "Related A"}, {"name": "Related B"}])

    def _record(self, job):
        return self.env["queue.job"].search([("uuid", "=", job.uuid)])

    def test_open_one_record(self):
        partner = self.partners[0]
        record = self._record(partner.with_delay().write({"ref": "x"}))
        action = record.open_related_action()
        self.assertEqual(action["type"], "ir.actions.act_window")
        self.assertEqual(action["res_model"], "res.partner")
        self.assertEqual(action["res_id"], partner.id)
        self.assertEqual(action["view_mode"], "form")
        self.assertEqual(record.related_action_open_record(), action)

    def test_open_several_records(self):
        record = self._record(self.partners.with_delay().write({"ref": "x"}))
        action = record.open_related_action()
        self.assertEqual(action["res_model"], "res.partner")
        self.assertNotIn("res_id", action)
        self.assertEqual(action["domain"], [("id", "in", self.partners.ids)])
        self.assertIn("list", action["view_mode"])

    def test_open_deleted_record(self):
        partner = self.env["res.partner"].create({"name": "Gone"})
        record = self._record(partner.with_delay().write({"ref": "x"}))
        partner.unlink()
        self.assertIsNone(record.related_action_open_record())
        with self.assertRaises(UserError):
            record.open_related_action()

    def _function(self, related_action):
        return self.env["queue.job.function"].create(
            {
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "method": "write",
                "related_action": related_action,
            }
        )

    def test_disabled(self):
        function = self._function({"enable": False})
        self.assertEqual(function.name, "<res.partner>.write")
        record = self._record(self.partners[0].with_delay().write({"ref": "x"}))
        self.assertEqual(record.job_function_id, function)
        with self.assertRaisesRegex(UserError, "No action available"):
            record.open_related_action()
        # Enabled again: the records open.
        function.related_action = {"enable": True}
        self.assertEqual(record.open_related_action()["res_id"], self.partners[0].id)

    def test_custom_func_name_and_kwargs(self):
        self._function({"func_name": "open_graph_jobs", "kwargs": {}})
        steps = [p.delayable().write({"ref": "x"}) for p in self.partners]
        steps[0].on_done(steps[1]).delay()
        record = self._record(steps[0]._generated_job)
        action = record.open_related_action()
        self.assertEqual(action["res_model"], "queue.job")
        self.assertEqual(action["domain"], [("graph_uuid", "=", record.graph_uuid)])

    def test_invalid_related_action_rejected(self):
        with self.assertRaises(UserError):
            self._function({"enable": False, "unknown": 1})
