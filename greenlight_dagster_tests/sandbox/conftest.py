"""The sandbox tests use the shared sandbox fixtures (until the root conftest registers them)."""

from greenlight_dagster_tests.sandbox_fixtures import fresh_sandbox, sandbox  # noqa: F401
