"""The streaming raw loader against a real PostgreSQL: versioning, rejects, hostile text, tombstones."""

from __future__ import annotations

import hashlib
import json
from array import array
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.warehouse.loader import load_records, mark_deleted, payload_hash
from greenlight_dagster.warehouse.watermarks import Mark, database_now, get_high_water, get_mark, set_high_water, settle

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def rec(sid: int, minutes: int = 0, **payload: Any) -> SourceRecord:
    return SourceRecord("vendors", sid, T0 + timedelta(minutes=minutes), {"id": sid, **payload})


def rows(engine: Engine, table: str = "raw.pw_vendors") -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            f"select source_id, payload, _source_hash, _is_deleted, _run_id from {table} order by _version_id"))]


def latest(engine: Engine, table: str = "raw.pw_vendors") -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(text(
            f"select distinct on (source_id) source_id, payload from {table} order by source_id, _version_id desc"))}


def errors(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "select source, entity, source_key, reason, payload, severity, run_id from ops.error_log order by id"))]


def test_versions_are_appended_only_when_the_payload_changes(clean_raw: Engine) -> None:
    first = load_records(clean_raw, "pw", "vendors", [rec(1, name="A"), rec(2, name="B")], run_id="r1")
    assert (first.fetched, first.new_versions, first.unchanged, first.rejected) == (2, 2, 0, 0)
    again = load_records(clean_raw, "pw", "vendors", [rec(1, name="A"), rec(2, name="B")], run_id="r2")
    assert (again.fetched, again.new_versions, again.unchanged) == (2, 0, 2)
    changed = load_records(clean_raw, "pw", "vendors", [rec(1, name="A"), rec(2, 5, name="B2")], run_id="r3")
    assert (changed.new_versions, changed.unchanged) == (1, 1)
    assert changed.max_modified_at == T0 + timedelta(minutes=5)
    landed = rows(clean_raw)
    assert [(r[0], r[1]["name"], r[4]) for r in landed] == [(1, "A", "r1"), (2, "B", "r1"), (2, "B2", "r3")]
    assert landed[2][2] == payload_hash({"id": 2, "name": "B2"})


def test_key_order_does_not_make_a_new_version(clean_raw: Engine) -> None:
    load_records(clean_raw, "pw", "vendors", [SourceRecord("vendors", 1, T0, {"a": 1, "b": {"x": 1, "y": 2}})],
                 run_id="r1")
    stats = load_records(clean_raw, "pw", "vendors",
                         [SourceRecord("vendors", 1, T0, {"b": {"y": 2, "x": 1}, "a": 1})], run_id="r2")
    assert stats.new_versions == 0 and len(rows(clean_raw)) == 1


def test_a_revert_to_an_earlier_payload_is_a_new_version(clean_raw: Engine) -> None:
    for run, name in (("r1", "A"), ("r2", "B"), ("r3", "A")):
        load_records(clean_raw, "pw", "vendors", [rec(1, name=name)], run_id=run)
    assert [(r[1]["name"], r[4]) for r in rows(clean_raw)] == [("A", "r1"), ("B", "r2"), ("A", "r3")]


def test_a_key_twice_in_one_batch_keeps_the_last(clean_raw: Engine) -> None:
    stats = load_records(clean_raw, "pw", "vendors", [rec(1, name="old"), rec(2, name="x"), rec(1, 1, name="new")],
                         run_id="r1")
    assert (stats.fetched, stats.new_versions, stats.duplicates, stats.unchanged) == (3, 2, 1, 0)
    assert latest(clean_raw)[1]["name"] == "new" and len(rows(clean_raw)) == 2


def test_batches_stream_and_commit_independently(clean_raw: Engine) -> None:
    def source() -> Any:
        for i in range(1, 24):
            yield rec(i, i, name=f"v{i}")

    stats = load_records(clean_raw, "pw", "vendors", source(), run_id="r1", batch_size=5)
    assert (stats.fetched, stats.new_versions) == (23, 23)
    assert sorted(latest(clean_raw)) == list(range(1, 24))


def test_rejected_records_are_logged_and_the_rest_of_the_batch_loads(clean_raw: Engine) -> None:
    batch: list[SourceRecord | RejectedRecord] = [
        rec(1, name="good"),
        RejectedRecord("vendors", "2", "missing required field 'name'", "<Vendor><ID>2</ID></Vendor>"),
        SourceRecord("vendors", 3, T0, {"id": 3, "cost": float("nan")}),
        SourceRecord("vendors", 4, T0, {"id": 4, "when": datetime(2026, 1, 1)}),
        SourceRecord("vendors", -5, T0, {"id": -5}),
        rec(6, name="also good"),
    ]
    stats = load_records(clean_raw, "pw", "vendors", batch, run_id="r-bad")
    assert (stats.fetched, stats.new_versions, stats.rejected) == (6, 2, 4)
    assert sorted(latest(clean_raw)) == [1, 6]
    logged = errors(clean_raw)
    assert [(e[0], e[1], e[2], e[5], e[6]) for e in logged] == [
        ("pw", "vendors", key, "error", "r-bad") for key in ("2", "3", "4", "-5")]
    assert logged[0][3] == "missing required field 'name'" and logged[0][4] == "<Vendor><ID>2</ID></Vendor>"
    assert "JSON" in logged[1][3] and "non-negative 64-bit" in logged[3][3]


HOSTILE = {
    "emoji": "Leak 🚰💧 in unit 4B 👩🏽‍🔧",
    "sql": "'; DROP TABLE raw.pw_vendors; --",
    "copy_specials": "tab\there\nnew line\\N \\. back\\slash \"quoted\" \r",
    "rtl": "\u202eevil\u202c \u2028 \ufeff",
    "big": "x" * (1 << 20),
    "nested": [{"k": "ü"}, None, True, 1.5, 10**18],
}


def test_hostile_text_round_trips_as_data(clean_raw: Engine) -> None:
    stats = load_records(clean_raw, "pw", "vendors", [SourceRecord("vendors", 1, T0, dict(HOSTILE))], run_id="r1")
    assert (stats.new_versions, stats.rejected, stats.sanitized) == (1, 0, 0)
    assert latest(clean_raw)[1] == HOSTILE
    assert rows(clean_raw)[0][2] == payload_hash(HOSTILE)
    again = load_records(clean_raw, "pw", "vendors", [SourceRecord("vendors", 1, T0, dict(HOSTILE))], run_id="r2")
    assert again.new_versions == 0


def test_nul_and_lone_surrogates_are_cleaned_and_recorded(clean_raw: Engine) -> None:
    payload = {"note": "before\x00after", "name\x00": "ok", "broken": "a\ud800b", "literal": "\\u0000 stays"}
    stats = load_records(clean_raw, "pw", "vendors", [SourceRecord("vendors", 1, T0, payload), rec(2, name="fine")],
                         run_id="r1")
    assert (stats.new_versions, stats.sanitized, stats.rejected) == (2, 1, 0)
    assert latest(clean_raw)[1] == {"note": "beforeafter", "name": "ok", "broken": "a\ufffdb",
                                    "literal": "\\u0000 stays"}
    warning = errors(clean_raw)
    assert [(w[2], w[5]) for w in warning] == [("1", "warning")]
    # Same source text again: same hash, so no new version.
    assert load_records(clean_raw, "pw", "vendors", [SourceRecord("vendors", 1, T0, payload)],
                        run_id="r2").new_versions == 0


def test_rejected_raw_text_with_nul_is_logged_visibly(clean_raw: Engine) -> None:
    load_records(clean_raw, "pw", "vendors", [RejectedRecord("vendors", None, "unparseable XML", "<a>\x00\ud800</a>")],
                 run_id="r1")
    assert errors(clean_raw)[0][4] == "<a>\\u0000\\ud800</a>"


def test_unknown_raw_table_is_a_clear_error(clean_raw: Engine) -> None:
    with pytest.raises(ValueError, match="no raw table"):
        load_records(clean_raw, "pw", "invoices", [], run_id="r1")


def test_mark_deleted_tombstones_vanished_keys_once_and_a_comeback_is_a_new_version(clean_raw: Engine) -> None:
    seen: array[int] = array("q")
    load_records(clean_raw, "pw", "vendors", [rec(i, name=f"v{i}") for i in (1, 2, 3)], run_id="r1", seen_ids=seen)
    assert sorted(seen) == [1, 2, 3]
    assert mark_deleted(clean_raw, "pw", "vendors", array("q", [1, 3]), run_id="r2") == 1
    tomb = rows(clean_raw)[-1]
    assert (tomb[0], tomb[1], tomb[3], tomb[4]) == (2, {"id": 2, "name": "v2"}, True, "r2")
    assert mark_deleted(clean_raw, "pw", "vendors", [1, 3], run_id="r3") == 0
    back = load_records(clean_raw, "pw", "vendors", [rec(2, name="v2")], run_id="r4")
    assert back.new_versions == 1
    assert [(r[0], r[3], r[4]) for r in rows(clean_raw)][-2:] == [(2, True, "r2"), (2, False, "r4")]


def test_a_rejected_key_counts_as_present(clean_raw: Engine) -> None:
    load_records(clean_raw, "pw", "vendors", [rec(1), rec(2)], run_id="r1")
    seen: array[int] = array("q")
    load_records(clean_raw, "pw", "vendors", [rec(1), RejectedRecord("vendors", "2", "bad date", "{}")],
                 run_id="r2", seen_ids=seen)
    assert mark_deleted(clean_raw, "pw", "vendors", seen, run_id="r2") == 0


def test_high_water_only_moves_forward(clean_raw: Engine) -> None:
    assert get_high_water(clean_raw, "pw", "vendors") is None
    assert set_high_water(clean_raw, "pw", "vendors", T0, "r1") == T0
    assert set_high_water(clean_raw, "pw", "vendors", T0 - timedelta(days=1), "r2") == T0
    later = T0 + timedelta(hours=1)
    assert set_high_water(clean_raw, "pw", "vendors", later, "r3") == later
    assert get_high_water(clean_raw, "pw", "vendors") == later
    assert get_high_water(clean_raw, "sf", "jobs") is None


def test_a_mark_settles_only_after_a_read_that_began_an_overlap_after_it_moved(clean_raw: Engine) -> None:
    overlap = timedelta(minutes=5)
    set_high_water(clean_raw, "pw", "vendors", T0, "r1")
    moved_at = database_now(clean_raw)
    assert not settle(clean_raw, "pw", "vendors", T0, moved_at + overlap / 2, overlap), "read too soon after the move"
    assert get_mark(clean_raw, "pw", "vendors") == Mark(T0, settled=False)
    assert not settle(clean_raw, "pw", "vendors", T0 - timedelta(days=1), moved_at + overlap * 2, overlap), (
        "a read of an older mark (another run moved it meanwhile) settles nothing")
    assert settle(clean_raw, "pw", "vendors", T0, moved_at + overlap * 2, overlap)
    assert get_mark(clean_raw, "pw", "vendors") == Mark(T0, settled=True)
    set_high_water(clean_raw, "pw", "vendors", T0 - timedelta(hours=1), "r2")  # an older mark moves nothing
    assert get_mark(clean_raw, "pw", "vendors") == Mark(T0, settled=True)
    set_high_water(clean_raw, "pw", "vendors", T0 + timedelta(hours=1), "r3")
    assert get_mark(clean_raw, "pw", "vendors") == Mark(T0 + timedelta(hours=1), settled=False)


def test_payload_hash_is_canonical() -> None:
    assert payload_hash({"b": 1, "a": "é"}) == payload_hash({"a": "é", "b": 1})
    expected = json.dumps({"a": "é", "b": 1}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert payload_hash({"a": "é", "b": 1}) == hashlib.sha256(expected.encode()).hexdigest()


def test_a_row_the_database_refuses_is_isolated_and_logged(clean_raw: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: if PostgreSQL rejects one row the Python checks let through, only that row is lost."""
    from greenlight_dagster.warehouse import loader

    real = loader._prepare

    def corrupt_two(record: SourceRecord) -> Any:
        row, reason, sanitized = real(record)
        if row is not None and row.source_id == 2:
            row = loader._Row(row.source_id, row.modified_at, '{"unterminated": ', row.source_hash)
        return row, reason, sanitized

    monkeypatch.setattr(loader, "_prepare", corrupt_two)
    stats = load_records(clean_raw, "pw", "vendors", [rec(1), rec(2), rec(3),
                                                      RejectedRecord("vendors", "9", "bad", "raw")], run_id="r1")
    assert (stats.fetched, stats.new_versions, stats.rejected, stats.unchanged) == (4, 2, 2, 0)
    assert sorted(latest(clean_raw)) == [1, 3]
    assert [(e[2], e[5]) for e in errors(clean_raw)] == [("9", "error"), ("2", "error")]
    assert "warehouse refused" in errors(clean_raw)[1][3]
