"""Every answer of the REST sandbox checked against the vendor's OpenAPI document (openapi-core).

`ContractSession` is a ``requests.Session`` whose response hook validates each response
against the shipped document (``greenlight_dagster/contracts/propertyware-rest-v1.openapi.json``)
and records it, so a test that forgets to check still cannot let a non-conforming answer by.

Two adjustments, both said here so they stay deliberate:

* the document's ``servers`` entry is the vendor's host; it is pointed at the sandbox so paths match;
* the live API sends enum values its document does not declare (docs/apis/propertyware.md §3; the vendored
  Ruby gem patches the same fields in its ``fix_json.rb``), and the sandbox plants them on
  purpose: `LIVE_ENUM_DEVIATIONS` relaxes exactly those enums. Nothing else is relaxed.

The document is loaded without openapi-core's spec validation: the vendor's responses lack the
``description`` OpenAPI requires, which says nothing about the data.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import urlsplit

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator

from greenlight_dagster.sandbox.pw_rest_server import openapi

#: (schema, property) whose enum the live API does not keep to.
LIVE_ENUM_DEVIATIONS = (("Building", "propertyType"), ("Building", "areaUnits"), ("Unit", "areaUnits"))


def contract_document(base_url: str) -> dict[str, Any]:
    document = copy.deepcopy(openapi())
    document["servers"] = [{"url": base_url}]
    for schema, prop in LIVE_ENUM_DEVIATIONS:
        document["components"]["schemas"][schema]["properties"][prop].pop("enum", None)
    return document


class ContractSession(requests.Session):
    """A session with the sandbox's key whose every response must conform to the document."""

    def __init__(self, info: dict[str, str], *, key: bool = True) -> None:
        super().__init__()
        self.base_url = info["pw_rest_url"]
        self.document = contract_document(self.base_url)
        self.api = OpenAPI.from_dict(self.document, config=Config(spec_validator_cls=None))
        self.checked: list[tuple[str, str, int]] = []
        if key:
            self.headers.update({"x-propertyware-client-id": info["pw_client_id"],
                                 "x-propertyware-client-secret": info["pw_client_secret"],
                                 "x-propertyware-system-id": info["pw_system_id"]})
        self.hooks["response"].append(self._validate)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.request(method, self.base_url + path, **kwargs)

    def _validate(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        request = response.request
        responses = self._operation(str(request.method), str(request.url))["responses"]
        declared = responses.get(str(response.status_code))
        if declared is None:  # 415, 429, 500: the document's prose says every error but 404 is an ErrorResponse
            self._check_schema({"$ref": "#/components/schemas/ErrorResponse"}, response)
        elif "*/*" in declared.get("content", {}):  # openapi-core does not read a wildcard media type as JSON
            self._check_schema(declared["content"]["*/*"]["schema"], response)
        elif not declared.get("content"):  # 404: no schema; the sandbox sends no body
            assert response.content == b"", f"{request.method} {request.url}: a body where the document has none"
        else:
            self.api.validate_response(RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(response))
        self.checked.append((str(request.method), str(request.url), response.status_code))

    def _check_schema(self, schema: dict[str, Any], response: requests.Response) -> None:
        OAS30Validator({**schema, "components": self.document["components"]}).validate(json.loads(response.content))

    def _operation(self, method: str, url: str) -> dict[str, Any]:
        path = urlsplit(url).path[len(urlsplit(self.base_url).path):]
        for template, operations in self.document["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path) and method.lower() in operations:
                found: dict[str, Any] = operations[method.lower()]
                return found
        raise AssertionError(f"{method} {path} is not an operation of the document")
