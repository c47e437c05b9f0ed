"""template.yaml carries every route of the contract, protected as the contract says."""

from sheetbrain_dev.template import load_template

CONTRACT_ROUTES = {
    ("GET", "/api/health"),
    ("POST", "/api/webhooks/clerk"),
    ("POST", "/api/webhooks/stripe"),
    ("POST", "/api/audit"),
    ("GET", "/api/audits"),
    ("GET", "/api/audits/{id}"),
    ("POST", "/api/ingest"),
    ("POST", "/api/policies/uploads"),
    ("GET", "/api/policies"),
    ("GET", "/api/policies/{id}"),
    ("DELETE", "/api/policies/{id}"),
    ("GET", "/api/billing"),
    ("POST", "/api/billing/checkout"),
    ("POST", "/api/billing/portal"),
    ("GET", "/api/usage"),
    ("GET", "/api/stats"),
}
PUBLIC = {"/api/health", "/api/webhooks/clerk", "/api/webhooks/stripe"}


def test_every_contract_route_is_in_the_template_with_the_right_authorizer() -> None:
    template = load_template()
    routes = {(r.method, r.path): r for r in template.routes}
    assert set(routes) == CONTRACT_ROUTES
    for (_, path), route in routes.items():
        assert route.authorized == (path not in PUBLIC), path


def test_literal_routes_and_path_parameters_resolve() -> None:
    template = load_template()
    found = template.find_route("GET", "/api/audits/abc-123")
    assert found is not None
    route, params = found
    assert route.path == "/api/audits/{id}" and params == {"id": "abc-123"}
    assert template.find_route("GET", "/api/nope") is None
    assert template.find_route("PUT", "/api/health") is None


def test_cleanup_function_has_one_schedule_per_task() -> None:
    schedules = load_template().functions["CleanupFunction"].schedules
    inputs = sorted(s["Input"] for s in schedules.values())
    assert inputs == sorted(
        f'{{"task": "{t}"}}' for t in ("cleanup", "retention", "rollup", "alerts", "purge", "reembed")
    )
