"""dbt's connection: its own login when the deployment configures one, the password under dbt's secret prefix."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from greenlight_dagster.warehouse.connection import dbt_env

URL = make_url("postgresql+psycopg2://greenlight_app:app-SECRET@db.internal:6543/greenlight")


def test_without_its_own_login_dbt_uses_the_warehouse_urls() -> None:
    env = dbt_env(URL, {})
    assert env["DBT_GREENLIGHT_USER"] == "greenlight_app" and env["DBT_GREENLIGHT_ROLE"] == ""
    assert env["DBT_GREENLIGHT_HOST"] == "db.internal" and env["DBT_GREENLIGHT_PORT"] == "6543"
    assert env["DBT_GREENLIGHT_DBNAME"] == "greenlight"


def test_a_configured_dbt_login_is_not_overridden_by_the_warehouse_url() -> None:
    env = dbt_env(URL, {"GREENLIGHT_DBT_USER": "greenlight_dbt", "GREENLIGHT_DBT_PASSWORD": "dbt-SECRET"})
    assert env["DBT_GREENLIGHT_USER"] == "greenlight_dbt"
    assert env["DBT_ENV_SECRET_GREENLIGHT_PASSWORD"] == "dbt-SECRET"
    assert env["DBT_GREENLIGHT_ROLE"] == "greenlight_transformer"  # what dbt builds is owned by the group role
    assert "app-SECRET" not in env.values()


def test_the_password_travels_only_under_dbts_secret_prefix() -> None:
    for env in (dbt_env(URL, {}), dbt_env(URL, {"GREENLIGHT_DBT_USER": "d", "GREENLIGHT_DBT_PASSWORD": "dbt-SECRET"})):
        holding = [name for name, value in env.items() if "SECRET" in value]
        assert holding == ["DBT_ENV_SECRET_GREENLIGHT_PASSWORD"]
