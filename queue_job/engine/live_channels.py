"""Channels as the database stores them (``queue.job.channel``), merged over the configured tree.

The configuration (odoo.conf, ``ODOO_QUEUE_JOB_CHANNELS``) gives the
defaults. A stored channel may replace its capacity, sequential flag and
throttle ("own settings"), and adds what only the database knows: pause,
rate limit and aging. The runner reads the rows on a NOTIFY and applies them
at once.

Pause, rate limit and aging hold for the channel and every channel under it,
by name, whether or not these channels are configured.

>>> live = merge_channels(parse_channels("root:2"), [
...     StoredChannel("root.mail", own_settings=True, capacity=1),
...     StoredChannel("root.api", rate_limit="100/min"),
...     StoredChannel("root.bank", paused=True)])
>>> live.tree.free_slots({})
{'root': 2, 'root.mail': 1}
>>> live.is_paused("root.bank.sepa"), live.rate_limited("root.api.v2")
(True, ['root.api'])
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .channels import ROOT, ChannelConfigError, ChannelSpec, ChannelTree, normalize_name, parse_channels

__all__ = [
    "LiveChannels",
    "RateLimit",
    "StoredChannel",
    "effective_priority",
    "merge_channels",
    "stored_channels",
    "parse_channels",
    "parse_rate_limit",
]

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_RATE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` starts in any ``period`` seconds, spread evenly: one every period/count."""

    count: int
    period: float

    @property
    def gap(self) -> float:
        return self.period / self.count

    def wait(self, started_in_window: int, since_last: float | None, since_oldest: float | None) -> float:
        """Seconds before the next start is allowed (0: now).

        ``started_in_window``: starts in the last ``period`` seconds;
        ``since_last`` / ``since_oldest``: seconds since the newest / oldest
        of them (None when there is none).
        """
        waits = [0.0]
        if since_last is not None:
            waits.append(self.gap - since_last)
        if started_in_window >= self.count and since_oldest is not None:
            waits.append(self.period - since_oldest)
        return max(waits)

    def __str__(self) -> str:
        return f"{self.count}/{self.period:g}s"


def parse_rate_limit(text: str | None) -> RateLimit | None:
    """``"100/min"``, ``"10 per 10 s"``, ``"5/s"``, ``"1000 per hour"``; empty: no limit.

    >>> parse_rate_limit("10/10s")
    RateLimit(count=10, period=10.0)
    """
    if not text or not text.strip():
        return None
    match = _RATE.match(text)
    unit = _UNITS.get(match.group(3).lower()) if match else None
    if not match or unit is None:
        raise ChannelConfigError(
            f"rate limit {text!r} is not understood: write N per period, e.g. 100/min, 10/10s or 5 per second"
        )
    count = int(match.group(1))
    period = float(match.group(2) or 1) * unit
    if count < 1 or not period > 0 or not math.isfinite(period):
        raise ChannelConfigError(
            f"rate limit {text!r} needs at least 1 job per period, and a period above 0: e.g. 100/min"
        )
    return RateLimit(count, period)


def effective_priority(priority: int, waited: float, step: float) -> int:
    """A job's priority after aging: one better per ``step`` seconds waited (step 0: no aging).

    >>> effective_priority(100, 95.0, 10)
    91
    """
    if not step or waited <= 0:
        return priority
    return priority - math.floor(waited / step)


@dataclass(frozen=True)
class StoredChannel:
    """One ``queue_job_channel`` row, as read by the runner."""

    name: str  # complete name
    own_settings: bool = False  # capacity, sequential and throttle below replace the configured ones
    capacity: int | None = None
    sequential: bool = False
    throttle: float = 0.0
    rate_limit: str | None = None
    paused: bool = False
    aging_step: float = 0.0  # seconds of waiting that improve a job's priority by one


@dataclass
class LiveChannels:
    """What the runner follows for one database."""

    tree: ChannelTree
    paused: frozenset[str] = frozenset()
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)
    aging: dict[str, float] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (channel, why its row is ignored)

    def _matching(self, names: Iterable[str], raw_name: str | None) -> list[str]:
        full = normalize_name(raw_name)
        return [name for name in names if full == name or full.startswith(name + ".")]

    def is_paused(self, raw_name: str | None) -> bool:
        return bool(self._matching(self.paused, raw_name))

    def rate_limited(self, raw_name: str | None) -> list[str]:
        """The rate-limited channels a job of ``raw_name`` counts against."""
        return sorted(self._matching(self.rate_limits, raw_name))

    def aging_step(self, raw_name: str | None) -> float:
        """The aging of the nearest channel that sets one (0: none, and in a sequential channel)."""
        matching = self._matching(self.aging, raw_name)
        if not matching:
            return 0.0
        if any(self.tree.spec(name).sequential for name in self.tree.lineage(self.tree.resolve(raw_name))):
            return 0.0  # a sequential channel runs its jobs strictly in order
        return self.aging[max(matching, key=len)]

    def paces_slots(self, raw_name: str | None) -> bool:
        """Jobs of this channel start one per runner claim: no slot pulls more of them."""
        lineage = self.tree.lineage(self.tree.resolve(raw_name))
        return (
            any(self.tree.spec(name).throttle for name in lineage)
            or bool(self.rate_limited(raw_name))
            or bool(self.aging_step(raw_name))
        )

    def describe(self) -> str:
        text = self.tree.describe()
        extras = [f"{name}:paused" for name in sorted(self.paused)]
        extras += [f"{name}:rate={limit}" for name, limit in sorted(self.rate_limits.items())]
        extras += [f"{name}:aging={step:g}s" for name, step in sorted(self.aging.items())]
        return text + ("; " + ", ".join(extras) if extras else "")


def _check(row: StoredChannel, name: str) -> tuple[ChannelSpec | None, RateLimit | None]:
    """The row's own spec and rate limit; ChannelConfigError saying why it cannot be used."""
    if any(not segment for segment in name.split(".")):
        raise ChannelConfigError(f"name {row.name!r} has an empty segment")
    spec = None
    if row.own_settings:
        if row.capacity is None or row.capacity < 0:
            raise ChannelConfigError(f"capacity {row.capacity!r} must be a whole number of 0 or more")
        if row.sequential and row.capacity != 1:
            raise ChannelConfigError("a sequential channel must have a capacity of 1")
        if row.throttle is None or row.throttle < 0 or not math.isfinite(row.throttle):
            raise ChannelConfigError(f"throttle {row.throttle!r} must be 0 or more seconds")
        spec = ChannelSpec(name, row.capacity, bool(row.sequential), float(row.throttle))
    if row.aging_step is not None and (row.aging_step < 0 or not math.isfinite(row.aging_step)):
        raise ChannelConfigError(f"aging step {row.aging_step!r} must be 0 or more seconds")
    return spec, parse_rate_limit(row.rate_limit)


def stored_channels(rows: Iterable[tuple]) -> list[StoredChannel]:
    """StoredChannel of each row of ``sql.CHANNEL_SETTINGS``."""
    return [
        StoredChannel(
            name=name,
            own_settings=bool(own),
            # An empty number shows as 0 in the form: read it so.
            capacity=capacity or 0,
            sequential=bool(sequential),
            throttle=throttle or 0.0,
            rate_limit=rate_limit,
            paused=bool(paused),
            aging_step=aging_step or 0,
        )
        for name, own, capacity, sequential, throttle, rate_limit, paused, aging_step in rows
    ]


def merge_channels(configured: Iterable[ChannelSpec], stored: Iterable[StoredChannel]) -> LiveChannels:
    """The configured channels with the stored rows over them.

    A row whose values cannot be used (capacity below 0, a rate limit that
    does not parse...) is left out, with the reason in ``problems``; its
    channel keeps its configured settings, the other rows apply. Its pause
    still holds: stopping a channel is never undone by a typo elsewhere.
    """
    specs = {spec.name: spec for spec in configured}
    paused: set[str] = set()
    rate_limits: dict[str, RateLimit] = {}
    aging: dict[str, float] = {}
    problems: list[tuple[str, str]] = []
    sequential_names = {name for name, spec in specs.items() if spec.sequential}
    rows = sorted(stored, key=lambda row: row.name or "")
    for row in rows:
        name = normalize_name(row.name)
        if row.paused:
            paused.add(name)
        try:
            spec, rate = _check(row, name)
        except ChannelConfigError as exc:
            problems.append((name, str(exc)))
            continue
        if spec is not None:
            specs[name] = spec
            if spec.sequential:
                sequential_names.add(name)
            else:
                sequential_names.discard(name)
        if rate is not None:
            rate_limits[name] = rate
        if row.aging_step:
            aging[name] = float(row.aging_step)
    for name in list(aging):
        # A sequential channel runs its jobs strictly in order: aging would reorder them.
        if any(name == seq or name.startswith(seq + ".") for seq in sequential_names):
            problems.append((name, "aging is ignored on a sequential channel"))
            del aging[name]
    try:
        tree = ChannelTree(specs.values())
    except ChannelConfigError as exc:
        problems.append((ROOT, str(exc)))
        tree = ChannelTree(spec for spec in configured)
    return LiveChannels(tree, frozenset(paused), rate_limits, aging, problems)
