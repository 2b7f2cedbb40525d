"""Text normalisation and similarity shared by status, name, address and description matching.

Every comparison between the two systems goes through these functions so that "On-The-Way",
"on the way" and "ON THE WAY" are one key everywhere, and so that fuzzy scores mean the same
thing in dedup and customer matching. Standard library only (unicodedata, difflib).
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

# Dots and apostrophes vanish ("L.L.C." -> "llc", "O'Brien" -> "obrien"); other punctuation splits words.
_JOINERS = str.maketrans("", "", ".'\u2019`")

#: Street-word variants folded to the USPS abbreviation, so "12 Oak Street" == "12 oak st".
STREET_ABBREVIATIONS: dict[str, str] = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "drive": "dr", "boulevard": "blvd",
    "lane": "ln", "court": "ct", "place": "pl", "terrace": "ter", "parkway": "pkwy", "highway": "hwy",
    "circle": "cir", "square": "sq", "trail": "trl", "north": "n", "south": "s", "east": "e", "west": "w",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw", "apartment": "apt",
    "suite": "ste", "number": "no",
}


_LINE_BREAK = re.compile(r"\r\n?")
#: Kept although Unicode calls them control characters: they are how notes break lines.
_KEPT_CONTROLS = frozenset("\n\t")
#: Unicode categories dropped from free text: controls (U+0000-U+001F, U+007F-U+009F) and lone
#: surrogates - neither can travel in PW's XML 1.0, so a note holding one fails on every attempt.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cs"})
ELLIPSIS = "\u2026"


def clean_text(text: str, max_length: int) -> str:
    """Free text as it is sent to either system, and therefore as it is looked up there afterwards.

    Line breaks become ``\n``; control characters other than newline and tab, lone surrogates
    and the non-characters U+FFFE/U+FFFF are removed; surrounding whitespace is trimmed; text
    longer than ``max_length`` is cut and ends with an ellipsis. Deterministic, so the same
    source text always gives the same payload (and ledger key).
    """
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    unified = _LINE_BREAK.sub("\n", text)
    kept = "".join(ch for ch in unified if ch in _KEPT_CONTROLS or (
        unicodedata.category(ch) not in _DROPPED_CATEGORIES and ch not in "\ufffe\uffff"))
    cleaned = kept.strip()
    if len(cleaned) <= max_length:
        return cleaned
    return cleaned[:max_length - 1].rstrip() + ELLIPSIS


def fold(text: str) -> str:
    """Case- and accent-insensitive form: casefold, decompose, drop combining marks."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # A second pass: casefolding a decomposed character can yield a new cased/composed one.
    again = unicodedata.normalize("NFKD", stripped.casefold())
    return "".join(ch for ch in again if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Words of ``text`` after folding; punctuation separates words, dots/apostrophes join them."""
    cleaned = fold(text).translate(_JOINERS)
    return "".join(ch if ch.isalnum() else " " for ch in cleaned).split()


def normalize_text(text: str) -> str:
    """Tokens joined by single spaces: the comparison key for free text."""
    return " ".join(tokens(text))


def normalize_street(text: str) -> str:
    """Street line key: normalised text with street words abbreviated ("Street" -> "st")."""
    return " ".join(STREET_ABBREVIATIONS.get(word, word) for word in tokens(text))


def token_jaccard(a: str, b: str) -> float:
    """Share of distinct words the two texts have in common (1.0 for two empty texts)."""
    left, right = set(tokens(a)), set(tokens(b))
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def similarity(a: str, b: str) -> float:
    """Similarity in [0, 1]: the larger of the character ratio and the word Jaccard.

    The character ratio (difflib) catches typos and small edits; the word Jaccard catches
    reordered words ("sink leaking kitchen"), which the ratio scores poorly. Taking the larger
    keeps both kinds of near-duplicate above the same threshold.
    """
    # difflib's ratio depends on argument order; sorting makes the score symmetric.
    left, right = sorted((normalize_text(a), normalize_text(b)))
    if left == right:
        return 1.0
    ratio = SequenceMatcher(None, left, right, autojunk=False).ratio()
    return max(ratio, token_jaccard(left, right))

