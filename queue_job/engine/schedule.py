"""Recurring jobs: when the next run of a cron expression is due, and what a late tick does.

Cron expressions are parsed by cronsim (a maintained PyPI library), in the
schedule's time zone, so ``0 9 * * mon-fri`` in Europe/Brussels is 9:00 there
in winter and in summer. Times given and returned are naive UTC, like Odoo's.

>>> from datetime import datetime
>>> next_tick("0 9 * * *", "Europe/Brussels", datetime(2026, 7, 1, 12, 0))
datetime.datetime(2026, 7, 2, 7, 0)

Hourly, down from 0:00 to 5:30: six ticks due, the last one half an hour late.

>>> plan("0 * * * *", "UTC", datetime(2026, 1, 1, 0, 0), datetime(2026, 1, 1, 5, 30), "skip")
Plan(run=False, missed=6, next_call=datetime.datetime(2026, 1, 1, 6, 0))
>>> plan("0 * * * *", "UTC", datetime(2026, 1, 1, 0, 0), datetime(2026, 1, 1, 5, 30), "once")
Plan(run=True, missed=5, next_call=datetime.datetime(2026, 1, 1, 6, 0))
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

CATCH_UP_ONCE = "once"
CATCH_UP_SKIP = "skip"
CATCH_UP_MODES = (CATCH_UP_ONCE, CATCH_UP_SKIP)

# A tick reached later than this (scheduler down, or far behind) is late:
# in "skip" mode it does not run. The scheduler runs every minute.
LATE_AFTER_SECONDS = 300
# Ticks counted at most, after a very long downtime of a frequent schedule.
MAX_TICKS_COUNTED = 10_000


class ScheduleError(ValueError):
    """A cron expression or time zone that cannot be used; the message says why."""


class Plan(NamedTuple):
    run: bool  # enqueue one job now
    missed: int  # due ticks that get no job of their own
    next_call: datetime  # the next tick after now (naive UTC)


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {tz_name!r}") from exc


def _ticks(expression: str, tz_name: str, after_utc: datetime) -> CronSim:
    """Iterator of the ticks strictly after ``after_utc`` (naive UTC), as aware local datetimes."""
    zone = _zone(tz_name)
    start = after_utc.replace(tzinfo=timezone.utc).astimezone(zone)
    try:
        return CronSim(expression.strip(), start)
    except CronSimError as exc:
        raise ScheduleError(f"cron expression {expression!r} does not parse: {exc}") from exc
    except (ValueError, IndexError, KeyError) as exc:
        raise ScheduleError(f"cron expression {expression!r} does not parse: {exc}") from exc


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def check(expression: str, tz_name: str) -> None:
    """Raise ScheduleError, saying why, unless the expression has a next tick in this time zone."""
    if not (expression or "").strip():
        raise ScheduleError("a cron expression is required, e.g. '*/15 * * * *'")
    next_tick(expression, tz_name, datetime(2000, 1, 1))


def next_tick(expression: str, tz_name: str, after_utc: datetime) -> datetime:
    """The first tick strictly after ``after_utc``, naive UTC."""
    try:
        return _utc(next(_ticks(expression, tz_name, after_utc)))
    except StopIteration as exc:
        raise ScheduleError(f"cron expression {expression!r} never matches a date") from exc
    except CronSimError as exc:
        raise ScheduleError(f"cron expression {expression!r} does not parse: {exc}") from exc


def plan(expression: str, tz_name: str, next_call: datetime, now: datetime, catch_up: str) -> Plan:
    """What to do at ``now`` with a schedule due at ``next_call`` (a tick <= now).

    ``once``: one job for every tick due, however many were missed.
    ``skip``: a job only if a due tick is less than LATE_AFTER_SECONDS old.
    """
    if catch_up not in CATCH_UP_MODES:
        raise ScheduleError(f"catch-up mode must be one of {', '.join(CATCH_UP_MODES)}, not {catch_up!r}")
    ticks = [next_call]
    later = _ticks(expression, tz_name, next_call)
    for moment in later:
        tick = _utc(moment)
        if tick > now:
            following = tick
            break
        if len(ticks) < MAX_TICKS_COUNTED:
            ticks.append(tick)
    else:  # pragma: no cover - an expression with a last tick (cronsim iterates forever)
        following = datetime.max
    if catch_up == CATCH_UP_ONCE:
        run = True
    else:
        run = (now - ticks[-1]).total_seconds() <= LATE_AFTER_SECONDS
    return Plan(run=run, missed=len(ticks) - (1 if run else 0), next_call=following)
