"""``python -m greenlight_dagster.defs.warehouse.manifest``: write dbt_warehouse/target/manifest.json.

Runs ``dbt parse`` (no database connection needed), so installation and CI can prepare the
manifest before Dagster loads the code location. Prints the manifest path.
"""

from __future__ import annotations

import sys

from greenlight_dagster.defs.warehouse.project import dbt_project, manifest_preparer


def main() -> int:
    """Parse the dbt project unconditionally (a stale manifest is worse than a 3 s parse)."""
    manifest_preparer.prepare(dbt_project)
    path = dbt_project.manifest_path
    if not path.exists():
        print(f"dbt parse did not produce {path}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
