"""Job rows a worker cannot run as they were stored.

A model or method gone, records deleted since the enqueue, arguments that
cannot be decoded, a channel that is not configured: the job fails (or runs)
with a message a person understands, and the worker goes on with the next
job. The rows are run by the worker's own code, ``SlotRunner.run()``, as a
``/queue_job/runjob`` request does: each job in a transaction of its own,
holding its lease, watched by the watchdog. That needs committed rows, so
these tests commit (no jobrunner runs during the tests) and delete what they
committed. For the same reason, the test of two transactions enqueuing one
identity key at once is here too.
"""

import json
import os
import threading
import time
import uuid as uuidlib

from odoo import SUPERUSER_ID, api
from odoo.addons.queue_job.engine import sql
from odoo.addons.queue_job.engine.channels import ChannelTree
from odoo.addons.queue_job.executor import SlotRunner
from odoo.addons.queue_job.jobrunner.database import Database
from odoo.addons.queue_job.jobrunner.runner import QueueJobRunner
from odoo.addons.queue_job.jobrunner.settings import RunnerConfig
from odoo.modules.registry import Registry
from odoo.service.model import (
    MAX_TRIES_ON_CONCURRENCY_FAILURE,
    PG_CONCURRENCY_EXCEPTIONS_TO_RETRY,
)
from .committed_jobs import CommittedJobsCase
from odoo.tests.common import BaseCase, get_db_name, tagged

GONE_MODEL = "x_bad_input.gone"


@tagged("post_install", "-at_install")
class TestBadInput(CommittedJobsCase):
    def setUp(self):
        super().setUp()
        # A channel of its own: a slot pulls only this test's jobs.
        self.channel = f"root.bad_input.{self._testMethodName}"

    # -- helpers -------------------------------------------------------------

    def enqueue(self, method="write", args=({"ref": "ran"},), priority=10, channel=None):
        """Commit a partner and a job calling ``partner.<method>(*args)``; return (uuid, partner id)."""
        with self.committed_env() as env:
            partner = env["res.partner"].create({"name": f"bad input {len(self.partner_ids)}"})
            delayed = partner.with_delay(priority=priority, channel=channel or self.channel)
            uuid = getattr(delayed, method)(*args).uuid
        self.uuids.append(uuid)
        self.partner_ids.append(partner.id)
        return uuid, partner.id

    def corrupt(self, uuid, assignments, *params):
        with self.committed_env() as env:
            env.cr.execute(f"UPDATE queue_job SET {assignments} WHERE uuid = %s", (*params, uuid))
            self.assertEqual(env.cr.rowcount, 1)

    def run_slot(self, uuid, channels=()):
        """Hand the job to a worker as the runner does: claim it (enqueued), then run its slot."""
        with self.committed_env() as env:
            env.cr.execute("SELECT id FROM queue_job WHERE uuid = %s", (uuid,))
            env.cr.execute(sql.MARK_ENQUEUED, {"ids": [env.cr.fetchone()[0]]})
            self.assertEqual(env.cr.rowcount, 1, "the job was not pending")
        runner = SlotRunner(self.registry, channels, budget=30.0, max_jobs=10)
        return [(outcome.uuid, outcome.state) for outcome in runner.run(uuid)]

    def run_failing(self, uuid, channels=(), failing=None):
        """run_slot where job ``failing`` (by default the first) fails: one ERROR line names it."""
        with self.assertLogs("odoo.addons.queue_job.executor", "ERROR") as logs:
            outcomes = self.run_slot(uuid, channels)
        self.assertEqual(len(logs.records), 1, logs.output)
        self.assertTrue(
            logs.records[0].getMessage().startswith(f"job {failing or uuid} on {get_db_name()} failed:\n"),
            logs.output,
        )
        return outcomes, logs.records[0].getMessage()

    def row(self, uuid):
        with self.committed_env() as env:
            env.cr.execute(
                "SELECT state, retry, exc_name, exc_message, exc_info, result FROM queue_job WHERE uuid = %s",
                (uuid,),
            )
            names = [column.name for column in env.cr.description]
            return dict(zip(names, env.cr.fetchone()))

    def partner_ref(self, partner_id):
        with self.committed_env() as env:
            return env["res.partner"].browse(partner_id).ref

    def assert_failed(self, uuid, exc_name, exc_message):
        row = self.row(uuid)
        self.assertEqual(row["state"], "failed", row)
        self.assertEqual(row["exc_name"], exc_name)
        self.assertEqual(row["exc_message"], exc_message)
        self.assertIn(exc_name.rsplit(".", 1)[-1], row["exc_info"], "the traceback is kept for a developer")
        self.assertEqual(row["retry"], 1)
        return row

    # -- a model or a method that no longer exists ----------------------------

    def test_model_gone_fails_naming_the_model(self):
        # The module that defined the model was uninstalled: the row still names it.
        uuid, _partner = self.enqueue()
        self.corrupt(uuid, "model_name = %s, records = jsonb_set(records, '{model}', to_jsonb(%s::text))",
                     GONE_MODEL, GONE_MODEL)
        outcomes, log = self.run_failing(uuid)
        self.assertEqual(outcomes, [(uuid, "failed")])
        message = (
            f"The job cannot be run: model {GONE_MODEL!r} does not exist (any more); "
            "is the module that defines it installed?"
        )
        self.assert_failed(uuid, "LookupError", message)
        self.assertIn(message, log)

    def test_method_gone_fails_naming_the_method(self):
        uuid, partner_id = self.enqueue()
        self.corrupt(uuid, "method_name = 'job_vanished'")
        outcomes, log = self.run_failing(uuid)
        self.assertEqual(outcomes, [(uuid, "failed")])
        message = "The job cannot be run: res.partner has no method 'job_vanished' (any more)"
        self.assert_failed(uuid, "AttributeError", message)
        self.assertIn(message, log)
        self.assertFalse(self.partner_ref(partner_id), "nothing ran")

    # -- arguments that cannot be decoded ----------------------------------------

    def test_undecodable_arguments_fail_naming_the_column_and_the_problem(self):
        undecodable = "odoo.addons.queue_job.engine.codec.UndecodableValue"
        cases = [
            ("args", [{"_type": "mystery", "value": 1}], undecodable,
             "its stored args cannot be read: unknown stored type 'mystery'"),
            ("kwargs", {"vals": {"_type": "datetime_isoformat", "value": "yesterday"}}, undecodable,
             "its stored kwargs cannot be read: malformed stored datetime_isoformat: "
             "{'_type': 'datetime_isoformat', 'value': 'yesterday'}"),
            ("args", [{"_type": "odoo_recordset", "model": GONE_MODEL, "ids": [1]}], undecodable,
             f"its stored args cannot be read: model {GONE_MODEL!r} does not exist (any more)"),
            ("records", {"_type": "odoo_recordset", "model": GONE_MODEL, "ids": [1]}, undecodable,
             f"its stored records cannot be read: model {GONE_MODEL!r} does not exist (any more)"),
            ("kwargs", [1, 2], "TypeError", "job kwargs must be a dict, got [1, 2]"),
        ]
        for column, stored, exc_name, reason in cases:
            with self.subTest(column=column, stored=stored):
                uuid, partner_id = self.enqueue()
                self.corrupt(uuid, f"{column} = %s::jsonb", json.dumps(stored))
                outcomes, log = self.run_failing(uuid)
                self.assertEqual(outcomes, [(uuid, "failed")])
                self.assert_failed(uuid, exc_name, f"The job cannot be run: {reason}")
                self.assertIn(reason, log)
                self.assertFalse(self.partner_ref(partner_id), "nothing ran")

    # -- records deleted since the enqueue -------------------------------------------

    def test_records_deleted_since_enqueue_fail_naming_them(self):
        # The method still runs (as with OCA); when it fails, the message
        # says which of its records are gone.
        uuid, partner_id = self.enqueue()
        with self.committed_env() as env:
            env["res.partner"].browse(partner_id).unlink()
        outcomes, _log = self.run_failing(uuid)
        self.assertEqual(outcomes, [(uuid, "failed")])
        row = self.row(uuid)
        self.assertEqual(row["state"], "failed", row)
        self.assertEqual(row["exc_name"], "odoo.exceptions.MissingError")
        self.assertEqual(
            row["exc_message"],
            f"Records deleted after the job was enqueued: res.partner({partner_id},). "
            f"Record does not exist or has been deleted.\n(Record: res.partner({partner_id},), User: 1)",
        )

    def test_records_deleted_since_enqueue_still_run_the_method(self):
        # A method that copes with its records being gone (here it checks
        # them itself) runs and is done: nothing is skipped behind its back.
        uuid, partner_id = self.enqueue(method="exists", args=())
        with self.committed_env() as env:
            env["res.partner"].browse(partner_id).unlink()
        self.assertEqual(self.run_slot(uuid), [(uuid, "done")])
        row = self.row(uuid)
        self.assertEqual(row["state"], "done", row)
        self.assertIsNone(row["exc_message"])

    # -- a channel that is not configured ---------------------------------------

    def test_unconfigured_channel_runs_in_its_nearest_configured_ancestor(self):
        uuid, partner_id = self.enqueue(channel="root.nowhere", priority=0)  # claimed before any other
        with self.committed_env() as env:
            self.assertEqual(env["queue.job"].search([("uuid", "=", uuid)]).channel, "root.nowhere")
        # The runner claims it against root, the nearest configured channel.
        config = RunnerConfig(
            channels=ChannelTree.from_config("root:1,root.configured:1"), scheme="http", host="localhost",
            port=8069, http_auth_user=None, http_auth_password=None, slot_budget=2.0, slot_max_jobs=10,
            heal_interval=5.0, enqueued_grace=60.0, db_refresh_interval=20.0, max_worker_losses=5,
        )
        runner = QueueJobRunner(config)
        runner.dispatcher.stop()
        for fd in (runner._stop_r, runner._stop_w, runner.dispatcher.wake_r, runner.dispatcher.wake_w):
            self.addCleanup(os.close, fd)
        sent = []
        runner.dispatcher.submit = lambda slot, secret: sent.append(slot)
        database = Database(get_db_name())
        try:
            runner._claim_and_send(database.name, database)
        finally:
            database.close()
        self.assertEqual([(slot.uuid, slot.channel) for slot in sent], [(uuid, "root")])
        self.assertIn("root.nowhere", sent[0].continue_with)
        self.assertEqual(self.row(uuid)["state"], "enqueued")
        # ...and a worker runs it.
        worker = SlotRunner(self.registry, sent[0].continue_with, sent[0].budget, sent[0].max_jobs)
        self.assertEqual([(o.uuid, o.state) for o in worker.run(uuid)], [(uuid, "done")])
        self.assertEqual(self.partner_ref(partner_id), "ran")

    # -- the worker goes on -----------------------------------------------------------

    def test_a_bad_row_does_not_stop_the_jobs_after_it(self):
        first, first_partner = self.enqueue(args=({"ref": "first"},), priority=1)
        bad, bad_partner = self.enqueue(args=({"ref": "bad"},), priority=2)
        last, last_partner = self.enqueue(args=({"ref": "last"},), priority=3)
        self.corrupt(bad, "method_name = 'job_vanished'")
        # The slot runs the first job, pulls the bad one next, which fails:
        # a slot ends at a job that is not done...
        outcomes, _log = self.run_failing(first, channels=[self.channel], failing=bad)
        self.assertEqual(outcomes, [(first, "done"), (bad, "failed")])
        self.assertEqual(self.row(last)["state"], "pending")
        # ...and the next slot of the same worker runs the rest.
        self.assertEqual(self.run_slot(last, channels=[self.channel]), [(last, "done")])
        self.assertEqual(
            [self.partner_ref(p) for p in (first_partner, bad_partner, last_partner)], ["first", False, "last"]
        )
        self.assertEqual(
            self.row(bad)["exc_message"], "The job cannot be run: res.partner has no method 'job_vanished' (any more)"
        )


@tagged("post_install", "-at_install")
class TestIdentityKeyConcurrency(BaseCase):
    """Two transactions enqueue one identity key at once: the unique index lets one job through."""

    def test_two_transactions_at_once_store_one_job(self):
        registry = Registry(get_db_name())
        key = f"bad-input-concurrent-{uuidlib.uuid4()}"
        with registry.cursor() as cr:
            partner_id = api.Environment(cr, SUPERUSER_ID, {})["res.partner"].create({"name": "concurrent"}).id
        self.addCleanup(self._delete, registry, key, partner_id)
        first_inserted, release_first = threading.Event(), threading.Event()
        answers, attempts = {}, {"first": 0, "second": 0}

        def enqueue(name, ref):
            try:
                with registry.cursor() as cr:
                    # Tests run under the registry lock: an environment made in
                    # another thread must not ask for the registry by name.
                    cr.transaction = api.Transaction(registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})

                    def call():
                        attempts[name] += 1
                        partner = env["res.partner"].browse(partner_id)
                        partner.name  # its snapshot is taken now, as an RPC call's would be
                        uuid = partner.with_delay(identity_key=key).write({"ref": ref}).uuid
                        if name == "first":
                            first_inserted.set()
                            release_first.wait(30)  # commit only once the second waits on the key
                        return uuid

                    # What Odoo's retrying() does around an RPC call or an HTTP
                    # request (it cannot be called here: it reloads the
                    # registry, which the test runner holds locked).
                    for _attempt in range(MAX_TRIES_ON_CONCURRENCY_FAILURE):
                        try:
                            answers[name] = call()
                            cr.commit()
                            break
                        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                            cr.rollback()
                            env.invalidate_all()
            except Exception as exc:  # noqa: BLE001 - the answer the caller would get
                answers[name] = exc

        threads = [threading.Thread(target=enqueue, args=("first", "1")),
                   threading.Thread(target=enqueue, args=("second", "2"))]
        threads[0].start()
        self.assertTrue(first_inserted.wait(30), answers)
        threads[1].start()
        try:
            self._wait_for_an_insert_waiting_on_a_lock(registry)
        finally:
            release_first.set()
            for thread in threads:
                thread.join(30)
        self.assertFalse(any(thread.is_alive() for thread in threads))

        self.assertIsInstance(answers["first"], str, answers)
        with registry.cursor() as cr:
            cr.execute("SELECT uuid, state FROM queue_job WHERE identity_key = %s", (key,))
            self.assertEqual(cr.fetchall(), [(answers["first"], "pending")], "exactly one job with the key")
        # The second waited on the unique index; its snapshot predates the
        # first commit, so it got a serialization failure, and Odoo's retry
        # found the waiting job and handed it out.
        self.assertEqual(answers["second"], answers["first"], answers)
        self.assertEqual(attempts, {"first": 1, "second": 2})

    def _wait_for_an_insert_waiting_on_a_lock(self, registry):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with registry.cursor() as cr:
                cr.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO %%queue_job%%'"
                )
                if cr.fetchone():
                    return
            time.sleep(0.05)
        self.fail("the second transaction never waited for the first one's identity key")

    def _delete(self, registry, key, partner_id):
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["queue.job"].search([("identity_key", "=", key)]).unlink()
            env["res.partner"].browse(partner_id).unlink()
