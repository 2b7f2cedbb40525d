"""The SF sandbox keeps what a list query matches until the table changes: never a stale page.

A job created through the API, a job a technician moves through the admin API, a deleted
job, a reset: each shows on the very next list page, including in an ``updated_date``
window and a ``-updated_at`` sort.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from greenlight_dagster.sandbox.admin import create_admin_server
from greenlight_dagster.sandbox.state import SandboxState
from greenlight_dagster_tests.sandbox.test_sf_server import Api, running_server, sf_world

SINCE = {"sort": "id", "per-page": 50, "filters[updated_date][gte]": "2026-01-05T12:00:00Z"}
NEWEST = {"sort": "-updated_at", "per-page": 5}


def admin(base_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(base_url + path, method=method, headers={"Content-Type": "application/json"},
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_changes_show_on_the_very_next_list_page() -> None:
    state = SandboxState(sf_world())
    admin_server = create_admin_server(state)
    admin_server.start()
    try:
        with running_server(state) as server:
            api = Api(server)
            started = [j["status"] for j in api.items("/jobs", sort="id", **{"per-page": 50})]
            assert api.items("/jobs", **SINCE) == []
            newest = [j["id"] for j in api.items("/jobs", **NEWEST)]
            assert newest[0] == 8024

            admin(admin_server.base_url, "PATCH", "/servicefusion/jobs/8003", {"status": "On Site"})
            assert [j["id"] for j in api.items("/jobs", **SINCE)] == [8003]
            assert [j["id"] for j in api.items("/jobs", **NEWEST)][:2] == [8003, 8024]
            now = [j["status"] for j in api.items("/jobs", sort="id", **{"per-page": 50})]
            assert now[3] == "On Site" and now[:3] + now[4:] == started[:3] + started[4:]
            assert [j["id"] for j in api.items("/jobs", sort="id", **{"filters[status]": "On Site"})] == [8003]

            created = api("POST", "/jobs", json={"customer_name": "Oak Holdings"}).json()
            assert [j["id"] for j in api.items("/jobs", **SINCE)] == [8003, created["id"]]
            state.delete("servicefusion", "jobs", 8003)
            assert [j["id"] for j in api.items("/jobs", **SINCE)] == [created["id"]]
            page = api("GET", "/jobs", params={"sort": "id", "per-page": 50})
            assert page.json()["_meta"]["totalCount"] == 25 and page.headers["X-Pagination-Total-Count"] == "25"

            admin(admin_server.base_url, "POST", "/reset")
            assert api.items("/jobs", **SINCE) == []
            assert [j["status"] for j in api.items("/jobs", sort="id", **{"per-page": 50})] == started
    finally:
        admin_server.stop()


def test_a_bad_filter_bound_is_refused_every_time_not_only_when_first_computed() -> None:
    with running_server(SandboxState(sf_world())) as server:
        api = Api(server)
        for _ in range(2):
            response = api("GET", "/jobs", params={"sort": "id", "filters[updated_date][gte]": "someday"})
            assert response.status_code == 400 and "filters[updated_date][gte]" in response.json()["message"]
