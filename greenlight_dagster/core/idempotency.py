"""Idempotency keys and the cross-system id: how one intended write is recognised again.

Every write is first a ledger row keyed by `idempotency_key` (unique in ``ops.sync_ledger``),
so planning the same write twice - a rerun, a retry, two concurrent runs - lands on one row.

The key deliberately differs by kind of operation:

* **create-once operations** (`CREATE_ONCE_OPERATIONS`: ``create_job``, ``create_customer``):
  the key is ``target:operation:source_id`` with **no payload hash**. The invariant is *at most
  one SF job per PW work order, ever*; if the hash were in the key, editing the work order's
  description would produce a new key and a second job. A change to a work order whose job
  already exists becomes a separate ``attention`` entry (the SF API cannot update a job).
* **every other operation** (PW updates, closes, notes, attention entries): the key is
  ``target:operation:source_id:<hash16>``, the first 16 hex digits of `payload_hash`. Each
  distinct intended state is written once; the same state planned again is the same row.

The cross-system id stamped on an SF job's ``po_number`` is ``PW-<work order id>``
(`cross_system_id`), and the ``PW Work Order ID`` custom field carries the id as well: only
these stamps, which this product writes, link a job to a work order (decision 0012). A bare
``"4521"`` or a look-alike (``PW 4521``, ``PO-4521``) in ``po_number`` is someone's own
purchase-order number and never links, whatever work order happens to share it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

CREATE_ONCE_OPERATIONS = frozenset({"create_job", "create_customer"})
HASH_LENGTH = 16
CROSS_SYSTEM_PREFIX = "PW-"
#: SF job custom field that carries the PW work order id as well (``po_number`` is the primary stamp).
CROSS_SYSTEM_FIELD = "PW Work Order ID"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SOURCE_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")
_CROSS_ID = re.compile(r"^\s*PW-([1-9][0-9]{0,17})\s*$", re.IGNORECASE)
_FIELD_ID = re.compile(r"^\s*(?:PW-)?([1-9][0-9]{0,17})\s*$", re.IGNORECASE)


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"payload value of type {type(value).__name__} is not JSON-serialisable")


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The one text form of a payload: sorted keys, compact separators, UTF-8 kept, no NaN."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
    )


def payload_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of `canonical_json`: equal for equal payloads whatever their key order."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def entity_source_id(kind: str, entity_id: int | str) -> str:
    """Source id of a non-work-order entity, e.g. ``portfolio-1`` or ``tenant-500``."""
    return f"{kind}-{entity_id}"


def idempotency_key(
    target: str, operation: str, source_id: int | str, payload: Mapping[str, Any] | None = None
) -> str:
    """The ledger key of a write (see the module docstring for why creates omit the hash)."""
    if not _NAME.match(target):
        raise ValueError(f"target must be a lower-case name, got {target!r}")
    if not _NAME.match(operation):
        raise ValueError(f"operation must be a lower-case name, got {operation!r}")
    source = str(source_id)
    if not _SOURCE_ID.match(source):
        raise ValueError(f"source_id must be letters, digits, '_', '.', '-', got {source!r}")
    base = f"{target}:{operation}:{source}"
    if operation in CREATE_ONCE_OPERATIONS:
        return base
    if payload is None:
        raise ValueError(f"operation {operation!r} needs a payload: its key includes the payload hash")
    return f"{base}:{payload_hash(payload)[:HASH_LENGTH]}"


def cross_system_id(work_order_id: int) -> str:
    """The value stamped on an SF job's ``po_number``: ``PW-<work order id>``."""
    if isinstance(work_order_id, bool) or not isinstance(work_order_id, int) or work_order_id <= 0:
        raise ValueError(f"work order id must be a positive integer, got {work_order_id!r}")
    return f"{CROSS_SYSTEM_PREFIX}{work_order_id}"


def parse_cross_system_id(value: object) -> int | None:
    """The PW work order id in our ``po_number`` stamp ``PW-<id>`` (any case); None for anything else.

    SF's ``po_number`` filter is a partial match ("PW-9000" also finds "PW-90001"), so callers
    compare the parsed id exactly. A bare number is never our stamp: it is None.
    """
    match = _CROSS_ID.match(value) if isinstance(value, str) else None
    return int(match.group(1)) if match is not None else None


def parse_stamp_field(value: object) -> int | None:
    """The PW work order id in the ``PW Work Order ID`` custom field: the field's name makes a bare
    id unambiguous there (``9000``, or ``PW-9000``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    match = _FIELD_ID.match(value) if isinstance(value, str) else None
    return int(match.group(1)) if match is not None else None
