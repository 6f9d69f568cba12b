"""Behaviour that addons written for OCA's queue_job, and their tests, can tell apart."""

import gc
from datetime import datetime, timedelta

from odoo.exceptions import AccessError, UserError
from odoo.tests.common import TransactionCase, new_test_user, tagged

from odoo.addons.queue_job.delay import Delayable, chain, group
from odoo.addons.queue_job.job import Job, identity_exact
from odoo.addons.queue_job.tests.common import mock_with_delay, trap_jobs

OCA_DELAY_KEYWORDS = ("priority", "eta", "max_retries", "description", "channel", "identity_key")


@tagged("post_install", "-at_install")
class TestTestHelpers(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Compat Partner"})

    def test_mock_with_delay_keywords_are_oca_ones(self):
        with mock_with_delay() as (delayable_cls, delayable):
            self.partner.with_delay(
                priority=15, eta=15, max_retries=1, description="Test", channel="root.test",
                identity_key=identity_exact,
            ).write({"ref": "x"}, key=2)
            self.assertEqual(delayable_cls.call_count, 1)
            delay_args, delay_kwargs = delayable_cls.call_args
            self.assertEqual(delay_args, (self.partner,))
            self.assertDictEqual(
                delay_kwargs,
                {
                    "channel": "root.test",
                    "description": "Test",
                    "eta": 15,
                    "identity_key": identity_exact,
                    "max_retries": 1,
                    "priority": 15,
                },
            )
            call_args, call_kwargs = delayable.write.call_args
            self.assertEqual(call_args, ({"ref": "x"},))
            self.assertDictEqual(call_kwargs, {"key": 2})

    def test_mock_with_delay_timeout_only_when_given(self):
        with mock_with_delay() as (delayable_cls, _delayable):
            self.partner.with_delay(priority=3).write({"ref": "x"})
            self.assertDictEqual(
                delayable_cls.call_args[1], dict.fromkeys(OCA_DELAY_KEYWORDS) | {"priority": 3}
            )
            self.partner.with_delay(timeout=30).write({"ref": "x"})
            self.assertEqual(delayable_cls.call_args[1]["timeout"], 30)

    def test_assert_enqueued_job_message_reads_as_oca(self):
        with trap_jobs() as trap:
            self.partner.with_delay(
                priority=15, eta=15, max_retries=1, description="Test", channel="root.test",
                identity_key=identity_exact,
            ).write({"ref": "x"}, key=2)
            # Expected properties print in the order given, the actual call's
            # in with_delay()'s order; values with str(), not repr().
            message = (
                r"Job <res\.partner\(\)>\.write\(\{'ref': 'x'\}, key=2\) with properties "
                r"\(channel=root\.test, description=Test, eta=15, "
                r"identity_key=<function identity_exact at 0x[0-9a-fA-F]+>, max_retries=1, priority=15\) "
                r"was not enqueued\.\nActual enqueued jobs:\n"
                rf" \* <res\.partner\({self.partner.id},\)>\.write\(\{{'ref': 'x'\}}, key=2\) with properties "
                r"\(priority=15, max_retries=1, eta=15, description=Test, channel=root\.test, "
                r"identity_key=<function identity_exact at 0x[0-9a-fA-F]+>\)"
            )
            with self.assertRaisesRegex(AssertionError, message):
                trap.assert_enqueued_job(
                    self.env["res.partner"].write,
                    args=({"ref": "x"},),
                    kwargs={"key": 2},
                    properties=dict(
                        channel="root.test", description="Test", eta=15, identity_key=identity_exact,
                        max_retries=1, priority=15,
                    ),
                )

    def test_never_delayed_warning_text(self):
        with self.assertLogs("odoo.addons.queue_job.delay", level="WARNING") as logs:
            delayable = Delayable(self.partner).write({"ref": "forgotten"})
            del delayable
            gc.collect()  # the Delayable is in a reference cycle with its graph
        self.assertEqual(len(logs.output), 1)
        self.assertIn(
            f"Delayable Delayable(res.partner({self.partner.id},).write(({{'ref': 'forgotten'}},), {{}}))"
            " was prepared but never delayed",
            logs.output[0],
        )


@tagged("post_install", "-at_install")
class TestStoredJobs(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partners = cls.env["res.partner"].create([{"name": f"Graph {i}"} for i in range(4)])
        cls.manager = new_test_user(
            cls.env, login="qj_compat_manager", groups="base.group_user,queue_job.group_queue_job_manager"
        )
        cls.user = new_test_user(
            cls.env, login="qj_compat_user", groups="base.group_user,base.group_partner_manager"
        )

    def _record(self, job):
        return self.env["queue.job"].search([("uuid", "=", job.uuid)])

    def test_dependency_graph_of_single_job_is_empty_dict(self):
        record = self._record(self.partners[0].with_delay().write({"ref": "x"}))
        self.assertEqual(record.dependency_graph, {})
        self.assertEqual(record.read(["dependency_graph"])[0]["dependency_graph"], {})

    def test_dependency_graph_nodes_carry_oca_keys(self):
        first, second, third, last = (p.delayable().write({"ref": "g"}) for p in self.partners)
        chain(first, group(second, third), last).delay()
        records = {name: self._record(d._generated_job) for name, d in
                   (("first", first), ("second", second), ("third", third), ("last", last))}
        graph = records["second"].dependency_graph
        self.assertEqual({node["id"] for node in graph["nodes"]}, {r.id for r in records.values()})
        for node in graph["nodes"]:
            self.assertEqual(set(node), {"id", "title", "color", "border", "shadow"})
            self.assertTrue(node["color"].startswith("#") and node["border"].startswith("#"))
        ids = {name: r.id for name, r in records.items()}
        self.assertEqual(
            sorted(map(tuple, graph["edges"])),
            sorted([(ids["first"], ids["second"]), (ids["first"], ids["third"]),
                    (ids["second"], ids["last"]), (ids["third"], ids["last"])]),
        )
        # The same graph seen from every member; a failed job has its own colours.
        self.assertEqual(records["last"].dependency_graph, graph)
        failing = Job.load(self.env, records["first"].uuid)
        failing.set_failed(exc_info="boom")
        failing.store()
        self.env.invalidate_all()
        nodes = {n["id"]: n for n in records["first"].dependency_graph["nodes"]}
        self.assertNotEqual(nodes[ids["first"]]["color"], nodes[ids["second"]]["color"])

    def test_manager_changes_the_user_of_a_job(self):
        partner = self.partners[0]
        record = self._record(partner.with_delay().write({"ref": "as demo"}))
        record.with_user(self.manager).write({"user_id": self.user.id})
        self.assertEqual(record.user_id, self.user)
        self.assertEqual(record.records.env.uid, self.user.id)
        # The job now runs as that user.
        Job.load(self.env, record.uuid).perform()
        self.assertEqual(partner.write_uid, self.user)

    def test_only_user_id_and_only_by_managers(self):
        record = self._record(self.partners[0].with_delay().write({"ref": "x"}))
        with self.assertRaisesRegex(AccessError, "cannot be changed: uuid"):
            record.with_user(self.manager).write({"user_id": self.user.id, "uuid": "forged"})
        with self.assertRaises(AccessError):
            record.with_user(self.user).write({"user_id": self.user.id})
        with self.assertRaisesRegex(UserError, "needs a user"):
            record.with_user(self.manager).write({"user_id": False})
        self.assertEqual(record.user_id, self.env.user)

    def test_no_company_in_context(self):
        job = self.partners[0].with_context(company_id=None).with_delay().write({"ref": "x"})
        self.assertFalse(self._record(job).company_id)
        other = self.partners[0].with_delay().write({"ref": "y"})
        self.assertEqual(self._record(other).company_id, self.env.company)

    def test_no_company_job_failure_followed_by_every_manager(self):
        other_company = self.env["res.company"].create({"name": "Other compat company"})
        far_manager = new_test_user(
            self.env, login="qj_compat_far_manager", company_id=other_company.id,
            company_ids=[(6, 0, other_company.ids)],
            groups="base.group_user,queue_job.group_queue_job_manager",
        )
        job = self.partners[0].with_context(company_id=None, mail_notify_force_send=False).with_user(
            self.user).sudo().with_delay().write({"ref": "x"})
        record = self._record(job)
        failing = Job.load(self.env(context={"mail_notify_force_send": False}), job.uuid)
        failing.set_failed(exc_name="ValueError", exc_message="it broke", exc_info="Traceback")
        failing.store()
        followers = record.message_follower_ids.partner_id
        managers = self.env.ref("queue_job.group_queue_job_manager").users
        self.assertIn(far_manager, managers)
        self.assertFalse(managers.partner_id - followers)
        self.assertIn(record.user_id.partner_id, followers)

    def test_autovacuum_cron_removes_jobs_by_date_done(self):
        record = self._record(self.partners[0].with_delay().write({"ref": "x"}))
        self.assertEqual(record.state, "pending")
        record.write({"date_done": datetime.now() - timedelta(days=31)})
        self.env.ref("queue_job.ir_cron_autovacuum_queue_jobs").method_direct_trigger()
        self.assertFalse(record.exists())

    def test_related_action_of_several_records_uses_list_view(self):
        record = self._record(self.partners.with_delay().write({"ref": "x"}))
        self.assertEqual(record.open_related_action()["view_mode"], "list,form")
