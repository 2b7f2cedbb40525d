"""dbt's per-invocation directories under target/ are pruned to the newest few, and nothing else there is touched."""

from __future__ import annotations

import os
from pathlib import Path

from greenlight_dagster.defs.warehouse.resources import prune_invocation_dirs


def test_only_the_newest_invocation_dirs_stay(tmp_path: Path) -> None:
    names = [f"dbt_warehouse-{run:07x}-{run + 1:07x}" for run in range(5)] + ["abc1234"]
    for age, name in enumerate(reversed(names)):  # the later in the list, the newer
        (tmp_path / name).mkdir()
        (tmp_path / name / "run_results.json").write_text("{}")
        os.utime(tmp_path / name, (1_000_000 - age, 1_000_000 - age))
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "compiled").mkdir()  # dbt's own output directory, not an invocation's

    removed = prune_invocation_dirs(tmp_path, keep=2)

    assert sorted(p.name for p in removed) == sorted(names[:4])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[4:], "manifest.json", "compiled"])


def test_a_missing_target_dir_is_nothing_to_prune(tmp_path: Path) -> None:
    assert prune_invocation_dirs(tmp_path / "target") == []
