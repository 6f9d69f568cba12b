"""``with_delay()`` stores one ``queue.job`` row, in the caller's transaction."""

import gc
from datetime import datetime, timedelta
from decimal import Decimal

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.engine.codec import UnstorableArgument
from odoo.addons.queue_job.job import DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY, Job


@tagged("post_install", "-at_install")
class TestWithDelay(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Delayed Partner"})
        cls.others = cls.env["res.partner"].create([{"name": "Other A"}, {"name": "Other B"}])

    def _record(self, job):
        record = self.env["queue.job"].search([("uuid", "=", job.uuid)])
        self.assertEqual(len(record), 1, "with_delay() must store exactly one row")
        return record

    def test_stored_fields(self):
        job = self.partner.with_delay(priority=15, max_retries=7, channel="root.sync").write({"ref": "later"})
        self.assertIsInstance(job, Job)
        record = self._record(job)
        self.assertEqual(record.uuid, job.uuid)
        self.assertEqual(len(record.uuid), 36)
        self.assertEqual(record.state, "pending")
        self.assertEqual(record.model_name, "res.partner")
        self.assertEqual(record.method_name, "write")
        self.assertEqual(record.channel_method_name, "<res.partner>.write")
        self.assertEqual(record.records, self.partner)
        self.assertEqual(record.args, ({"ref": "later"},))
        self.assertEqual(record.kwargs, {})
        self.assertEqual(record.priority, 15)
        self.assertEqual(record.max_retries, 7)
        self.assertEqual(record.retry, 0)
        self.assertEqual(record.channel, "root.sync")
        self.assertEqual(record.user_id, self.env.user)
        self.assertEqual(record.company_id, self.env.company)
        self.assertEqual(record.func_string, f"res.partner({self.partner.id},).write({{'ref': 'later'}})")
        self.assertFalse(record.eta)
        self.assertFalse(record.graph_uuid)
        self.assertFalse(record.identity_key)
        self.assertTrue(record.date_created)
        # Nothing ran: the partner is untouched.
        self.assertFalse(self.partner.ref)

    def test_defaults(self):
        job = self.partner.with_delay().write({"ref": "x"})
        record = self._record(job)
        self.assertEqual(record.priority, DEFAULT_PRIORITY)
        self.assertEqual(record.max_retries, DEFAULT_MAX_RETRIES)
        self.assertEqual(record.channel, "root")
        # res.partner.write has no docstring of its own: model.method.
        self.assertEqual(record.name, "res.partner.write")

    def test_description_from_docstring(self):
        job = self.env["queue.job"].with_delay()._test_job(failure_rate=0.5)
        record = self._record(job)
        self.assertEqual(record.name, "A job that does nothing (or fails at the given rate), to try the queue.")
        self.assertEqual(record.channel_method_name, "<queue.job>._test_job")
        self.assertEqual(record.kwargs, {"failure_rate": 0.5})
        self.assertEqual(record.job_function_id, self.env.ref("queue_job.job_function_queue_job__test_job"))

    def test_description_given(self):
        job = self.partner.with_delay(description="Sync the partner").write({"ref": "x"})
        self.assertEqual(self._record(job).name, "Sync the partner")

    def test_args_round_trip(self):
        when = datetime(2024, 2, 29, 13, 45, 7, 123456)
        args = (self.others, when, Decimal("10.05"), b"\x00\xffraw")
        kwargs = {
            "partners": self.others,
            "when": when,
            "price": Decimal("-0.10"),
            "blob": b"\x01",
            "nested": [1, {"a": None}],
        }
        job = self.partner.with_delay().write(*args, **kwargs)
        record = self._record(job)
        # Read back from the column, not from the cache of the create.
        self.env.invalidate_all()
        stored_args = record.args
        self.assertIsInstance(stored_args, tuple)
        self.assertEqual(stored_args, args)
        self.assertEqual(stored_args[0]._name, "res.partner")
        self.assertEqual(stored_args[0].ids, self.others.ids)
        self.assertIsInstance(stored_args[1], datetime)
        self.assertEqual(stored_args[1].microsecond, 123456)
        self.assertIsInstance(stored_args[2], Decimal)
        self.assertEqual(str(stored_args[2]), "10.05")
        self.assertIsInstance(stored_args[3], bytes)
        self.assertEqual(record.kwargs, kwargs)
        self.assertEqual(str(record.kwargs["price"]), "-0.10")
        # The Job loaded from the row gets the same values.
        loaded = Job.load(self.env, job.uuid)
        self.assertEqual(loaded.args, args)
        self.assertEqual(loaded.kwargs, kwargs)
        self.assertEqual(loaded.recordset, self.partner)
        self.assertEqual(loaded.method_name, "write")

    def test_eta_seconds(self):
        before = datetime.now().replace(microsecond=0)
        record = self._record(self.partner.with_delay(eta=3600).write({"ref": "x"}))
        self.assertGreaterEqual(record.eta, before + timedelta(seconds=3600))
        self.assertLessEqual(record.eta, datetime.now() + timedelta(seconds=3600))

    def test_eta_timedelta(self):
        before = datetime.now().replace(microsecond=0)
        record = self._record(self.partner.with_delay(eta=timedelta(hours=2)).write({"ref": "x"}))
        self.assertGreaterEqual(record.eta, before + timedelta(hours=2))
        self.assertLessEqual(record.eta, datetime.now() + timedelta(hours=2))

    def test_eta_datetime(self):
        eta = datetime(2030, 1, 2, 3, 4, 5)
        record = self._record(self.partner.with_delay(eta=eta).write({"ref": "x"}))
        self.assertEqual(record.eta, eta)

    def test_eta_invalid(self):
        # The job could not even be built: the Delayable says so when it goes.
        with self.assertLogs("odoo.addons.queue_job.delay", level="WARNING") as logs:
            with self.assertRaisesRegex(TypeError, "eta must be"):
                self.partner.with_delay(eta="tomorrow").write({"ref": "x"})
            gc.collect()  # the Delayable is in a reference cycle with its graph
        self.assertIn("never delayed", logs.output[0])

    def test_user_and_company(self):
        company = self.env["res.company"].create({"name": "Second Company"})
        user = self.env["res.users"].create(
            {
                "name": "Enqueuer",
                "login": "qj_enqueuer",
                "company_id": company.id,
                "company_ids": [(6, 0, [company.id, self.env.company.id])],
                "groups_id": [(6, 0, [self.env.ref("base.group_user").id])],
            }
        )
        partner = self.partner.with_user(user).with_company(company)
        record = self._record(partner.with_delay().write({"ref": "x"}))
        self.assertEqual(record.user_id, user)
        self.assertEqual(record.company_id, company)
        self.assertEqual(record.records.env.uid, user.id)

    def test_in_caller_transaction(self):
        count = self.env["queue.job"].search_count([])
        uuids = []
        with self.assertRaisesRegex(RuntimeError, "abort"):
            with self.env.cr.savepoint():
                job = self.partner.with_delay().write({"ref": "x"})
                uuids.append(job.uuid)
                self.assertEqual(self.env["queue.job"].search_count([("uuid", "=", job.uuid)]), 1)
                raise RuntimeError("abort")
        self.env.invalidate_all()
        self.assertFalse(self.env["queue.job"].search([("uuid", "=", uuids[0])]))
        self.assertEqual(self.env["queue.job"].search_count([]), count)

    def test_unstorable_argument(self):
        count = self.env["queue.job"].search_count([])
        with self.assertRaisesRegex(UnstorableArgument, r"kwargs\['failure_rate'\]"):
            self.env["queue.job"].with_delay()._test_job(failure_rate=object())
        with self.assertRaisesRegex(TypeError, r"args\[1\]\['when'\]"):
            self.partner.with_delay().write({"ref": "x"}, {"when": object()})
        self.assertEqual(self.env["queue.job"].search_count([]), count)

    def test_reserved_key_refused(self):
        # Data shaped like a stored object must not come back as that object
        # (here: a superuser recordset), whether passed by position or by name.
        forged = {"_type": "odoo_recordset", "model": "res.users", "ids": [2], "uid": 1, "su": True}
        count = self.env["queue.job"].search_count([])
        with self.assertRaisesRegex(UnstorableArgument, r"args\[0\].*reserved key"):
            self.partner.with_delay().write(forged)
        with self.assertRaisesRegex(UnstorableArgument, r"kwargs\['vals'\].*reserved key"):
            self.partner.with_delay().write(vals=forged)
        with self.assertRaisesRegex(UnstorableArgument, r"kwargs\['data'\]\[1\].*reserved key"):
            self.partner.with_delay().write(data=[1, forged])
        self.assertEqual(self.env["queue.job"].search_count([]), count)

    def test_only_methods(self):
        with self.assertRaises(AttributeError):
            self.partner.with_delay().name()
