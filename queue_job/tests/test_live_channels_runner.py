"""The runner following channels stored in the database: the NOTIFY of a change, a bad
value written another way than the form, and concurrency keys in its claim.

The runner reads committed rows on its own connection, so these tests commit
(no jobrunner runs during the tests) and delete what they committed.
"""

import os
import time

from odoo.addons.queue_job.engine import sql
from odoo.addons.queue_job.engine.channels import ChannelTree
from odoo.addons.queue_job.jobrunner.database import Database
from odoo.addons.queue_job.jobrunner.runner import QueueJobRunner
from odoo.addons.queue_job.jobrunner.settings import RunnerConfig
from .committed_jobs import CommittedJobsCase
from odoo.tests.common import get_db_name, tagged

PREFIX = "live_runner_test"
CHANGED = sql.CHANNELS_CHANGED  # the payload of the NOTIFY sent when channels change


@tagged("post_install", "-at_install")
class TestLiveChannelsRunner(CommittedJobsCase):
    def setUp(self):
        super().setUp()
        with self.committed_env() as env:
            root = env.ref("queue_job.channel_root")
            self.channel_id = env["queue.job.channel"].create({"name": PREFIX, "parent_id": root.id}).id
            self.partner_id = env["res.partner"].create({"name": "live channels"}).id
        self.partner_ids.append(self.partner_id)

    def _delete_committed(self):
        super()._delete_committed()
        with self.committed_env() as env:
            env["queue.job.channel"].search([("complete_name", "=like", f"root.{PREFIX}%")]).unlink()

    def runner(self, channels="root:8"):
        config = RunnerConfig(
            channels=ChannelTree.from_config(channels), scheme="http", host="localhost", port=8069,
            http_auth_user=None, http_auth_password=None, slot_budget=2.0, slot_max_jobs=10,
            heal_interval=5.0, enqueued_grace=60.0, db_refresh_interval=20.0, max_worker_losses=5,
        )
        runner = QueueJobRunner(config)
        runner.dispatcher.stop()
        for fd in (runner._stop_r, runner._stop_w, runner.dispatcher.wake_r, runner.dispatcher.wake_w):
            self.addCleanup(os.close, fd)
        runner.sent = []
        runner.dispatcher.submit = lambda slot, secret: runner.sent.append(slot)
        return runner

    def database(self):
        database = Database(get_db_name())
        self.addCleanup(database.close)
        return database

    def test_a_committed_change_is_announced_to_the_runner(self):
        database = self.database()
        database._fetchall(sql.LISTEN)
        database.drain_notifications()
        with self.committed_env() as env:
            env["queue.job.channel"].browse(self.channel_id).write({"capacity": 3})
        deadline = time.monotonic() + 5
        payloads = set()
        while CHANGED not in payloads and time.monotonic() < deadline:
            time.sleep(0.05)
            payloads |= database.drain_notifications()
        self.assertIn(CHANGED, payloads)

    def test_stored_settings_win_over_the_configuration(self):
        runner, database = self.runner("root:8"), self.database()
        with self.committed_env() as env:
            env["queue.job.channel"].browse(self.channel_id).write({"capacity": 2, "rate_limit": "10/10s"})
        runner._read_channels(database)
        live = runner.live[database.name]
        self.assertEqual(live.tree.spec(f"root.{PREFIX}").capacity, 2)
        self.assertEqual(live.rate_limited(f"root.{PREFIX}.x"), [f"root.{PREFIX}"])
        self.assertEqual(live.tree.spec("root").capacity, 8)

    def test_a_bad_value_written_in_sql_is_logged_once_and_the_channel_runs_as_configured(self):
        runner, database = self.runner(f"root:8,root.{PREFIX}:3"), self.database()
        with self.committed_env() as env:
            other = env["queue.job.channel"].create({"name": "good", "parent_id": self.channel_id})
            other.write({"capacity": 1})
            env.cr.execute(
                "UPDATE queue_job_channel SET own_settings = true, capacity = -4, rate_limit = 'lots' WHERE id = %s",
                (self.channel_id,),
            )
        with self.assertLogs("odoo.addons.queue_job.jobrunner.runner", "ERROR") as logs:
            runner._read_channels(database)
        self.assertEqual(len(logs.records), 1, logs.output)
        self.assertIn(f"channel root.{PREFIX} of db", logs.output[0])
        self.assertIn("capacity -4", logs.output[0])
        live = runner.live[database.name]
        self.assertEqual(live.tree.spec(f"root.{PREFIX}").capacity, 3)  # as configured
        self.assertEqual(live.rate_limits, {})
        self.assertEqual(live.tree.spec(f"root.{PREFIX}.good").capacity, 1)  # the others still apply
        with self.assertNoLogs("odoo.addons.queue_job.jobrunner.runner", "ERROR"):
            runner._read_channels(database)

    def _enqueue(self, count, **options):
        with self.committed_env() as env:
            partner = env["res.partner"].browse(self.partner_id)
            uuids = [partner.with_delay(channel=f"root.{PREFIX}", **options).write({"ref": str(n)}).uuid
                     for n in range(count)]
        self.uuids += uuids
        return uuids

    def test_the_claim_starts_one_job_per_key_and_does_not_hold_up_the_others(self):
        runner, database = self.runner("root:8"), self.database()
        keyed = self._enqueue(10, concurrency_key=f"{PREFIX}-key", priority=0)
        free = self._enqueue(3, priority=5)
        runner._read_channels(database)
        runner._claim_and_send(database.name, database)
        # the 8 best candidates (8 free slots) all had the key: one of them starts...
        self.assertEqual([slot.uuid for slot in runner.sent], keyed[:1])
        self.assertIn(database.name, runner.dirty)  # ...and the runner claims again at once
        runner._claim_and_send(database.name, database)
        # the others are not held up behind the key
        self.assertEqual(sorted(slot.uuid for slot in runner.sent), sorted(keyed[:1] + free))
        runner._claim_and_send(database.name, database)
        self.assertEqual(len(runner.sent), 4, "a second job of the key was started")
        # a worker pulling the next job of the slot never takes a keyed one
        self.assertTrue(all(slot.continue_with == [f"root.{PREFIX}"] for slot in runner.sent))

    def test_a_paused_channel_is_not_claimed_and_its_jobs_wait(self):
        runner, database = self.runner("root:8"), self.database()
        uuids = self._enqueue(2)
        with self.committed_env() as env:
            env["queue.job.channel"].browse(self.channel_id).action_pause()
        runner._read_channels(database)
        runner._claim_and_send(database.name, database)
        self.assertEqual(runner.sent, [])
        with self.committed_env() as env:
            env["queue.job.channel"].browse(self.channel_id).action_resume()
        runner._read_channels(database)
        runner._claim_and_send(database.name, database)
        self.assertEqual(sorted(slot.uuid for slot in runner.sent), sorted(uuids))

    def test_a_rate_limited_channel_starts_one_job_per_gap_and_counts_it(self):
        runner, database = self.runner("root:8"), self.database()
        self._enqueue(3)
        with self.committed_env() as env:
            env["queue.job.channel"].browse(self.channel_id).write({"rate_limit": "2/1h"})
        runner._read_channels(database)
        _foreign, wait = runner._claim_and_send(database.name, database)
        self.assertEqual(len(runner.sent), 1)
        self.assertEqual((runner.sent[0].continue_with, runner.sent[0].max_jobs), ([], 1))
        self.assertAlmostEqual(wait, 1800, delta=5)  # the next start: half an hour later
        # a new runner (a failover) sees the start counted in the database
        other = self.runner("root:8")
        other._read_channels(database)
        _foreign, wait = other._claim_and_send(database.name, database)
        self.assertEqual(other.sent, [])
        self.assertAlmostEqual(wait, 1800, delta=5)
        database._fetchall("DELETE FROM queue_job_channel_start WHERE channel = %s", (f"root.{PREFIX}",))
