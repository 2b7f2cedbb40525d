"""Hostile input: fuzzed responses, XML attacks and SQL-significant text meet only typed errors.

The old bridge crashed a whole sync on one malformed record. The rule here (docs/architecture.md §4):
parsers either return a value or raise one of *our* error types; a bad record becomes a
`RejectedRecord` (then an ``ops.error_log`` row) and every good record of the same page is
kept; an XML bomb or external entity is refused before it is expanded; and text that means
something to SQL or XML is stored as data, byte for byte.

Hypothesis drives the PropertyWare wire decoder, both clients (through stub servers that serve
whatever the strategy drew) and the pure functions of ``core/``. Example counts are kept small
enough for ``make test``; the properties, not the counts, are the point.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import dagster as dg
import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, text

from greenlight_dagster.clients.propertyware import PropertyWareClient
from greenlight_dagster.clients.pw_legacy import TypeRef, from_legacy, signatures, to_legacy
from greenlight_dagster.clients.pw_wire import NS, SOAP_ENV_NS, Decoder, WireValueError, Writer, envelope, escape
from greenlight_dagster.clients.records import RejectedRecord, SourceRecord
from greenlight_dagster.clients.resilience import ClientError, PermanentError, RetryPolicy
from greenlight_dagster.clients.servicefusion import ServiceFusionClient
from greenlight_dagster.core import dedup, fields, idempotency, matching, payloads, routing, statuses
from greenlight_dagster.core import text as core_text
from greenlight_dagster.core.flags import ENV_VARS, SyncFlags
from greenlight_dagster.defs.ingestion.assets import ingest, ingest_daily
from greenlight_dagster.defs.propertyware import resources as pw_resources
from greenlight_dagster.defs.servicefusion import resources as sf_resources
from greenlight_dagster.lib.ingest import latest_partition_key
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.sandbox.runner import Sandbox
from greenlight_dagster_tests.factories import sf_job
from greenlight_dagster_tests.http_stubs import answer, answer_pw, base_url, pw_stub, requested_paths, serve_sf_token
from greenlight_dagster_tests.ingestion.fixtures_sandbox import full_refresh_config
from greenlight_dagster_tests.reliability.report import ReliabilityReport, measured

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
pytestmark = pytest.mark.timeout(300)

# ---------------------------------------------------------------- strategies

#: Text XML 1.0 can carry (what a real server could send; the rest cannot even be serialised).
xml_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters="\t\n"),
                   max_size=40)
#: Values that look like what a wrongly typed field could hold.
lexemes = st.one_of(xml_text, st.integers().map(str), st.floats().map(repr), st.sampled_from(
    ["", " ", "true", "1e400", "-0", "NaN", "2026-13-45T99:99:99Z", "0001-01-01T00:00:00+01:00",
     "9999-12-31T23:59:59-01:00", "9223372036854775808", "﻿", "<![CDATA[x]]>"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


WORK_ORDER_ELEMENTS = [f.name for f in signatures().fields("WorkOrder")]
element_names = st.one_of(st.sampled_from(WORK_ORDER_ELEMENTS),
                          st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True))
hostile_records = st.lists(st.tuples(element_names, lexemes, st.booleans()), max_size=12)


def _element(children: list[tuple[str, str, bool]]) -> str:
    """A ``WorkOrder`` array item from (name, text, nested?) triples; nested puts the text one level down."""
    inner = "".join(f"<{name}><value>{escape(value)}</value></{name}>" if nested
                    else f"<{name}>{escape(value)}</{name}>" for name, value, nested in children)
    return f'<item xsi:type="tns1:WorkOrder">{inner}</item>'


def _good_work_order(work_order_id: int) -> dict[str, Any]:
    return {"id": work_order_id, "number": work_order_id - 8000, "portfolioID": 1, "buildingID": 10, "unitID": 100,
            "status": "Open", "description": f"leak {work_order_id}", "createdDateTime": "2026-01-01T00:00:00Z"}


def _page(items: list[str]) -> bytes:
    """A whole ``getWorkOrdersResponse`` envelope holding ``items``."""
    return envelope(f'<ns1:getWorkOrdersResponse><getWorkOrdersReturn xsi:type="soapenc:Array" '
                    f'soapenc:arrayType="tns1:WorkOrder[{len(items)}]">{"".join(items)}</getWorkOrdersReturn>'
                    "</ns1:getWorkOrdersResponse>")


def _good_element(work_order_id: int) -> str:
    return Writer(multiref=False).element("item", TypeRef("WorkOrder"),
                                          to_legacy("WorkOrder", _good_work_order(work_order_id)))


def _read(client: PropertyWareClient) -> list[SourceRecord | RejectedRecord]:
    """Every record of the stub's one page: it serves that page to every request, which the client
    ends as a page served again (after yielding the first)."""
    out: list[SourceRecord | RejectedRecord] = []
    client._service().page_sizes.clear()  # each example is a new server; a page size learnt before would end early
    with pytest.raises(PermanentError, match="again"):
        out.extend(client.iter_records("work_orders"))
    return out


FAST_RETRY = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002, rng=random.Random(0))


@pytest.fixture(name="pw_stub", scope="module")
def pw_stub_fixture() -> Iterator[tuple[HTTPServer, str]]:
    with pw_stub() as served:
        yield served


@pytest.fixture(scope="module")
def sf_stub() -> Iterator[tuple[HTTPServer, str, str]]:
    with HTTPServer(host="127.0.0.1") as server:
        yield server, *serve_sf_token(server)


def _pw_client(wsdl_url: str) -> PropertyWareClient:
    return PropertyWareClient(wsdl_url, "user", "password", timeout=5, retry=FAST_RETRY)


def _sf_client(base_url: str, token_url: str) -> ServiceFusionClient:
    return ServiceFusionClient(base_url, token_url, "id", "secret", rate_limit_per_minute=100_000, timeout=5,
                               retry=FAST_RETRY)


# ---------------------------------------------------------------- PropertyWare

@FUZZ
@given(children=hostile_records)
@example(children=[("ID", "1", False), ("building", "0001-01-01T00:00:00+01:00", True)])
def test_pw_wire_decoder_returns_a_record_or_names_the_broken_field(children: list[tuple[str, str, bool]]) -> None:
    body = etree.fromstring(_page([_element(children)])).find(f"{{{SOAP_ENV_NS}}}Body")
    item = body[0][0][0]
    try:
        decoded = Decoder(body, strict=False).value(item, TypeRef("WorkOrder"), "WorkOrder")
    except WireValueError as exc:
        assert str(exc)  # names the path; anything else escaping is a crash of the run
    else:
        assert isinstance(decoded, dict)


@FUZZ
@given(bad=st.lists(hostile_records, min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_pw_page_keeps_every_good_record_beside_hostile_ones(pw_stub: tuple[HTTPServer, str],
                                                             bad: list[list[tuple[str, str, bool]]],
                                                             seed: int) -> None:
    server, wsdl_url = pw_stub
    good_ids = [9001, 9002, 9003]
    items = [_good_element(i) for i in good_ids] + [_element(children) for children in bad]
    random.Random(seed).shuffle(items)
    answer_pw(server, _page(items))
    out = _read(_pw_client(wsdl_url))
    assert len(out) == len(items)  # nothing dropped silently, nothing invented
    assert all(isinstance(r, SourceRecord | RejectedRecord) for r in out)
    kept = {r.source_id: r.payload for r in out if isinstance(r, SourceRecord) and r.source_id in good_ids}
    assert kept == {i: from_legacy("WorkOrder", to_legacy("WorkOrder", _good_work_order(i))) for i in good_ids}
    assert all(r.reason and r.raw.startswith("<") for r in out if isinstance(r, RejectedRecord))


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), st.integers(0, 2000).map(lambda cut: _page(
    [_good_element(9001), _good_element(9002)])[:cut])))
def test_pw_garbage_or_truncated_answers_are_typed_errors(pw_stub: tuple[HTTPServer, str], body: bytes) -> None:
    server, wsdl_url = pw_stub
    answer_pw(server, body)
    try:
        out = list(_pw_client(wsdl_url).iter_records("work_orders"))
    except ClientError as exc:
        assert "PropertyWare getWorkOrders" in str(exc)
    else:
        assert all(isinstance(r, SourceRecord | RejectedRecord) for r in out)


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + f']><soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:ns1="{NS}"><soapenv:Body>'
    "<ns1:getWorkOrdersResponse><getWorkOrdersReturn><item><ID>1</ID><description>&lol9;</description>"
    "</item></getWorkOrdersReturn></ns1:getWorkOrdersResponse></soapenv:Body></soapenv:Envelope>"
)


def _xxe(system_id: str) -> str:
    return (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "{system_id}">]>'
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" xmlns:ns1="{NS}"><soapenv:Body>'
            "<ns1:getWorkOrdersResponse><getWorkOrdersReturn><item><ID>1</ID><description>&xxe;</description>"
            "</item></getWorkOrdersReturn></ns1:getWorkOrdersResponse></soapenv:Body></soapenv:Envelope>")


def _attacks(base_url: str) -> dict[str, str]:
    return {"billion laughs": BILLION_LAUGHS, "XXE file": _xxe("file:///etc/hostname"),
            "XXE http": _xxe(f"{base_url}/evil.dtd"),
            "external DTD": BILLION_LAUGHS.replace("<!DOCTYPE lolz [",
                                                   f'<!DOCTYPE lolz SYSTEM "{base_url}/evil.dtd" [')}


def test_pw_client_refuses_xml_bombs_and_external_entities(pw_stub: tuple[HTTPServer, str],
                                                           reliability_report: ReliabilityReport) -> None:
    server, wsdl_url = pw_stub
    with measured(reliability_report, "hostile: XML attacks on the PW client", load="1 response each",
                  faults="billion laughs, XXE (file, http), external DTD") as row:
        for name, attack in _attacks(base_url(server)).items():
            answer_pw(server, attack)
            began = time.monotonic()
            # Refused once as hostile (issue 16 item 10): nothing expanded, nothing retried, no record.
            client = _pw_client(wsdl_url)
            with pytest.raises(PermanentError, match="refused a hostile answer"):
                list(client.iter_records("work_orders"))
            assert client.stats.retries == 0, name
            assert time.monotonic() - began < 5, name
        assert not any("evil.dtd" in path for path in requested_paths(server))  # nothing fetched
        row.outcome = "refused once as hostile before expansion, no retry, no fetch"


def test_pw_sandbox_refuses_xml_bombs_and_external_entities(fresh_sandbox: Sandbox) -> None:
    url = fresh_sandbox.info["pw_wsdl_url"].removesuffix("?wsdl")
    before = fresh_sandbox.state.snapshot()
    for name, attack in _attacks(url).items():
        body = attack.replace("getWorkOrdersResponse", "updateWorkOrder").replace("getWorkOrdersReturn", "workOrder")
        began = time.monotonic()
        response = requests.post(url, data=body.encode(), headers={"Content-Type": "text/xml"}, timeout=10,
                                 auth=(fresh_sandbox.info["pw_username"], fresh_sandbox.info["pw_password"]))
        assert response.status_code == 500, name
        assert b"<faultcode>soapenv:Client</faultcode>" in response.content, name
        assert time.monotonic() - began < 5, name
    assert fresh_sandbox.state.snapshot() == before


# ---------------------------------------------------------------- ServiceFusion

def _good_job(job_id: int) -> dict[str, Any]:
    return sf_job(job_id, customer_id=7, description=f"job {job_id}", updated_at="2026-01-02T00:00:00+00:00")


def _sf_page(items: list[Any]) -> str:
    return json.dumps({"items": items, "_meta": {"currentPage": 1, "pageCount": 1, "perPage": 50,
                                                 "totalCount": len(items)}})


@FUZZ
@given(bad=st.lists(json_values, min_size=1, max_size=5), seed=st.integers(0, 2**16))
@example(bad=[{"id": 5, "updated_at": "0001-01-01T00:00:00+01:00"}], seed=0)
def test_sf_page_keeps_every_good_record_beside_hostile_ones(sf_stub: tuple[HTTPServer, str, str], bad: list[Any],
                                                             seed: int) -> None:
    server, base_url, token_url = sf_stub
    good = [_good_job(i) for i in (1, 2, 3)]
    items = good + bad
    random.Random(seed).shuffle(items)
    answer(server, "/v1/jobs", _sf_page(items), content_type="application/json")
    out = list(_sf_client(base_url, token_url).iter_records("jobs"))
    assert len(out) == len(items)
    assert all(isinstance(r, SourceRecord | RejectedRecord) for r in out)
    assert [r.payload for r in out if isinstance(r, SourceRecord) and r.payload in good] == [
        i for i in items if i in good]


@FUZZ
@given(body=st.one_of(json_values.map(json.dumps), st.binary(max_size=200),
                      st.integers(0, 200).map(lambda cut: _sf_page([_good_job(1)])[:cut])))
def test_sf_garbage_or_truncated_answers_are_typed_errors(sf_stub: tuple[HTTPServer, str, str],
                                                          body: str | bytes) -> None:
    server, base_url, token_url = sf_stub
    answer(server, "/v1/jobs", body, content_type="application/json")
    try:
        out = list(_sf_client(base_url, token_url).iter_records("jobs"))
    except ClientError as exc:
        assert "/jobs" in str(exc)
    else:
        assert all(isinstance(r, SourceRecord | RejectedRecord) for r in out)


# ---------------------------------------------------------------- core/

Call = Callable[[], object]


def _typed(call: Call, *allowed: type[Exception]) -> None:
    """Run ``call``: a value, or one of the ``allowed`` (documented) errors; anything else fails the test."""
    with contextlib.suppress(*allowed):
        call()


anything = st.one_of(json_values, st.floats(), st.datetimes(), st.datetimes(timezones=st.timezones()), lexemes)
mappings = st.dictionaries(st.sampled_from(["id", "number", "description", "priority", "status", "customer_name",
                                            "buildingID", "unitID", "multiUnit", "countUnit", "address", "name",
                                            "po_number", "check_number", "custom_fields", "created_at",
                                            "createdDateTime", "updated_at", "customer_id", "category"]),
                           anything, max_size=10)


@FUZZ
@given(value=anything)
def test_core_field_coercions_never_raise(value: object) -> None:
    assert fields.as_int(value) is None or isinstance(fields.as_int(value), int)
    assert isinstance(fields.as_text(value), str)
    stamp = fields.as_timestamp(value)
    assert stamp is None or (isinstance(stamp, datetime) and stamp.tzinfo is not None)
    assert idempotency.parse_cross_system_id(value) is None or isinstance(
        idempotency.parse_cross_system_id(value), int)


addresses = st.one_of(st.none(), xml_text, mappings)


@FUZZ
@given(a=xml_text, b=xml_text, address=addresses, record=mappings, others=st.lists(mappings, max_size=4))
def test_core_matching_and_text_functions_are_total(a: str, b: str, address: dict[str, Any] | str | None,
                                                    record: dict[str, Any], others: list[dict[str, Any]]) -> None:
    """Arguments of the declared types; inside the mappings, any JSON a source could send."""
    score = core_text.similarity(a, b)
    assert 0.0 <= score <= 1.0 and not math.isnan(score)
    statuses.normalize_status(a)
    statuses.in_open_list(a)
    matching.address_key(address)
    matching.match_customer(a, address, others)
    routing.check_unit_routing(record, others[0] if others else None, others[1:])
    dedup.detect_duplicate(record, others, address=address)


@FUZZ
@given(work_order=mappings, customer=st.none() | mappings, unit=st.none() | mappings, building=st.none() | mappings,
       status=xml_text, job=mappings)
def test_core_payload_builders_raise_only_payload_errors(work_order: dict[str, Any], customer: dict[str, Any] | None,
                                                         unit: dict[str, Any] | None,
                                                         building: dict[str, Any] | None, status: str,
                                                         job: dict[str, Any]) -> None:
    _typed(lambda: payloads.build_job_body(work_order, customer, unit, building, status, None),
           payloads.PayloadError)
    _typed(lambda: payloads.build_customer_body("portfolio", work_order), payloads.PayloadError)
    _typed(lambda: payloads.build_pw_update(job, work_order), payloads.PayloadError, statuses.UnmappedStatusError)
    _typed(lambda: payloads.build_pw_note(job, work_order), payloads.PayloadError)
    _typed(lambda: statuses.pw_update_for_sf(status, None), statuses.UnmappedStatusError)


@FUZZ
@given(env=st.dictionaries(st.sampled_from(sorted(ENV_VARS.values())), lexemes, max_size=6))
def test_flags_from_env_are_flags_or_a_named_value_error(env: dict[str, str]) -> None:
    try:
        SyncFlags.from_env(env)
    except ValueError as exc:
        assert any(name in str(exc) for name in env)


# ---------------------------------------------------------------- SQL-significant text as data

HOSTILE_TEXT = {
    "sql": "'; DROP TABLE raw.pw_work_orders; -- \" OR 1=1; $$ \\x00 E'\\\\'",
    "nul": "before\x00after",
    "emoji": "Fuite 🚿💧 sous l'évier — 漏水 ✅ \U0001F3E0",
    "markup": "<![CDATA[ ]]> &amp; <b>bold</b> &#0; &lt;script&gt;",
    "huge": "x" * (1024 * 1024),
}


def _ingest_full(*keys: tuple[str, str]) -> dg.ExecuteInProcessResult:
    """Materialize raw assets exactly as the sync does, re-reading everything (``full_refresh``)."""
    return dg.materialize(
        [ingest, ingest_daily], selection=[dg.AssetKey(list(key)) for key in keys],
        resources={"warehouse": WarehouseResource(), **pw_resources.resources, **sf_resources.resources},
        run_config=full_refresh_config(keys),
        partition_key=latest_partition_key(),
    )


def _latest_descriptions(engine: Engine, table: str, ids: list[int]) -> dict[int, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            f"select distinct on (source_id) source_id, payload->>'description' from raw.{table}"
            " where source_id = any(:ids) order by source_id, _version_id desc"), {"ids": ids}).all()
    return {source_id: description for source_id, description in rows}


def test_sql_significant_text_round_trips_as_data(fresh_sandbox: Sandbox, isolated_warehouse: Engine,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  reliability_report: ReliabilityReport) -> None:
    state = fresh_sandbox.state
    snapshot = state.snapshot()
    work_orders = [w["id"] for w in snapshot["propertyware"]["workOrders"]][: len(HOSTILE_TEXT)]
    jobs = [j["id"] for j in snapshot["servicefusion"]["jobs"]][: len(HOSTILE_TEXT)]
    for (name, value), wo_id, job_id in zip(HOSTILE_TEXT.items(), work_orders, jobs, strict=True):
        state.patch("propertyware", "workOrders", wo_id, {"description": value, "category": name})
        state.patch("servicefusion", "jobs", job_id, {"description": value, "po_number": name})
    # and one record SF cannot vouch for (PW's legacy structs carry no modified time to break)
    broken = snapshot["servicefusion"]["jobs"][len(HOSTILE_TEXT)]["id"]
    state.get("servicefusion", "jobs", broken)["updated_at"] = "0001-01-01T00:00:00+01:00"
    for variable, value in fresh_sandbox.env().items():
        monkeypatch.setenv(variable, value)
    with measured(reliability_report, "hostile: SQL/NUL/emoji/1 MB text", load="full read, 5+5 records planted",
                  faults="'; DROP TABLE, NUL, emoji, markup, 1 MB text, 1 bad timestamp") as row:
        result = _ingest_full(("pw", "work_orders"), ("sf", "jobs"))
        stored = {**_latest_descriptions(isolated_warehouse, "pw_work_orders", work_orders),
                  **_latest_descriptions(isolated_warehouse, "sf_jobs", jobs)}
        expected = {**{i: v.replace("\x00", "") for i, v in zip(work_orders, HOSTILE_TEXT.values(), strict=True)},
                    **{i: v.replace("\x00", "") for i, v in zip(jobs, HOSTILE_TEXT.values(), strict=True)}}
        assert result.success
        # XML cannot carry a NUL, so PW's SOAP answer never holds one; SF's JSON does, and the loader cleans it
        sanitized = next(event.materialization.metadata["sanitized"].value
                         for event in result.get_asset_materialization_events()
                         if event.asset_key == dg.AssetKey(["sf", "jobs"]))
        assert sanitized >= 1  # the NUL was cleaned, and said so
        lost = sum(1 for key, value in expected.items() if stored.get(key) != value)
        assert lost == 0, {k: (v or "")[:80] for k, v in stored.items() if v != expected[k]}
        with isolated_warehouse.connect() as conn:
            assert conn.execute(text("select to_regclass('raw.pw_work_orders') is not null")).scalar()
            logged = conn.execute(text("select source, entity, reason from ops.error_log where source_key = :k"),
                                  {"k": str(broken)}).all()
            landed = conn.execute(text("select count(distinct source_id) from raw.sf_jobs")).scalar()
        assert [(s, e) for s, e, _ in logged] == [("sf", "jobs")] and "0001-01-01" in logged[0][2]
        assert landed == len(snapshot["servicefusion"]["jobs"]) - 1  # the rest of its page kept
        row.outcome = "stored as data (NUL removed, counted as sanitized); bad record in ops.error_log"
        row.lost = lost
