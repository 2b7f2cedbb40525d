"""One in-memory world shared by the PW and SF sandbox servers and the admin API.

Both servers read and write the same `SandboxState`, so a job created through the SF
REST server and a work order closed through the PW SOAP server are visible to each
other and to `GET /state` at once, exactly as the fixture format
(docs/operations.md §3) describes the world.

The clock is a *sandbox* clock: frozen at the fixture's `clock` and moved only by the
admin API or by mutations. Every mutation stamps the record with the current clock and
then advances it by one second, so last-modified times are deterministic and strictly
increasing: incremental syncs can be tested without sleeping.

Change tracking: every mutation (``upsert``/``patch``/``delete``, and ``load``/``reset`` for
everything) gives the table and the record a new *version*, a number never handed out twice.
The servers' read caches are keyed on these (`derived` holds what a list query matches until
its table changes; the PW server keeps each record's rendered XML per record version), so a
change through any path - the SOAP or REST servers, the admin API, a fixture load - is
visible on the very next read. Records must therefore only be changed through these methods:
an edit made in place to a record dict (tests planting values no API accepts) is seen only if
no read came between it and the record's last write or the last load.

Creates need a few answers over a whole table (the highest nested contact id, the customer
with a given name). Rescanning 50,000 customers on every ``POST`` made a create cost grow with
the table (10.8 ms at 22,772 customers), so `high_water` and `index` are kept current on each
write instead: a write costs one record's worth of work, whatever the table's size.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from greenlight_dagster.clients.pw_entities import PW_ENTITIES as PW_REGISTRY
from greenlight_dagster.clients.sf_entities import SF_ENTITIES as SF_REGISTRY
from greenlight_dagster.sandbox.faults import FaultInjector

#: Fixture keys of what each sandbox server holds: PW's record kinds from the registry; SF's landed kinds
#: and the job categories the push plan reads.
PW_ENTITIES = tuple(e.fixture_key for e in PW_REGISTRY)
SF_ENTITIES = (*(e.name for e in SF_REGISTRY), "job_categories")

#: Field that each server bumps on every mutation.
MODIFIED_FIELD = {"propertyware": "lastModifiedDateTime", "servicefusion": "updated_at"}

DEFAULT_CLOCK = "2026-01-05T12:00:00Z"

#: Values kept by `SandboxState.derived` (a large table's id list is ~2 MB).
DERIVED_CACHE_SIZE = 32

T = TypeVar("T")

#: Default SF job statuses (docs/apis/servicefusion.md §6.4; codes past 05_OTW are our assumption).
DEFAULT_JOB_STATUSES: list[dict[str, Any]] = [
    {"id": 1, "code": "01_UNS", "name": "Unscheduled", "category": "Open Jobs", "is_custom": False},
    {"id": 2, "code": "02_SCH", "name": "Scheduled", "category": "Open Jobs", "is_custom": False},
    {"id": 3, "code": "03_DSP", "name": "Dispatched", "category": "Open Jobs", "is_custom": False},
    {"id": 4, "code": "04_DEL", "name": "Delayed", "category": "Open Jobs That Are In Progress", "is_custom": False},
    {"id": 5, "code": "05_OTW", "name": "On The Way", "category": "Open Jobs That Are In Progress", "is_custom": False},
    {"id": 6, "code": "06_ONS", "name": "On Site", "category": "Open Jobs That Are In Progress", "is_custom": False},
    {"id": 7, "code": "07_STR", "name": "Started", "category": "Open Jobs That Are In Progress", "is_custom": False},
    {"id": 8, "code": "08_PAU", "name": "Paused", "category": "Open Jobs That Are In Progress", "is_custom": False},
    {"id": 9, "code": "09_RES", "name": "Resumed", "category": "Open Jobs That Are In Progress", "is_custom": False},
    {"id": 10, "code": "10_PCM", "name": "Partially Completed", "category": "Open Jobs That Are In Progress",
     "is_custom": False},
    {"id": 11, "code": "11_CMP", "name": "Completed", "category": "Closed Jobs", "is_custom": False},
    {"id": 12, "code": "12_CAN", "name": "Cancelled", "category": "Closed Jobs", "is_custom": False},
    {"id": 13, "code": "13_INV", "name": "Invoiced", "category": "Closed Jobs", "is_custom": False},
    {"id": 14, "code": "14_PIF", "name": "Paid In Full", "category": "Closed Jobs", "is_custom": False},
]
DEFAULT_JOB_CATEGORIES: list[dict[str, Any]] = [
    {"id": i, "name": n}
    for i, n in enumerate(
        ["Plumbing", "Electrical", "HVAC", "Appliance", "General Maintenance", "Turnover", "Inspection",
         "Pest Control", "Landscaping", "Roofing"],
        start=1,
    )
]
DEFAULT_TECHS: list[dict[str, Any]] = [
    {"id": i, "first_name": first, "last_name": last, "email": f"{first.lower()}.{last.lower()}@techs.example",
     "is_field_worker": True, "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}
    for i, (first, last) in enumerate([("Sam", "Ortiz"), ("Lee", "Chen"), ("Ana", "Baker"), ("Raj", "Patel")], start=1)
]
DEFAULT_ME = {"id": 1, "first_name": "Api", "last_name": "User", "email": "api.user@sandbox.example"}


def parse_ts(value: str) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` or offset) into an aware UTC datetime."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_ts(value: datetime) -> str:
    """Format as the wire format both APIs use: ``yyyy-MM-ddTHH:mm:ssZ``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NotFound(KeyError):
    """A record id that the sandbox does not hold."""


@dataclass
class RequestLogEntry:
    seq: int
    server: str
    method: str
    operation: str
    status: int
    path: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "server": self.server, "method": self.method,
                "operation": self.operation, "path": self.path, "status": self.status}


def _record_id(record: dict[str, Any]) -> int:
    return int(record["id"])


@dataclass
class _HighWater:
    value_of: Callable[[dict[str, Any]], int]
    value: int


class _Index:
    """Key -> record ids, with each record's keys remembered so a rewrite moves it."""

    def __init__(self, keys_of: Callable[[dict[str, Any]], Iterable[Hashable]]) -> None:
        self.keys_of = keys_of
        self.ids: dict[Hashable, set[int]] = {}
        self._keys: dict[int, tuple[Hashable, ...]] = {}

    def put(self, record_id: int, record: dict[str, Any] | None) -> None:
        """Index ``record`` under ``record_id`` (None: the record was deleted)."""
        for key in self._keys.pop(record_id, ()):
            holders = self.ids[key]
            holders.discard(record_id)
            if not holders:
                del self.ids[key]
        if record is not None:
            keys = tuple(dict.fromkeys(self.keys_of(record)))
            self._keys[record_id] = keys
            for key in keys:
                self.ids.setdefault(key, set()).add(record_id)


@dataclass
class SandboxState:
    """The whole sandbox world, thread-safe behind one re-entrant lock.

    Handlers hold ``state.lock`` for the duration of a read-modify-write; list reads copy
    what they need under the lock and serialise outside it.
    """

    fixture: dict[str, Any]
    faults: FaultInjector = field(default_factory=FaultInjector)
    lock: threading.RLock = field(default_factory=threading.RLock)
    requests: list[RequestLogEntry] = field(default_factory=list)
    _version: int = field(default=0, init=False, repr=False, compare=False)
    _loaded_version: int = field(default=0, init=False, repr=False, compare=False)
    _table_versions: dict[tuple[str, str], int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _record_versions: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict, init=False, repr=False,
                                                                    compare=False)
    _derived: OrderedDict[tuple[str, str, Hashable], tuple[int, Any]] = field(
        default_factory=OrderedDict, init=False, repr=False, compare=False)
    _high_waters: dict[tuple[str, str, str], _HighWater] = field(default_factory=dict, init=False, repr=False,
                                                               compare=False)
    _indexes: dict[tuple[str, str, str], _Index] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._initial = copy.deepcopy(self.fixture)
        self.load(self.fixture)

    # ---- whole-state operations (admin API) ----
    def load(self, fixture: dict[str, Any]) -> None:
        """Replace the world with ``fixture`` (docs/operations.md §3); unknown fields are kept."""
        if fixture.get("version", 1) != 1:
            raise ValueError(f"unsupported fixture version {fixture.get('version')!r}; expected 1")
        with self.lock:
            data = copy.deepcopy(fixture)
            self.clock = parse_ts(data.get("clock") or DEFAULT_CLOCK)
            pw = data.get("propertyware") or {}
            sf = data.get("servicefusion") or {}
            self.pw: dict[str, dict[int, dict[str, Any]]] = {
                e: {int(r["id"]): r for r in pw.get(e, [])} for e in PW_ENTITIES
            }
            self.sf: dict[str, dict[int, dict[str, Any]]] = {
                e: {int(r["id"]): r for r in sf.get(e, [])} for e in SF_ENTITIES
            }
            if not self.sf["job_statuses"]:
                self.sf["job_statuses"] = {r["id"]: dict(r) for r in DEFAULT_JOB_STATUSES}
            if not self.sf["job_categories"]:
                self.sf["job_categories"] = {r["id"]: dict(r) for r in DEFAULT_JOB_CATEGORIES}
            if not self.sf["techs"]:
                self.sf["techs"] = {r["id"]: dict(r) for r in DEFAULT_TECHS}
            self.extra = {k: v for k, v in data.items() if k not in ("version", "clock", "propertyware",
                                                                      "servicefusion")}
            self.pw_extra = {k: v for k, v in pw.items() if k not in PW_ENTITIES}
            self.sf_extra = {k: v for k, v in sf.items() if k not in SF_ENTITIES}
            self._version += 1
            self._loaded_version = self._version
            self._table_versions.clear()
            self._record_versions.clear()
            self._derived.clear()
            self._high_waters.clear()
            self._indexes.clear()

    def reset(self) -> None:
        self.load(self._initial)

    def snapshot(self) -> dict[str, Any]:
        """The whole current state in fixture format (ids ascending)."""
        with self.lock:
            out: dict[str, Any] = {"version": 1, "clock": format_ts(self.clock), **copy.deepcopy(self.extra)}
            out["propertyware"] = {e: [copy.deepcopy(self.pw[e][k]) for k in sorted(self.pw[e])]
                                   for e in PW_ENTITIES}
            out["propertyware"].update(copy.deepcopy(self.pw_extra))
            out["servicefusion"] = {e: [copy.deepcopy(self.sf[e][k]) for k in sorted(self.sf[e])]
                                    for e in SF_ENTITIES}
            out["servicefusion"].update(copy.deepcopy(self.sf_extra))
            return out

    # ---- clock ----
    def now(self) -> datetime:
        with self.lock:
            return self.clock

    def set_clock(self, now: str | None = None, advance_seconds: float | None = None) -> datetime:
        with self.lock:
            if now is not None:
                self.clock = parse_ts(now)
            if advance_seconds is not None:
                self.clock += timedelta(seconds=advance_seconds)
            return self.clock

    def tick(self) -> str:
        """Return the current clock as a wire timestamp and advance it by one second."""
        with self.lock:
            stamp = format_ts(self.clock)
            self.clock += timedelta(seconds=1)
            return stamp

    # ---- change tracking ----
    def table_version(self, system: str, entity: str) -> int:
        """Changes whenever any record of the table is added, changed or deleted (or the world reloaded)."""
        with self.lock:
            return self._table_versions.get((system, entity), self._loaded_version)

    def record_version(self, system: str, entity: str, record_id: int) -> int:
        """Changes whenever this record is written (or the world reloaded); never reused for other content."""
        with self.lock:
            versions = self._record_versions.get((system, entity))
            return versions.get(record_id, self._loaded_version) if versions else self._loaded_version

    def derived(self, system: str, entity: str, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, a value read from one table only (what a list query matches, in order),
        computed again only once that table changed; the least recently used values are dropped."""
        with self.lock:
            slot = (system, entity, key)
            version = self.table_version(system, entity)
            cached = self._derived.get(slot)
            if cached is not None and cached[0] == version:
                self._derived.move_to_end(slot)
                value: T = cached[1]
                return value
            value = compute()
            self._derived[slot] = (version, value)
            if len(self._derived) > DERIVED_CACHE_SIZE:
                self._derived.popitem(last=False)
            return value

    def high_water(self, system: str, entity: str, name: str, value_of: Callable[[dict[str, Any]], int]) -> int:
        """The highest ``value_of(record)`` the table has held since this was first asked for.

        Computed over the table on first use (and after a load), then kept current by each write;
        it never goes down (a deleted record's value stays), so a number derived from it is never
        handed out twice - as the real services do with ids.
        """
        with self.lock:
            slot = (system, entity, name)
            if slot not in self._high_waters:
                values = (value_of(r) for r in self.table(system, entity).values())
                self._high_waters[slot] = _HighWater(value_of, max(values, default=0))
            return self._high_waters[slot].value

    def index(self, system: str, entity: str, name: str,
              keys_of: Callable[[dict[str, Any]], Iterable[Hashable]]) -> Mapping[Hashable, set[int]]:
        """Key -> ids of the records whose ``keys_of`` yields it; built on first use, kept current by each write."""
        with self.lock:
            slot = (system, entity, name)
            if slot not in self._indexes:
                index = _Index(keys_of)
                for record_id, record in self.table(system, entity).items():
                    index.put(record_id, record)
                self._indexes[slot] = index
            return self._indexes[slot].ids

    def _changed(self, system: str, entity: str, record_id: int) -> None:
        self._version += 1
        self._table_versions[(system, entity)] = self._version
        self._record_versions.setdefault((system, entity), {})[record_id] = self._version
        record = self.table(system, entity).get(record_id)
        for (table_system, table_entity, _), high_water in self._high_waters.items():
            if (table_system, table_entity) == (system, entity) and record is not None:
                high_water.value = max(high_water.value, high_water.value_of(record))
        for (table_system, table_entity, _), index in self._indexes.items():
            if (table_system, table_entity) == (system, entity):
                index.put(record_id, record)

    # ---- record access ----
    def table(self, system: str, entity: str) -> dict[int, dict[str, Any]]:
        tables = self.pw if system == "propertyware" else self.sf
        if entity not in tables:
            raise NotFound(f"unknown {system} entity {entity!r}")
        return tables[entity]

    def get(self, system: str, entity: str, record_id: int) -> dict[str, Any]:
        with self.lock:
            table = self.table(system, entity)
            if record_id not in table:
                raise NotFound(f"{system} {entity} {record_id} not found")
            return table[record_id]

    def next_id(self, system: str, entity: str) -> int:
        """An id the table has never held since the load (a deleted record's id is not handed out again)."""
        return self.high_water(system, entity, "id", _record_id) + 1

    def upsert(self, system: str, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """Insert or replace a record, stamping its modified time (and created time if new)."""
        with self.lock:
            table = self.table(system, entity)
            rec = dict(record)
            if "id" not in rec or rec["id"] is None:
                rec["id"] = self.next_id(system, entity)
            rec["id"] = int(rec["id"])
            stamp = self.tick()
            rec[MODIFIED_FIELD[system]] = stamp
            created = "createdDateTime" if system == "propertyware" else "created_at"
            if rec["id"] not in table and not rec.get(created):
                rec[created] = stamp
            table[rec["id"]] = rec
            self._changed(system, entity, rec["id"])
            return rec

    def patch(self, system: str, entity: str, record_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Change fields of an existing record as a user would; bumps its modified time."""
        with self.lock:
            rec = self.get(system, entity, record_id)
            rec.update({k: v for k, v in changes.items() if k != "id"})
            rec[MODIFIED_FIELD[system]] = self.tick()
            self._changed(system, entity, record_id)
            return rec

    def delete(self, system: str, entity: str, record_id: int) -> None:
        with self.lock:
            table = self.table(system, entity)
            if record_id not in table:
                raise NotFound(f"{system} {entity} {record_id} not found")
            del table[record_id]
            self._changed(system, entity, record_id)

    # ---- request log ----
    def log_request(self, server: str, method: str, operation: str, status: int, path: str = "") -> None:
        with self.lock:
            self.requests.append(RequestLogEntry(len(self.requests) + 1, server, method, operation, status, path))

    def request_log(self, since: int = 0) -> list[dict[str, Any]]:
        with self.lock:
            return [r.as_dict() for r in self.requests[since:]]
