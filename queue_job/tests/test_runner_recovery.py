"""The jobrunner coming back after a fault (found by the chaos suite, tests/chaos).

No database needed for the runner's logic: its connection to a database is
replaced by a stand-in that answers what the runner asks; the statements it
sends are run for real in TestPutBackPending.
"""

import contextlib
import os
import time
from datetime import datetime, timedelta
from unittest import mock

import psycopg2

from odoo.tests.common import BaseCase, TransactionCase, tagged

from odoo.addons.queue_job.engine import sql
from odoo.addons.queue_job.engine.channels import ChannelTree
from odoo.addons.queue_job.jobrunner import runner as runner_module
from odoo.addons.queue_job.jobrunner.dispatcher import Slot
from odoo.addons.queue_job.jobrunner.runner import POLL_INTERVAL, REQUEST_RETRY_MAX, QueueJobRunner
from odoo.addons.queue_job.jobrunner.settings import RunnerConfig


class FakeDatabase:
    """A database the runner leads, with ``running`` jobs started and nothing pending."""

    def __init__(self, name, running):
        self.name = name
        self.leader = True
        self.running = running
        self.put_back = []

    def drain_notifications(self):
        return set()

    def channel_settings(self):
        return []

    def is_upgrading(self):
        return False

    def running_by_channel(self):
        return dict(self.running)

    def pending_channels(self):
        return []

    def seconds_to_next_eta(self):
        return None

    def close(self):
        self.leader = False

    def forget_secret(self):
        pass

    def put_back_pending(self, uuid, delay):
        self.put_back.append((uuid, delay))
        return 1


@tagged("post_install", "-at_install")
class TestRunnerRecovery(BaseCase):
    def _runner(self):
        config = RunnerConfig(
            channels=ChannelTree.from_config("root:2"), scheme="http", host="localhost", port=8069,
            http_auth_user=None, http_auth_password=None, slot_budget=2.0, slot_max_jobs=200,
            heal_interval=5.0, enqueued_grace=60.0, db_refresh_interval=20.0, max_worker_losses=5,
        )
        runner = QueueJobRunner(config)

        def cleanup():
            runner.dispatcher.stop()
            for fd in (runner._stop_r, runner._stop_w, runner.dispatcher.wake_r, runner.dispatcher.wake_w):
                os.close(fd)

        self.addCleanup(cleanup)
        return runner

    def test_a_database_lost_during_an_outage_is_reconnected_without_waiting_for_the_next_listing(self):
        runner = self._runner()
        opened = []
        with mock.patch.object(runner_module, "served_databases", return_value=["db1"]), \
                mock.patch.object(QueueJobRunner, "_open", lambda self, name: opened.append(name)):
            runner._refresh_databases()
        self.assertEqual(opened, ["db1"])
        self.assertEqual(runner._candidates, {"db1"})

        # PostgreSQL goes down: the connection is lost, then listing the
        # databases fails too when its timer comes due.
        runner._lost("db1", psycopg2.OperationalError("server closed the connection unexpectedly"))
        runner._next["databases"] = 0
        runner._retry_db_at["db1"] = 0
        opened.clear()
        with mock.patch.object(runner_module, "served_databases",
                               side_effect=psycopg2.OperationalError("connection refused")), \
                mock.patch.object(QueueJobRunner, "_open", lambda self, name: opened.append(name)):
            runner._refresh_databases()
        self.assertEqual(runner._candidates, {"db1"}, "the lost database was forgotten until the next listing")
        self.assertEqual(opened, ["db1"], "the lost database is not being reconnected to")

    def test_slots_held_by_a_previous_runners_jobs_are_looked_at_again_soon(self):
        # A respawned runner leads a database whose 2 slots hold jobs the dead
        # runner sent: it must look again before its 30 s poll, as nothing else
        # tells it when they end.
        runner = self._runner()
        runner.databases["db1"] = FakeDatabase("db1", {"root": 2})
        before = time.monotonic()
        runner._dispatch("db1")
        wake_at = runner._wakeups["db1"]
        self.assertIsNotNone(wake_at)
        self.assertLessEqual(wake_at - before, runner.config.heal_interval + 1)
        self.assertLess(wake_at - before, POLL_INTERVAL)

        # Its own jobs: a slot ending wakes it, no re-check needed.
        runner.in_flight["db2"]["root"] = 2
        runner.databases["db2"] = FakeDatabase("db2", {"root": 2})
        runner._dispatch("db2")
        self.assertIsNone(runner._wakeups["db2"])

    def test_jobs_whose_requests_keep_failing_come_back_later_and_later(self):
        runner = self._runner()
        db = runner.databases["db1"] = FakeDatabase("db1", {})

        def finish(uuid, error):
            runner.in_flight["db1"]["root"] += 1
            runner.in_flight_uuids["db1"].add(uuid)
            runner.dispatcher.finished.put(Slot("db1", uuid, "root", ["root"], 2.0, 200, error=error))
            with self.assertLogs(runner_module._logger, "INFO") if error else contextlib.nullcontext():
                runner._collect_finished_slots()

        for n in range(8):
            finish(f"job-{n}", "ConnectionRefusedError: [Errno 111] Connection refused")
        self.assertEqual([delay for _uuid, delay in db.put_back], [1, 2, 4, 8, 16, 32, REQUEST_RETRY_MAX, 60])
        self.assertEqual(runner.in_flight["db1"]["root"], 0)
        self.assertEqual(runner.in_flight_uuids["db1"], set())

        # A request that goes through starts the count again.
        finish("job-ok", None)
        finish("job-9", "RuntimeError: HTTP 502 from /queue_job/runjob")
        self.assertEqual(db.put_back[-1], ("job-9", 1))


@tagged("post_install", "-at_install")
class TestPutBackPending(TransactionCase):
    """The statement the runner runs when a request to a worker failed."""

    def _enqueued(self, eta=None):
        job = self.env["res.partner"].with_delay(eta=eta).search([], limit=1)
        record = job.db_record()
        self.env.cr.execute("UPDATE queue_job SET state = 'enqueued' WHERE id = %s", [record.id])
        return record

    def _put_back(self, record, delay):
        self.env.cr.execute(sql.PUT_BACK_PENDING, {"uuid": record.uuid, "delay": delay})
        record.invalidate_recordset()
        return self.env.cr.rowcount

    def test_put_back_pending_due_after_the_delay(self):
        record = self._enqueued()
        self.env.cr.execute(f"SELECT {sql.NOW_UTC}")
        now = self.env.cr.fetchone()[0]
        self.assertEqual(self._put_back(record, 8), 1)
        self.assertEqual((record.state, record.retry, record.date_enqueued), ("pending", 0, False))
        self.assertAlmostEqual((record.eta - now).total_seconds(), 8, delta=1)

    def test_a_later_eta_is_kept(self):
        eta = datetime.now() + timedelta(hours=2)
        record = self._enqueued(eta=eta)
        self._put_back(record, 8)
        self.assertEqual(record.state, "pending")
        self.assertAlmostEqual(record.eta, eta.replace(microsecond=0), delta=timedelta(seconds=1))

    def test_a_job_no_longer_enqueued_is_left_alone(self):
        record = self._enqueued()
        self.env.cr.execute("UPDATE queue_job SET state = 'started' WHERE id = %s", [record.id])
        self.assertEqual(self._put_back(record, 8), 0)
        self.assertEqual(record.state, "started")
