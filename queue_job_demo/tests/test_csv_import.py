import base64
import csv
import io

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from ..models.queue_job_demo_import import MAX_BYTES
from ..models.queue_job_demo_mixin import STEP_DELAY_PARAM
from .common import run_stored_job

HEADER = "external_id,name,email,phone,city,country_code\n"


@tagged("post_install", "-at_install")
class TestCsvImport(TransactionCase):
    def _import(self, content: bytes, **values):
        return self.env["queue.job.demo.import"].create(
            {"name": "test", "file": base64.b64encode(content), "filename": "t.csv", **values}
        )

    def _partners(self):
        return self.env["res.partner"].search([("email", "=like", "%@example.test")])

    def test_sample_in_chunks_bad_rows_in_a_file_and_twice_creates_nothing_twice(self):
        record = self.env["queue.job.demo.import"].create({"name": "sample", "sample_rows": 1200, "chunk_size": 100})
        record.action_generate_sample()
        with trap_jobs() as trap:
            record.action_start()
            trap.assert_jobs_count(1, only=record.import_contacts)
            self.assertEqual(trap.enqueued_jobs[0].channel, "root.demo")
            trap.perform_enqueued_jobs()
        self.assertEqual(record.state, "done")
        # rows 500 and 1000 are the sample's bad ones
        self.assertEqual((record.created_count, record.bad_count), (1198, 2))
        bad = list(csv.DictReader(io.StringIO(record.result_attachment_id.raw.decode())))
        self.assertEqual([row["external_id"] for row in bad], ["demo_contact_00500", "demo_contact_01000"])
        self.assertTrue(all(row["reason"] for row in bad))
        partner = self.env.ref("queue_job_demo_import.demo_contact_00001")
        self.assertEqual((partner.name, partner.country_id.code), ("Demo Contact 00001", "FR"))

        count = self.env["res.partner"].search_count([])
        again = self.env["queue.job.demo.import"].create({"name": "again", "file": record.file, "chunk_size": 100})
        again.with_context(queue_job__no_delay=True).action_start()
        self.assertEqual(self.env["res.partner"].search_count([]), count)
        self.assertEqual((again.created_count, again.updated_count, again.bad_count), (0, 0, 2))

    def test_changed_row_updates_its_contact(self):
        first = HEADER + "c1,Ann,ann@example.test,,Lyon,FR\n"
        second = HEADER + "c1,Ann Smith,ann@example.test,,Lyon,FR\nc2,Bob,bob@example.test,,,\n"
        self._import(first.encode()).with_context(queue_job__no_delay=True).action_start()
        record = self._import(second.encode())
        record.with_context(queue_job__no_delay=True).action_start()
        self.assertEqual((record.created_count, record.updated_count), (1, 1))
        self.assertEqual(sorted(self._partners().mapped("name")), ["Ann Smith", "Bob"])
        self.assertFalse(record.result_attachment_id)

    def test_bad_files_fail_the_job_with_one_sentence_and_import_nothing(self):
        cases = {
            "empty": (b"\n \n", "The file is empty"),
            "header only": (HEADER.encode(), "no rows"),
            "latin-1": ((HEADER + "c1,Zoë,z@example.test,,,\n").encode("latin-1"), "not UTF-8"),
            "missing": (b"external_id,email\nc1,a@example.test\n", "missing column(s): name"),
            "unknown": (b"external_id,name,fax\nc1,Ann,1\n", "unknown column(s): fax"),
            "too big": (HEADER.encode() + b"c1,Ann,,,,\n" * (MAX_BYTES // 10), "at most 5 MB"),
        }
        for label, (content, message) in cases.items():
            with self.subTest(label):
                record = self._import(content)
                record.action_start()
                self.assertEqual(record.state, "queued")
                job = run_stored_job(self.env, record.job_uuid)
                self.assertEqual(job.state, "failed")
                self.assertIn(message, job.exc_message)
                self.assertNotIn("Traceback", job.exc_message)
                record.invalidate_recordset()
                self.assertEqual(record.state, "failed")
                self.assertEqual(record.error_message, job.exc_message)
                self.assertFalse(self._partners(), "a bad file imports nothing")

    def test_no_file_is_refused_at_the_button(self):
        record = self.env["queue.job.demo.import"].create({"name": "nothing"})
        with self.assertRaisesRegex(UserError, "Choose a CSV file"):
            record.action_start()

    def test_failure_midway_leaves_nothing_half_imported(self):
        content = HEADER + "".join(f"k{n},N{n},n{n}@example.test,,,\n" for n in range(30))
        record = self._import(content.encode(), chunk_size=10)
        record.action_start()
        original = type(self.env["res.partner"]).create
        calls = []

        def create_failing_on_third_chunk(partners, vals_list):
            calls.append(1)
            if len(calls) == 3:
                raise ValueError("disk full")
            return original(partners, vals_list)

        from unittest.mock import patch
        with patch.object(type(self.env["res.partner"]), "create", create_failing_on_third_chunk):
            job = run_stored_job(self.env, record.job_uuid)
        self.assertEqual(job.state, "failed")
        self.assertFalse(self._partners())

    def test_step_delay_is_none_unless_set_and_bounded(self):
        record = self.env["queue.job.demo.import"].create({"name": "slow"})
        params = self.env["ir.config_parameter"].sudo()
        for value, expected in ((False, 0.0), ("0.6", 0.6), ("60", 5.0), ("-1", 0.0), ("slow", 0.0)):
            with self.subTest(value=value):
                params.set_param(STEP_DELAY_PARAM, value)
                self.assertEqual(record._step_delay(), expected)
