"""Channels edited in the interface, and concurrency keys: form checks, stored values,
and the claim statements run against the real table."""

from unittest import mock

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.delay import DelayableRecordset
from odoo.addons.queue_job.engine import sql


@tagged("post_install", "-at_install")
class TestChannelForm(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Channel = cls.env["queue.job.channel"]
        cls.root = cls.env.ref("queue_job.channel_root")
        cls.sync = cls.Channel.create({"name": "sync_test", "parent_id": cls.root.id})

    def test_capacity_below_zero_is_refused_with_the_reason(self):
        with self.assertRaisesRegex(ValidationError, "capacity cannot be below 0"):
            self.sync.write({"capacity": -1})

    def test_capacity_zero_is_allowed(self):
        self.sync.write({"capacity": 0})
        self.assertTrue(self.sync.own_settings)

    def test_changing_a_setting_makes_the_channel_own_it(self):
        self.assertFalse(self.sync.own_settings)
        self.sync.write({"capacity": 3})
        self.assertTrue(self.sync.own_settings)
        self.sync.write({"own_settings": False})
        self.assertFalse(self.sync.own_settings)
        channel = self.Channel.create({"name": "other_test", "parent_id": self.root.id, "throttle": 2})
        self.assertTrue(channel.own_settings)

    def test_sequential_needs_capacity_one(self):
        with self.assertRaisesRegex(ValidationError, "sequential channel runs one job at a time"):
            self.sync.write({"sequential": True, "capacity": 2})
        self.sync.write({"sequential": True, "capacity": 1})

    def test_unparsable_rate_limit_is_refused_with_the_reason(self):
        for garbage in ("lots", "10", "0/min", "10/fortnight"):
            with self.assertRaisesRegex(ValidationError, "rate limit .* e.g. 100/min", msg=garbage):
                self.sync.write({"rate_limit": garbage})
        self.sync.write({"rate_limit": "100 per minute"})
        self.sync.write({"rate_limit": ""})

    def test_negative_throttle_and_aging_are_refused(self):
        with self.assertRaisesRegex(ValidationError, "throttle"):
            self.sync.write({"throttle": -1})
        other = self.Channel.create({"name": "aging_test", "parent_id": self.root.id})
        with self.assertRaisesRegex(ValidationError, "aging"):
            other.write({"aging_step": -5})

    def test_aging_is_refused_on_a_sequential_channel(self):
        with self.assertRaisesRegex(ValidationError, "cannot age them"):
            self.sync.write({"sequential": True, "capacity": 1, "aging_step": 10})

    def test_a_channel_cannot_become_its_own_ancestor(self):
        child = self.Channel.create({"name": "child_test", "parent_id": self.sync.id})
        grandchild = self.Channel.create({"name": "grandchild_test", "parent_id": child.id})
        with self.assertRaisesRegex(ValidationError, "cannot be its own ancestor"):
            self.sync.write({"parent_id": grandchild.id})
        with self.assertRaisesRegex(ValidationError, "cannot be its own ancestor"):
            self.sync.write({"parent_id": self.sync.id})

    def test_configured_value_is_shown_beside(self):
        with mock.patch("odoo.addons.queue_job.jobrunner.settings.channels_config", return_value="root:4,root.sync_test:2:throttle=1"):
            self.sync.invalidate_recordset(["configured"])
            self.assertEqual(self.sync.configured, "capacity 2, throttle 1 s")
            other = self.Channel.create({"name": "unconfigured_test", "parent_id": self.sync.id})
            self.assertEqual(other.configured, "runs in root.sync_test: capacity 2, throttle 1 s")

    def test_own_settings_start_from_the_configured_values(self):
        with mock.patch("odoo.addons.queue_job.jobrunner.settings.channels_config", return_value="root:4,root.sync_test:2"):
            with Form(self.sync) as form:
                form.own_settings = True
                self.assertEqual(form.capacity, 2)
        self.assertTrue(self.sync.own_settings)
        self.assertEqual(self.sync.capacity, 2)

    def test_editing_the_capacity_in_the_form_ticks_own_settings(self):
        with Form(self.sync) as form:
            form.rate_limit = "10/10s"
            self.assertFalse(form.own_settings)
        with Form(self.sync) as form:
            form.own_settings = True
            form.capacity = 5
        self.assertTrue(self.sync.own_settings)
        self.assertEqual(self.sync.capacity, 5)

    def test_pause_and_resume_buttons(self):
        self.sync.action_pause()
        self.assertTrue(self.sync.paused)
        self.sync.action_resume()
        self.assertFalse(self.sync.paused)

    def test_the_runner_is_told_of_every_change(self):
        self.env.cr.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'queue_job_channel'::regclass AND NOT tgisinternal"
        )
        self.assertIn(("queue_job_channel_notify",), self.env.cr.fetchall())


@tagged("post_install", "-at_install")
class TestConcurrencyKeys(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Keyed"})
        cls.function = cls.env["queue.job.function"].create(
            {"model_id": cls.env["ir.model"]._get_id("res.partner"), "method": "write"}
        )

    def _stored(self, job):
        self.env.flush_all()
        return self.env["queue.job"].search([("uuid", "=", job.uuid)])

    def test_with_delay_stores_the_key_and_the_limit(self):
        job = self.partner.with_delay(concurrency_key="account-7").write({"ref": "x"})
        record = self._stored(job)
        self.assertEqual(record.concurrency_key, "account-7")
        self.assertEqual(record.concurrency_limit, 1)

    def test_a_loaded_job_keeps_its_stored_key(self):
        from odoo.addons.queue_job.job import Job

        job = self.partner.with_delay(concurrency_key="account-7").write({"ref": "x"})
        self._stored(job)
        self.function.write({"concurrency_key": "records.no_such_field"})  # never evaluated for a stored job
        self.assertEqual(Job.load(self.env, job.uuid).concurrency_key, "account-7")

    def test_no_key_stores_nothing(self):
        record = self._stored(self.partner.with_delay().write({"ref": "x"}))
        self.assertFalse(record.concurrency_key)
        self.assertFalse(record.concurrency_limit)

    def test_a_function_of_the_job_gives_the_key(self):
        job = self.partner.with_delay(concurrency_key=lambda job: f"partner-{job.recordset.id}").write({"ref": "x"})
        self.assertEqual(self._stored(job).concurrency_key, f"partner-{self.partner.id}")

    def test_the_job_function_gives_a_default_key_and_limit(self):
        self.function.write({"concurrency_key": "records.id", "concurrency_limit": 3})
        record = self._stored(self.partner.with_delay().write({"ref": "x"}))
        self.assertEqual(record.concurrency_key, f"<res.partner>.write:{self.partner.id}")
        self.assertEqual(record.concurrency_limit, 3)
        # with_delay wins
        record = self._stored(self.partner.with_delay(concurrency_key="mine").write({"ref": "y"}))
        self.assertEqual(record.concurrency_key, "mine")

    def test_an_expression_giving_nothing_means_no_key(self):
        self.function.write({"concurrency_key": "kwargs.get('account')"})
        self.assertFalse(self._stored(self.partner.with_delay().write({"ref": "x"})).concurrency_key)

    def test_a_bad_expression_is_refused_in_the_form(self):
        with self.assertRaisesRegex(ValidationError, "not a Python expression"):
            self.function.write({"concurrency_key": "records.id +"})
        with self.assertRaisesRegex(ValidationError, "Jobs per key must be 1 or more"):
            self.function.write({"concurrency_key": "records.id", "concurrency_limit": 0})

    def test_an_expression_that_fails_refuses_the_job_rather_than_drop_its_key(self):
        self.function.write({"concurrency_key": "records.no_such_field"})
        with self.assertRaisesRegex(UserError, "concurrency key of job function <res.partner>.write"):
            self.partner.with_delay().write({"ref": "x"})

    def test_bulk_enqueue_honours_keys(self):
        from odoo.addons.queue_job.bulk import enqueue_many

        self.function.write({"concurrency_key": "records.id"})
        uuids = enqueue_many([self.partner.delayable().write({"ref": "a"}),
                              self.partner.delayable(concurrency_key="given").write({"ref": "b"})])
        records = self.env["queue.job"].search([("uuid", "in", uuids)])
        self.assertEqual(sorted(records.mapped("concurrency_key")),
                         sorted([f"<res.partner>.write:{self.partner.id}", "given"]))

    def test_oca_style_mocks_see_no_new_keyword(self):
        with mock.patch("odoo.addons.queue_job.models.base.DelayableRecordset") as mocked:
            self.partner.with_delay(priority=3).write({"ref": "x"})
        self.assertNotIn("concurrency_key", mocked.call_args.kwargs)
        self.assertNotIn("timeout", mocked.call_args.kwargs)
        self.assertIs(DelayableRecordset, type(self.partner.with_delay()))


@tagged("post_install", "-at_install")
class TestClaimStatements(TransactionCase):
    """The statements of engine/sql.py, on the real table, in the test's transaction."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Claimed"})
        cls.channel = cls.env["queue.job.channel"].create(
            {"name": "claim_test", "parent_id": cls.env.ref("queue_job.channel_root").id}
        )

    def _enqueue(self, count, **options):
        jobs = [self.partner.with_delay(channel="root.claim_test", **options).write({"ref": str(n)})
                for n in range(count)]
        self.env.flush_all()
        self.env.cr.execute("SELECT id FROM queue_job WHERE uuid = ANY(%s) ORDER BY id", ([j.uuid for j in jobs],))
        return [row[0] for row in self.env.cr.fetchall()]

    def _set_state(self, ids, state):
        self.env.cr.execute("UPDATE queue_job SET state = %s WHERE id = ANY(%s)", (state, ids))

    def _candidates(self, per_channel=10):
        self.env.cr.execute(sql.CANDIDATES, {"channels": ["root.claim_test"], "per_channel": per_channel})
        return [row[0] for row in self.env.cr.fetchall()]

    def test_candidates_skip_used_up_keys_not_the_jobs_behind_them(self):
        keyed = self._enqueue(3, concurrency_key="k")
        free = self._enqueue(2)
        self.assertEqual(self._candidates(), keyed + free)
        self._set_state(keyed[:1], "started")
        self.assertEqual(self._candidates(), free)  # the other "k" jobs wait, the free ones do not
        self._set_state(keyed[:1], "done")
        self.assertEqual(self._candidates(2), keyed[1:])

    def test_start_next_leaves_keyed_jobs_to_the_runner(self):
        keyed = self._enqueue(1, concurrency_key="k", priority=1)
        free = self._enqueue(1, priority=5)
        self.env.cr.execute(sql.START_NEXT, {"channels": ["root.claim_test"], "pid": 1})
        self.assertEqual(self.env.cr.fetchone()[0], free[0])
        self.env.cr.execute(sql.RELEASE_ALL_LEASES)
        self.env.cr.execute("SELECT state FROM queue_job WHERE id = %s", keyed)
        self.assertEqual(self.env.cr.fetchone()[0], "pending")

    def test_paused_channel_starts_nothing_in_a_slot_nor_in_a_claim(self):
        ids = self._enqueue(2)
        self.channel.write({"paused": True})
        self.env.flush_all()
        self.env.cr.execute(sql.START_NEXT, {"channels": ["root.claim_test", "claim_test"], "pid": 1})
        self.assertIsNone(self.env.cr.fetchone())
        self.env.cr.execute(sql.MARK_ENQUEUED, {"ids": ids})
        self.assertEqual(self.env.cr.fetchall(), [])
        self.channel.write({"paused": False})
        self.env.flush_all()
        self.env.cr.execute(sql.MARK_ENQUEUED, {"ids": ids[:1]})
        self.assertEqual([row[0] for row in self.env.cr.fetchall()], ids[:1])

    def test_rate_limited_channel_is_not_continued_in_a_slot(self):
        self._enqueue(1)
        self.channel.write({"rate_limit": "5/s"})
        self.env.flush_all()
        self.env.cr.execute(sql.START_NEXT, {"channels": ["root.claim_test"], "pid": 1})
        self.assertIsNone(self.env.cr.fetchone())

    def test_counted_claim_records_one_start_per_claimed_job(self):
        ids = self._enqueue(3)
        self._set_state(ids[2:], "done")  # not claimable: not counted
        self.env.cr.execute(sql.MARK_ENQUEUED_COUNTED, {
            "ids": ids, "rated_ids": ids, "rated_channels": ["root.claim_test"] * 3,
        })
        self.assertEqual(sorted(row[0] for row in self.env.cr.fetchall()), ids[:2])
        self.env.cr.execute(sql.RATE_WINDOWS, {"channels": ["root.claim_test", "root.none"], "periods": [60, 60]})
        windows = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        self.assertEqual(windows["root.claim_test"][0], 2)
        self.assertEqual(windows["root.none"], (0, None, None))

    def test_aged_candidates_let_old_low_priority_jobs_pass(self):
        old_low = self._enqueue(1, priority=100)
        fresh_high = self._enqueue(2, priority=0)
        self.env.cr.execute("UPDATE queue_job SET date_created = date_created - interval '2000 seconds' WHERE id = %s",
                            (old_low[0],))
        params = {"channel": "root.claim_test", "per_channel": 10}
        self.env.cr.execute(sql.CANDIDATES_AGED, dict(params, step=10.0))  # 100 - 200: -100
        self.assertEqual([row[0] for row in self.env.cr.fetchall()], old_low + fresh_high)
        self.env.cr.execute(sql.CANDIDATES_AGED, dict(params, step=100.0))  # 100 - 20: 80
        self.assertEqual([row[0] for row in self.env.cr.fetchall()], fresh_high + old_low)
