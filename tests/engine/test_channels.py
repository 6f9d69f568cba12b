"""Channel configuration, capacities, allocation and throttling (engine/channels.py)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.channels import (
    DEFAULT_CONFIG,
    ChannelConfigError,
    ChannelSpec,
    ChannelTree,
    ThrottleClock,
    normalize_name,
    parse_channels,
)


def tree_of(text):
    return ChannelTree(parse_channels(text))


def by_name(specs):
    return {spec.name: spec for spec in specs}


# -- parsing -------------------------------------------------------------------


def test_parse_root_and_subchannel():
    assert parse_channels("root:4,root.reports:1") == [
        ChannelSpec("root", 4),
        ChannelSpec("root.reports", 1),
    ]


def test_parse_names_without_root_prefix_get_it():
    specs = by_name(parse_channels("root:3,reports:1,sync.bank:2"))
    assert set(specs) == {"root", "root.reports", "root.sync.bank"}
    assert specs["root.reports"].capacity == 1
    assert specs["root.sync.bank"].capacity == 2


@pytest.mark.parametrize(
    "raw, full",
    [
        (None, "root"),
        ("", "root"),
        ("  ", "root"),
        ("root", "root"),
        ("reports", "root.reports"),
        ("root.reports", "root.reports"),
        (" reports.big ", "root.reports.big"),
        # only the "root." prefix is recognised, not a channel merely starting with "root"
        ("rootless", "root.rootless"),
    ],
)
def test_normalize_name(raw, full):
    assert normalize_name(raw) == full


def test_parse_newlines_spaces_and_trailing_commas():
    text = """
        root:4,
        root.reports : 1 ,
        sync:2:throttle=5,,

        bank:1:sequential,
    """
    specs = by_name(parse_channels(text))
    assert list(specs) == ["root", "root.reports", "root.sync", "root.bank"]
    assert specs["root"].capacity == 4
    assert specs["root.reports"].capacity == 1
    assert specs["root.sync"] == ChannelSpec("root.sync", 2, sequential=False, throttle=5.0)
    assert specs["root.bank"] == ChannelSpec("root.bank", 1, sequential=True, throttle=0.0)


def test_parse_empty_config_gives_no_specs():
    assert parse_channels("") == []
    assert parse_channels(None) == []
    assert parse_channels(" , \n ,") == []


def test_capacity_defaults_to_one_when_omitted():
    assert parse_channels("reports") == [ChannelSpec("root.reports", 1)]


def test_capacity_zero_is_allowed():
    assert parse_channels("root:0") == [ChannelSpec("root", 0)]


def test_sequential_option():
    (spec,) = parse_channels("root.bank:1:sequential")
    assert spec.sequential is True
    assert spec.capacity == 1


@pytest.mark.parametrize("value, expected", [("yes", True), ("true", True), ("1", True), ("no", False), ("0", False)])
def test_sequential_option_with_boolean_value(value, expected):
    (spec,) = parse_channels(f"bank:1:sequential={value}")
    assert spec.sequential is expected


def test_sequential_false_does_not_require_capacity_one():
    (spec,) = parse_channels("bank:3:sequential=false")
    assert spec.sequential is False
    assert spec.capacity == 3


def test_throttle_option():
    (spec,) = parse_channels("root.sync:2:throttle=5")
    assert spec.throttle == 5.0
    (spec,) = parse_channels("root.sync:2:throttle=0.5")
    assert spec.throttle == 0.5


def test_throttle_and_sequential_together():
    (spec,) = parse_channels("bank:1:sequential:throttle=2")
    assert spec == ChannelSpec("root.bank", 1, sequential=True, throttle=2.0)


@pytest.mark.parametrize(
    "text, fragments",
    [
        (":4", ["':4'", "name is missing"]),
        ("root:4, :2", ["':2'", "name is missing"]),
        ("root.a..b:1", ["empty segment", "'root.a..b'"]),
        ("root.:1", ["empty segment"]),
        ("reports:two", ["'reports:two'", "'two'", "not a whole number"]),
        ("reports:1.5", ["'1.5'", "not a whole number"]),
        ("reports::sequential", ["not a whole number"]),
        ("reports:-1", ["'reports:-1'", "must not be negative"]),
        ("reports:1:fast", ["unknown option 'fast'", "sequential", "throttle"]),
        ("reports:1:throttle=1:throttle=2", ["option 'throttle' given twice"]),
        ("root:1,reports:1,root.reports:2", ["channel 'root.reports' is configured twice"]),
        ("root:1,root:2", ["channel 'root' is configured twice"]),
        ("bank:2:sequential", ["'bank:2:sequential'", "sequential", "capacity of 1"]),
        ("bank:0:sequential", ["sequential", "capacity of 1"]),
        ("bank:1:sequential=maybe", ["'maybe'", "not a boolean"]),
        ("sync:1:throttle=abc", ["'abc'", "not a number of seconds"]),
        ("sync:1:throttle=", ["not a number of seconds"]),
        ("sync:1:throttle", ["throttle needs a number of seconds"]),
        ("sync:1:throttle=-1", ["throttle needs a number of seconds"]),
    ],
)
def test_parse_errors_say_what_is_wrong(text, fragments):
    with pytest.raises(ChannelConfigError) as info:
        parse_channels(text)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_throttle_must_be_a_finite_number(value):
    # nan would silently disable the throttle (every comparison is False);
    # inf would block the channel for ever after its first job.
    with pytest.raises(ChannelConfigError, match="throttle"):
        parse_channels(f"sync:1:throttle={value}")


def test_channel_config_error_is_a_value_error():
    assert issubclass(ChannelConfigError, ValueError)


# -- the tree -------------------------------------------------------------------


def test_root_defaults_to_capacity_one_when_not_configured():
    tree = tree_of("reports:2")
    assert tree.spec("root").capacity == 1
    assert tree.free_slots({}) == {"root": 1, "root.reports": 1}


def test_from_config_uses_default_when_empty():
    assert DEFAULT_CONFIG == "root:1"
    for text in (None, ""):
        tree = ChannelTree.from_config(text)
        assert tree.names == ["root"]
        assert tree.spec("root").capacity == 1


def test_from_config_parses_text():
    tree = ChannelTree.from_config("root:4,reports:1")
    assert tree.names == ["root", "root.reports"]
    assert tree.spec("root").capacity == 4


def test_from_config_propagates_errors():
    with pytest.raises(ChannelConfigError):
        ChannelTree.from_config("root:x")


def test_root_without_capacity_is_rejected():
    with pytest.raises(ChannelConfigError, match="root"):
        ChannelTree([ChannelSpec("root", None)])


def test_resolve_falls_back_to_nearest_configured_ancestor():
    tree = tree_of("root:4,root.reports:1,root.sync.bank:1")
    assert tree.resolve("root.reports") == "root.reports"
    assert tree.resolve("root.reports.big") == "root.reports"
    assert tree.resolve("reports.big.huge") == "root.reports"
    assert tree.resolve("root.sync.bank.x") == "root.sync.bank"
    # root.sync was created (unlimited) as the parent of root.sync.bank
    assert tree.resolve("root.sync.other") == "root.sync"
    assert tree.resolve("root.other") == "root"
    assert tree.resolve("other") == "root"
    assert tree.resolve(None) == "root"
    assert tree.resolve("") == "root"
    assert tree.resolve("root") == "root"


def test_resolve_does_not_match_on_prefix_only():
    tree = tree_of("root:4,root.rep:1")
    assert tree.resolve("root.reports") == "root"


def test_lineage_nearest_first():
    tree = tree_of("root:4")
    assert tree.lineage("root.a.b") == ["root.a.b", "root.a", "root"]
    assert tree.lineage("root") == ["root"]


def test_enabled_depends_on_root_capacity():
    assert tree_of("root:1").enabled is True
    assert tree_of("root:0").enabled is False
    assert tree_of("root:0,reports:3").enabled is False


def test_root_capacity_zero_starts_nothing():
    tree = tree_of("root:0,reports:3")
    assert tree.free_slots({}) == {"root": 0, "root.reports": 0}
    assert tree.allocate(["root", "root.reports"], lambda c: c, {}) == []


def test_intermediate_channels_are_created_unlimited():
    tree = tree_of("root:2,root.x.y:5")
    assert tree.names == ["root", "root.x", "root.x.y"]
    assert tree.spec("root.x").capacity is None
    assert tree.spec("root.x.y").capacity == 5
    # root.x has no limit of its own: the root bounds it and its child
    assert tree.free_slots({}) == {"root": 2, "root.x": 2, "root.x.y": 2}
    assert tree.free_slots({"root.x.y": 1}) == {"root": 1, "root.x": 1, "root.x.y": 1}
    assert tree.free_slots({"root": 2}) == {"root": 0, "root.x": 0, "root.x.y": 0}


def test_configured_intermediate_channel_is_not_overwritten_by_a_child():
    tree = ChannelTree(parse_channels("root:9,root.x.y:5,root.x:2"))
    assert tree.spec("root.x").capacity == 2
    tree = ChannelTree(parse_channels("root:9,root.x:2,root.x.y:5"))
    assert tree.spec("root.x").capacity == 2
    assert tree.free_slots({}) == {"root": 9, "root.x": 2, "root.x.y": 2}


def test_free_slots_bounded_by_parent():
    tree = tree_of("root:4,root.a:3,root.b:3")
    assert tree.free_slots({"root.a": 3}) == {"root": 1, "root.a": 0, "root.b": 1}
    assert tree.free_slots({}) == {"root": 4, "root.a": 3, "root.b": 3}
    assert tree.free_slots({"root.a": 1, "root.b": 1}) == {"root": 2, "root.a": 2, "root.b": 2}


def test_free_slots_resolves_raw_running_names():
    tree = tree_of("root:4,root.reports:2")
    # "reports.big" runs in root.reports; "unknown" runs in root
    assert tree.free_slots({"reports.big": 1, "root.reports": 1, "unknown": 1}) == {
        "root": 1,
        "root.reports": 0,
    }


def test_free_slots_never_negative_when_over_capacity():
    tree = tree_of("root:2,root.a:1")
    # e.g. the configuration was lowered while jobs ran
    assert tree.free_slots({"root.a": 5}) == {"root": 0, "root.a": 0}


def test_free_slots_deep_unlimited_chain():
    tree = tree_of("root:3,root.a.b.c:1")
    assert tree.free_slots({"root.a.b.c": 1}) == {
        "root": 2,
        "root.a": 2,
        "root.a.b": 2,
        "root.a.b.c": 0,
    }


def test_child_capacity_larger_than_parent_is_bounded_by_parent():
    tree = tree_of("root:10,root.a:2,root.a.b:5")
    assert tree.free_slots({})["root.a.b"] == 2
    assert tree.free_slots({"root.a": 1})["root.a.b"] == 1


# -- allocate ---------------------------------------------------------------------


def channel(candidate):
    return candidate[1]


def test_allocate_keeps_the_given_order_and_stops_at_capacity():
    tree = tree_of("root:2")
    candidates = [(3, "root"), (1, "root"), (2, "root")]
    assert tree.allocate(candidates, channel, {}) == [(3, "root"), (1, "root")]


def test_allocate_counts_running_jobs():
    tree = tree_of("root:3")
    assert tree.allocate([(1, "root"), (2, "root")], channel, {"root": 2}) == [(1, "root")]
    assert tree.allocate([(1, "root")], channel, {"root": 3}) == []


def test_allocate_skips_full_channel_but_takes_later_candidates_of_others():
    tree = tree_of("root:4,root.a:1,root.b:2")
    candidates = [(1, "root.a"), (2, "root.a"), (3, "root.a"), (4, "root.b"), (5, "root.a"), (6, "root.b")]
    assert tree.allocate(candidates, channel, {}) == [(1, "root.a"), (4, "root.b"), (6, "root.b")]


def test_allocate_respects_parent_capacity():
    tree = tree_of("root:4,root.a:3,root.b:3")
    candidates = [(i, "root.a") for i in range(3)] + [(i, "root.b") for i in range(3, 6)]
    chosen = tree.allocate(candidates, channel, {"root.a": 3})
    assert chosen == [(3, "root.b")]
    chosen = tree.allocate(candidates, channel, {})
    assert chosen == [(0, "root.a"), (1, "root.a"), (2, "root.a"), (3, "root.b")]


def test_allocate_unconfigured_subchannel_counts_against_configured_ancestor():
    tree = tree_of("root:5,root.reports:1")
    candidates = [(1, "root.reports.big"), (2, "reports"), (3, "root.other")]
    assert tree.allocate(candidates, channel, {}) == [(1, "root.reports.big"), (3, "root.other")]
    assert tree.allocate(candidates, channel, {"reports.small": 1}) == [(3, "root.other")]


def test_allocate_unlimited_intermediate_bounded_by_root():
    tree = tree_of("root:2,root.x.y:5")
    candidates = [(i, "root.x.y") for i in range(4)]
    assert tree.allocate(candidates, channel, {}) == [(0, "root.x.y"), (1, "root.x.y")]


def test_allocate_blocked_channel_and_its_descendants_start_nothing():
    tree = tree_of("root:10,root.a:5,root.a.b:5,root.c:5")
    candidates = [(1, "root.a"), (2, "root.a.b"), (3, "root.a.b.unconfigured"), (4, "root.c"), (5, "root")]
    assert tree.allocate(candidates, channel, {}, blocked=["root.a"]) == [(4, "root.c"), (5, "root")]
    # blocking a child does not block its parent or siblings
    assert tree.allocate(candidates, channel, {}, blocked={"root.a.b"}) == [(1, "root.a"), (4, "root.c"), (5, "root")]


def test_allocate_blocked_root_blocks_everything():
    tree = tree_of("root:10,root.a:5")
    assert tree.allocate([(1, "root.a"), (2, "root")], channel, {}, blocked=("root",)) == []


def test_allocate_blocked_does_not_consume_capacity():
    tree = tree_of("root:1,root.a:1,root.b:1")
    # the blocked candidate comes first but must not take root's only slot
    assert tree.allocate([(1, "root.a"), (2, "root.b")], channel, {}, blocked=["root.a"]) == [(2, "root.b")]


def test_allocate_takes_any_iterable():
    tree = tree_of("root:2")
    chosen = tree.allocate(iter(["root", "root", "root"]), lambda c: c, {})
    assert chosen == ["root", "root"]


def test_allocate_starts_one_job_per_throttled_channel_per_call():
    # "at least N seconds between two job starts in the channel": two free
    # slots must not mean two jobs started in the same instant.
    tree = tree_of("root:10,root.sync:3:throttle=5,root.other:3")
    candidates = [(1, "root.sync"), (2, "root.sync"), (3, "root.other"), (4, "root.sync.sub"), (5, "root.other")]
    assert tree.allocate(candidates, channel, {}) == [(1, "root.sync"), (3, "root.other"), (5, "root.other")]


def test_allocate_throttled_ancestor_limits_descendants():
    tree = tree_of("root:10,root.sync:5:throttle=5,root.sync.a:2,root.sync.b:2")
    candidates = [(1, "root.sync.a"), (2, "root.sync.b"), (3, "root.sync.a")]
    assert tree.allocate(candidates, channel, {}) == [(1, "root.sync.a")]


def test_throttled_and_sequential_lists():
    tree = tree_of("root:4,sync:2:throttle=5,bank:1:sequential,other:1")
    assert tree.throttled() == {"root.sync": 5.0}
    assert tree.sequential() == ["root.bank"]


def test_describe():
    tree = tree_of("root:4,root.x.y:1:sequential,sync:2:throttle=2.5")
    assert tree.describe() == (
        "root:4, root.sync:2:throttle=2.5, root.x:unlimited, root.x.y:1:sequential"
    )


# -- property: allocate never exceeds a capacity ------------------------------------------

SEGMENTS = st.sampled_from(["a", "b", "c"])
NAMES = st.lists(SEGMENTS, min_size=0, max_size=3).map(lambda segs: ".".join(["root", *segs]))


@st.composite
def scenarios(draw):
    root_capacity = draw(st.integers(0, 6))
    configured = draw(st.lists(NAMES.filter(lambda n: n != "root"), max_size=6, unique=True))
    specs = [ChannelSpec("root", root_capacity, throttle=draw(st.sampled_from([0.0, 0.0, 3.0])))]
    for name in configured:
        specs.append(
            ChannelSpec(name, draw(st.integers(0, 5)), throttle=draw(st.sampled_from([0.0, 0.0, 0.0, 2.0])))
        )
    tree = ChannelTree(specs)
    # running jobs and candidates may be in channels that are not configured
    running = draw(st.dictionaries(NAMES, st.integers(0, 6), max_size=6))
    raw_candidates = draw(st.lists(NAMES, max_size=25))
    candidates = list(enumerate(raw_candidates))
    blocked = draw(st.sets(st.sampled_from(tree.names), max_size=2))
    return tree, running, candidates, blocked


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_allocate_never_exceeds_any_capacity(scenario):
    tree, running, candidates, blocked = scenario
    chosen = tree.allocate(candidates, channel, running, blocked)

    # chosen is an ordered sub-sequence of the candidates
    positions = [candidates.index(c) for c in chosen]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)

    def subtree_count(counts_by_raw_name):
        totals = Counter()
        for raw, count in counts_by_raw_name:
            for ancestor in tree.lineage(tree.resolve(raw)):
                totals[ancestor] += count
        return totals

    before = subtree_count(running.items())
    added = subtree_count((c[1], 1) for c in chosen)
    free = tree.free_slots(running)
    throttled = tree.throttled()
    for name in tree.names:
        capacity = tree.spec(name).capacity
        if capacity is not None:
            # never more than the capacity (and nothing added when already over it)
            assert added[name] <= max(0, capacity - before[name]), name
        assert added[name] <= free[name], name
        if name in throttled:
            assert added[name] <= 1, name
        if any(b in tree.lineage(name) for b in blocked):
            assert added[name] == 0, name

    # greedy: a candidate was skipped only if blocked, or some channel on its
    # way to the root is full (or throttled and already given a job)
    after = before + added
    for candidate in candidates:
        if candidate in chosen:
            continue
        lineage = tree.lineage(tree.resolve(candidate[1]))
        assert (
            any(b in lineage for b in blocked)
            or any(
                tree.spec(n).capacity is not None and after[n] >= tree.spec(n).capacity for n in lineage
            )
            or any(n in throttled and added[n] >= 1 for n in lineage)
        ), candidate


# -- ThrottleClock ----------------------------------------------------------------------------


def test_throttle_clock_blocks_for_the_throttle_delay():
    tree = tree_of("root:4,sync:2:throttle=5,other:1")
    clock = ThrottleClock(tree)
    assert clock.blocked(1000.0) == set()
    assert clock.next_wakeup(1000.0) is None

    clock.started("root.sync", tree, 1000.0)
    assert clock.blocked(1000.0) == {"root.sync"}
    assert clock.blocked(1004.9) == {"root.sync"}
    assert clock.blocked(1005.0) == set()
    assert clock.blocked(1010.0) == set()
    assert clock.next_wakeup(1001.0) == 1005.0
    assert clock.next_wakeup(1005.0) is None


def test_throttle_clock_ignores_unthrottled_channels():
    tree = tree_of("root:4,sync:2:throttle=5,other:1")
    clock = ThrottleClock(tree)
    clock.started("root.other", tree, 1000.0)
    clock.started("root", tree, 1000.0)
    assert clock.blocked(1000.0) == set()
    assert clock.next_wakeup(1000.0) is None


def test_throttle_clock_start_in_subchannel_throttles_ancestor():
    tree = tree_of("root:4,sync:2:throttle=5,sync.a:1")
    clock = ThrottleClock(tree)
    clock.started("root.sync.a", tree, 100.0)
    assert clock.blocked(101.0) == {"root.sync"}
    # and the tree then refuses jobs of the subchannel as well
    assert tree.allocate([(1, "root.sync.a")], channel, {}, clock.blocked(101.0)) == []
    assert tree.allocate([(1, "root.sync.a")], channel, {}, clock.blocked(105.0)) == [(1, "root.sync.a")]


def test_throttle_clock_next_wakeup_is_the_earliest():
    tree = tree_of("root:4,a:1:throttle=10,b:1:throttle=3")
    clock = ThrottleClock(tree)
    clock.started("root.a", tree, 100.0)
    clock.started("root.b", tree, 100.0)
    assert clock.blocked(101.0) == {"root.a", "root.b"}
    assert clock.next_wakeup(101.0) == 103.0
    assert clock.blocked(104.0) == {"root.a"}
    assert clock.next_wakeup(104.0) == 110.0
    # a later start pushes the wakeup back
    clock.started("root.a", tree, 108.0)
    assert clock.next_wakeup(109.0) == 118.0


def test_throttle_clock_fractional_delay():
    tree = tree_of("root:1,a:1:throttle=0.5")
    clock = ThrottleClock(tree)
    clock.started("root.a", tree, 10.0)
    assert clock.blocked(10.25) == {"root.a"}
    assert math.isclose(clock.next_wakeup(10.25), 10.5)
    assert clock.blocked(10.5) == set()
