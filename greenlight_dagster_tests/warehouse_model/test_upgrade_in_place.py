"""A warehouse built by an older version of the models syncs on after an upgrade.

Incremental models read columns of their own table (and of the snapshot) to find what changed.
A warehouse built before those columns existed must rebuild from everything once, not fail its
first sync after the upgrade: the failure the load scenario hit when `fact_work_orders` became
incremental between two of its cycles ("column raw_version_id does not exist").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.defs.warehouse.resources import make_dbt_resource
from greenlight_dagster_tests.databases import migrated_database
from greenlight_dagster_tests.warehouse_model import scenario

#: What an older build lacks: the columns the incremental filters read.
OLDER_BUILD = (
    "alter table marts.fact_work_orders drop column raw_version_id",
    "alter table snapshots.snap_pw_work_orders drop column _version_id",
)


@pytest.fixture(scope="module")
def upgraded(warehouse_url: URL) -> Iterator[tuple[Engine, bool]]:
    with migrated_database(warehouse_url, "up") as (url, engine):
        dbt = make_dbt_resource(url.render_as_string(hide_password=False))
        scenario.land_round_1(engine)
        dbt.cli(["build", "--exclude", "resource_type:test"]).wait()
        with engine.begin() as conn:
            for statement in OLDER_BUILD:
                conn.execute(text(statement))
        scenario.land_round_2(engine)
        run = dbt.cli(["build", "--exclude", "resource_type:test"], raise_on_error=False).wait()
        yield engine, run.is_successful()


def test_first_build_after_the_upgrade_succeeds(upgraded: tuple[Engine, bool]) -> None:
    _, success = upgraded
    assert success, "a warehouse built before raw_version_id existed must keep building"


def test_history_is_whole_after_the_upgrade(upgraded: tuple[Engine, bool]) -> None:
    engine, _ = upgraded
    with engine.connect() as conn:
        columns = set(conn.execute(text(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fact_work_orders'")).scalars())
        assert "raw_version_id" in columns, "on_schema_change adds the column back"
        statuses = list(conn.execute(text(
            "select status from marts.fact_work_orders where work_order_id = 9000 order by version_number")).scalars())
        assert statuses == ["Open", "Scheduled"], "round 2's change is a version of its own"
        several_current = conn.execute(text(
            "select count(*) from (select work_order_id from marts.fact_work_orders where is_current "
            "group by work_order_id having count(*) > 1) as doubled")).scalar_one()
        assert several_current == 0
