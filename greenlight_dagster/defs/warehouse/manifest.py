"""``python -m greenlight_dagster.defs.warehouse.manifest``: write dbt_warehouse/target/manifest.json.

Runs ``dbt parse`` (no database connection needed), so installation and CI can prepare the
manifest before Dagster loads the code location. Prints the manifest path.
"""

from __future__ import annotations

import sys

from greenlight_dagster.defs.warehouse.project import dbt_project, parse_project


def main() -> int:
    """Parse the dbt project unconditionally (a stale manifest is worse than a 3 s parse)."""
    path = parse_project(dbt_project)
    if not path.exists():
        print(f"dbt parse did not produce {path}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
