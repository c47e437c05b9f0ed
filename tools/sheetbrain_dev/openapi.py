"""The one OpenAPI 3.1 document of the whole API, built from the functions' own resolvers.

Each function of template.yaml that serves HTTP routes is imported as the local runtime imports
it, and its resolver (``app``) generates its part with Powertools' ``get_openapi_schema``: paths,
pydantic request/response models, summaries and tags. The parts are merged (a path+method or a
component defined twice with different content is an error), then the template decides what the
code cannot know: which routes exist and which carry the Clerk JWT authorizer. The contract's
error shape, error responses and headers are added here, in one place. Building needs no
database: nothing is invoked.

The result is committed as ``openapi.json`` (``sheetbrain openapi``; a test fails when stale) and
served by ``sheetbrain serve`` at ``/api/openapi.json`` with a Swagger UI at ``/api/docs``.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from sheetbrain.config import VERSION
from sheetbrain.errors import (
    BadRequestError,
    ConflictError,
    DependencyUnavailableError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    QuotaExceededError,
    RateLimitedError,
    SheetBrainError,
    UnauthorizedError,
    ValidationError,
)
from sheetbrain.http.error_body import Error
from sheetbrain.http.models import OPENAPI_EXTENSION

from sheetbrain_dev.lambda_runtime import load_module
from sheetbrain_dev.paths import ROOT
from sheetbrain_dev.template import Route, Template, load_template

OPENAPI_FILE = ROOT / "openapi.json"
OPENAPI_VERSION = "3.1.0"
TITLE = "SheetBrain API"
SECURITY_SCHEME = "ClerkJwt"  # the authorizer's name in template.yaml
LOCAL_SERVER = "http://127.0.0.1:3000"
PENDING_EXTENSION = "x-sheetbrain-pending"

_BODY_METHODS = frozenset({"post", "put", "patch"})
# What Powertools documents for its own validation errors; ours answer with the Error shape.
_POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ResponseValidationError", "ValidationError")
_RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")

DESCRIPTION = """\
Audits spreadsheet formulas for errors and for compliance with an organization's own policies.

**Authentication.** Every route except `/api/health` and `/api/webhooks/*` needs
`Authorization: Bearer <JWT>`: a Clerk session token from the `sheetbrain` JWT template (see the
`ClerkJwt` security scheme). Webhooks are verified by their provider's signature instead.

**Errors.** Every error is JSON in the `Error` shape,
`{"error": {"code": "<snake_case>", "message": "...", "details": {...}}}`, and every response
carries `X-Request-Id`.

**Rate limits and quotas.** Authenticated responses carry `RateLimit-Limit`, `RateLimit-Remaining`
and `RateLimit-Reset` (seconds); a 429 (`rate_limited` or `quota_exceeded`) carries `Retry-After`
(seconds). Quota limits come from the organization's plan; `-1` means unlimited.
"""

SECURITY_SCHEME_OBJECT: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": (
        "A Clerk session token (RS256) from the Clerk JWT template named `sheetbrain`, obtained with "
        '`getToken({ template: "sheetbrain" })`: it adds `aud: sheetbrain` and the flat `org_id`, '
        "`org_role` and `org_slug` claims. In AWS the HTTP API's JWT authorizer verifies it (a missing or "
        'invalid token gets API Gateway\'s own `401 {"message": "Unauthorized"}`). Locally, '
        "`sheetbrain token --user ID [--org ID] [--role org:admin]` mints one the dev server accepts."
    ),
}

TAG_DESCRIPTIONS = {
    "audit": "Formula audits and their findings",
    "billing": "Plans, Stripe Checkout and customer portal, usage",
    "health": "Liveness and database reachability (no token)",
    "policies": "The organization's policy documents",
    "tenancy": "The caller's organization",
    "webhooks": "Signed provider callbacks: Clerk (Svix) and Stripe (no token)",
}


def _codes(*errors: type[SheetBrainError]) -> str:
    return ", ".join(f"`{e.code}`" for e in errors)


# status → (components.responses name, description, extra headers)
_ERROR_RESPONSES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "400": (
        "BadRequest",
        f"Malformed JSON or an unsupported content type (`malformed_json`, {_codes(BadRequestError)}); "
        "for webhooks, a bad signature or a stale timestamp.",
        (),
    ),
    "401": ("Unauthorized", f"Missing or invalid bearer token ({_codes(UnauthorizedError)}).", ()),
    "403": ("Forbidden", f"Wrong role, or a deleted organization or user ({_codes(ForbiddenError)}).", ()),
    "404": (
        "NotFound",
        f"Unknown id, also for another organization's id ({_codes(NotFoundError)}).",
        (),
    ),
    "409": ("Conflict", f"The request conflicts with the current state ({_codes(ConflictError)}).", ()),
    "413": ("PayloadTooLarge", f"The request body is too large ({_codes(PayloadTooLargeError)}).", ()),
    "422": (
        "ValidationFailed",
        f"The request is invalid ({_codes(ValidationError)}); `details.fields` names each field.",
        (),
    ),
    "429": (
        "TooManyRequests",
        f"Rate limit or plan quota reached ({_codes(RateLimitedError, QuotaExceededError)}).",
        ("Retry-After", *_RATE_LIMIT_HEADERS),
    ),
    "500": ("InternalError", f"An unexpected error ({_codes(SheetBrainError)}), answered without a trace.", ()),
    "503": (
        "ServiceUnavailable",
        f"A dependency is unreachable, e.g. the database ({_codes(DependencyUnavailableError)}).",
        (),
    ),
}

_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {"description": "Identifier of the request (also in the logs)", "schema": {"type": "string"}},
    "RateLimit-Limit": {"description": "Requests allowed in the current window", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Requests left in the current window", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the window resets", "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}},
}


class OpenApiBuildError(Exception):
    """The functions' routes and template.yaml disagree, or two parts of the API conflict."""


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _error_statuses(route: Route, operation: dict[str, Any]) -> list[str]:
    """The contract's errors that this operation can answer."""
    method = route.method.lower()
    statuses = ["500", "503"]
    if method in _BODY_METHODS:
        statuses += ["400", "413"]
    # Declared inputs are validated by Powertools; authenticated bodies may also be parsed by the
    # route itself (multipart). Webhooks only verify a signature: a bad one is a 400.
    if operation.get("parameters") or operation.get("requestBody") or (method in _BODY_METHODS and route.authorized):
        statuses.append("422")
    if route.authorized:
        statuses += ["401", "403", "429"]
    if "{" in route.path:
        statuses.append("404")
    return sorted(statuses)


def _resolver_schema(template: Template, function_id: str) -> dict[str, Any]:
    module = load_module(template.functions[function_id])
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_openapi_schema"):
        raise OpenApiBuildError(f"{function_id} has HTTP routes in template.yaml but its module defines no `app`.")
    schema = app.get_openapi_schema(title=TITLE, version=VERSION, openapi_version=OPENAPI_VERSION)
    dumped: dict[str, Any] = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _merge_components(target: dict[str, dict[str, Any]], source: dict[str, Any], function_id: str) -> None:
    for kind, entries in source.items():
        merged = target.setdefault(kind, {})
        for name, value in entries.items():
            if name in merged and merged[name] != value:
                raise OpenApiBuildError(
                    f"components.{kind}.{name} is defined differently by {function_id} and another function; "
                    "rename one of the models."
                )
            merged[name] = value


_PATH_PARAMETER = re.compile(r"\{[^}]*\}")


def route_shape(method: str, path: str) -> str:
    """``GET /api/policies/{}``: API Gateway and Powertools match path parameters by position, so
    the template's ``{id}`` and the code's ``{policy_id}`` are the same route."""
    return method.upper() + " " + _PATH_PARAMETER.sub("{}", path)


def _operations_by_route(
    template: Template, components: dict[str, dict[str, Any]]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each function's operations (with the code's path), keyed by route shape, checked against
    the template's routing."""
    routed = {route_shape(route.method, route.path): route.function for route in template.routes}
    operations: dict[str, tuple[str, dict[str, Any]]] = {}
    for function_id in sorted({route.function for route in template.routes}):
        schema = _resolver_schema(template, function_id)
        _merge_components(components, schema.get("components", {}), function_id)
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                shape = route_shape(method, path)
                if routed.get(shape) != function_id:
                    where = f"routes it to {routed[shape]}" if shape in routed else "has no such route"
                    raise OpenApiBuildError(
                        f"{function_id} defines {method.upper()} {path}, but template.yaml {where}: "
                        "API Gateway would never deliver it."
                    )
                operations[shape] = (path, operation)
    return operations


def _pending_operation(route: Route) -> dict[str, Any]:
    slug = re.sub(r"[^a-z0-9]+", "_", route.path.lower()).strip("_")
    return {
        "summary": "Not implemented yet",
        "description": (
            f"template.yaml routes this to {route.function}, whose resolver does not define it yet: "
            "it answers 404 `route_not_found` for now."
        ),
        "operationId": f"pending_{route.method.lower()}_{slug}",
        PENDING_EXTENSION: True,
        "responses": {},
    }


def _stated(operation: dict[str, Any]) -> None:
    """Move what a route states beyond its signature (``OPENAPI_EXTENSION``) into the operation:
    the request body and header parameters it reads itself, and its own error responses."""
    raw = operation.pop(OPENAPI_EXTENSION, None)
    if raw is None:
        return
    if "requestBody" in raw:
        operation["requestBody"] = raw["requestBody"]
    operation["parameters"] = [*operation.get("parameters", []), *raw.get("parameters", [])]
    if not operation["parameters"]:
        del operation["parameters"]
    for status, description in raw.get("errors", {}).items():
        headers = _ERROR_RESPONSES[status][2]
        operation.setdefault("responses", {})[status] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            "headers": {header: _header_ref(header) for header in ("X-Request-Id", *headers)},
        }


# A request's strings are stored as text: NUL is refused in each (sheetbrain.http.models).
_NO_NUL = "^[^\\u0000]*$"


def _no_nul(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    """State the NUL rule on every free-text string of a request schema (and the components it
    refers to); strings of a format or an enum cannot hold one anyway."""
    if isinstance(schema, list):
        for item in schema:
            _no_nul(item, components, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/") and ref not in seen:
        seen.add(ref)
        _no_nul(components.get(ref.rsplit("/", 1)[1]), components, seen)
    if schema.get("type") == "string" and not ({"format", "enum", "const"} & schema.keys()):
        if "pattern" not in schema:
            schema["pattern"] = _NO_NUL
        elif schema["pattern"] != _NO_NUL and {"pattern": _NO_NUL} not in schema.get("allOf", []):
            schema.setdefault("allOf", []).append({"pattern": _NO_NUL})
    for key, value in schema.items():
        if key in ("properties", "$defs", "patternProperties"):
            for child in value.values():
                _no_nul(child, components, seen)
        elif key in ("items", "contains", "additionalProperties", "not", "anyOf", "oneOf", "allOf", "prefixItems"):
            _no_nul(value, components, seen)


def _document_operation(route: Route, operation: dict[str, Any]) -> dict[str, Any]:
    operation = copy.deepcopy(operation)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = responses.get("422", {})
    refs = json.dumps(validation)
    if any(f"#/components/schemas/{name}" in refs for name in _POWERTOOLS_VALIDATION_SCHEMAS):
        del responses["422"]
    for status, response in responses.items():
        if "$ref" in response:
            continue
        if status == "204":  # No Content: Powertools documents a JSON body for every response
            response.pop("content", None)
        headers = response.setdefault("headers", {})
        headers.setdefault("X-Request-Id", _header_ref("X-Request-Id"))
        if route.authorized and status.startswith("2"):
            for name in _RATE_LIMIT_HEADERS:
                headers.setdefault(name, _header_ref(name))
    # From what Powertools validates: a signed webhook's stated headers are checked with its
    # signature (400), never as a 422.
    statuses = _error_statuses(route, operation)
    _stated(operation)
    if operation.get(PENDING_EXTENSION) and "404" not in statuses:
        statuses.append("404")
    for status in statuses:
        responses.setdefault(status, {"$ref": f"#/components/responses/{_ERROR_RESPONSES[status][0]}"})
    if route.authorized:
        operation["security"] = [{SECURITY_SCHEME: []}]
    else:
        operation.pop("security", None)
    return operation


def _contract_components(components: dict[str, dict[str, Any]]) -> None:
    error_schema = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in {**error_schema.pop("$defs", {}), "Error": error_schema}.items():
        _merge_components(components, {"schemas": {name: schema}}, "the contract")
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = SECURITY_SCHEME_OBJECT
    components.setdefault("headers", {}).update(_HEADERS)
    responses = components.setdefault("responses", {})
    for name, description, extra in _ERROR_RESPONSES.values():
        responses[name] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            "headers": {header: _header_ref(header) for header in ("X-Request-Id", *extra)},
        }


def _drop_unreferenced_validation_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"].get("schemas", {})
    dropped = True
    while dropped:  # one drop can orphan another (HTTPValidationError → ValidationError)
        dropped = False
        for name in _POWERTOOLS_VALIDATION_SCHEMAS:
            if name not in schemas:
                continue
            rest = {k: v for k, v in schemas.items() if k != name}
            if f'"#/components/schemas/{name}"' not in json.dumps([document["paths"], rest]):
                del schemas[name]
                dropped = True


def build_document(template: Template | None = None) -> dict[str, Any]:
    """The merged OpenAPI document of every function's routes (imports the functions, no database)."""
    template = template or load_template()
    components: dict[str, dict[str, Any]] = {}
    operations = _operations_by_route(template, components)
    _contract_components(components)
    # The code's spelling of each path wins, also for a not-yet-implemented method on it.
    code_paths = {route_shape("", path): path for path, _ in operations.values()}
    paths: dict[str, dict[str, Any]] = {}
    for route in template.routes:
        found = operations.get(route_shape(route.method, route.path))
        path, operation = found or (code_paths.get(route_shape("", route.path), route.path), _pending_operation(route))
        paths.setdefault(path, {})[route.method.lower()] = _document_operation(route, operation)
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op]
    duplicates = sorted({oid for oid in operation_ids if operation_ids.count(oid) > 1})
    if duplicates:
        raise OpenApiBuildError(f"Duplicate operationId across functions: {', '.join(duplicates)}")
    tags = sorted({tag for item in paths.values() for op in item.values() for tag in op.get("tags", [])})
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [
            {"url": LOCAL_SERVER, "description": "Local: `sheetbrain serve` (make serve)"},
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com",
                "description": "AWS: the stack's ApiUrl output",
                "variables": {"api_id": {"default": "api-id"}, "region": {"default": "eu-west-1"}},
            },
        ],
        "paths": paths,
        "components": components,
        "tags": [
            {"name": tag, **({"description": TAG_DESCRIPTIONS[tag]} if tag in TAG_DESCRIPTIONS else {})} for tag in tags
        ],
    }
    _drop_unreferenced_validation_schemas(document)
    seen: set[str] = set()
    for item in paths.values():
        for operation in item.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _no_nul(media.get("schema"), components.get("schemas", {}), seen)
    return document


def render(document: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: Path | None = None) -> Path:
    """Build the document and write it to ``path`` (default: the committed ``openapi.json``)."""
    path = path or OPENAPI_FILE
    path.write_text(render(build_document()), encoding="utf-8")
    return path


def is_current(path: Path | None = None) -> bool:
    """Whether ``path`` (default: the committed ``openapi.json``) holds exactly the document the
    code generates now."""
    path = path or OPENAPI_FILE
    try:
        committed = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return committed == render(build_document())


def swagger_html(document_json: str) -> str:
    """A Swagger UI page for the document, with Powertools' bundled assets inlined (works offline)."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    assets = Path(swagger_ui.__file__).parent
    return swagger_ui.generate_swagger_html(
        # A "</script>" inside the JSON must not close the page's script element.
        document_json.replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
        persist_authorization=True,
    ).replace("<title>Swagger UI</title>", f"<title>{TITLE}</title>")
