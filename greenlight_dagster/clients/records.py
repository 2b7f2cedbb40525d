"""Typed records the clients yield, independent of wire format.

Both clients normalise what they read into the REST field names of the contracts
(docs/apis/propertyware.md §4, docs/apis/servicefusion.md §6) so the warehouse sees one vocabulary whether a
record came over SOAP or JSON. A record that cannot be normalised is yielded as a
`RejectedRecord` instead of raising, so one bad record never costs the rest of its page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar


@dataclass(frozen=True)
class SourceRecord:
    """One version of one source entity, as read from the API."""

    entity: str  # e.g. "work_orders", "jobs"
    source_id: int
    modified_at: datetime | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class RejectedRecord:
    """A record the client could not turn into a `SourceRecord`, with the reason and raw text."""

    entity: str
    source_key: str | None
    reason: str
    raw: str


E = TypeVar("E")


def entity_named(registry: Mapping[str, E], name: str, api: str) -> E:
    """The entity of an API's registry called ``name``; one clear error naming the known ones otherwise."""
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown {api} entity {name!r}; expected one of {sorted(registry)}") from None
