"""`python -m greenlight_dagster.cli` = the `greenlight` console script."""

from greenlight_dagster.cli import main

main()
