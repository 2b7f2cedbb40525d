"""Remote text made safe to show inside Markdown metadata in the Dagster UI.

Names, descriptions, error messages and rejected values come from PW, SF and their users. Shown
raw as Markdown they could render links (``[click](https://…)``), images that call out to a
host when the page opens, HTML, or break the list they sit in; escaped, they read as typed.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def escape_markdown(text: str, limit: int | None = None) -> str:
    """``text`` on one line, cut to ``limit`` characters, with every Markdown/HTML character escaped."""
    flat = " ".join(text.split())
    if limit is not None:
        flat = flat[:limit]
    return _SPECIAL.sub(r"\\\1", flat)
