"""The safe-mode customer check costs one request; the lookup after a possible send reads everything.

In safe mode every customer create is looked up first; reading every customer for each of them
made a first sync quadratic in the number of customers (80 s for 61 customers at 60 req/min).
These gateways have no bulk read of the customers changed since ingest, as a push step without
an ``sf/customers`` mark: with one, a first create asks nothing per item (decision 0008,
``test_sf_customer_snapshot.py``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from greenlight_dagster.clients.servicefusion import ServiceFusionClient
from greenlight_dagster.core.ledger import LedgerEntry
from greenlight_dagster.core.payloads import CUSTOMER_ID_FIELDS
from greenlight_dagster.outbox.executor import LookupOutcome
from greenlight_dagster.outbox.gateways import ServiceFusionGateway, customer_search
from greenlight_dagster.sandbox.runner import Sandbox


def _client(sandbox: Sandbox) -> ServiceFusionClient:
    info = sandbox.info
    return ServiceFusionClient(info["sf_base_url"], info["sf_token_url"], info["sf_client_id"],
                               info["sf_client_secret"], rate_limit_per_minute=6000)


def _entry(name: str, portfolio_id: int) -> LedgerEntry:
    body = {"customer_name": name,
            "custom_fields": [{"name": CUSTOMER_ID_FIELDS["portfolio"], "value": str(portfolio_id)}]}
    return LedgerEntry.new("sf", "create_customer", f"portfolio-{portfolio_id}", body,
                           now=datetime(2026, 1, 5))


def _customer_reads(sandbox: Sandbox, since: int) -> list[dict[str, object]]:
    return [r for r in sandbox.state.request_log(since)
            if r["server"] == "sf" and r["method"] == "GET" and "customers" in str(r["operation"])]


def test_a_fresh_create_is_looked_up_with_one_request(fresh_sandbox: Sandbox) -> None:
    client = _client(fresh_sandbox)
    gateway = ServiceFusionGateway(client, customer_search=customer_search(client))
    entry = _entry("Quartz Ridge Holdings", 777)
    mark = len(fresh_sandbox.state.request_log())

    assert gateway.verify_lookup(entry).outcome is LookupOutcome.ABSENT
    assert len(_customer_reads(fresh_sandbox, mark)) == 1

    created = gateway.send(entry)
    found = gateway.lookup(entry)
    assert found.outcome is LookupOutcome.FOUND and found.target_id == created


def test_after_a_possible_send_a_renamed_customer_is_still_found(fresh_sandbox: Sandbox) -> None:
    client = _client(fresh_sandbox)
    gateway = ServiceFusionGateway(client, customer_search=customer_search(client))
    entry = _entry("Basalt Court Owners", 778)
    created = gateway.send(entry)
    assert created is not None
    fresh_sandbox.state.patch("servicefusion", "customers", int(created), {"customer_name": "Basalt Ct. (renamed)"})

    assert gateway.verify_lookup(entry).outcome is LookupOutcome.ABSENT, "a first create trusts the name search"
    found = gateway.lookup(replace(entry, attempts=1))
    assert found.outcome is LookupOutcome.FOUND, "a retry must read every customer before sending again"
    assert found.target_id == created


def test_a_stamp_after_other_custom_fields_is_still_the_lookup_key(fresh_sandbox: Sandbox) -> None:
    """The stamp is found wherever it sits among the body's custom fields, as the bulk check finds it."""
    client = _client(fresh_sandbox)
    gateway = ServiceFusionGateway(client, customer_search=customer_search(client))
    entry = _entry("Granite Row Partners", 779)
    entry = replace(entry, payload={**entry.payload, "custom_fields": [
        {"name": "Source", "value": "GreenLight"}, *entry.payload["custom_fields"]]})
    assert gateway.verify_lookup(entry).outcome is LookupOutcome.ABSENT
    created = gateway.send(entry)
    found = gateway.lookup(replace(entry, attempts=1))
    assert found.outcome is LookupOutcome.FOUND and found.target_id == created
