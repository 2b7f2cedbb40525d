"""What kind of run a Dagster run is, as ``ops.sync_runs.kind`` and `greenlight status` name it.

A run's kind follows from its tags, so every way of starting it agrees: the jobs carry
``greenlight/kind`` (``sync``, ``backfill``, ``push``, ``replay``), and whatever the UI's backfill
dialog launches carries Dagster's ``dagster/backfill`` - even a past range of the ``sync`` job or
of a hand-picked asset selection repairs history, so it is a backfill. A run with neither is an
asset selection materialized from the UI.
"""

from __future__ import annotations

from collections.abc import Mapping

KIND_TAG = "greenlight/kind"
BACKFILL_TAG = "dagster/backfill"
BACKFILL = "backfill"
MATERIALIZE = "materialize"


def run_kind(tags: Mapping[str, str]) -> str:
    """``backfill`` for any run of a backfill, else the job's ``greenlight/kind``, else ``materialize``."""
    if BACKFILL_TAG in tags:
        return BACKFILL
    return tags.get(KIND_TAG) or MATERIALIZE
