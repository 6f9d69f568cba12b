"""Recurring jobs' timing (engine/schedule.py): next ticks, time zones, catch-up after downtime."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine import schedule


def test_next_tick_is_strictly_after():
    assert schedule.next_tick("*/15 * * * *", "UTC", datetime(2026, 1, 1, 10, 15)) == datetime(2026, 1, 1, 10, 30)


def test_time_zone_and_daylight_saving():
    # 9:00 in Brussels is 8:00 UTC in winter, 7:00 UTC in summer.
    assert schedule.next_tick("0 9 * * *", "Europe/Brussels", datetime(2026, 1, 10)) == datetime(2026, 1, 10, 8)
    assert schedule.next_tick("0 9 * * *", "Europe/Brussels", datetime(2026, 7, 10)) == datetime(2026, 7, 10, 7)


@pytest.mark.parametrize(
    "expression",
    ["", "   ", "61 * * * *", "* * * *", "every day", "0 9 * * funday", "* * 31 2 *"],
)
def test_bad_expressions_are_refused_with_a_reason(expression):
    with pytest.raises(schedule.ScheduleError) as info:
        schedule.check(expression, "UTC")
    assert str(info.value)


def test_unknown_time_zone_is_refused():
    with pytest.raises(schedule.ScheduleError, match="time zone"):
        schedule.check("* * * * *", "Mars/Olympus")


def test_on_time_tick_runs_in_both_modes():
    due, now = datetime(2026, 1, 1, 10, 0), datetime(2026, 1, 1, 10, 0, 40)
    for mode in schedule.CATCH_UP_MODES:
        assert schedule.plan("* * * * *", "UTC", due, now, mode) == schedule.Plan(
            run=True, missed=0, next_call=datetime(2026, 1, 1, 10, 1)
        )


def test_downtime_skip_runs_nothing_and_counts_missed_ticks():
    plan = schedule.plan("*/10 * * * *", "UTC", datetime(2026, 1, 1, 10, 0), datetime(2026, 1, 1, 12, 7), "skip")
    # 10:00 .. 12:00 is 13 ticks; 12:00 is 7 minutes late, past the limit.
    assert plan == schedule.Plan(run=False, missed=13, next_call=datetime(2026, 1, 1, 12, 10))


def test_downtime_once_runs_one_job_for_all():
    plan = schedule.plan("*/10 * * * *", "UTC", datetime(2026, 1, 1, 10, 0), datetime(2026, 1, 1, 12, 7), "once")
    assert plan == schedule.Plan(run=True, missed=12, next_call=datetime(2026, 1, 1, 12, 10))


def test_skip_mode_still_runs_a_recent_tick_after_older_missed_ones():
    plan = schedule.plan("*/10 * * * *", "UTC", datetime(2026, 1, 1, 10, 0), datetime(2026, 1, 1, 12, 2), "skip")
    assert plan == schedule.Plan(run=True, missed=12, next_call=datetime(2026, 1, 1, 12, 10))


def test_unknown_catch_up_mode():
    with pytest.raises(schedule.ScheduleError, match="catch-up"):
        schedule.plan("* * * * *", "UTC", datetime(2026, 1, 1), datetime(2026, 1, 1), "twice")
