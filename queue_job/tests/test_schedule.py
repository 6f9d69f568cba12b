"""Recurring jobs (queue.job.schedule): one job per tick, never two at once, catch-up after downtime."""

import io
from datetime import datetime, timedelta

from odoo import exceptions
from odoo.tests.common import TransactionCase, tagged
from odoo.tools import convert

from odoo.addons.queue_job.job import Job


@tagged("post_install", "-at_install")
class TestSchedule(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.function = cls.env["queue.job.function"].create(
            {"model_id": cls.env.ref("base.model_res_partner").id, "method": "search_count"}
        )

    def _schedule(self, **values):
        vals = {
            "name": "Count partners",
            "job_function_id": self.function.id,
            "cron_expression": "*/5 * * * *",
            "tz": "UTC",
            "kwargs": '{"domain": [["active", "=", true]]}',
        }
        vals.update(values)
        return self.env["queue.job.schedule"].create(vals)

    def _jobs(self, schedule):
        return self.env["queue.job"].search([("identity_key", "=", f"queue.job.schedule:{schedule.id}")])

    def _end(self, record, state="done"):
        job_ = Job.load(self.env, record.uuid)
        if state == "done":
            job_.set_done()
        elif state == "started":
            job_.set_started()
        job_.store()

    def test_next_call_follows_the_expression_in_its_time_zone(self):
        schedule = self._schedule(cron_expression="0 9 * * *", tz="Asia/Tokyo")
        # 9:00 in Tokyo is 0:00 UTC.
        self.assertEqual((schedule.next_call.hour, schedule.next_call.minute), (0, 0))
        self.assertGreater(schedule.next_call, datetime.now())
        schedule.write({"tz": "UTC"})
        self.assertEqual(schedule.next_call.hour, 9)

    def test_one_job_per_tick_and_no_second_while_the_first_runs(self):
        schedule = self._schedule()
        tick = schedule.next_call
        self.assertEqual(schedule._run_due(now=tick - timedelta(seconds=1)), schedule.browse(), "not due yet")
        schedule._run_due(now=tick + timedelta(seconds=5))
        job_ = schedule.last_job_id
        self.assertEqual(self._jobs(schedule), job_)
        self.assertEqual((job_.model_name, job_.method_name, job_.kwargs), ("res.partner", "search_count", {"domain": [["active", "=", True]]}))
        self.assertEqual(job_.name, "Count partners")
        self.assertEqual((schedule.run_count, schedule.next_call), (1, tick + timedelta(minutes=5)))

        # The job outlives its interval: it started and still runs at the next tick.
        self._end(job_, "started")
        schedule._run_due(now=tick + timedelta(minutes=5, seconds=5))
        self.assertEqual(self._jobs(schedule), job_, "never two jobs of one schedule at once")
        self.assertEqual((schedule.skipped_count, schedule.run_count), (1, 1))
        self.assertEqual(schedule.next_call, tick + timedelta(minutes=10))

        # Once it is done, the next tick enqueues again.
        self._end(job_, "done")
        schedule._run_due(now=tick + timedelta(minutes=10, seconds=5))
        self.assertEqual(len(self._jobs(schedule)), 2)
        self.assertEqual((schedule.skipped_count, schedule.run_count), (1, 2))
        self.assertNotEqual(schedule.last_job_id, job_)

    def test_waiting_job_also_skips_the_tick(self):
        schedule = self._schedule()
        tick = schedule.next_call
        schedule._run_due(now=tick)
        schedule._run_due(now=tick + timedelta(minutes=5))
        self.assertEqual(len(self._jobs(schedule)), 1)
        self.assertEqual(schedule.skipped_count, 1)

    def test_catch_up_once_after_downtime(self):
        schedule = self._schedule(cron_expression="0 * * * *", catch_up="once")
        down_since = schedule.next_call
        schedule._run_due(now=down_since + timedelta(hours=5, minutes=30))
        self.assertEqual(len(self._jobs(schedule)), 1, "one job for all the ticks missed")
        self.assertEqual(schedule.missed_count, 5)
        self.assertEqual(schedule.next_call, down_since + timedelta(hours=6))

    def test_catch_up_skip_after_downtime(self):
        schedule = self._schedule(cron_expression="0 * * * *", catch_up="skip")
        down_since = schedule.next_call
        schedule._run_due(now=down_since + timedelta(hours=5, minutes=30))
        self.assertFalse(self._jobs(schedule), "late ticks are skipped")
        self.assertEqual(schedule.missed_count, 6)
        self.assertEqual(schedule.next_call, down_since + timedelta(hours=6))
        # The next tick, on time, runs.
        schedule._run_due(now=down_since + timedelta(hours=6, seconds=30))
        self.assertEqual(len(self._jobs(schedule)), 1)

    def test_archived_schedule_does_not_run(self):
        schedule = self._schedule()
        tick = schedule.next_call
        schedule.active = False
        self.assertFalse(schedule.next_call)
        self.assertFalse(schedule._run_due(now=tick + timedelta(days=1)))

    def test_run_now(self):
        schedule = self._schedule()
        schedule.action_run_now()
        self.assertEqual(schedule.run_count, 1)
        with self.assertRaisesRegex(exceptions.UserError, "still pending"):
            schedule.action_run_now()

    def test_schedule_from_a_data_file(self):
        xml = b"""<odoo>
            <record id="test_function_from_xml" model="queue.job.function">
                <field name="model_id" ref="base.model_res_partner"/>
                <field name="method">name_search</field>
            </record>
            <record id="test_schedule_from_xml" model="queue.job.schedule">
                <field name="name">From XML</field>
                <field name="job_function_id" ref="test_function_from_xml"/>
                <field name="cron_expression">30 2 * * *</field>
                <field name="tz">Europe/Brussels</field>
                <field name="catch_up">skip</field>
            </record>
        </odoo>"""
        stream = io.BytesIO(xml)
        stream.name = "test_schedule_data.xml"
        convert.convert_xml_import(self.env, "queue_job", stream)
        schedule = self.env.ref("queue_job.test_schedule_from_xml")
        self.assertEqual((schedule.catch_up, schedule.next_call.minute), ("skip", 30))
        self.assertEqual(schedule.job_function_id.name, "<res.partner>.name_search")

    # -- bad input -----------------------------------------------------------

    def test_bad_cron_expression_is_refused_with_the_reason(self):
        with self.assertRaisesRegex(exceptions.ValidationError, "does not parse"):
            self._schedule(cron_expression="61 * * * *")
        schedule = self._schedule()
        with self.assertRaisesRegex(exceptions.ValidationError, "does not parse"):
            schedule.cron_expression = "every day at noon"
        with self.assertRaisesRegex(exceptions.ValidationError, "never matches|does not parse"):
            schedule.cron_expression = "0 0 31 2 *"

    def test_bad_kwargs_are_refused(self):
        with self.assertRaisesRegex(exceptions.ValidationError, "not valid JSON"):
            self._schedule(kwargs="{domain: 1")
        with self.assertRaisesRegex(exceptions.ValidationError, "JSON object"):
            self._schedule(kwargs="[1, 2]")

    def test_job_function_without_method_is_refused(self):
        function = self.env["queue.job.function"].create(
            {"model_id": self.env.ref("base.model_res_partner").id, "method": "no_such_method"}
        )
        with self.assertRaisesRegex(exceptions.ValidationError, "has no method no_such_method"):
            self._schedule(job_function_id=function.id)

    def test_one_broken_schedule_does_not_stop_the_others(self):
        good = self._schedule(name="good")
        broken_function = self.env["queue.job.function"].create(
            {"model_id": self.env.ref("base.model_res_partner").id, "method": "name_search"}
        )
        bad = self._schedule(name="bad", job_function_id=broken_function.id)
        # The method went away with the module that defined it (no constraint sees that).
        self.env.flush_all()
        self.env.cr.execute("UPDATE queue_job_function SET method = 'gone_method' WHERE id = %s", (broken_function.id,))
        self.env.invalidate_all()
        tick = max(good.next_call, bad.next_call)
        with self.assertLogs("odoo.addons.queue_job.models.queue_job_schedule", "ERROR"):
            self.env["queue.job.schedule"]._run_due(now=tick)
        self.assertEqual((good.run_count, bad.run_count), (1, 0))
        self.assertEqual(bad.skipped_count, 1)
        self.assertGreater(bad.next_call, tick, "the broken schedule moves on to its next tick")

    def test_bad_expression_written_by_sql_stops_only_its_schedule(self):
        good, bad = self._schedule(name="good"), self._schedule(name="bad")
        tick = max(good.next_call, bad.next_call)
        self.env.flush_all()
        self.env.cr.execute("UPDATE queue_job_schedule SET cron_expression = '99 * * * *' WHERE id = %s", (bad.id,))
        self.env.invalidate_all()
        with self.assertLogs("odoo.addons.queue_job.models.queue_job_schedule", "ERROR") as logs:
            self.env["queue.job.schedule"]._run_due(now=tick)
        self.assertIn("does not parse", logs.output[0])
        self.assertEqual(good.run_count, 1)
        self.assertFalse(bad.next_call, "stopped until its expression is fixed")
        self.assertFalse(self.env["queue.job.schedule"]._run_due(now=tick + timedelta(hours=1)) & bad, "said once")
