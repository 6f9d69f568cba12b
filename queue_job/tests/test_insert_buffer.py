"""Rows of new jobs wait on the cursor and reach the table at the next flush."""

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job import insert_buffer


@tagged("post_install", "-at_install")
class TestInsertBuffer(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Buffered Partner"})

    def _rows_in_table(self, *uuids):
        self.env.cr.execute("SELECT uuid FROM queue_job WHERE uuid IN %s", [uuids])
        return {uuid for (uuid,) in self.env.cr.fetchall()}

    def _enqueue(self, ref="later"):
        return self.partner.with_delay().write({"ref": ref})

    def test_rows_wait_for_the_flush_then_arrive_in_one_go(self):
        jobs = [self._enqueue(f"n{n}") for n in range(3)]
        uuids = [job.uuid for job in jobs]
        self.assertTrue(insert_buffer.has_buffered_rows(self.env.cr))
        self.assertEqual(self._rows_in_table(*uuids), set(), "raw SQL without a flush sees no row yet")
        self.env.cr.flush()  # what commit() does first
        self.assertFalse(insert_buffer.has_buffered_rows(self.env.cr))
        self.assertEqual(self._rows_in_table(*uuids), set(uuids))

    def test_searching_jobs_sees_buffered_rows(self):
        before = self.env["queue.job"].search_count([])
        job = self._enqueue()
        self.assertEqual(self.env["queue.job"].search_count([]), before + 1)
        self.assertEqual(job.db_record().uuid, job.uuid)
        grouped = self.env["queue.job"].read_group([("uuid", "=", job.uuid)], ["state"], ["state"])
        self.assertEqual([(group["state"], group["state_count"]) for group in grouped], [("pending", 1)])

    def test_flush_all_and_flush_model_write_the_rows(self):
        first = self._enqueue("first")
        self.env.flush_all()
        self.assertEqual(self._rows_in_table(first.uuid), {first.uuid})
        second = self._enqueue("second")
        self.env["queue.job"].flush_model()
        self.assertEqual(self._rows_in_table(second.uuid), {second.uuid})

    def test_savepoint_rolled_back_drops_only_its_own_jobs(self):
        kept = self._enqueue("kept")
        with self.assertRaises(ZeroDivisionError):
            with self.env.cr.savepoint():
                dropped = self._enqueue("dropped")
                raise ZeroDivisionError
        after = self._enqueue("after")
        self.env.cr.flush()
        self.assertEqual(self._rows_in_table(kept.uuid, dropped.uuid, after.uuid), {kept.uuid, after.uuid})

    def test_savepoint_released_keeps_its_jobs(self):
        with self.env.cr.savepoint():
            inside = self._enqueue("inside")
        self.assertEqual(self._rows_in_table(inside.uuid), {inside.uuid})

    def test_job_enqueued_by_a_later_precommit_hook_is_written_too(self):
        first = self._enqueue("first")
        late = []
        self.env.cr.precommit.add(lambda: late.append(self._enqueue("from a precommit hook")))
        self.env.cr.flush()
        self.assertEqual(len(late), 1)
        self.assertEqual(self._rows_in_table(first.uuid, late[0].uuid), {first.uuid, late[0].uuid})
        self.assertFalse(insert_buffer.has_buffered_rows(self.env.cr))

    def test_many_rows_span_several_statements(self):
        count = insert_buffer.ROWS_PER_STATEMENT + 5
        uuids = [self._enqueue(f"n{n}").uuid for n in range(count)]
        self.env.cr.flush()
        self.assertEqual(len(self._rows_in_table(*uuids)), count)
