"""The SQL twins in dbt_warehouse/macros/normalize.sql give the keys core/text.py and core/matching.py give.

A name the warehouse normalises differently from Python matches differently: map_customer pairs
PW entities with SF customers on these keys in SQL, and the Python matcher only sees what SQL left
unmapped. The macros are rendered with Jinja (no dbt run) and evaluated on the session warehouse,
once under its own ctype and once under "C", which knows ASCII only - the server a twin that
relied on lower() and [[:alnum:]] got wrong ("Café" -> "caf").
"""

from __future__ import annotations

from collections.abc import Callable

import jinja2
import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.core.matching import normalize_name
from greenlight_dagster.core.text import normalize_text
from greenlight_dagster.defs.warehouse.project import DBT_PROJECT_DIR

#: Names as PW and SF accounts hold them: accents, ligatures, look-alike punctuation, odd spaces.
NAMES = [
    "Café Holdings, L.L.C.", "CAFE HOLDINGS LLC", "José Müller-Łukasiewicz", "Straße & Søn Inc.",
    "Ærøskøbing Properties", "The Œuvre Group", "O\u2019Brien\u00a0Realty", "  tab\tand\nnewline  ",
    "Ĳssel Vastgoed B.V.", "ǅemal Company", "Apt ½ ²nd floor", "Ångström, Ltd", "İstanbul Ev",
    "Đặng Thị Thu", "Ñandú the Co", "Smith — Jones “Rentals”", "", "ß", "the", "THE THE Oak",
]
#: Every character whose fold the macro hard-codes, alone and between two ASCII letters.
LATIN = [chr(cp) for block in (range(0xA0, 0x250), range(0x1E00, 0x1F00)) for cp in block]
SAMPLES = NAMES + LATIN + [f"a{ch}b" for ch in LATIN]


def _macro(name: str) -> Callable[[str], str]:
    """A macro of normalize.sql rendered as plain Jinja, as a function of the SQL expression it wraps."""
    source = (DBT_PROJECT_DIR / "macros" / "normalize.sql").read_text()
    module = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(source).module
    return lambda expr: str(getattr(module, name)(expr))


def _sql_keys(engine: Engine, macro: str, collation: str | None) -> list[str]:
    value = "t.value" if collation is None else f'(t.value collate "{collation}")'
    sql = (f"select {_macro(macro)(value)} from unnest(cast(:values as text[])) with ordinality as t(value, n) "
           "order by n")
    with engine.connect() as conn:
        return list(conn.execute(text(sql), {"values": SAMPLES}).scalars())


@pytest.mark.parametrize("collation", [None, "C"], ids=["server-ctype", "c-ctype"])
@pytest.mark.parametrize(("macro", "python"), [("normalize_text", normalize_text), ("normalize_name", normalize_name)])
def test_the_sql_twin_gives_the_python_key(warehouse_engine: Engine, macro: str, python: Callable[[str], str],
                                           collation: str | None) -> None:
    keys = _sql_keys(warehouse_engine, macro, collation)
    differ = {sample: (sql, python(sample)) for sample, sql in zip(SAMPLES, keys, strict=True) if sql != python(sample)}
    assert differ == {}
