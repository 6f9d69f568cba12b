"""JSON encoding of job arguments (engine/codec.py)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from engine.codec import (
    TYPE_KEY,
    UndecodableValue,
    UnstorableArgument,
    contains_tags,
    dumps,
    from_jsonable,
    loads,
    to_jsonable,
)


def round_trip(value, **kwargs):
    """Through real JSON text, as the value is stored in the database."""
    return loads(dumps(value, kwargs.get("encode_extra")), kwargs.get("decode_extra"))


def assert_same(value, expected=None):
    """Round-trips to an equal value of exactly the same type."""
    expected = value if expected is None else expected
    result = round_trip(value)
    assert result == expected
    assert type(result) is type(expected)
    return result


# -- plain JSON -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**70, 1.5, -0.25, "", "héllo ✓", [], {}])
def test_plain_json_values_round_trip(value):
    assert_same(value)
    assert to_jsonable(value) == value


def test_bool_stays_bool():
    assert round_trip([True, 1]) == [True, 1]
    assert type(round_trip([True, 1])[0]) is bool


def test_nested_dicts_and_lists_round_trip():
    value = {"a": [1, {"b": [None, "x", {"c": 2.5}]}], "d": {"e": {}}, "f": []}
    assert_same(value)
    assert to_jsonable(value) == value  # nothing to tag


def test_dumps_is_compact_json():
    assert dumps({"a": [1, 2]}) == '{"a":[1,2]}'


# -- tagged types ----------------------------------------------------------------------


def test_naive_datetime_round_trip():
    value = datetime(2024, 2, 29, 13, 45, 7, 123456)
    result = assert_same(value)
    assert result.tzinfo is None


def test_aware_datetime_round_trip_keeps_offset():
    value = datetime(2024, 3, 31, 1, 59, 59, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    result = assert_same(value)
    assert result.utcoffset() == timedelta(hours=5, minutes=30)
    utc = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert assert_same(utc).utcoffset() == timedelta(0)


def test_date_round_trip_is_a_date_not_a_datetime():
    assert_same(date(1999, 12, 31))


def test_time_round_trip():
    assert_same(time(23, 59, 58, 999999))
    aware = time(8, 30, tzinfo=timezone(timedelta(hours=-3)))
    assert assert_same(aware).utcoffset() == timedelta(hours=-3)


@pytest.mark.parametrize(
    "value",
    [
        timedelta(0),
        timedelta(days=3, seconds=5, microseconds=7),
        timedelta(seconds=-1.5),
        timedelta(weeks=-10, microseconds=1),
    ],
)
def test_timedelta_round_trip(value):
    assert_same(value)


@pytest.mark.parametrize(
    "value",
    ["0", "1.10", "-0.000", "123456789012345678901234567890.123456789", "1E+3", "3.14159265358979323846264338327950"],
)
def test_decimal_round_trip_is_exact(value):
    result = assert_same(Decimal(value))
    # same sign, digits and exponent, not merely an equal number
    assert result.as_tuple() == Decimal(value).as_tuple()
    assert str(result) == str(Decimal(value))


def test_decimal_is_not_turned_into_a_float():
    stored = json.loads(dumps(Decimal("0.1")))
    assert stored == {TYPE_KEY: "decimal", "value": "0.1"}


def test_bytes_round_trip():
    value = bytes(range(256))
    assert_same(value)
    assert assert_same(b"") == b""


def test_bytearray_and_memoryview_come_back_as_bytes():
    assert_same(bytearray(b"\x00abc"), b"\x00abc")
    assert_same(memoryview(b"xyz"), b"xyz")


def test_set_round_trip():
    assert_same({1, "two", 3.5, None})
    assert_same(set())


def test_frozenset_comes_back_as_set():
    assert_same(frozenset({1, 2}), {1, 2})


def test_set_of_tagged_values_round_trip():
    assert_same({date(2020, 1, 1), Decimal("1.5"), b"raw"})


def test_set_of_tuples_round_trip():
    # a set element must be hashable: the tuple must not come back as a list
    assert_same({(1, 2), (3, (4, 5))})


def test_set_of_frozensets_and_frozenset_keys_round_trip():
    # the inner frozenset comes back as a frozenset: it must stay hashable
    assert_same({frozenset({1, 2}), frozenset()})
    assert_same({frozenset({"a"}): 1})


def test_tuple_comes_back_as_list():
    assert round_trip((1, "a", (2, 3))) == [1, "a", [2, 3]]
    assert type(round_trip((1,))) is list


def test_nested_structures_with_tagged_values_round_trip():
    value = {
        "when": datetime(2024, 5, 6, 7, 8, 9),
        "items": [{"price": Decimal("9.99"), "day": date(2024, 5, 6)}, b"blob", {"x", "y"}],
        "wait": timedelta(minutes=5),
        "nested": [[time(1, 2, 3)]],
    }
    assert_same(value)


def test_dict_with_int_keys_round_trips_exactly():
    value = {1: "one", 2: {3: "three"}}
    result = assert_same(value)
    assert list(result) == [1, 2]
    assert all(type(key) is int for key in result)
    assert list(result[2]) == [3]
    assert json.loads(dumps(value))[TYPE_KEY] == "dict_items"


def test_dict_with_tuple_keys_round_trips_exactly():
    value = {(1, 2): "a", (3, (4, 5)): "b", ("x",): [1]}
    result = assert_same(value)
    assert set(result) == {(1, 2), (3, (4, 5)), ("x",)}


def test_dict_with_mixed_and_tagged_keys_round_trips():
    value = {"name": 1, 2: "two", date(2020, 1, 2): "day", None: 0, True: "yes", 1.5: "float"}
    result = assert_same(value)
    assert list(result) == list(value)


def test_dict_items_keeps_a_reserved_key_among_non_string_keys():
    value = {TYPE_KEY: "not a tag", 1: 2}
    assert_same(value)


def test_dict_items_keeps_order():
    value = {3: "c", 1: "a", 2: "b"}
    assert list(round_trip(value)) == [3, 1, 2]


# -- stored forms (compatible with OCA queue_job) ------------------------------------------


def test_stored_forms():
    assert to_jsonable(datetime(2024, 1, 2, 3, 4, 5)) == {TYPE_KEY: "datetime_isoformat", "value": "2024-01-02T03:04:05"}
    assert to_jsonable(date(2024, 1, 2)) == {TYPE_KEY: "date_isoformat", "value": "2024-01-02"}
    assert to_jsonable(time(3, 4)) == {TYPE_KEY: "time_isoformat", "value": "03:04:00"}
    assert to_jsonable(timedelta(seconds=90)) == {TYPE_KEY: "timedelta", "seconds": 90.0}
    assert to_jsonable(b"hi") == {TYPE_KEY: "bytes_b64", "value": "aGk="}
    assert to_jsonable({1}) == {TYPE_KEY: "set", "value": [1]}
    assert to_jsonable({1: 2}) == {TYPE_KEY: "dict_items", "value": [[1, 2]]}


def test_oca_datetime_tag_decodes():
    stored = '{"_type": "datetime_isoformat", "value": "2023-06-07T08:09:10.123456"}'
    assert loads(stored) == datetime(2023, 6, 7, 8, 9, 10, 123456)


def test_oca_date_tag_decodes():
    assert from_jsonable({"_type": "date_isoformat", "value": "2023-06-07"}) == date(2023, 6, 7)


def test_oca_date_tag_holding_a_datetime_decodes_to_a_date():
    result = from_jsonable({"_type": "date_isoformat", "value": "2023-06-07T00:00:00"})
    assert result == date(2023, 6, 7)
    assert type(result) is date


def test_oca_tags_nested_in_kwargs_decode():
    stored = {
        "args": [1, {"_type": "date_isoformat", "value": "2020-02-02"}],
        "kwargs": {"at": {"_type": "datetime_isoformat", "value": "2020-02-02T10:00:00"}},
    }
    assert from_jsonable(stored) == {
        "args": [1, date(2020, 2, 2)],
        "kwargs": {"at": datetime(2020, 2, 2, 10)},
    }


def test_tuple_tag_decodes_to_tuple():
    assert from_jsonable({TYPE_KEY: "tuple", "value": [1, 2]}) == (1, 2)


# -- what cannot be stored --------------------------------------------------------------------


class Thing:
    def __repr__(self):
        return "<Thing>"


def test_arbitrary_object_is_unstorable():
    thing = Thing()
    with pytest.raises(UnstorableArgument) as info:
        to_jsonable(thing)
    assert info.value.value is thing
    assert info.value.path == "value"
    assert "Thing" in str(info.value)


def test_unstorable_message_names_the_path():
    with pytest.raises(UnstorableArgument) as info:
        to_jsonable([0, {"when": Thing()}])
    assert info.value.path == "[1]['when']"
    assert "[1]['when']" in str(info.value)
    assert "of type Thing" in str(info.value)


def test_unstorable_path_with_prefix():
    with pytest.raises(UnstorableArgument) as info:
        to_jsonable((1, 2, [Thing()]), "args")
    assert info.value.path == "args[2][0]"
    assert str(info.value).startswith("job argument args[2][0] of type Thing")


def test_unstorable_from_dumps_too():
    with pytest.raises(UnstorableArgument, match=r"\['k'\]"):
        dumps({"k": Thing()})


def test_unstorable_dict_key_is_named():
    with pytest.raises(UnstorableArgument) as info:
        to_jsonable({"a": {Thing(): 1}})
    assert "['a'][<Thing>] (key)" in info.value.path


def test_unstorable_is_a_type_error():
    assert issubclass(UnstorableArgument, TypeError)


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_unstorable(number):
    with pytest.raises(UnstorableArgument) as info:
        to_jsonable({"ratio": number})
    assert info.value.path == "['ratio']"
    with pytest.raises(UnstorableArgument):
        dumps([number])


def test_nan_inside_a_set_is_unstorable():
    with pytest.raises(UnstorableArgument):
        to_jsonable({math.nan})


def test_dict_using_the_reserved_key_is_unstorable():
    with pytest.raises(UnstorableArgument) as info:
        to_jsonable([{"meta": {TYPE_KEY: "datetime_isoformat", "value": "2020-01-01T00:00:00"}}])
    assert "[0]['meta']" in info.value.path
    assert "'_type'" in str(info.value)
    with pytest.raises(UnstorableArgument):
        dumps({TYPE_KEY: "x"})


def test_encoding_does_not_modify_the_input():
    value = {"s": {1, 2}, "t": (1, 2), "d": {1: [b"x"]}}
    copy = {"s": {1, 2}, "t": (1, 2), "d": {1: [b"x"]}}
    to_jsonable(value)
    assert value == copy


# -- what cannot be read back -------------------------------------------------------------------


def test_unknown_tag_is_undecodable():
    with pytest.raises(UndecodableValue, match="unknown stored type 'pickle'"):
        from_jsonable({TYPE_KEY: "pickle", "value": "xxx"})


def test_unknown_tag_nested_is_undecodable():
    with pytest.raises(UndecodableValue, match="odoo_recordset"):
        loads('{"args": [{"_type": "odoo_recordset", "model": "res.partner", "ids": [1]}]}')


@pytest.mark.parametrize(
    "stored",
    [
        {TYPE_KEY: "datetime_isoformat", "value": "yesterday"},
        {TYPE_KEY: "datetime_isoformat", "value": 5},
        {TYPE_KEY: "datetime_isoformat"},
        {TYPE_KEY: "date_isoformat", "value": "2020-13-45"},
        {TYPE_KEY: "date_isoformat", "value": None},
        {TYPE_KEY: "time_isoformat", "value": "25:00"},
        {TYPE_KEY: "timedelta", "seconds": "soon"},
        {TYPE_KEY: "timedelta"},
        {TYPE_KEY: "decimal", "value": "12,5"},
        {TYPE_KEY: "decimal", "value": [1]},
        {TYPE_KEY: "bytes_b64", "value": "abc"},
        {TYPE_KEY: "bytes_b64", "value": 12},
        {TYPE_KEY: "set", "value": 5},
        {TYPE_KEY: "set", "value": [[1, {}]]},
        {TYPE_KEY: "dict_items", "value": 5},
        {TYPE_KEY: "dict_items", "value": [[1]]},
        {TYPE_KEY: "dict_items", "value": [[1, 2, 3]]},
        {TYPE_KEY: "dict_items", "value": [[{}, 1]]},
        {TYPE_KEY: "tuple", "value": 5},
    ],
    ids=repr,
)
def test_malformed_values_are_undecodable(stored):
    with pytest.raises(UndecodableValue) as info:
        from_jsonable({"args": [stored]})
    assert f"malformed stored {stored[TYPE_KEY]}" in str(info.value)


def test_undecodable_value_inside_a_set_keeps_its_own_message():
    stored = {TYPE_KEY: "set", "value": [{TYPE_KEY: "pickle"}]}
    with pytest.raises(UndecodableValue, match="unknown stored type 'pickle'"):
        from_jsonable(stored)
    stored = {TYPE_KEY: "dict_items", "value": [[1, {TYPE_KEY: "decimal", "value": "x"}]]}
    with pytest.raises(UndecodableValue, match="malformed stored decimal"):
        from_jsonable(stored)


@pytest.mark.parametrize("decode_extra", [None, {"custom": lambda obj: obj}])
def test_tag_that_is_not_a_string_is_undecodable(decode_extra):
    with pytest.raises(UndecodableValue, match="unknown stored type"):
        from_jsonable({TYPE_KEY: ["set"], "value": []}, decode_extra)


def test_undecodable_is_a_value_error():
    assert issubclass(UndecodableValue, ValueError)


@pytest.mark.parametrize("text", ["", "{", "not json", b"\xff\xfe{"])
def test_text_that_is_not_json_is_undecodable(text):
    with pytest.raises(UndecodableValue, match="not JSON"):
        loads(text)


def test_loads_accepts_bytes():
    assert loads(b'{"a": [1]}') == {"a": [1]}


# -- hooks ----------------------------------------------------------------------------------------


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self):
        return hash((self.x, self.y))


def encode_point(value):
    if isinstance(value, Point):
        return {TYPE_KEY: "point", "xy": [value.x, value.y]}
    return None


def decode_point(obj):
    return Point(*obj["xy"])


def test_encode_extra_and_decode_extra_hooks_handle_custom_types():
    value = {"p": Point(1, 2), "many": [Point(3, 4)], "when": date(2020, 1, 1), 5: Point(0, 0)}
    text = dumps(value, encode_point)
    assert '"_type":"point"' in text
    assert loads(text, {"point": decode_point}) == value


def test_custom_type_without_encode_hook_is_unstorable():
    with pytest.raises(UnstorableArgument):
        dumps([Point(1, 2)])


def test_custom_tag_without_decode_hook_is_undecodable():
    text = dumps([Point(1, 2)], encode_point)
    with pytest.raises(UndecodableValue, match="'point'"):
        loads(text)


def test_encode_hook_returning_none_falls_back_to_builtins():
    calls = []

    def hook(value):
        calls.append(value)
        return None

    assert from_jsonable(to_jsonable([date(2020, 1, 1)], "", hook)) == [date(2020, 1, 1)]
    assert calls == [date(2020, 1, 1)]
    with pytest.raises(UnstorableArgument):
        to_jsonable(Thing(), "", hook)


def test_encode_hook_is_used_inside_sets_and_dict_keys():
    value = {"s": {Point(1, 1)}, "d": {Point(2, 2): "x"}}
    assert round_trip(value, encode_extra=encode_point, decode_extra={"point": decode_point}) == value


def test_decode_hook_receives_the_tagged_object():
    seen = []

    def decode(obj):
        seen.append(obj)
        return "decoded"

    assert from_jsonable([{TYPE_KEY: "custom", "a": 1}], {"custom": decode}) == ["decoded"]
    assert seen == [{TYPE_KEY: "custom", "a": 1}]


def test_decode_hook_errors_propagate():
    def decode(obj):
        raise UndecodableValue("model gone")

    with pytest.raises(UndecodableValue, match="model gone"):
        from_jsonable({TYPE_KEY: "odoo_recordset"}, {"odoo_recordset": decode})


# -- contains_tags -----------------------------------------------------------------------------


def test_contains_tags():
    assert contains_tags({TYPE_KEY: "set", "value": []}) is True
    assert contains_tags([1, {"a": [{TYPE_KEY: "x"}]}]) is True
    assert contains_tags({"a": [1, 2], "b": {"c": None}}) is False
    assert contains_tags([]) is False
    assert contains_tags("_type") is False
    assert contains_tags(to_jsonable([datetime(2020, 1, 1)])) is True
