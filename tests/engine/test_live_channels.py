"""Channels edited in the interface (engine/live_channels.py): the merge of stored rows over
the configured tree, rate limit arithmetic and aging order."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.channels import ChannelConfigError, ChannelSpec, parse_channels
from engine.live_channels import (
    RateLimit,
    StoredChannel,
    effective_priority,
    merge_channels,
    parse_rate_limit,
)

CONFIGURED = parse_channels("root:4,root.reports:1,root.sync:2:throttle=3,root.bank:1:sequential")


def merged(*rows):
    return merge_channels(CONFIGURED, rows)


# -- merge of stored rows over the configuration ------------------------------------------------


def test_rows_without_own_settings_keep_the_configuration():
    live = merged(StoredChannel("root"), StoredChannel("root.reports"), StoredChannel("root.other"))
    assert live.tree.describe() == merge_channels(CONFIGURED, []).tree.describe()
    assert live.tree.spec("root").capacity == 4
    assert "root.other" not in live.tree.names  # not configured, nothing of its own: runs in root
    assert not live.problems


def test_own_settings_win_over_the_configuration():
    live = merged(
        StoredChannel("root", own_settings=True, capacity=8),
        StoredChannel("root.reports", own_settings=True, capacity=3, throttle=0.5),
        StoredChannel("root.bank", own_settings=True, capacity=2, sequential=False),
    )
    assert live.tree.spec("root") == ChannelSpec("root", 8)
    assert live.tree.spec("root.reports") == ChannelSpec("root.reports", 3, throttle=0.5)
    assert live.tree.spec("root.bank") == ChannelSpec("root.bank", 2)
    assert live.tree.sequential() == []
    # untouched channels keep their configured settings
    assert live.tree.spec("root.sync") == ChannelSpec("root.sync", 2, throttle=3.0)


def test_a_stored_channel_unknown_to_the_configuration_gets_a_place_in_the_tree():
    live = merged(StoredChannel("root.mail.bulk", own_settings=True, capacity=1))
    assert live.tree.resolve("root.mail.bulk.x") == "root.mail.bulk"
    assert live.tree.free_slots({"root.mail.bulk": 1})["root.mail.bulk"] == 0
    assert live.tree.free_slots({"root.mail.bulk": 1})["root"] == 3


def test_capacity_zero_stops_a_channel_and_is_not_a_problem():
    live = merged(StoredChannel("root.reports", own_settings=True, capacity=0))
    assert live.tree.free_slots({})["root.reports"] == 0
    assert not live.problems


@pytest.mark.parametrize(
    "row, why",
    [
        (StoredChannel("root.reports", own_settings=True, capacity=-1), "capacity"),
        (StoredChannel("root.reports", own_settings=True, capacity=None), "capacity"),
        (StoredChannel("root.reports", own_settings=True, capacity=2, sequential=True), "sequential"),
        (StoredChannel("root.reports", own_settings=True, capacity=1, throttle=-2), "throttle"),
        (StoredChannel("root.reports", rate_limit="lots"), "rate limit"),
        (StoredChannel("root.reports", aging_step=-5), "aging"),
        (StoredChannel("root..x", own_settings=True, capacity=1), "empty segment"),
    ],
)
def test_a_bad_row_falls_back_to_the_configuration_and_the_others_still_apply(row, why):
    good = StoredChannel("root.sync", own_settings=True, capacity=5)
    live = merged(row, good)
    assert len(live.problems) == 1
    channel, message = live.problems[0]
    assert why in message
    if channel == "root.reports":
        assert live.tree.spec("root.reports") == ChannelSpec("root.reports", 1)
        assert "root.reports" not in live.rate_limits and "root.reports" not in live.aging
    assert live.tree.spec("root.sync") == ChannelSpec("root.sync", 5)


def test_a_bad_row_still_pauses_its_channel():
    live = merged(StoredChannel("root.reports", own_settings=True, capacity=-1, paused=True))
    assert live.problems
    assert live.is_paused("root.reports")


def test_pause_holds_for_sub_channels_by_name_configured_or_not():
    live = merged(StoredChannel("root.reports", paused=True))
    assert live.is_paused("root.reports")
    assert live.is_paused("reports")  # a raw name without "root."
    assert live.is_paused("root.reports.big.monthly")
    assert not live.is_paused("root.reportsx")
    assert not live.is_paused("root")
    assert merged(StoredChannel("root", paused=True)).is_paused("root.anything")


def test_rate_limits_hold_for_sub_channels_and_stack_with_ancestors():
    live = merged(StoredChannel("root.api", rate_limit="100/min"), StoredChannel("root.api.crm", rate_limit="5/s"))
    assert live.rate_limited("root.api") == ["root.api"]
    assert live.rate_limited("root.api.crm.x") == ["root.api", "root.api.crm"]
    assert live.rate_limited("root.apix") == []


def test_aging_comes_from_the_nearest_channel_that_sets_it():
    live = merged(StoredChannel("root", aging_step=60), StoredChannel("root.reports", aging_step=5))
    assert live.aging_step("root.sync") == 60
    assert live.aging_step("root.reports.big") == 5


def test_aging_is_ignored_on_a_sequential_channel():
    live = merged(StoredChannel("root.bank", aging_step=5))
    assert live.aging_step("root.bank") == 0
    assert live.problems and "sequential" in live.problems[0][1]
    # aging set above a sequential channel ages the others, not it
    live = merged(StoredChannel("root", aging_step=5))
    assert not live.problems
    assert live.aging_step("root.bank.x") == 0
    assert live.aging_step("root.reports") == 5


def test_paced_channels_get_no_slot_continuation():
    live = merged(StoredChannel("root.api", rate_limit="10/10s"), StoredChannel("root.old", aging_step=10))
    assert live.paces_slots("root.sync")  # configured throttle
    assert live.paces_slots("root.api.x")
    assert live.paces_slots("root.old")
    assert not live.paces_slots("root.reports")
    assert not live.paces_slots("root")


def test_describe_shows_what_the_database_adds():
    text = merged(StoredChannel("root.api", rate_limit="10/10s", paused=True)).describe()
    assert "root.api:paused" in text and "root.api:rate=10/10s" in text


# -- rate limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, count, period",
    [
        ("10/10s", 10, 10),
        ("100/min", 100, 60),
        ("100 per minute", 100, 60),
        ("5/s", 5, 1),
        ("5 per second", 5, 1),
        ("1000/h", 1000, 3600),
        ("3 / 2 hours", 3, 7200),
        ("10 per 10 s", 10, 10),
        ("1/day", 1, 86400),
        ("7/1.5m", 7, 90),
    ],
)
def test_parse_rate_limit(text, count, period):
    assert parse_rate_limit(text) == RateLimit(count, float(period))


@pytest.mark.parametrize("text", [None, "", "  "])
def test_empty_rate_limit_is_no_limit(text):
    assert parse_rate_limit(text) is None


@pytest.mark.parametrize("text", ["lots", "10", "10/", "/min", "0/min", "10/0s", "10/fortnight", "-1/s", "ten/s"])
def test_bad_rate_limits_say_how_to_write_one(text):
    with pytest.raises(ChannelConfigError, match="rate limit"):
        parse_rate_limit(text)


def test_rate_limit_spreads_starts_over_the_period():
    limit = RateLimit(10, 10.0)
    assert limit.gap == 1.0
    assert limit.wait(0, None, None) == 0
    assert limit.wait(1, 0.25, 0.25) == pytest.approx(0.75)
    assert limit.wait(3, 1.5, 5.0) == 0


def test_rate_limit_waits_for_the_oldest_start_to_leave_the_window():
    limit = RateLimit(10, 10.0)
    # ten starts in the window (after a failover, a burst the gap did not prevent)
    assert limit.wait(10, 2.0, 9.5) == pytest.approx(0.5)
    assert limit.wait(12, 3.0, 4.0) == pytest.approx(6.0)


def _simulate(limit, arrivals, horizon, step=0.05):
    """Start a job whenever the limit allows, from a backlog; return the start times."""
    starts = []
    now = 0.0
    backlog = arrivals
    while now < horizon:
        window = [t for t in starts if t > now - limit.period]
        since_last = now - starts[-1] if starts else None
        since_oldest = now - window[0] if window else None
        if backlog and limit.wait(len(window), since_last, since_oldest) <= 1e-9:
            starts.append(now)
            backlog -= 1
        now = round(now + step, 6)
    return starts


@settings(max_examples=30, deadline=None)
@given(count=st.integers(1, 12), period=st.sampled_from([1.0, 2.0, 5.0, 10.0]))
def test_rate_limit_is_never_exceeded_in_any_window(count, period):
    limit = RateLimit(count, period)
    starts = _simulate(limit, arrivals=10_000, horizon=4 * period)
    assert starts, "nothing started"
    for index, start in enumerate(starts):
        in_window = [t for t in starts[index:] if t < start + period - 1e-9]
        assert len(in_window) <= count
    # and the limit is used: about count per period, not a trickle
    assert len(starts) >= 3 * count


# -- aging --------------------------------------------------------------------------------------------


def test_effective_priority():
    assert effective_priority(100, 0, 10) == 100
    assert effective_priority(100, 9.9, 10) == 100
    assert effective_priority(100, 10, 10) == 99
    assert effective_priority(100, 1000, 10) == 0
    assert effective_priority(100, 5000, 10) == -400
    assert effective_priority(100, 5000, 0) == 100  # no aging


def _longest_waits(step, seconds=600, arrivals_per_second=3, capacity_per_second=2):
    """A channel that drains 2 jobs/s while priority-0 jobs arrive at 3/s and one
    priority-100 job arrives every 10 s: the longest time a job of each priority
    waited, counting those still waiting at the end."""
    pending = []  # (priority, id, enqueued at)
    waits = {0: [0], 100: [0]}
    next_id = 0
    for second in range(seconds):
        for _ in range(arrivals_per_second):
            pending.append((0, next_id, second))
            next_id += 1
        if second % 10 == 0:
            pending.append((100, next_id, second))
            next_id += 1
        for _ in range(capacity_per_second):
            best = min(pending, key=lambda job: (effective_priority(job[0], second - job[2], step), job[1]))
            pending.remove(best)
            waits[best[0]].append(second - best[2])
    for priority, _id, enqueued in pending:
        waits[priority].append(seconds - enqueued)
    return max(waits[0]), max(waits[100])


def test_without_aging_low_priority_jobs_starve_under_load():
    _high, low = _longest_waits(step=0)
    assert low >= 590  # the first one never started


def test_with_aging_low_priority_jobs_wait_a_bounded_time_more_than_the_others():
    # Arrivals outrun the channel, so every job waits longer and longer; with
    # aging a priority-100 job waits at most 100 steps more than a priority-0 one.
    high, low = _longest_waits(step=2)
    assert low <= high + 100 * 2 + 10
    assert low < 590


def test_aging_keeps_priority_order_among_jobs_that_waited_alike():
    jobs = [(5, 1, 0.0), (1, 2, 0.0), (3, 3, 0.0)]
    order = sorted(jobs, key=lambda job: (effective_priority(job[0], 30 - job[2], 10), job[1]))
    assert [job[1] for job in order] == [2, 3, 1]
