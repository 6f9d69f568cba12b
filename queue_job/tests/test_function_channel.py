"""Configuration records: queue.job.function and queue.job.channel."""

from psycopg2 import IntegrityError

from odoo.exceptions import UserError, ValidationError
from odoo.tests.common import TransactionCase, tagged
from odoo.tools import mute_logger


@tagged("post_install", "-at_install")
class TestJobFunction(TransactionCase):
    def setUp(self):
        super().setUp()
        self.functions = self.env["queue.job.function"]
        self.test_function = self.env.ref("queue_job.job_function_queue_job__test_job")

    def test_name_compute(self):
        function = self.functions.create({"model_id": self.env["ir.model"]._get_id("res.partner"), "method": "write"})
        self.assertEqual(function.name, "<res.partner>.write")
        self.assertEqual(function.channel_id, self.env.ref("queue_job.channel_root"))
        self.assertEqual(function.channel, "root")

    def test_name_inverse(self):
        function = self.functions.create({"name": "<res.users>.action_reset_password"})
        self.assertEqual(function.model_id.model, "res.users")
        self.assertEqual(function.method, "action_reset_password")

    def test_name_inverse_invalid(self):
        with self.assertRaisesRegex(UserError, "Invalid job function"):
            self.functions.create({"name": "res.users.write"})
        with self.assertRaisesRegex(UserError, "not found"):
            self.functions.create({"name": "<no.such.model>.write"})

    def test_edit_retry_pattern(self):
        self.test_function.edit_retry_pattern = "{1: 10, 5: 60, 10: (600, 900)}"
        pattern = self.test_function.retry_pattern
        self.assertEqual(pattern[1], 10)
        self.assertEqual(pattern[5], 60)
        self.assertEqual(tuple(pattern[10]), (600, 900))
        self.test_function.invalidate_recordset()
        self.assertEqual(self.test_function.edit_retry_pattern, "{1: 10, 5: 60, 10: (600, 900)}")

    def test_edit_retry_pattern_garbage(self):
        self.test_function.edit_retry_pattern = "{1: 10}"
        for garbage in ("garbage", "{1: 10", "[1, 2]", "{1: 'ten'}", "{-1: 10}", "{1: (20, 10)}", "__import__('os')"):
            with self.assertRaises(UserError, msg=garbage):
                self.test_function.edit_retry_pattern = garbage
        self.test_function.invalidate_recordset()
        self.assertEqual(self.test_function.retry_pattern, {1: 10})

    def test_edit_retry_pattern_empty(self):
        self.test_function.edit_retry_pattern = "{1: 10}"
        self.test_function.edit_retry_pattern = ""
        self.assertEqual(self.test_function.retry_pattern, {})

    def test_edit_related_action(self):
        self.test_function.edit_related_action = '{"enable": False}'
        self.assertEqual(self.test_function.related_action, {"enable": False})
        with self.assertRaises(UserError):
            self.test_function.edit_related_action = "not a dict"
        with self.assertRaises(UserError):
            self.test_function.edit_related_action = '{"colour": "blue"}'

    def test_unique_name(self):
        model_id = self.env["ir.model"]._get_id("res.partner")
        self.functions.create({"model_id": model_id, "method": "unique_method"})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.functions.create({"model_id": model_id, "method": "unique_method"})


@tagged("post_install", "-at_install")
class TestJobChannel(TransactionCase):
    def setUp(self):
        super().setUp()
        self.channels = self.env["queue.job.channel"]
        self.root = self.env.ref("queue_job.channel_root")

    def test_root(self):
        self.assertEqual(self.root.name, "root")
        self.assertEqual(self.root.complete_name, "root")
        self.assertFalse(self.root.parent_id)
        self.assertEqual(self.root.display_name, "root")

    def test_create_child(self):
        child = self.channels.create({"name": "sub", "parent_id": self.root.id})
        grandchild = self.channels.create({"name": "leaf", "parent_id": child.id})
        self.assertEqual(child.complete_name, "root.sub")
        self.assertEqual(grandchild.complete_name, "root.sub.leaf")
        self.assertEqual(grandchild.display_name, "root.sub.leaf")
        self.assertEqual(child.removal_interval, 30)
        child.name = "renamed"
        self.assertEqual(grandchild.complete_name, "root.renamed.leaf")

    def test_child_requires_parent(self):
        with self.assertRaises(ValidationError):
            self.channels.create({"name": "orphan"})

    def test_name_without_dot(self):
        with self.assertRaises(ValidationError):
            self.channels.create({"name": "a.b", "parent_id": self.root.id})

    def test_root_cannot_be_renamed(self):
        with self.assertRaises(UserError):
            self.root.name = "trunk"
        other = self.channels.create({"name": "other", "parent_id": self.root.id})
        with self.assertRaises(UserError):
            self.root.parent_id = other
        self.root.invalidate_recordset()
        self.assertEqual(self.root.name, "root")
        self.assertFalse(self.root.parent_id)
        # Other fields of the root may change.
        self.root.removal_interval = 7
        self.assertEqual(self.root.removal_interval, 7)

    def test_root_cannot_be_deleted(self):
        with self.assertRaises(UserError):
            self.root.unlink()
        self.assertTrue(self.root.exists())

    def test_child_deleted(self):
        child = self.channels.create({"name": "temporary", "parent_id": self.root.id})
        child.unlink()
        self.assertFalse(child.exists())

    def test_complete_name_unique(self):
        self.channels.create({"name": "twice", "parent_id": self.root.id})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.channels.create({"name": "twice", "parent_id": self.root.id})

    def test_negative_removal_interval(self):
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.channels.create({"name": "negative", "parent_id": self.root.id, "removal_interval": -1})
