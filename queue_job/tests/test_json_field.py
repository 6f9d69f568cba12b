"""JobSerialized fields: what RPC clients read, and JobEncoder/JobDecoder."""

import json
from datetime import date, datetime
from decimal import Decimal

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.fields import JobDecoder, JobEncoder


@tagged("post_install", "-at_install")
class TestJsonField(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Json Partner"})
        cls.others = cls.env["res.partner"].create([{"name": "J1"}, {"name": "J2"}])

    def _record(self):
        job = self.partner.with_delay().write(
            self.others,
            datetime(2024, 1, 2, 3, 4, 5),
            Decimal("1.5"),
            b"\x00bytes",
            {"nested": [date(2024, 1, 2), None, 1.25]},
            when=datetime(2025, 6, 7, 8, 9, 10),
        )
        return self.env["queue.job"].search([("uuid", "=", job.uuid)])

    def test_read_is_json_serializable(self):
        record = self._record()
        self.env.invalidate_all()
        values = record.read(["args", "kwargs", "records", "dependencies"])[0]
        text = json.dumps(values)
        self.assertEqual(json.loads(text), values)
        args = values["args"]
        self.assertIsInstance(args, list)
        self.assertEqual(args[0]["_type"], "odoo_recordset")
        self.assertEqual(args[0]["model"], "res.partner")
        self.assertEqual(args[0]["ids"], self.others.ids)
        self.assertEqual(args[1], {"_type": "datetime_isoformat", "value": "2024-01-02T03:04:05"})
        self.assertEqual(values["kwargs"]["when"]["value"], "2025-06-07T08:09:10")
        self.assertEqual(values["records"]["ids"], self.partner.ids)
        self.assertEqual(values["records"]["model"], "res.partner")

    def test_read_from_cache_is_json_serializable(self):
        # Same, without going through the database first.
        record = self._record()
        json.dumps(record.read(["args", "kwargs", "records"]))

    def test_web_read(self):
        record = self._record()
        values = record.web_read({"args": {}, "kwargs": {}, "records": {}, "func_string": {}})
        json.dumps(values)
        self.assertEqual(values[0]["args"][2], {"_type": "decimal", "value": "1.5"})

    def test_empty_values(self):
        job = self.env["queue.job"].with_delay()._test_job()
        record = self.env["queue.job"].search([("uuid", "=", job.uuid)])
        self.env.invalidate_all()
        self.assertEqual(record.args, ())
        self.assertEqual(record.kwargs, {})
        self.assertEqual(record.records._name, "queue.job")
        self.assertFalse(record.records)
        json.dumps(record.read(["args", "kwargs", "records"]))

    def test_export(self):
        record = self._record()
        exported = record.export_data(["args", "kwargs"])["datas"][0]
        self.assertEqual(json.loads(exported[1])["when"]["value"], "2025-06-07T08:09:10")

    def test_encoder_decoder(self):
        value = ["a", 1, self.others, datetime(2024, 1, 2, 3, 4, 5), date(2024, 1, 2), Decimal("2.50")]
        text = json.dumps(value, cls=JobEncoder)
        raw = json.loads(text)
        self.assertEqual(raw[2]["_type"], "odoo_recordset")
        self.assertEqual(raw[2]["uid"], self.env.uid)
        self.assertEqual(raw[4], {"_type": "date_isoformat", "value": "2024-01-02"})
        decoded = json.loads(text, cls=JobDecoder, env=self.env)
        self.assertEqual(decoded, value)
        self.assertEqual(decoded[2].env.uid, self.env.uid)

    def test_decoder_recordset_user(self):
        user = self.env.ref("base.user_admin")
        text = json.dumps(self.others.with_user(user), cls=JobEncoder)
        decoded = json.loads(text, cls=JobDecoder, env=self.env)
        self.assertEqual(decoded, self.others)
        self.assertEqual(decoded.env.uid, user.id)
