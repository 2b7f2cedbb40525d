"""A block of code under a changed ``os.environ``, the process's own environment restored after it.

Dagster, dbt and the warehouse connection read their settings from the environment, so the CLI,
the dbt resource, the test session and the benchmarks all set variables for a while; each must
leave the variables it did not touch, and those it did exactly as they were.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def environment_set(values: Mapping[str, str], drop: Iterable[str] = ()) -> Iterator[None]:
    """``os.environ`` with ``values`` set and ``drop`` removed inside the block, exactly as before after it."""
    dropped = tuple(drop)
    saved = {name: os.environ.get(name) for name in (*values, *dropped)}
    for name in dropped:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
