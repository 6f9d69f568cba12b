"""A recurring job on a live server: a tick that finds the previous job still
running enqueues nothing and counts the skip; the next tick after it ended
enqueues again. The minute cron's work (``_run_due``) is called with the
tick's time, so the test does not wait for wall-clock minutes."""

from __future__ import annotations

import pytest

from .helpers import wait_for

pytestmark = pytest.mark.odoo

SLEEP = 6


def tick(stack, schedule_id):
    return stack.orm(f"""
        from datetime import timedelta
        schedule = env['queue.job.schedule'].browse({schedule_id})
        schedule._run_due(schedule.next_call + timedelta(seconds=1))
        result = {{'run': schedule.run_count, 'skipped': schedule.skipped_count,
                   'job': schedule.last_job_id.uuid, 'next_call': str(schedule.next_call)}}
    """)


def test_recurring_job_that_outlives_its_tick_is_not_started_twice(stack):
    schedule_id = stack.orm(f"""
        model = env['ir.model']._get('queue.job.probe')
        Function = env['queue.job.function']
        function = Function.search([('model_id', '=', model.id), ('method', '=', 'job_scheduled')], limit=1)
        function = function or Function.create({{'model_id': model.id, 'method': 'job_scheduled'}})
        schedule = env['queue.job.schedule'].create({{
            'name': 'e2e recurring', 'job_function_id': function.id, 'cron_expression': '* * * * *',
            'tz': 'UTC', 'kwargs': '{{"seconds": {SLEEP}}}', 'channel': 'root',
        }})
        result = schedule.id
    """)
    first = tick(stack, schedule_id)
    assert (first["run"], first["skipped"]) == (1, 0), first
    wait_for(lambda: stack.job(first["job"])["state"] == "started", timeout=30, what="the first job to start")

    # The next minute's tick while the first job still runs: skipped, counted, nothing enqueued.
    second = tick(stack, schedule_id)
    assert (second["run"], second["skipped"], second["job"]) == (1, 1, first["job"]), second
    assert second["next_call"] > first["next_call"]
    assert stack.query("SELECT count(*) FROM queue_job WHERE identity_key = %s",
                       (f"queue.job.schedule:{schedule_id}",))[0][0] == 1

    stack.wait_final([first["job"]], timeout=60)
    assert stack.job(first["job"])["state"] == "done"
    third = tick(stack, schedule_id)
    assert (third["run"], third["skipped"]) == (2, 1), third
    assert third["job"] != first["job"]
    rows = stack.wait_final([third["job"]], timeout=60)
    assert rows[third["job"]]["state"] == "done"
    assert stack.effect_count(first["job"]) == 1 and stack.effect_count(third["job"]) == 1
