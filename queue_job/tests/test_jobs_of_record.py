"""The jobs of a record: found through the index on record_refs, never by reading stored arguments."""

from odoo.addons.queue_job.bulk import enqueue_many
from odoo.addons.queue_job.engine import sql
from odoo.addons.queue_job.models.queue_job_related_mixin import QueueJobRelatedMixin
from odoo.tests.common import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestJobsOfRecord(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.alice, cls.bob = Partner.create([{"name": "Alice"}, {"name": "Bob"}])
        cls.user = new_test_user(cls.env, login="jobs_of_record_user", groups="base.group_user")

    def ref(self, record):
        return f"{record._name},{record.id}"

    def test_jobs_found_by_their_records_and_by_records_passed_as_arguments(self):
        on_alice = self.alice.with_delay().write({"ref": "a"})
        on_both = (self.alice | self.bob).with_delay().write({"ref": "b"})
        # A method of the model (no records) given the record as an argument.
        alice_as_argument = self.env["res.partner"].with_delay().union(self.alice)
        on_bob_in_bulk = enqueue_many([self.bob.delayable().write({"ref": "c"})])
        jobs = self.env["queue.job"].search([("related_record", "=", self.ref(self.alice))])
        self.assertEqual(set(jobs.mapped("uuid")), {on_alice.uuid, on_both.uuid, alice_as_argument.uuid})
        bob_jobs = self.env["queue.job"].search([("related_record", "=", self.ref(self.bob))])
        self.assertEqual(set(bob_jobs.mapped("uuid")), {on_both.uuid, *on_bob_in_bulk})
        by_uuid = {job.uuid: job for job in jobs}
        self.assertEqual(by_uuid[on_alice.uuid].related_record, self.ref(self.alice))
        self.assertEqual(by_uuid[on_alice.uuid].record_refs, [self.ref(self.alice)])
        self.assertFalse(by_uuid[on_both.uuid].related_record, "more than one record")

    def test_counts_by_state_and_only_the_users_own_jobs_for_a_user(self):
        self.alice.with_delay().write({"ref": "1"})
        self.alice.with_delay().write({"ref": "2"})
        failed = self.alice.with_user(self.user).with_delay().write({"ref": "3"})
        self.env["queue.job"].flush_model()
        self.env.cr.execute("UPDATE queue_job SET state = 'failed' WHERE uuid = %s", (failed.uuid,))
        counts = self.env["queue.job"]._job_counts_of(self.alice | self.bob)
        self.assertEqual(counts, {self.alice.id: {"pending": 2, "failed": 1}, self.bob.id: {}})
        counts = self.env["queue.job"].with_user(self.user)._job_counts_of(self.alice)
        self.assertEqual(counts, {self.alice.id: {"failed": 1}})

    def test_the_smart_button_action_lists_the_records_jobs(self):
        job = self.alice.with_delay().write({"ref": "x"})
        self.bob.with_delay().write({"ref": "y"})
        action = QueueJobRelatedMixin.action_view_jobs(self.alice)
        self.assertEqual(action["res_model"], "queue.job")
        jobs = self.env["queue.job"].search(action["domain"])
        self.assertEqual(jobs.mapped("uuid"), [job.uuid])

    def test_the_lookups_use_the_index(self):
        self.alice.with_delay().write({"ref": "x"})
        self.env["queue.job"].flush_model()
        # On a table this small the planner would rather scan; forbid it to see that the index serves.
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        for statement, params in (
            (sql.JOBS_OF_RECORD, {"refs": [self.ref(self.alice)]}),
            (sql.JOB_COUNTS_OF_RECORDS, {"refs": [self.ref(self.alice)], "user_id": None}),
        ):
            self.env.cr.execute("EXPLAIN " + statement, params)
            plan = "\n".join(row[0] for row in self.env.cr.fetchall())
            self.assertIn("queue_job_record_refs_idx", plan)
            self.assertNotIn("Seq Scan on queue_job", plan)

    def test_searching_by_record_needs_a_reference(self):
        from odoo.exceptions import UserError

        with self.assertRaises(UserError):
            self.env["queue.job"].search([("related_record", "ilike", "res.partner")])
