"""openapi.json: one OpenAPI 3.1 document of every function's routes, committed and kept current,
with the contract's security, errors and headers; served by the dev server with a Swagger UI."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sheetbrain.config import VERSION
from sheetbrain_dev import openapi
from sheetbrain_dev.cli import main
from sheetbrain_dev.server import ApiServer
from sheetbrain_dev.template import Route, Template, load_template

ERROR_STATUSES = {"400", "401", "403", "404", "409", "413", "422", "429", "500", "503"}


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template()


@pytest.fixture(scope="module")
def document(template: Template) -> dict[str, Any]:
    return openapi.build_document(template)


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Operations by route shape (``GET /api/policies/{}``)."""
    return {
        openapi.route_shape(method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, *parts = node["$ref"].split("/")
        node = document
        for part in parts:
            node = node[part]
    return node


def test_the_committed_openapi_json_is_current(document: dict[str, Any]) -> None:
    # Given the committed file, when the document is generated from the code, then they are equal.
    committed = openapi.OPENAPI_FILE.read_text(encoding="utf-8") if openapi.OPENAPI_FILE.exists() else ""
    assert committed == openapi.render(document), (
        "openapi.json is stale (routes or their models changed): run `sheetbrain openapi` (make openapi) and commit it"
    )


def test_rendering_is_deterministic(template: Template, document: dict[str, Any]) -> None:
    text = openapi.render(document)
    assert text == openapi.render(openapi.build_document(template))
    assert text.endswith("}\n") and text.startswith('{\n  "components"')


def test_the_document_is_openapi_3_1_for_the_whole_api(document: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] == "SheetBrain API"
    assert document["info"]["version"] == VERSION
    assert document["servers"][0]["url"] == "http://127.0.0.1:3000"


def test_the_document_parses_as_an_openapi_model(document: dict[str, Any]) -> None:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

    assert len(OpenAPI.model_validate(document).paths or {}) == len(document["paths"])


def test_every_template_route_is_documented_with_the_right_security(
    template: Template, document: dict[str, Any]
) -> None:
    documented = operations(document)
    assert set(documented) == {openapi.route_shape(r.method, r.path) for r in template.routes}
    for route in template.routes:
        operation = documented[openapi.route_shape(route.method, route.path)]
        public = route.path == "/api/health" or route.path.startswith("/api/webhooks/")
        assert route.authorized is not public, route.route_key
        if route.authorized:
            assert operation["security"] == [{openapi.SECURITY_SCHEME: []}], route.route_key
        else:
            assert "security" not in operation, route.route_key
    assert "security" not in document  # no global requirement: public routes stay public


def test_routes_keep_their_own_summaries_tags_and_models(document: dict[str, Any]) -> None:
    documented = operations(document)
    health = documented["GET /api/health"]
    assert health["summary"] == "Service and database health" and health["tags"] == ["health"]
    assert resolve(document, health["responses"]["200"]["content"]["application/json"]["schema"])["required"] == [
        "status",
        "database",
        "version",
    ]
    checkout = documented["POST /api/billing/checkout"]
    body = resolve(document, checkout["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["required"]) == {"plan", "success_url", "cancel_url"}
    assert {tag["name"] for tag in document["tags"]} >= {"billing", "health", "webhooks"}


def test_the_security_scheme_is_a_bearer_jwt_from_the_sheetbrain_clerk_template(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"][openapi.SECURITY_SCHEME]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer" and scheme["bearerFormat"] == "JWT"
    assert "Clerk" in scheme["description"] and "`sheetbrain`" in scheme["description"]


def test_the_error_schema_is_the_contracts_shape(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    inner = resolve(document, error["properties"]["error"])
    assert set(inner["required"]) == {"code", "message", "details"}
    assert inner["properties"]["details"]["type"] == "object"


def test_every_error_response_references_the_error_schema(document: dict[str, Any]) -> None:
    for shape, operation in operations(document).items():
        errors = {status: resp for status, resp in operation["responses"].items() if status >= "400"}
        assert {"500", "503"} <= set(errors), shape
        for status, response in errors.items():
            assert status in ERROR_STATUSES, (shape, status)
            schema = resolve(document, response)["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (shape, status)
    # Powertools' own validation shape is not what the API answers.
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("GET /api/health", {"500", "503"}),
        ("POST /api/webhooks/clerk", {"400", "413", "500", "503"}),
        ("GET /api/stats", {"401", "403", "429", "500", "503"}),
        ("POST /api/billing/checkout", {"400", "401", "403", "409", "413", "422", "429", "500", "503"}),
        ("GET /api/usage", {"401", "403", "422", "429", "500", "503"}),
        ("GET /api/policies/{}", {"401", "403", "404", "422", "429", "500", "503"}),
    ],
)
def test_each_route_documents_the_errors_it_can_answer(
    document: dict[str, Any], shape: str, expected: set[str]
) -> None:
    responses = operations(document)[shape]["responses"]
    assert {status for status in responses if status >= "400"} == expected


def test_authenticated_routes_document_rate_limit_headers_and_429_retry_after(
    template: Template, document: dict[str, Any]
) -> None:
    documented = operations(document)
    too_many = document["components"]["responses"]["TooManyRequests"]["headers"]
    assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(too_many)
    for route in template.routes:
        operation = documented[openapi.route_shape(route.method, route.path)]
        for status, response in operation["responses"].items():
            headers = set(resolve(document, response).get("headers", {}))
            assert "X-Request-Id" in headers, (route.route_key, status)
            if route.authorized and status.startswith("2"):
                assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= headers, route.route_key
            if not route.authorized:
                assert not any(h.startswith("RateLimit-") for h in headers), route.route_key


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    refs = set(walk(document))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/"), ref
        resolve(document, {"$ref": ref})


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for operation in operations(document).values()]
    assert len(ids) == len(set(ids))


def test_a_route_the_template_does_not_route_is_refused(template: Template) -> None:
    # Given a template without /api/stats, when the document is built, then the code's route is an error.
    without_stats = Template(
        functions=template.functions, routes=[r for r in template.routes if r.path != "/api/stats"]
    )
    with pytest.raises(openapi.OpenApiBuildError, match="/api/stats"):
        openapi.build_document(without_stats)


def test_a_template_route_without_code_is_marked_pending(template: Template) -> None:
    extra = Route("GET", "/api/later", "AuditFunction", authorized=True, pattern=re.compile("/api/later"))
    document = openapi.build_document(Template(functions=template.functions, routes=[*template.routes, extra]))
    operation = document["paths"]["/api/later"]["get"]
    assert operation[openapi.PENDING_EXTENSION] is True
    assert operation["security"] == [{openapi.SECURITY_SCHEME: []}]
    assert "404" in operation["responses"]


def test_conflicting_components_of_two_functions_are_refused() -> None:
    components: dict[str, dict[str, Any]] = {"schemas": {"Out": {"type": "object"}}}
    openapi._merge_components(components, {"schemas": {"Out": {"type": "object"}}}, "Same")
    with pytest.raises(openapi.OpenApiBuildError, match="Out"):
        openapi._merge_components(components, {"schemas": {"Out": {"type": "string"}}}, "Other")


def test_the_cli_check_fails_on_a_stale_file_and_passes_once_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "openapi.json"
    target.write_text("{}\n")
    monkeypatch.setattr(openapi, "OPENAPI_FILE", target)
    assert main(["openapi", "--check"]) == 1
    assert "sheetbrain openapi" in capsys.readouterr().err
    assert main(["openapi"]) == 0
    assert json.loads(target.read_text())["info"]["title"] == "SheetBrain API"
    assert main(["openapi", "--check"]) == 0


@pytest.fixture(scope="module")
def base_url(template: Template) -> Iterator[str]:
    # The documentation pages import the functions but never invoke them: no database needed.
    server = ApiServer(("127.0.0.1", 0), template)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def fetch(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def test_the_dev_server_serves_the_document(base_url: str, document: dict[str, Any]) -> None:
    status, content_type, body = fetch(f"{base_url}/api/openapi.json")
    assert status == 200 and content_type == "application/json"
    assert json.loads(body) == document


def test_the_dev_server_serves_a_swagger_ui(base_url: str, document: dict[str, Any]) -> None:
    status, content_type, body = fetch(f"{base_url}/api/docs")
    assert status == 200 and content_type.startswith("text/html")
    page = body.decode()
    assert "SwaggerUIBundle(" in page and "<title>SheetBrain API</title>" in page
    assert '"title": "SheetBrain API"' in page  # the document is embedded, assets are inlined
    status, _, body = fetch(f"{base_url}/api/docs?format=json")
    assert status == 200 and json.loads(body) == document


def test_other_methods_on_the_documentation_paths_are_not_routes(base_url: str) -> None:
    status, _, body = fetch(f"{base_url}/api/openapi.json", method="POST")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


# What schemathesis found the document did not state (issue 15, item 7): each is stated now.


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in operation["parameters"] if p["name"] == name)


@pytest.mark.parametrize("shape", ["GET /api/audits", "GET /api/policies"])
def test_the_cursor_format_is_stated(document: dict[str, Any], shape: str) -> None:
    cursor = _parameter(operations(document)[shape], "cursor")["schema"]["anyOf"][0]
    assert cursor["pattern"] == r"^([0-9]{1,16}-[0-9a-f]{32})?$"


def test_the_usage_window_states_its_years_and_its_pages(document: dict[str, Any]) -> None:
    usage = operations(document)["GET /api/usage"]
    for name in ("from", "to"):
        assert _parameter(usage, name)["schema"]["pattern"] == "^(?:20[0-9]{2}|2100)-"
    reply = resolve(document, usage["responses"]["200"]["content"]["application/json"]["schema"])
    assert "next_from" in reply["properties"]
    assert "400 days" in reply["properties"]["next_from"]["description"]


def test_an_audit_body_carries_exactly_one_of_formulas_and_sheet(document: dict[str, Any]) -> None:
    body = operations(document)["POST /api/audit"]["requestBody"]["content"]["application/json"]["schema"]
    audit = resolve(document, body)
    assert audit["oneOf"] == [
        {"required": ["formulas"], "properties": {"formulas": {"type": "array"}, "sheet": {"type": "null"}}},
        {"required": ["sheet"], "properties": {"sheet": {"type": "object"}, "formulas": {"type": "null"}}},
    ]


@pytest.mark.parametrize(
    ("cell_range", "on_the_sheet"),
    [
        ("A1:D20", True),
        ("$XFD$1048576", True),
        ("xfd1048576", True),
        ("A1048576:XFD1", True),
        ("A0", False),
        ("XFE1", False),
        ("A1048577", False),
        ("ZZZ1", False),
        ("A01", False),
    ],
)
def test_sheet_range_is_bounded_by_the_last_cell_in_its_pattern(
    document: dict[str, Any], cell_range: str, on_the_sheet: bool
) -> None:
    sheet = document["components"]["schemas"]["SheetIn"]["properties"]["range"]["anyOf"][0]
    assert (re.search(sheet["pattern"], cell_range) is not None) is on_the_sheet


def test_ingest_states_its_json_and_multipart_bodies_and_its_422s(document: dict[str, Any]) -> None:
    ingest = operations(document)["POST /api/ingest"]
    body = ingest["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {"application/json", "multipart/form-data"}
    assert body["content"]["application/json"]["schema"]["required"] == ["title", "content"]
    form = body["content"]["multipart/form-data"]["schema"]
    assert (form["required"], set(form["properties"]), form["additionalProperties"]) == (
        ["file"],
        {"file", "title", "category"},
        False,
    )
    refused = ingest["responses"]["422"]["description"]
    for stated in ("3 multipart parts", "8192 bytes of headers", "document_too_large"):
        assert stated in refused


@pytest.mark.parametrize(
    ("shape", "headers"),
    [
        ("POST /api/webhooks/clerk", {"svix-id", "svix-timestamp", "svix-signature"}),
        ("POST /api/webhooks/stripe", {"Stripe-Signature"}),
    ],
)
def test_webhooks_state_their_signature_headers_as_required(
    document: dict[str, Any], shape: str, headers: set[str]
) -> None:
    operation = operations(document)[shape]
    stated = {p["name"] for p in operation["parameters"] if p["in"] == "header" and p["required"]}
    assert stated == headers
    assert operation["requestBody"]["required"] is True
    assert "422" not in operation["responses"]  # a delivery is refused by its signature: 400


def test_every_free_text_request_string_states_that_it_holds_no_nul(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["SheetIn"]["properties"]["name"]["pattern"] == "^[^\\u0000]*$"
    assert schemas["ContextIn"]["properties"]["purpose"]["anyOf"][0]["pattern"] == "^[^\\u0000]*$"


def test_a_deleted_policy_is_documented_as_204_without_a_body(document: dict[str, Any]) -> None:
    responses = operations(document)["DELETE /api/policies/{}"]["responses"]
    assert "200" not in responses
    assert "content" not in responses["204"]


def test_thresholds_body_names_exactly_the_metered_metrics() -> None:
    # One home for the metered metrics: the request model lists the quota module's, no more, no fewer
    from sheetbrain.http.routes.notifications import ThresholdLevels
    from sheetbrain.metering.quota import METERED

    assert set(ThresholdLevels.model_fields) == set(METERED) == {"audits_per_month", "ai_tokens_per_month"}


@pytest.mark.parametrize(
    ("levels", "accepted"),
    [("[80.0, 5]", [80, 5]), ('["5"]', None), ("[true]", None), ("[5.5]", None), ("[0]", None), ("[101]", None)],
)
def test_threshold_levels_are_json_integers_from_1_to_100(levels: str, accepted: list[int] | None) -> None:
    from pydantic import ValidationError
    from sheetbrain.http.routes.notifications import ThresholdsBody

    body = f'{{"thresholds": {{"ai_tokens_per_month": {levels}}}}}'
    if accepted is None:
        with pytest.raises(ValidationError):
            ThresholdsBody.model_validate_json(body)
    else:
        assert ThresholdsBody.model_validate_json(body).thresholds.ai_tokens_per_month == accepted
