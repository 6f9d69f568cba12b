"""Retry policy: how long to wait before the next try, and when to give up.

A retry pattern maps a try count to a delay in seconds, e.g. ``{1: 10, 5: 60}``:
from the 1st try on wait 10 s, from the 5th on wait 60 s. A delay may be a
``(low, high)`` pair, meaning a random delay in that range (to spread a storm
of retries). JSON stores keys as strings and pairs as lists; both are accepted.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_MAX_RETRIES = 5
RETRY_INTERVAL = 10 * 60  # seconds, when neither the error nor a pattern says

Delay = int | tuple[int, int]


class RetryPatternError(ValueError):
    """A retry pattern that cannot be understood."""


def _parse_delay(value: object, key: int) -> Delay:
    if isinstance(value, bool):
        raise RetryPatternError(f"retry pattern: delay for try {key} must be a number")
    if isinstance(value, int):
        delay: Delay = value
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        low, high = (_to_int(v, f"delay for try {key}") for v in value)
        if low > high:
            raise RetryPatternError(
                f"retry pattern: random delay for try {key} is ({low}, {high}): "
                "the first bound must not exceed the second"
            )
        delay = (low, high)
    else:
        delay = _to_int(value, f"delay for try {key}")
    low = delay[0] if isinstance(delay, tuple) else delay
    if low < 0:
        raise RetryPatternError(f"retry pattern: delay for try {key} is negative")
    return delay


def _to_int(value: object, what: str) -> int:
    if isinstance(value, bool) or value is None:
        raise RetryPatternError(f"retry pattern: {what} must be a whole number, got {value!r}")
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise RetryPatternError(
            f"retry pattern: {what} must be a whole number, got {value!r}"
        ) from exc
    if isinstance(value, float) and number != value:
        raise RetryPatternError(f"retry pattern: {what} must be a whole number, got {value!r}")
    return number


def parse_retry_pattern(pattern: Mapping[object, object] | None) -> dict[int, Delay]:
    """Validate a pattern and return it with integer keys, sorted by try count."""
    if not pattern:
        return {}
    if not isinstance(pattern, Mapping):
        raise RetryPatternError(
            f"retry pattern must be a mapping like {{1: 10, 5: 60}}, got {pattern!r}"
        )
    parsed: dict[int, Delay] = {}
    for raw_key, raw_value in pattern.items():
        key = _to_int(raw_key, "try count")
        if key < 0:
            raise RetryPatternError(f"retry pattern: try count {key} is negative")
        if key in parsed:
            raise RetryPatternError(f"retry pattern: try count {key} appears twice")
        parsed[key] = _parse_delay(raw_value, key)
    return dict(sorted(parsed.items()))


def retry_delay(
    pattern: Mapping[int, Delay] | None,
    tries: int,
    requested: float | None = None,
    rng: random.Random | None = None,
) -> int:
    """Seconds to wait before the next try, after ``tries`` tries so far.

    ``requested`` (the ``seconds`` of a RetryableJobError) wins when given.
    Otherwise the pattern entry with the greatest try count not above
    ``tries`` applies; without one, RETRY_INTERVAL.
    """
    if requested:
        return max(0, int(requested))
    delay: Delay = RETRY_INTERVAL
    for threshold, value in sorted((pattern or {}).items()):
        if tries >= threshold:
            delay = value
        else:
            break
    if isinstance(delay, tuple):
        return (rng or random).randint(delay[0], delay[1])
    return delay


@dataclass(frozen=True)
class RetryDecision:
    retry: bool  # False: the job fails now
    count_try: bool  # False: this try is not counted (ignore_retry)


def decide_retry(tries: int, max_retries: int | None, ignore_retry: bool = False) -> RetryDecision:
    """After a retryable error on try number ``tries`` (1-based), retry or fail?

    ``max_retries`` 0 or None means retry forever.
    """
    if ignore_retry:
        return RetryDecision(retry=True, count_try=False)
    if not max_retries:
        return RetryDecision(retry=True, count_try=True)
    return RetryDecision(retry=tries < max_retries, count_try=True)
