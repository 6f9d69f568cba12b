"""Channels: named lanes of jobs, each with a capacity, arranged as a tree.

Configuration, as in ``[queue_job] channels`` of odoo.conf or the
``ODOO_QUEUE_JOB_CHANNELS`` environment variable::

    root:4,root.reports:1,root.sync:2:throttle=5,root.bank:1:sequential

Entries are separated by commas or new lines; each is
``name[:capacity[:option[=value]]...]``. ``root.`` may be left out of a name
(``reports:1`` is ``root.reports``). A job's channel counts against its own
capacity and against every ancestor's: with ``root:4,root.reports:1`` at
most one report and at most four jobs in all run at once. A channel that is
not configured runs in its nearest configured ancestor (``root.reports.big``
runs in ``root.reports``). Options:

- ``sequential``: jobs run one at a time in order, and a failed job blocks
  the channel until someone requeues, cancels or finishes it (capacity 1);
- ``throttle=N``: at least N seconds between two job starts in the channel.

>>> tree = ChannelTree(parse_channels("root:4,root.reports:1"))
>>> tree.resolve("root.reports.big")
'root.reports'
>>> tree.free_slots({"root": 1, "root.reports": 1})
{'root': 2, 'root.reports': 0}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

ROOT = "root"
DEFAULT_CONFIG = "root:1"
_KNOWN_OPTIONS = ("sequential", "throttle")

T = TypeVar("T")


class ChannelConfigError(ValueError):
    """The channels configuration cannot be understood."""


@dataclass(frozen=True)
class ChannelSpec:
    name: str  # full name: "root" or "root.a.b"
    capacity: int | None  # None: no limit of its own, only its ancestors'
    sequential: bool = False
    throttle: float = 0.0  # seconds between two starts


def normalize_name(name: str | None) -> str:
    """Full name of a channel: ``None``, ``""`` and ``"root"`` are the root."""
    name = (name or "").strip()
    if not name or name == ROOT:
        return ROOT
    if not name.startswith(ROOT + "."):
        name = f"{ROOT}.{name}"
    return name


def _parse_entry(entry: str) -> ChannelSpec:
    parts = [part.strip() for part in entry.split(":")]
    raw_name = parts[0]
    if not raw_name:
        raise ChannelConfigError(f"channel entry {entry!r}: the channel name is missing")
    name = normalize_name(raw_name)
    if any(not segment for segment in name.split(".")):
        raise ChannelConfigError(f"channel entry {entry!r}: empty segment in name {name!r}")
    capacity: int | None = 1
    if len(parts) > 1:
        try:
            capacity = int(parts[1])
        except ValueError:
            raise ChannelConfigError(
                f"channel entry {entry!r}: capacity {parts[1]!r} is not a whole number"
            ) from None
        if capacity < 0:
            raise ChannelConfigError(f"channel entry {entry!r}: capacity must not be negative")
    options: dict[str, str | bool] = {}
    for item in parts[2:]:
        if not item:
            continue
        key, sep, value = (piece.strip() for piece in item.partition("="))
        if key not in _KNOWN_OPTIONS:
            raise ChannelConfigError(
                f"channel entry {entry!r}: unknown option {key!r} "
                f"(known: {', '.join(_KNOWN_OPTIONS)})"
            )
        if key in options:
            raise ChannelConfigError(f"channel entry {entry!r}: option {key!r} given twice")
        options[key] = value if sep else True
    sequential = options.get("sequential", False)
    if isinstance(sequential, str):
        if sequential.lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise ChannelConfigError(
                f"channel entry {entry!r}: sequential={sequential!r} is not a boolean"
            )
        sequential = sequential.lower() in ("1", "true", "yes")
    if sequential and capacity != 1:
        raise ChannelConfigError(
            f"channel entry {entry!r}: a sequential channel must have a capacity of 1"
        )
    throttle_raw = options.get("throttle", 0)
    try:
        throttle = float(throttle_raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ChannelConfigError(
            f"channel entry {entry!r}: throttle {throttle_raw!r} is not a number of seconds"
        ) from None
    if throttle_raw is True or throttle < 0 or not math.isfinite(throttle):
        raise ChannelConfigError(
            f"channel entry {entry!r}: throttle needs a number of seconds, e.g. throttle=2"
        )
    return ChannelSpec(name=name, capacity=capacity, sequential=bool(sequential), throttle=throttle)


def parse_channels(text: str | None) -> list[ChannelSpec]:
    """Parse a channels configuration string; raise ChannelConfigError on bad input.

    >>> parse_channels("root:2, sync:1:throttle=3")
    [ChannelSpec(name='root', capacity=2, sequential=False, throttle=0.0), \
ChannelSpec(name='root.sync', capacity=1, sequential=False, throttle=3.0)]
    """
    specs: list[ChannelSpec] = []
    seen: set[str] = set()
    for entry in (text or "").replace("\n", ",").split(","):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        spec = _parse_entry(entry)
        if spec.name in seen:
            raise ChannelConfigError(f"channel {spec.name!r} is configured twice")
        seen.add(spec.name)
        specs.append(spec)
    return specs


def _parent(name: str) -> str | None:
    return name.rsplit(".", 1)[0] if "." in name else None


class ChannelTree:
    """The configured channels, and how many jobs each may start now."""

    def __init__(self, specs: Iterable[ChannelSpec] = ()):
        self._specs: dict[str, ChannelSpec] = {ROOT: ChannelSpec(ROOT, 1)}
        for spec in specs:
            self._specs[spec.name] = spec
            parent = _parent(spec.name)
            while parent and parent not in self._specs:
                self._specs[parent] = ChannelSpec(parent, None)
                parent = _parent(parent)
        if self._specs[ROOT].capacity is None:
            raise ChannelConfigError("the root channel needs a capacity")

    @classmethod
    def from_config(cls, text: str | None) -> ChannelTree:
        return cls(parse_channels(text or DEFAULT_CONFIG))

    @property
    def names(self) -> list[str]:
        return sorted(self._specs)

    def spec(self, name: str) -> ChannelSpec:
        return self._specs[name]

    @property
    def enabled(self) -> bool:
        """A root capacity of 0 means: this server runs no jobs."""
        return bool(self._specs[ROOT].capacity)

    def resolve(self, raw_name: str | None) -> str:
        """The configured channel a job of channel ``raw_name`` runs in."""
        name: str | None = normalize_name(raw_name)
        while name not in self._specs:
            name = _parent(name)  # type: ignore[arg-type]
            if name is None:
                # A name outside the tree ("other.x" after normalizing cannot
                # happen, but be safe): the root takes it.
                return ROOT
        return name

    def lineage(self, name: str) -> list[str]:
        """``name`` and its ancestors, nearest first."""
        chain: list[str] = []
        current: str | None = name
        while current is not None:
            chain.append(current)
            current = _parent(current)
        return chain

    def _subtree_running(self, running: Mapping[str, int]) -> dict[str, int]:
        totals = dict.fromkeys(self._specs, 0)
        for name, count in running.items():
            for ancestor in self.lineage(self.resolve(name)):
                totals[ancestor] += count
        return totals

    def free_slots(self, running: Mapping[str, int]) -> dict[str, int]:
        """How many more jobs each configured channel may start.

        ``running`` counts the jobs that occupy a slot, by channel name
        (raw names are resolved). A channel's free slots are bounded by its
        own capacity and by every ancestor's.
        """
        totals = self._subtree_running(running)
        free: dict[str, int] = {}
        for name in sorted(self._specs, key=lambda n: n.count(".")):
            spec = self._specs[name]
            own = None if spec.capacity is None else max(0, spec.capacity - totals[name])
            parent = _parent(name)
            inherited = free[parent] if parent else None
            if own is None:
                free[name] = inherited if inherited is not None else 0
            elif inherited is None:
                free[name] = own
            else:
                free[name] = min(own, inherited)
        return free

    def allocate(
        self,
        candidates: Iterable[T],
        channel_of: Callable[[T], str],
        running: Mapping[str, int],
        blocked: Iterable[str] = (),
        admit: Callable[[T], bool] | None = None,
    ) -> list[T]:
        """Pick, in the given order, the candidates that fit the capacities.

        Candidates are taken best first (the caller sorts them by priority);
        one that does not fit is skipped, and later ones in other channels
        may still fit. Channels in ``blocked`` (and their descendants) start
        nothing. A throttled channel (with its descendants) starts at most one
        job per call: the ThrottleClock blocks it after that start. ``admit``,
        asked about a candidate that fits, may still refuse it (a rate limit
        or a concurrency key already used up in this call).
        """
        remaining = self._remaining(running)
        blocked_set = set(blocked)
        throttled = self.throttled()
        chosen: list[T] = []
        for candidate in candidates:
            lineage = self.lineage(self.resolve(channel_of(candidate)))
            if blocked_set.intersection(lineage):
                continue
            if any(remaining[name] is not None and remaining[name] <= 0 for name in lineage):
                continue
            if admit is not None and not admit(candidate):
                continue
            for name in lineage:
                if remaining[name] is not None:
                    remaining[name] -= 1
            chosen.append(candidate)
            blocked_set.update(name for name in lineage if name in throttled)
        return chosen

    def _remaining(self, running: Mapping[str, int]) -> dict[str, int | None]:
        totals = self._subtree_running(running)
        return {
            name: None if spec.capacity is None else spec.capacity - totals[name]
            for name, spec in self._specs.items()
        }

    def throttled(self) -> dict[str, float]:
        return {name: spec.throttle for name, spec in self._specs.items() if spec.throttle}

    def sequential(self) -> list[str]:
        return [name for name, spec in self._specs.items() if spec.sequential]

    def describe(self) -> str:
        parts = []
        for name in self.names:
            spec = self._specs[name]
            text = f"{name}:{'unlimited' if spec.capacity is None else spec.capacity}"
            if spec.sequential:
                text += ":sequential"
            if spec.throttle:
                text += f":throttle={spec.throttle:g}"
            parts.append(text)
        return ", ".join(parts)


class ThrottleClock:
    """Remembers when each throttled channel last started a job."""

    def __init__(self, tree: ChannelTree):
        self._delays = tree.throttled()
        self._last_start: dict[str, float] = {}

    def follow(self, tree: ChannelTree) -> None:
        """Take the throttles of a changed tree; the last starts are kept."""
        self._delays = tree.throttled()

    def blocked(self, now: float) -> set[str]:
        return {
            name
            for name, delay in self._delays.items()
            if now - self._last_start.get(name, float("-inf")) < delay
        }

    def started(self, channel: str, tree: ChannelTree, now: float) -> None:
        for name in tree.lineage(channel):
            if name in self._delays:
                self._last_start[name] = now

    def next_wakeup(self, now: float) -> float | None:
        times = [
            self._last_start[name] + delay
            for name, delay in self._delays.items()
            if name in self._last_start and self._last_start[name] + delay > now
        ]
        return min(times) if times else None
