"""Customer matching (map_customer in Python form)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenlight_dagster.core.matching import (
    Match,
    address_key,
    fuzzy_similarity,
    match_customer,
    normalize_name,
    one_edit_apart,
)
from greenlight_dagster.sandbox.generator import NAME_VARIANTS, generate_fixture, name_variant
from greenlight_dagster_tests.factories import sf_customer


@pytest.mark.parametrize(
    ("a", "b"),
    [("Oak Holdings, LLC", "oak holdings"), ("Oak Holdings L.L.C.", "Oak Holdings"),
     ("OAK HOLDINGS INC.", "Oak Holdings"), ("Oak Holdings Co., Inc.", "Oak Holdings"), ("The Oak Group", "Oak Group"),
     ("Café Élan Ltd", "cafe elan"), ("Smith & Sons", "Smith and Sons"), ("  Oak   Holdings  ", "Oak Holdings"),
     ("O'Brien Properties", "OBrien properties"), ("Maple-Leaf Realty Corp.", "maple leaf realty")],
)
def test_normalize_name_equivalences(a: str, b: str) -> None:
    assert normalize_name(a) == normalize_name(b)


def test_normalize_name_keeps_the_last_word() -> None:
    assert normalize_name("Inc.") == "inc"
    assert normalize_name("The") == "the"
    assert normalize_name("The Company") == "company"
    assert normalize_name("") == ""


def test_normalize_name_distinguishes_names() -> None:
    assert normalize_name("Oak Holdings") != normalize_name("Oak Holding Partners")


@given(st.text())
def test_normalize_name_idempotent(name: str) -> None:
    once = normalize_name(name)
    assert normalize_name(once) == once


@given(st.text(alphabet="abcXYZ .,&'-", max_size=30), st.sampled_from(["LLC", "L.L.C.", "Inc.", "Co", "Corp."]))
def test_suffix_variants_do_not_change_the_key(name: str, suffix: str) -> None:
    if normalize_name(name) and normalize_name(name).split()[-1] not in {"llc", "inc", "co", "corp"}:
        assert normalize_name(f"{name} {suffix}") == normalize_name(name)


def customer(cid: int, name: str, *streets: str, parent: str | None = None, postal: str = "78701") -> dict[str, Any]:
    return sf_customer(cid, customer_name=name, parent_customer=parent,
                       locations=[{"street_1": s, "postal_code": postal} for s in streets])


CANDIDATES = [
    customer(7000, "Oak Holdings", "12 Oak St"),
    customer(7001, "Maple Realty LLC", "400 North Lamar Blvd"),
    customer(7002, "Birch Property Management", "9 Elm Ave"),
    customer(7003, "Ana Ruiz", "12 Oak St", parent="Oak Holdings"),
]


def test_exact_match() -> None:
    assert match_customer("Oak Holdings", None, CANDIDATES) == Match(7000, "exact", 1.0)


def test_normalized_match() -> None:
    assert match_customer("maple realty, l.l.c.", None, CANDIDATES) == Match(7001, "normalized", 0.95)


def test_address_match() -> None:
    found = match_customer("Lamar Investments", {"address": "400 N. Lamar Boulevard", "postalCode": "78701"},
                           CANDIDATES)
    assert found == Match(7001, "address", 0.85)


def test_address_with_different_postal_code_does_not_match() -> None:
    assert match_customer("Lamar Investments", {"address": "400 N Lamar Blvd", "postalCode": "10001"},
                          CANDIDATES) is None


def test_ambiguous_address_gives_no_address_match() -> None:
    # 12 Oak St is both the parent's and a tenant's location: neither is chosen by address.
    assert match_customer("Someone Else", {"address": "12 Oak Street"}, CANDIDATES) is None


def test_fuzzy_match() -> None:
    found = match_customer("Birch Property Managment", None, CANDIDATES)
    assert found is not None and found.customer_id == 7002 and found.method == "fuzzy"
    assert 0.7 <= found.confidence < 0.8


def test_fuzzy_tie_is_ambiguous() -> None:
    east, west = customer(1, "Acme Widgets East"), customer(2, "Acme Widgets West")
    found = match_customer("Acme Widgets Wast", None, [east])
    assert found is not None and (found.customer_id, found.method) == (1, "fuzzy")
    assert found.confidence == pytest.approx(0.8 * 0.9412, abs=1e-3)
    assert match_customer("Acme Widgets Wast", None, [west]) is not None
    assert match_customer("Acme Widgets Wast", None, [east, west]) is None


def test_no_match() -> None:
    assert match_customer("Completely Different", None, CANDIDATES) is None
    assert match_customer("", None, CANDIDATES) is None
    assert match_customer("Oak Holdings", None, []) is None


def test_same_named_duplicates_pick_the_oldest() -> None:
    dupes = [customer(7100, "Oak Holdings"), customer(7050, "Oak Holdings")]
    assert match_customer("Oak Holdings", None, dupes) == Match(7050, "exact", 1.0)


def test_parent_restricts_candidates() -> None:
    children = [customer(1, "Ana Ruiz", parent="Oak Holdings"), customer(2, "Ana Ruiz", parent="Maple Realty")]
    assert match_customer("Ana Ruiz", None, children, parent="Maple Realty LLC") == Match(2, "exact", 1.0)
    assert match_customer("Ana Ruiz", None, children, parent="Birch") is None


def test_candidates_without_id_are_ignored() -> None:
    assert match_customer("Oak Holdings", None, [{"customer_name": "Oak Holdings"}]) is None


def test_address_key_shapes() -> None:
    pw = address_key({"address": "12 Oak Street", "addressCont": "Unit A", "postalCode": "78701-1234"})
    sf = address_key({"street_1": "12 oak st", "street_2": "unit a", "postal_code": "78701"})
    assert pw is not None and sf is not None and pw.matches(sf)
    assert address_key("12 Oak St") is not None
    assert address_key({"city": "Austin"}) is None
    assert address_key(None) is None
    other_unit = address_key({"street_1": "12 Oak St", "street_2": "Unit B"})
    assert other_unit is not None and not pw.matches(other_unit)


# --- the fuzzy rule (the same in SQL: map_customer) ----------------------------------------------

def osa_distance(a: str, b: str) -> int:
    """Reference optimal-string-alignment distance (textbook dynamic programme)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("okafor capital", "okafor caiptal", True),  # swapped neighbours (the generator's typo)
     ("okafor capital", "okafor capitl", True),  # dropped
     ("okafor capital", "okafor capitall", True),  # added at the end
     ("okafor capital", "xokafor capital", True),  # added at the start
     ("okafor capital", "okafor capitel", True),  # changed
     ("okafor capital", "okafor capital", False),  # identical: not a typo
     ("okafor capital", "okafor caiptl", False),  # two edits
     ("okafor capital", "okafor capita", True),
     ("okafor capital", "okafor capi", False),
     ("ab", "ba", True), ("", "a", True), ("", "", False)],
)
def test_one_edit_apart(a: str, b: str, expected: bool) -> None:
    assert one_edit_apart(a, b) is expected
    assert one_edit_apart(b, a) is expected


@given(st.text(alphabet="abc d", max_size=8), st.text(alphabet="abc d", max_size=8))
def test_one_edit_apart_is_osa_distance_one(a: str, b: str) -> None:
    assert one_edit_apart(a, b) == (osa_distance(a, b) == 1)


def test_fuzzy_never_crosses_a_number() -> None:
    assert fuzzy_similarity("hill country dental 18", "hill country dental 19") is None
    assert fuzzy_similarity("12 oak residences", "13 oak residences") is None
    assert match_customer("Hill Country Dental #18", None, [customer(1, "Hill Country Dental #19")]) is None
    assert match_customer("Hill Country Dentl #18", None, [customer(1, "Hill Country Dental #18")]) == Match(
        1, "fuzzy", round(0.8 * (1 - 1 / 22), 4))


def test_fuzzy_needs_nine_characters() -> None:
    # 1 - 1/8 < 0.88: on short names one letter is too often another person or business
    assert match_customer("Ana Ruis", None, [customer(1, "Ana Ruiz")]) is None
    assert match_customer("Noah Dias", None, [customer(1, "Noah Diaz")]) == Match(1, "fuzzy", round(0.8 * 8 / 9, 4))


def test_fuzzy_same_named_duplicates_pick_the_oldest() -> None:
    dupes = [customer(9, "Delgado Investments"), customer(4, "DELGADO INVESTMENTS LLC")]
    found = match_customer("Delgado Inevstments", None, dupes)
    assert found is not None and (found.customer_id, found.method) == (4, "fuzzy")


def test_every_generator_name_variant_finds_its_customer_and_no_other() -> None:
    """The sandbox's SF spellings of PW portfolio names (sandbox/generator.py `name_variant`):
    each maps to its own customer, and no PW portfolio maps to another portfolio's customer."""
    fixture = generate_fixture(0, "demo")
    portfolios = fixture["propertyware"]["portfolios"]
    customers = [customer(index, name_variant(p["name"], NAME_VARIANTS[index % len(NAME_VARIANTS)]))
                 for index, p in enumerate(portfolios)]
    expected_method = {"exact": "exact", "legal_suffix": "normalized", "upper_case": "normalized", "typo": "fuzzy"}
    for index, portfolio in enumerate(portfolios):
        found = match_customer(portfolio["name"], None, customers)
        assert found is not None and found.customer_id == index, portfolio["name"]
        assert found.method == expected_method[NAME_VARIANTS[index % len(NAME_VARIANTS)]]
        others = [c for c in customers if c["id"] != index]
        assert match_customer(portfolio["name"], None, others) is None, portfolio["name"]
