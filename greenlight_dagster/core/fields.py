"""Reading loosely typed source records (fixture/REST field names) into Python values.

Records reach `core/` as plain mappings straight from the warehouse or the APIs, where ids may
be ints or numeric strings (SF documents integer ids but shows ``"1"`` in examples) and
timestamps are ISO-8601 strings. One small set of readers keeps every rule module from
re-implementing, slightly differently, what "an id" or "a timestamp" means.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

#: How far ahead of our clock a source's last-modified time may be and still be believed: server
#: clocks drift by seconds, not days. A later one (``9999-12-31T23:59:59Z``) is a data error; a
#: high-water mark or sensor cursor moved there would freeze every later incremental read.
CLOCK_SKEW = timedelta(minutes=5)


def latest_believable(now: datetime) -> datetime:
    """The latest last-modified time a mark or cursor may take at ``now`` (``now`` plus `CLOCK_SKEW`)."""
    return now + CLOCK_SKEW

#: The years a source timestamp may fall in; the warehouse reads the same range (dbt vars
#: ``date_min_year``/``date_max_year``, macro ``is_calendar_text``). Outside it a value is a
#: placeholder or a typing slip ("0001-01-01", "9999-12-31"), never a day to act on or push.
MIN_YEAR, MAX_YEAR = 1900, 2099


def as_int(value: object) -> int | None:
    """An integer id from an int or a numeric string; None for anything else (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
    return None


def as_text(value: object) -> str:
    """A stripped string, or "" when the value is missing; numbers are rendered, not rejected."""
    if value is None or isinstance(value, bool):
        return ""
    return str(value).strip()


def as_items(value: object) -> list[Any]:
    """A list-valued field (custom fields, locations, notes) as a list whatever the source sent: the
    list itself, one item sent bare (an object or a text), or nothing for a missing or wrong-typed value."""
    if isinstance(value, list | tuple):
        return list(value)
    return [value] if isinstance(value, Mapping | str) and value else []


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 string or datetime (naive = UTC), in any year.

    For a source's own modified time: a record stamped ``9999-12-31`` is still a record, loaded
    and flagged (`warehouse.loader`'s mark ceiling), never dropped for its timestamp.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    try:
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:  # 0001-01-01 or 9999-12-31 with an offset has no UTC equivalent
        return None


def as_timestamp(value: object) -> datetime | None:
    """`parse_timestamp`, but None outside ``MIN_YEAR``..``MAX_YEAR``: a day to act on or push."""
    dt = parse_timestamp(value)
    return dt if dt is not None and MIN_YEAR <= dt.year <= MAX_YEAR else None


def record_id(record: Mapping[str, Any] | None) -> int | None:
    """The ``id`` of a record, or None when the record or its id is missing."""
    return None if record is None else as_int(record.get("id"))
