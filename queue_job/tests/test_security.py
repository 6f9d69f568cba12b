"""Who may enqueue, see and change jobs."""

from odoo.exceptions import AccessError
from odoo.tests.common import TransactionCase, new_test_user, tagged

PROTECTED = {
    "uuid": "00000000-0000-0000-0000-000000000000",
    "method_name": "unlink",
    "args": ("x",),
    "kwargs": {"a": 1},
    "records": False,
    "func_string": "res.partner().unlink()",
    "model_name": "res.users",
    "name": "renamed",
    "user_id": 1,
    "channel_method_name": "<res.partner>.unlink",
    "job_function_id": False,
    "identity_key": "forged",
    "graph_uuid": "forged",
    "dependencies": {},
    "date_created": "2020-01-01 00:00:00",
    "record_refs": ["res.users,2"],  # would list the job among another record's jobs
}


@tagged("post_install", "-at_install")
class TestJobSecurity(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, login="qj_plain", groups="base.group_user")
        cls.other_user = new_test_user(cls.env, login="qj_other", groups="base.group_user")
        cls.manager = new_test_user(cls.env, login="qj_manager", groups="queue_job.group_queue_job_manager")
        cls.partner = cls.env["res.partner"].create({"name": "Secured Partner"})

    def _enqueue(self, user):
        job = self.partner.with_user(user).with_delay().write({"ref": user.login})
        return self.env["queue.job"].search([("uuid", "=", job.uuid)])

    def test_plain_user_enqueues(self):
        self.assertFalse(self.user.has_group("queue_job.group_queue_job_manager"))
        record = self._enqueue(self.user)
        self.assertEqual(len(record), 1)
        self.assertEqual(record.user_id, self.user)
        self.assertEqual(record.state, "pending")

    def test_plain_user_reads_own_job_only(self):
        own = self._enqueue(self.user)
        others = self._enqueue(self.other_user) | self._enqueue(self.manager)
        jobs = self.env["queue.job"].with_user(self.user)
        self.assertEqual(jobs.search([]), own.with_user(self.user))
        self.assertFalse(jobs.search([("id", "in", others.ids)]))
        self.assertEqual(jobs.search_count([("uuid", "in", others.mapped("uuid"))]), 0)
        values = own.with_user(self.user).read(["uuid", "state", "name", "args"])[0]
        self.assertEqual(values["uuid"], own.uuid)
        self.assertEqual(values["state"], "pending")
        with self.assertRaises(AccessError):
            others[0].with_user(self.user).read(["uuid"])

    def test_manager_sees_all(self):
        records = self._enqueue(self.user) | self._enqueue(self.other_user)
        found = self.env["queue.job"].with_user(self.manager).search([("id", "in", records.ids)])
        self.assertEqual(len(found), 2)
        self.assertEqual(set(found.ids), set(records.ids))

    def test_plain_user_cannot_write(self):
        record = self._enqueue(self.user).with_user(self.user)
        for field, value in PROTECTED.items():
            with self.assertRaises(AccessError, msg=field):
                record.write({field: value})
        # Not even a field a manager could change.
        with self.assertRaises(AccessError):
            record.write({"priority": 1})
        with self.assertRaises(AccessError):
            record.unlink()

    def test_manager_cannot_write_protected_fields(self):
        record = self._enqueue(self.user).with_user(self.manager)
        for field, value in PROTECTED.items():
            with self.assertRaisesRegex(AccessError, field, msg=field):
                record.write({field: value})
        record.invalidate_recordset()
        self.assertEqual(record.method_name, "write")
        self.assertEqual(record.model_name, "res.partner")
        self.assertEqual(record.args, ({"ref": "qj_plain"},))
        # Fields that steer the job may be changed.
        record.write({"priority": 3, "max_retries": 9, "channel": "root.manager"})
        self.assertEqual((record.priority, record.max_retries, record.channel), (3, 9, "root.manager"))

    def test_create_refused(self):
        values = {"uuid": "11111111-1111-1111-1111-111111111111", "model_name": "res.partner", "method_name": "unlink"}
        for env_user in (self.env.user, self.manager, self.user):
            with self.assertRaises(AccessError):
                self.env["queue.job"].with_user(env_user).create(values)
        self.assertFalse(self.env["queue.job"].search([("uuid", "=", values["uuid"])]))

    def test_plain_user_function_and_channel_read_only(self):
        function = self.env.ref("queue_job.job_function_queue_job__test_job").with_user(self.user)
        self.assertTrue(function.name)
        with self.assertRaises(AccessError):
            function.write({"retry_pattern": {1: 1}})
        channel = self.env.ref("queue_job.channel_root").with_user(self.user)
        with self.assertRaises(AccessError):
            channel.write({"removal_interval": 1})
        with self.assertRaises(AccessError):
            self.env["queue.job.channel"].with_user(self.user).create(
                {"name": "sneaky", "parent_id": channel.id}
            )

    def test_wizards_restricted(self):
        record = self._enqueue(self.user)
        with self.assertRaises(AccessError):
            self.env["queue.requeue.job"].with_user(self.user).create({"job_ids": [(6, 0, record.ids)]})
        wizard = self.env["queue.jobs.to.done"].with_user(self.manager).create({"job_ids": [(6, 0, record.ids)]})
        wizard.set_done()
        self.assertEqual(record.state, "done")
