"""Text normalisation and field readers shared by every core rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenlight_dagster.core.fields import as_int, as_items, as_text, as_timestamp, record_id
from greenlight_dagster.core.text import (
    clean_text,
    fold,
    normalize_street,
    normalize_text,
    similarity,
    token_jaccard,
    tokens,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(5, 5), ("42", 42), (" 7 ", 7), ("007", 7), (True, None), (False, None), ("4.2", None), ("-3", None),
     ("", None), (None, None), (3.0, None), ("١٢", None)],
)
def test_as_int(raw: object, expected: int | None) -> None:
    assert as_int(raw) == expected


def test_as_text() -> None:
    assert as_text(None) == ""
    assert as_text("  a b ") == "a b"
    assert as_text(1001) == "1001"
    assert as_text(True) == ""


def test_as_timestamp_variants() -> None:
    assert as_timestamp("2026-01-03T09:00:00Z") == datetime(2026, 1, 3, 9, tzinfo=UTC)
    assert as_timestamp("2026-01-03T10:00:00+01:00") == datetime(2026, 1, 3, 9, tzinfo=UTC)
    assert as_timestamp("2026-01-03T09:00:00") == datetime(2026, 1, 3, 9, tzinfo=UTC)
    aware = datetime(2026, 1, 3, 4, tzinfo=timezone(timedelta(hours=-5)))
    assert as_timestamp(aware) == datetime(2026, 1, 3, 9, tzinfo=UTC)
    assert as_timestamp("not a date") is None
    assert as_timestamp("") is None
    assert as_timestamp(None) is None
    assert as_timestamp(12345) is None


def test_record_id() -> None:
    assert record_id({"id": "12"}) == 12
    assert record_id({"id": None}) is None
    assert record_id(None) is None


def test_fold_and_tokens() -> None:
    assert fold("CAFÉ Straße") == "cafe strasse"
    assert tokens("On-The-Way!") == ["on", "the", "way"]
    assert tokens("L.L.C.") == ["llc"]
    assert tokens("O'Brien\u2019s") == ["obriens"]
    assert normalize_text("  WO   Received ") == "wo received"


def test_normalize_street_abbreviates() -> None:
    assert normalize_street("12 Oak Street") == normalize_street("12 OAK ST.")
    assert normalize_street("400 North Lamar Boulevard") == "400 n lamar blvd"


def test_similarity_bounds_and_reordering() -> None:
    assert similarity("Kitchen sink leaking", "kitchen SINK leaking!") == 1.0
    assert similarity("sink leaking kitchen", "kitchen sink leaking") == 1.0  # word Jaccard
    assert similarity("Kitchen sink leaking", "Replace roof shingles") < 0.5
    assert token_jaccard("", "") == 1.0
    assert token_jaccard("a b", "b c") == pytest.approx(1 / 3)


@given(st.text(), st.text())
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    score = similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(similarity(b, a))


@given(st.text())
def test_normalize_text_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert similarity(text, text) == 1.0


@pytest.mark.parametrize(("raw", "expected"), [
    ("a\r\nb\rc\nd\te", "a\nb\nc\nd\te"),
    ("\x00nul\x01\x1f\x7f\x9f ok", "nul ok"),
    ("lone \ud83d surrogate, \ufffe\uffff kept: é 😀", "lone  surrogate,  kept: é 😀"),
    ("  trimmed \n", "trimmed"),
    ("", ""),
])
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw, 100) == expected


def test_clean_text_caps_with_an_ellipsis() -> None:
    assert clean_text("abcdef", 6) == "abcdef"
    assert clean_text("abc  defgh", 6) == "abc\u2026"  # cut, trailing space dropped, marked
    assert len(clean_text("z" * 10_000, 4000)) == 4000
    with pytest.raises(ValueError, match="max_length"):
        clean_text("a", 0)


@pytest.mark.parametrize(("value", "items"), [
    ([1, 2], [1, 2]), ((1,), [1]), ({"a": 1}, [{"a": 1}]), ("one note", ["one note"]),
    (None, []), ("", []), ({}, []), (True, []), (7, []),
])
def test_a_list_field_is_a_list_whatever_was_sent(value: object, items: list[object]) -> None:
    assert as_items(value) == items
