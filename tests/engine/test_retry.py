"""Retry patterns, delays and the retry-or-fail decision (engine/retry.py)."""

from __future__ import annotations

import json
import random

import pytest

from engine.retry import (
    DEFAULT_MAX_RETRIES,
    RETRY_INTERVAL,
    RetryDecision,
    RetryPatternError,
    decide_retry,
    parse_retry_pattern,
    retry_delay,
)

# -- parse_retry_pattern ------------------------------------------------------------


def test_parse_int_keys():
    assert parse_retry_pattern({1: 10, 5: 60}) == {1: 10, 5: 60}


def test_parse_json_string_keys_and_list_pairs():
    stored = json.loads(json.dumps({1: 10, 5: [30, 90], 10: 600}))
    assert stored == {"1": 10, "5": [30, 90], "10": 600}
    parsed = parse_retry_pattern(stored)
    assert parsed == {1: 10, 5: (30, 90), 10: 600}
    assert all(type(key) is int for key in parsed)
    assert parsed[5] == (30, 90) and isinstance(parsed[5], tuple)


def test_parse_sorts_by_try_count_numerically():
    parsed = parse_retry_pattern({"10": 600, "2": 20, "1": 10})
    # numerically, not as strings ("10" < "2")
    assert list(parsed) == [1, 2, 10]
    assert list(parsed.values()) == [10, 20, 600]


def test_parse_accepts_tuples_and_whole_floats():
    assert parse_retry_pattern({3.0: (1, 2), 1: 5.0}) == {1: 5, 3: (1, 2)}
    assert parse_retry_pattern({"1": "15"}) == {1: 15}


def test_parse_zero_is_allowed():
    assert parse_retry_pattern({0: 0}) == {0: 0}
    assert parse_retry_pattern({1: [0, 0]}) == {1: (0, 0)}


@pytest.mark.parametrize("empty", [None, {}])
def test_parse_empty(empty):
    assert parse_retry_pattern(empty) == {}


@pytest.mark.parametrize(
    "pattern, fragment",
    [
        ({"-1": 10}, "try count -1 is negative"),
        ({1: -10}, "delay for try 1 is negative"),
        ({1: [-5, 10]}, "delay for try 1 is negative"),
        ({"one": 10}, "try count must be a whole number"),
        ({"1.5": 10}, "try count must be a whole number"),
        ({1.5: 10}, "try count must be a whole number"),
        ({None: 10}, "try count must be a whole number"),
        ({True: 10}, "try count must be a whole number"),
        ({1: "ten"}, "delay for try 1 must be a whole number"),
        ({1: 2.5}, "delay for try 1 must be a whole number"),
        ({1: None}, "delay for try 1 must be a whole number"),
        ({1: True}, "delay for try 1 must be a number"),
        ({1: [10]}, "delay for try 1 must be a whole number"),
        ({1: [1, 2, 3]}, "delay for try 1 must be a whole number"),
        ({1: [10, "x"]}, "delay for try 1 must be a whole number"),
        ({1: [10, None]}, "delay for try 1 must be a whole number"),
        ({1: [10, 5]}, "the first bound must not exceed the second"),
        ({"1": 10, 1: 20}, "try count 1 appears twice"),
        ([(1, 10)], "must be a mapping"),
        ("1:10", "must be a mapping"),
    ],
)
def test_parse_errors(pattern, fragment):
    with pytest.raises(RetryPatternError) as info:
        parse_retry_pattern(pattern)
    assert fragment in str(info.value)


def test_retry_pattern_error_is_a_value_error():
    assert issubclass(RetryPatternError, ValueError)


# -- retry_delay ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tries, expected",
    [(0, RETRY_INTERVAL), (1, 10), (2, 10), (4, 10), (5, 60), (6, 60), (100, 60)],
)
def test_retry_delay_picks_greatest_threshold_not_above_tries(tries, expected):
    assert retry_delay({1: 10, 5: 60}, tries) == expected


def test_retry_delay_three_steps():
    pattern = parse_retry_pattern({"1": 1, "3": 3, "7": 7})
    assert [retry_delay(pattern, tries) for tries in range(0, 10)] == [
        RETRY_INTERVAL, 1, 1, 3, 3, 3, 3, 7, 7, 7,
    ]


def test_retry_delay_with_unsorted_pattern():
    # The greatest threshold not above ``tries`` wins, whatever the mapping's order.
    assert retry_delay({5: 60, 1: 10}, 6) == 60
    assert retry_delay({5: 60, 1: 10}, 3) == 10
    assert retry_delay({5: 60, 1: 10}, 0) == RETRY_INTERVAL


@pytest.mark.parametrize("pattern", [None, {}])
def test_retry_delay_defaults_to_retry_interval(pattern):
    assert RETRY_INTERVAL == 600
    assert retry_delay(pattern, 1) == RETRY_INTERVAL
    assert retry_delay(pattern, 50) == RETRY_INTERVAL


def test_retry_delay_threshold_zero_applies_from_the_start():
    assert retry_delay({0: 7}, 0) == 7
    assert retry_delay({0: 7, 3: 9}, 2) == 7


def test_retry_delay_requested_wins():
    assert retry_delay({1: 10}, 1, requested=30) == 30
    assert retry_delay(None, 1, requested=45) == 45
    assert retry_delay({1: (100, 200)}, 1, requested=5) == 5


def test_retry_delay_requested_is_a_whole_non_negative_number():
    assert retry_delay(None, 1, requested=2.9) == 2
    assert isinstance(retry_delay(None, 1, requested=2.9), int)
    assert retry_delay(None, 1, requested=-5) == 0


@pytest.mark.parametrize("requested", [None, 0])
def test_retry_delay_requested_none_or_zero_falls_back_to_pattern(requested):
    # like OCA: RetryableJobError(seconds=0) means "not given"
    assert retry_delay({1: 10}, 1, requested=requested) == 10


def test_retry_delay_random_pair_stays_in_range():
    rng = random.Random(1234)
    pattern = parse_retry_pattern({"1": [5, 8]})
    values = [retry_delay(pattern, 3, rng=rng) for _ in range(400)]
    assert all(5 <= value <= 8 for value in values)
    # both bounds are included, and the delay does vary
    assert set(values) == {5, 6, 7, 8}


def test_retry_delay_random_pair_is_reproducible_with_a_seed():
    pattern = {1: (0, 10_000)}
    first = [retry_delay(pattern, 1, rng=random.Random(42)) for _ in range(3)]
    second = [retry_delay(pattern, 1, rng=random.Random(42)) for _ in range(3)]
    assert first == second
    rng = random.Random(42)
    expected = random.Random(42).randint(0, 10_000)
    assert retry_delay(pattern, 1, rng=rng) == expected


def test_retry_delay_random_pair_of_equal_bounds():
    assert retry_delay({1: (9, 9)}, 1, rng=random.Random(0)) == 9


def test_retry_delay_random_pair_only_for_its_range_of_tries():
    pattern = {1: 10, 3: (100, 200), 6: 1000}
    rng = random.Random(7)
    assert retry_delay(pattern, 2, rng=rng) == 10
    assert 100 <= retry_delay(pattern, 4, rng=rng) <= 200
    assert retry_delay(pattern, 6, rng=rng) == 1000


def test_retry_delay_random_without_rng_uses_module_random():
    for _ in range(50):
        assert 3 <= retry_delay({1: (3, 4)}, 1) <= 4


# -- decide_retry --------------------------------------------------------------------------


def test_default_max_retries():
    assert DEFAULT_MAX_RETRIES == 5


@pytest.mark.parametrize("tries", [1, 5, 6, 1000])
def test_ignore_retry_always_retries_without_counting(tries):
    assert decide_retry(tries, 5, ignore_retry=True) == RetryDecision(retry=True, count_try=False)


@pytest.mark.parametrize("max_retries", [0, None])
@pytest.mark.parametrize("tries", [1, 5, 10_000])
def test_max_retries_zero_or_none_retries_forever(max_retries, tries):
    assert decide_retry(tries, max_retries) == RetryDecision(retry=True, count_try=True)


def test_retries_until_the_last_try():
    assert decide_retry(1, 3) == RetryDecision(retry=True, count_try=True)
    assert decide_retry(2, 3) == RetryDecision(retry=True, count_try=True)
    # the third try was the last one
    assert decide_retry(3, 3) == RetryDecision(retry=False, count_try=True)
    assert decide_retry(4, 3) == RetryDecision(retry=False, count_try=True)


def test_max_retries_one_never_retries():
    assert decide_retry(1, 1).retry is False


def test_retry_decision_is_frozen():
    decision = decide_retry(1, 3)
    with pytest.raises(AttributeError):
        decision.retry = False  # type: ignore[misc]
