"""The conversion of a database from OCA's queue_job 18.0 (migrations/from_oca.py).

The table is put back into the shape OCA's queue_job leaves it in (JSON text
in jsonb strings, dependencies in a text column, no unique identity index,
jobs left enqueued or started, twin job functions), inside the test's
transaction, then converted. tests/upgrade/test_from_oca.py does the same
with OCA's own code, when its sources are at hand.
"""

import importlib.util
from datetime import date
from pathlib import Path

from odoo.tests.common import TransactionCase, tagged

from ..delay import chain
from ..engine import sql
from ..job import Job

FROM_OCA = Path(__file__).resolve().parent.parent / "migrations" / "from_oca.py"

OCA_TRIGGER = """
CREATE FUNCTION queue_job_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('queue_job', NEW.uuid);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER queue_job_notify AFTER INSERT OR UPDATE OR DELETE ON queue_job
    FOR EACH ROW EXECUTE PROCEDURE queue_job_notify();
"""


def load_from_oca():
    spec = importlib.util.spec_from_file_location("queue_job_test_from_oca", FROM_OCA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestMigrationFromOca(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.from_oca = load_from_oca()
        cls.partner = cls.env["res.partner"].create({"name": "Moved Partner"})

    def _delay(self, ref, **options):
        return self.partner.with_delay(**options).write({"ref": ref, "date": date(2024, 2, 29)}).uuid

    def _set(self, uuid, assignments, values=()):
        self.env.cr.execute(f"UPDATE queue_job SET {assignments} WHERE uuid = %s", (*values, uuid))

    def _row(self, uuid):
        self.env.cr.execute(
            "SELECT state, retry, result, identity_key, worker_pid, date_started, jsonb_typeof(args) AS args_type,"
            " jsonb_typeof(records) AS records_type FROM queue_job WHERE uuid = %s",
            (uuid,),
        )
        return self.env.cr.dictfetchone()

    def _as_oca_leaves_it(self):
        cr = self.env.cr
        self.env.flush_all()
        cr.execute("DROP INDEX queue_job_identity_key_uniq")
        cr.execute("ALTER TABLE queue_job ALTER COLUMN dependencies TYPE text USING dependencies::text")
        for column in ("args", "kwargs", "records"):
            cr.execute(f"UPDATE queue_job SET {column} = to_jsonb({column}::text) WHERE {column} IS NOT NULL")
        cr.execute(OCA_TRIGGER)

    def _column_type(self, table, column):
        self.env.cr.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            (table, column),
        )
        return self.env.cr.fetchone()[0]

    def test_jobs_converted(self):
        pending = self._delay("pending", priority=4, max_retries=9)
        enqueued = self._delay("enqueued")
        started = self._delay("started")
        failed_key = self._delay("failed", identity_key="move-1")
        parent_d = self.partner.delayable().write({"ref": "parent"})
        child_d = self.partner.delayable().write({"ref": "child"})
        chain(parent_d, child_d).delay()
        parent, child = parent_d._generated_job.uuid, child_d._generated_job.uuid
        self.env.flush_all()
        self._set(failed_key, "state = 'failed'")
        older_twin = self._delay("older", identity_key="move-1")
        self._set(older_twin, "state = 'started', worker_pid = 4242, date_started = now(), retry = 2")
        later_twin = self._delay("later", identity_key="move-1")
        self._set(enqueued, "state = 'enqueued', date_enqueued = now()")
        self._set(started, "state = 'started', worker_pid = 4242, date_started = now(), retry = 1")
        self._set(parent, "state = 'done'")
        self._as_oca_leaves_it()

        self.from_oca.migrate_before_schema(self.env.cr)
        self.env.cr.execute(sql.CREATE_IDENTITY_INDEX)  # builds: one waiting job per key
        self.env.cr.execute(sql.WAKE_READY_CHILDREN)
        self.env.invalidate_all()

        self.assertEqual(self._column_type("queue_job", "dependencies"), "jsonb")
        self.env.cr.execute("SELECT 1 FROM pg_proc WHERE proname = 'queue_job_notify'")
        self.assertFalse(self.env.cr.fetchall(), "OCA's trigger function is dropped")
        rows = {uuid: self._row(uuid) for uuid in (pending, enqueued, started, failed_key, older_twin, later_twin)}
        self.assertEqual({row["args_type"] for row in rows.values()}, {"array"})
        self.assertEqual({row["records_type"] for row in rows.values()}, {"object"})
        self.assertEqual(rows[pending]["state"], "pending")
        self.assertFalse(rows[pending]["result"])
        for uuid, retry in ((enqueued, 0), (started, 1)):
            self.assertEqual(rows[uuid]["state"], "pending")
            self.assertEqual(rows[uuid]["retry"], retry, "the interrupted try is not counted again")
            self.assertIsNone(rows[uuid]["worker_pid"])
            self.assertIsNone(rows[uuid]["date_started"])
            self.assertIn("Moved from OCA's queue_job", rows[uuid]["result"])
        self.assertEqual(rows[failed_key]["identity_key"], "move-1", "a failed job keeps its key")
        self.assertEqual(rows[older_twin]["identity_key"], "move-1")
        self.assertEqual(rows[older_twin]["state"], "pending")
        self.assertIsNone(rows[later_twin]["identity_key"])
        self.assertEqual(rows[later_twin]["state"], "pending", "the later twin still runs")
        self.assertIn(f"identity key move-1 cleared: job {older_twin}", rows[later_twin]["result"])

        job = Job.load(self.env, pending)
        self.assertEqual(job.args, ({"ref": "pending", "date": date(2024, 2, 29)},))
        self.assertEqual(job.recordset, self.partner)
        self.assertEqual((job.priority, job.max_retries), (4, 9))
        child_job = Job.load(self.env, child)
        self.assertEqual([j.uuid for j in child_job.depends_on], [parent])
        self.assertEqual(child_job.state, "pending", "its parent is done: woken")

    def test_value_not_json(self):
        good, bad = self._delay("good"), self._delay("bad")
        self._as_oca_leaves_it()
        self._set(bad, "kwargs = to_jsonb('{not json'::text)")
        with self.assertLogs("odoo.addons.queue_job.migrations", "WARNING") as logs:
            self.from_oca.migrate_before_schema(self.env.cr)
        self.assertIn("converting row by row", logs.output[0])
        self.assertTrue(any("kwargs of ids" in line and "is not JSON text" in line for line in logs.output))
        self.assertEqual(self._column_type("queue_job", "dependencies"), "jsonb")
        self.assertEqual(self._row(good)["args_type"], "array")
        self.assertEqual(self._row(bad)["args_type"], "array", "the job's other values are decoded")
        self.env.cr.execute("SELECT jsonb_typeof(kwargs) FROM queue_job WHERE uuid = %s", (bad,))
        self.assertEqual(self.env.cr.fetchone()[0], "string", "left as it was")

    def test_idempotent(self):
        started = self._delay("started")
        self._set(started, "state = 'started', date_started = now()")
        self._as_oca_leaves_it()
        self.from_oca.migrate_before_schema(self.env.cr)
        self.env.cr.execute("SELECT * FROM queue_job ORDER BY id")
        once = self.env.cr.fetchall()
        self.from_oca.migrate_before_schema(self.env.cr)
        self.env.cr.execute("SELECT * FROM queue_job ORDER BY id")
        self.assertEqual(self.env.cr.fetchall(), once)

    def test_function_twins(self):
        cr = self.env.cr
        functions = self.env["queue.job.function"]
        kept = functions.create({"model_id": self.env.ref("base.model_res_partner").id, "method": "write"})
        uuid = self._delay("twin")
        self.env.flush_all()
        cr.execute("ALTER TABLE queue_job_function DROP CONSTRAINT queue_job_function_name_uniq")
        cr.execute(
            "INSERT INTO queue_job_function (name, model_id, method, channel_id, channel, retry_pattern)"
            " SELECT name, model_id, method, channel_id, channel, to_jsonb('{\"1\": 5}'::text)"
            " FROM queue_job_function WHERE id = %s RETURNING id",
            (kept.id,),
        )
        twin_id = cr.fetchone()[0]
        self._set(uuid, "job_function_id = %s", (twin_id,))

        self.from_oca.migrate_before_schema(cr)
        cr.execute("ALTER TABLE queue_job_function ADD CONSTRAINT queue_job_function_name_uniq UNIQUE (name)")
        self.env.invalidate_all()

        twin = functions.browse(twin_id)
        self.assertEqual(twin.name, f"<res.partner>.write_duplicate_{twin_id}")
        self.assertEqual(twin.retry_pattern, {"1": 5})
        self.assertEqual(kept.name, "<res.partner>.write")
        self.assertEqual(self.env["queue.job"].search([("uuid", "=", uuid)]).job_function_id, kept)
