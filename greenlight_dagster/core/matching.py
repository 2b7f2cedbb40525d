"""Customer matching: does a PW portfolio or tenant already have a ServiceFusion customer?

The push must never create a customer that SF already has (the old sync reached ~78 % mapping
and created duplicates for the rest). Methods, strongest first:

============  ==========  ==========================================================
method        confidence  rule
============  ==========  ==========================================================
exact         1.0         identical name (after trimming)
normalized    0.95        equal `normalize_name` (case, accents, punctuation, LLC/Inc/Co...)
address       0.85        same normalised street (and postal code / line 2 when both have one)
fuzzy         0.8 x sim   normalised names one typo apart (`one_edit_apart`), the same digits,
                          and sim = 1 - 1 / (longer length) >= threshold (default 0.88, so
                          names of 9+ characters)
============  ==========  ==========================================================

The fuzzy rule is deliberately narrow and explainable ("one letter changed, added, dropped or
two neighbours swapped"): it is the rule the warehouse applies in SQL (map_customer), so the
two sides agree on every name, and it cannot pair "#17" with "#18" or "12 Oak" with "14 Oak".
The warehouse adds what needs every entity at once: a customer stamped with one PW entity's id
is never matched by name to another, and one customer is never given to two entities (ties are
left unmapped). This function sees one entity, so where the warehouse refused a customer for
those reasons it still finds it, and the push holds the create: the safe side.

Several SF customers with the same name are already duplicates in SF: the lowest id (the
oldest) wins, deterministically. Several *different* customers at one address, or fuzzy hits
on two different names, are ambiguous and give no match from that method: a wrong match would
send jobs to the wrong customer, which is worse than listing the entity as unmapped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from greenlight_dagster.core.fields import as_items, as_text, record_id
from greenlight_dagster.core.text import normalize_street, normalize_text, tokens

#: Legal-form words dropped from the end of a name ("Oak Holdings, L.L.C." == "Oak Holdings").
LEGAL_SUFFIXES = frozenset({
    "llc", "lc", "inc", "incorporated", "co", "company", "corp", "corporation", "ltd", "limited",
    "lp", "llp", "pllc", "plc", "pc",
})
DEFAULT_FUZZY_THRESHOLD = 0.88
CONFIDENCE = {"exact": 1.0, "normalized": 0.95, "address": 0.85}
FUZZY_WEIGHT = 0.8
_DIGITS = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class Match:
    customer_id: int
    method: str  # exact | normalized | address | fuzzy
    confidence: float


def normalize_name(name: str) -> str:
    """Comparison key of a business or person name; idempotent.

    Folds case and accents, turns "&" into "and", drops punctuation (dots join: "L.L.C." ->
    "llc"), a leading "the", and trailing legal-form suffixes - but never the last word.
    """
    words = tokens(name.replace("&", " and "))
    while len(words) > 1 and words[0] == "the":
        words.pop(0)
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


@dataclass(frozen=True)
class AddressKey:
    street: str
    line2: str
    postal: str

    def matches(self, other: AddressKey) -> bool:
        """Same street; postal code and line 2 must agree when both sides have them."""
        def agree(a: str, b: str) -> bool:
            return not a or not b or a == b

        return bool(self.street) and self.street == other.street and agree(self.postal, other.postal) \
            and agree(self.line2, other.line2)


def address_key(address: Mapping[str, Any] | str | None) -> AddressKey | None:
    """Key of a PW address (``address``/``addressCont``/``postalCode``), an SF location
    (``street_1``/``street_2``/``postal_code``) or a bare street line; None without a street."""
    if address is None:
        return None
    if isinstance(address, str):
        street, line2, postal = address, "", ""
    else:
        street = as_text(address.get("street_1", address.get("address")))
        line2 = as_text(address.get("street_2", address.get("addressCont")))
        postal = as_text(address.get("postal_code", address.get("postalCode")))
    key = AddressKey(normalize_street(street), normalize_street(line2), normalize_text(postal)[:5])
    return key if key.street else None


def one_edit_apart(a: str, b: str) -> bool:
    """True when ``b`` is ``a`` with exactly one letter changed, added or dropped, or two
    neighbouring letters swapped (optimal-string-alignment distance 1). The same test as the
    fuzzy step of ``map_customer.sql``, there written with the first differing position."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if len(a) > len(b):
        return a[first + 1:] == b[first:]
    if len(a) < len(b):
        return b[first + 1:] == a[first:]
    return a[first + 1:] == b[first + 1:] or (
        a[first:first + 2] == b[first:first + 2][::-1] and a[first + 2:] == b[first + 2:]
    )


def fuzzy_similarity(a: str, b: str) -> float | None:
    """Score of two normalised names under the fuzzy rule, or None when the rule does not apply:
    one typo apart and the same digits (a house or store number never differs by a typo)."""
    if not one_edit_apart(a, b) or _DIGITS.sub("", a) != _DIGITS.sub("", b):
        return None
    return 1 - 1 / max(len(a), len(b))


def _single(ids: Iterable[int]) -> int | None:
    distinct = set(ids)
    return distinct.pop() if len(distinct) == 1 else None


def match_customer(
    pw_name: str,
    pw_address: Mapping[str, Any] | str | None,
    candidates: Iterable[Mapping[str, Any]],
    *,
    parent: str | None = None,
    fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
) -> Match | None:
    """The SF customer for a PW entity, or None (see the module docstring for the rules).

    ``parent`` (an SF parent customer name) restricts candidates to children of that parent,
    so two tenants with one name under different portfolios stay apart.
    """
    pool = sorted(
        ((cid, c) for c in candidates if (cid := record_id(c)) is not None), key=lambda pair: pair[0]
    )
    if parent is not None:
        pool = [(cid, c) for cid, c in pool
                if normalize_name(as_text(c.get("parent_customer"))) == normalize_name(parent)]
    names = [(cid, as_text(c.get("customer_name"))) for cid, c in pool]

    name = pw_name.strip()
    exact = next((cid for cid, candidate_name in names if name and candidate_name == name), None)
    if exact is not None:
        return Match(exact, "exact", CONFIDENCE["exact"])
    key = normalize_name(name)
    normalized = next((cid for cid, candidate_name in names if key and normalize_name(candidate_name) == key), None)
    if normalized is not None:
        return Match(normalized, "normalized", CONFIDENCE["normalized"])

    wanted = address_key(pw_address)
    if wanted is not None:
        at_address = _single(
            cid
            for cid, c in pool
            for location in as_items(c.get("locations"))
            if (found := address_key(location)) is not None and wanted.matches(found)
        )
        if at_address is not None:
            return Match(at_address, "address", CONFIDENCE["address"])

    if not key:
        return None
    scored = [(score, cid, candidate_key) for cid, candidate_name in names
              if (score := fuzzy_similarity(key, candidate_key := normalize_name(candidate_name))) is not None
              and score >= fuzzy_threshold]
    if len({candidate_key for _, _, candidate_key in scored}) != 1:
        return None  # no fuzzy hit, or hits on two different names: ambiguous
    score, winner, _ = min(scored, key=lambda hit: hit[1])  # one name: the oldest duplicate
    return Match(winner, "fuzzy", round(FUZZY_WEIGHT * score, 4))
