"""The local PropertyWare/ServiceFusion sandbox: `Sandbox` runs it, `generate_fixture` fills it.

Both are resolved lazily so that importing a light module such as
``greenlight_dagster.sandbox.state`` does not load the servers (lxml) as well.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenlight_dagster.sandbox.generator import generate_fixture
    from greenlight_dagster.sandbox.runner import Sandbox

__all__ = ["Sandbox", "generate_fixture"]

_HOMES = {"Sandbox": "greenlight_dagster.sandbox.runner", "generate_fixture": "greenlight_dagster.sandbox.generator"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
