"""Pytest fixtures for tests that talk to the sandbox servers (register from the root conftest).

``sandbox`` is one started `Sandbox` (small world, seed 0) for the whole session: starting the
three servers costs little, but a session-wide one keeps the suite fast. ``fresh_sandbox``
hands out the same sandbox reset to its starting world, with no fault rules and an empty
request log, so tests that change the world or inject faults cannot leak into each other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenlight_dagster.sandbox.runner import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=0, scale="small") as running:
        yield running


@pytest.fixture
def fresh_sandbox(sandbox: Sandbox) -> Sandbox:
    sandbox.reset()
    return sandbox
