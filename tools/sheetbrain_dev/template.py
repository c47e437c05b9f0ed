"""Read functions, routes and schedules from template.yaml, so the dev server serves exactly
what API Gateway would: a route added to the template is served without code changes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sheetbrain_dev.paths import TEMPLATE


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    # CloudFormation's JSON form: Fn::<name>, except Ref and Condition, which take no prefix.
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    authorized: bool
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str  # module.function
    environment: dict[str, Any]
    schedules: dict[str, dict[str, Any]]
    timeout_s: int = 3  # Lambda's default when the template names none
    template_path: Path = TEMPLATE  # where a worker process reads this function again
    policies: tuple[Any, ...] = ()  # its SAM policy templates and statements, as written
    properties: dict[str, Any] = field(default_factory=dict)  # as written, Globals not applied


@dataclass(frozen=True)
class Template:
    functions: dict[str, Function]
    routes: list[Route]
    # The whole template as written (short-form tags as their Fn:: forms): parameters,
    # conditions and the resources that are not functions (alarms, the database, the proxy).
    document: dict[str, Any] = field(default_factory=dict)

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """The template's resources of one CloudFormation type, by logical id."""
        resources: dict[str, dict[str, Any]] = self.document.get("Resources", {})
        return {name: r for name, r in resources.items() if r.get("Type") == resource_type}

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The matching route; literal routes win over parameterised ones, as in API Gateway."""
        candidates = []
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                candidates.append((route.path.count("{"), route, params))
        if not candidates:
            return None
        _, route, params = min(candidates, key=lambda c: c[0])
        return route, params


def _path_pattern(path: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            name = part[1:-1]
            regex += f"(?P<{name.rstrip('+')}>.+)" if name.endswith("+") else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(regex)


def load_template(path: Path = TEMPLATE) -> Template:
    """Parse the SAM template into functions and HTTP API routes."""
    doc = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    api_default_auth = {}
    for resource in doc.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::HttpApi":
            api_default_auth = resource.get("Properties", {}).get("Auth", {})
    globals_fn = doc.get("Globals", {}).get("Function", {})
    globals_env = globals_fn.get("Environment", {}).get("Variables", {})
    functions: dict[str, Function] = {}
    routes: list[Route] = []
    for logical_id, resource in doc.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        env = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
        schedules: dict[str, dict[str, Any]] = {}
        for event_name, event in props.get("Events", {}).items():
            event_props = event.get("Properties", {})
            if event.get("Type") == "HttpApi":
                authorizer = event_props.get("Auth", {}).get("Authorizer", api_default_auth.get("DefaultAuthorizer"))
                routes.append(
                    Route(
                        method=event_props["Method"].upper(),
                        path=event_props["Path"],
                        function=logical_id,
                        authorized=bool(authorizer) and authorizer != "NONE",
                        pattern=_path_pattern(event_props["Path"]),
                    )
                )
            elif event.get("Type") == "Schedule":
                schedules[event_name] = event_props
        functions[logical_id] = Function(
            logical_id=logical_id,
            code_dir=path.parent / props["CodeUri"],
            handler=props["Handler"],
            environment=env,
            schedules=schedules,
            timeout_s=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            template_path=path,
            policies=tuple(props.get("Policies", ())),
            properties=props,
        )
    return Template(functions=functions, routes=routes, document=doc)
