"""The generated OpenAPI document tells the truth: bodies, answers and problems of every route."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service import __version__
from service.app import create_app
from service.settings import Settings

# Bodies in MCP Mesh's own shape, not problem+json, by design (probes read them).
_NOT_PROBLEMS = {("/health", "503"), ("/health/ready", "503")}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(Settings()).openapi_schema.to_schema()
    return schema


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "delete", "head")
    ]


def test_document_names_the_project(doc: dict[str, Any]) -> None:
    assert doc["info"]["title"] == "Agent registry"
    assert doc["info"]["version"] == __version__


def test_post_heartbeat_documents_its_request_and_response(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/heartbeat"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/HeartbeatRequest"}
    request = doc["components"]["schemas"]["HeartbeatRequest"]
    assert {"agent_id", "tools", "namespace", "http_port"} <= set(request["properties"])
    assert "agent_id" in request["required"]
    answer = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/HeartbeatResponse"}
    response = doc["components"]["schemas"]["HeartbeatResponse"]
    assert {"dependencies_resolved", "lease", "status"} <= set(response["properties"])


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/capabilities", "CapabilitiesPage"),
        ("/capabilities/{name}/providers", "ProvidersPage"),
        ("/agents", "AgentsPage"),
        ("/events", "EventsPage"),
        ("/registry/metrics", "RegistryMetrics"),
        ("/config/versions", "VersionsView"),
        ("/drift", "DriftReport"),
    ],
)
def test_discovery_answers_are_typed(doc: dict[str, Any], path: str, schema: str) -> None:
    ok = doc["paths"][path]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{schema}"}


def test_head_heartbeat_documents_each_code(doc: dict[str, Any]) -> None:
    codes = set(doc["paths"]["/heartbeat/{agent_id}"]["head"]["responses"])
    assert {"200", "202", "400", "410", "503"} <= codes


def test_every_route_documents_its_problems_as_problem_json(doc: dict[str, Any]) -> None:
    problem = {"$ref": "#/components/schemas/ProblemDetails"}
    undocumented = []
    for path, method, op in _operations(doc):
        if path in ("/metrics", "/health/live"):
            continue  # answers with no failure of ours: the exporter, the liveness probe
        errors = {c: r for c, r in op["responses"].items() if c[0] in "45"}
        if not errors:
            undocumented.append(f"{method} {path}: no problem responses")
        for code, response in errors.items():
            if (path, code) in _NOT_PROBLEMS or method == "head":
                continue
            content = response.get("content", {})
            if content.get("application/problem+json", {}).get("schema") != problem:
                undocumented.append(f"{method} {path} {code}: {sorted(content)}")
    assert not undocumented, undocumented
    fields = doc["components"]["schemas"]["ProblemDetails"]["properties"]
    assert {"title", "status", "detail", "field"} <= set(fields)


def test_swagger_ui_is_served_at_schema(doc: dict[str, Any]) -> None:
    app = create_app(Settings())
    assert app.openapi_config is not None
    assert app.openapi_config.path == "/schema"
    assert "swagger" in {p.paths[0].strip("/") or "" for p in app.openapi_config.render_plugins}


async def test_the_document_and_swagger_ui_are_served() -> None:
    async with AsyncTestClient(app=create_app(Settings())) as client:
        doc = await client.get("/schema/openapi.json")
        ui = await client.get("/schema/swagger")
    assert doc.status_code == 200
    assert doc.json()["info"]["title"] == "Agent registry"
    assert ui.status_code == 200
    assert "swagger-ui" in ui.text
