"""JSON encoding of job arguments.

Values that JSON cannot carry are stored as tagged objects
``{"_type": "...", ...}``. The tags for recordsets, dates, datetimes and XML
elements are the ones OCA queue_job writes, so rows written by it decode
here. Recordsets (and anything else that needs Odoo) are handled by hooks
given by the caller; this module imports no Odoo. Nothing is ever pickled.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

TYPE_KEY = "_type"


class UnstorableArgument(TypeError):
    """An argument of a job that cannot be stored as JSON."""

    def __init__(self, path: str, value: object):
        self.path = path
        self.value = value
        super().__init__(
            f"job argument {path} of type {type(value).__name__} cannot be stored "
            f"(supported: JSON types, recordsets, date, datetime, time, timedelta, "
            f"Decimal, bytes, set, tuple): {value!r:.200}"
        )


class UndecodableValue(ValueError):
    """A stored value whose tag is unknown or whose content is malformed."""


Encoder = Callable[[Any], dict | None]
Decoder = Callable[[dict], Any]


def _encode_builtin(value: Any) -> dict | None:
    # datetime is a subclass of date: test it first.
    if isinstance(value, datetime):
        return {TYPE_KEY: "datetime_isoformat", "value": value.isoformat()}
    if isinstance(value, date):
        return {TYPE_KEY: "date_isoformat", "value": value.isoformat()}
    if isinstance(value, time):
        return {TYPE_KEY: "time_isoformat", "value": value.isoformat()}
    if isinstance(value, timedelta):
        return {TYPE_KEY: "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, Decimal):
        return {TYPE_KEY: "decimal", "value": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {TYPE_KEY: "bytes_b64", "value": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (set, frozenset)):
        return {TYPE_KEY: "set", "value": list(value)}
    return None


def _decode_builtin(obj: dict) -> Any:
    kind = obj[TYPE_KEY]
    value = obj.get("value")
    if kind == "datetime_isoformat":
        return datetime.fromisoformat(value)
    if kind == "date_isoformat":
        # OCA wrote dates with the same tag; some were full datetimes.
        return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
    if kind == "time_isoformat":
        return time.fromisoformat(value)
    if kind == "timedelta":
        return timedelta(seconds=obj.get("seconds"))
    if kind == "decimal":
        return Decimal(value)
    if kind == "bytes_b64":
        return base64.b64decode(value)
    if kind == "set":
        return set(value)
    if kind == "tuple":
        return tuple(value)
    raise KeyError(kind)


def to_jsonable(value: Any, path: str = "", encode_extra: Encoder | None = None) -> Any:
    """Return ``value`` as plain JSON types, tagging what JSON cannot carry.

    Raises UnstorableArgument naming the first value (by its path, e.g.
    ``args[1]['when']``) that neither JSON nor a hook can store.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise UnstorableArgument(path or "value", value)
        return value
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            # JSON would turn 1 into "1": keep the keys as they are.
            return {
                TYPE_KEY: "dict_items",
                "value": [
                    [to_jsonable(k, f"{path}[{k!r}] (key)", encode_extra),
                     to_jsonable(v, f"{path}[{k!r}]", encode_extra)]
                    for k, v in value.items()
                ],
            }
        out = {
            key: to_jsonable(item, f"{path}[{key!r}]", encode_extra)
            for key, item in value.items()
        }
        if TYPE_KEY in out:
            raise UnstorableArgument(f"{path} (dict using the reserved key '_type')", value)
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, f"{path}[{i}]", encode_extra) for i, item in enumerate(value)]
    if encode_extra is not None:
        tagged = encode_extra(value)
        if tagged is not None:
            return tagged
    tagged = _encode_builtin(value)
    if tagged is not None:
        if tagged[TYPE_KEY] == "set":
            tagged["value"] = to_jsonable(tagged["value"], path, encode_extra)
        return tagged
    raise UnstorableArgument(path or "value", value)


def from_jsonable(value: Any, decode_extra: dict[str, Decoder] | None = None) -> Any:
    """Inverse of to_jsonable: rebuild tagged objects, recursively."""
    if isinstance(value, list):
        return [from_jsonable(item, decode_extra) for item in value]
    if not isinstance(value, dict):
        return value
    if TYPE_KEY not in value:
        return {key: from_jsonable(item, decode_extra) for key, item in value.items()}
    kind = value[TYPE_KEY]
    if decode_extra and isinstance(kind, str) and kind in decode_extra:
        return decode_extra[kind](value)
    if kind in ("set", "dict_items"):
        items = from_jsonable(value.get("value") or [], decode_extra)
        try:
            if not isinstance(items, list):
                raise TypeError(f"{kind} needs a list")
            if kind == "set":
                return {_hashable(item) for item in items}
            return {_hashable(k): v for k, v in items}
        except (TypeError, ValueError) as exc:
            raise UndecodableValue(f"malformed stored {kind}: {value!r:.200}") from exc
    try:
        return _decode_builtin(value)
    except KeyError as exc:
        raise UndecodableValue(f"unknown stored type {kind!r}") from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise UndecodableValue(f"malformed stored {kind}: {value!r:.200}") from exc


def _hashable(key: Any) -> Any:
    # A tuple key (or set element) comes back from JSON as a list, a frozenset as a set.
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, set):
        return frozenset(key)
    return key


def contains_tags(value: Any) -> bool:
    """True if ``value`` is already in stored form, holding a tagged object."""
    if isinstance(value, dict):
        return TYPE_KEY in value or any(contains_tags(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_tags(v) for v in value)
    return False


def dumps(value: Any, encode_extra: Encoder | None = None) -> str:
    return json.dumps(to_jsonable(value, "", encode_extra), separators=(",", ":"))


def loads(text: str | bytes, decode_extra: dict[str, Decoder] | None = None) -> Any:
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise UndecodableValue(f"stored value is not JSON: {text!r:.200}") from exc
    return from_jsonable(raw, decode_extra)
