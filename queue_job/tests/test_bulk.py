"""``bulk.enqueue_many()``: many jobs in one COPY, stored as ``with_delay()`` stores them."""

import gc

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.bulk import enqueue_many
from odoo.addons.queue_job.job import Job

COMPARED = (
    "state", "priority", "max_retries", "retry", "channel", "model_name", "method_name", "user_id",
    "company_id", "name", "func_string", "channel_method_name", "job_function_id", "identity_key",
    "timeout", "hard_timeout",
)  # fmt: skip


@tagged("post_install", "-at_install")
class TestBulk(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partners = cls.env["res.partner"].create([{"name": f"Bulk {n}"} for n in range(3)])

    def _records(self, uuids):
        return self.env["queue.job"].search([("uuid", "in", list(uuids))])

    def test_rows_are_those_with_delay_stores(self):
        awkward = "tab\there, new\nline, back\\slash, quote ' and \" é"
        (bulk_uuid,) = enqueue_many([self.partners[0].delayable(priority=7, max_retries=3).write({"ref": awkward})])
        reference = self.partners[0].with_delay(priority=7, max_retries=3).write({"ref": awkward})
        bulk, single = self._records([bulk_uuid]), reference.db_record()
        for name in COMPARED:
            self.assertEqual(bulk[name], single[name], name)
        self.assertEqual(bulk.records, single.records)
        self.assertEqual(bulk.args, ({"ref": awkward},))
        self.assertEqual(bulk.kwargs, {})
        self.assertEqual(bulk.dependencies, {"depends_on": [], "reverse_depends_on": []})
        job = Job.load(self.env, bulk_uuid)
        job.perform()
        self.assertEqual(self.partners[0].ref, awkward)

    def test_many_jobs_and_their_options(self):
        uuids = enqueue_many(
            partner.delayable(channel="root.bulk", description=f"d{n}", eta=60).write({"ref": str(n)})
            for n, partner in enumerate(self.partners)
        )
        records = self._records(uuids)
        self.assertEqual(len(records), 3)
        self.assertEqual(set(records.mapped("channel")), {"root.bulk"})
        self.assertEqual(sorted(records.mapped("name")), ["d0", "d1", "d2"])
        self.assertTrue(all(records.mapped("eta")))
        self.assertEqual(sorted(record.args[0]["ref"] for record in records), ["0", "1", "2"])

    def test_identity_keys_are_honoured(self):
        waiting = self.partners[0].with_delay(identity_key="bulk-key").write({"ref": "first"})
        uuids = enqueue_many([
            self.partners[1].delayable(identity_key="bulk-key").write({"ref": "twin"}),
            self.partners[2].delayable(identity_key="other-key").write({"ref": "new"}),
            self.partners[2].delayable(identity_key="other-key").write({"ref": "twin in the batch"}),
        ])
        self.assertEqual(len(uuids), 1)
        (stored,) = self._records(uuids)
        self.assertEqual((stored.identity_key, stored.args), ("other-key", ({"ref": "new"},)))
        self.assertEqual(self.env["queue.job"].search_count([("identity_key", "=", "bulk-key")]), 1)
        self.assertEqual(waiting.db_record().args, ({"ref": "first"},))

    def test_graphs_and_bare_delayables_are_refused(self):
        first, second = self.partners[0].delayable().write({"ref": "a"}), self.partners[1].delayable().write({})
        first.on_done(second)
        with self.assertRaisesRegex(ValueError, "part of a graph"):
            enqueue_many([first])
        first.delay()  # stored as a graph, as it should be
        self.assertEqual(second._generated_job.db_record().state, "wait_dependencies")
        bare = self.partners[2].delayable()
        with self.assertRaisesRegex(ValueError, "call the method to delay"):
            enqueue_many([bare])
        bare._generated_job = True  # nothing to warn about: it was refused
        self.assertEqual(enqueue_many([]), [])

    def test_no_delay_runs_them_now(self):
        partner = self.partners[0].with_context(queue_job__no_delay=True)
        uuids = enqueue_many([partner.delayable().write({"ref": "at once"})])
        self.assertEqual(partner.ref, "at once")
        self.assertFalse(self._records(uuids))

    def test_the_cyclic_collector_is_as_it_was_afterwards(self):
        self.assertTrue(gc.isenabled())
        enqueue_many([self.partners[0].delayable().write({"ref": "gc"})])
        self.assertTrue(gc.isenabled())
        bare = self.partners[0].delayable()
        with self.assertRaises(ValueError):
            enqueue_many([bare])
        bare._generated_job = True  # refused: nothing to warn about
        self.assertTrue(gc.isenabled(), "restored after a refusal too")
        gc.disable()
        try:
            enqueue_many([self.partners[1].delayable().write({"ref": "gc off"})])
            self.assertFalse(gc.isenabled(), "left disabled when it was")
        finally:
            gc.enable()
