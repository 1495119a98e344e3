"""Identity and authorization against a real replica with REGISTRY_AUTH=token.

Every route and MCP tool is tried with every identity; each refusal is asserted by status,
and the stored state is compared byte for byte (every key's DUMP, event streams aside: they
are the audit log, and gain the ``auth-denied`` event) before and after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agents_data import agent, consumer, provider, tool
from config_bundles import worker_bundle
from mcp_client import mcp_session
from security_fixtures import TOKENS, bearer, tokens_json
from support import RedisServer, RegistryProcess, start_registry

from service.settings import Thresholds

SLOW = Thresholds(heartbeat_interval=5.0, degraded_after=60.0, expire_after=120.0, retention=300.0)
WHO = ["none", "wrong", "expired", "agent_a", "agent_a_rotated", "agent_b", "reader", "admin"]


def _who(name: str) -> str | None:
    return None if name == "none" else name


@pytest.fixture(scope="module")
def replica(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryProcess]:
    work = tmp_path_factory.mktemp("security")
    bundle = worker_bundle(work / "bundle", thresholds=SLOW)
    proc = start_registry(
        work,
        REGISTRY_REDIS_URL=redis_server.url,
        REGISTRY_BUNDLE_DIR=str(bundle.path),
        REGISTRY_AUTH="token",
        REGISTRY_TOKENS=tokens_json(),
        REGISTRY_AUTH_EVENT_INTERVAL="0.1",
    )
    yield proc
    proc.stop()


@pytest.fixture
def http(replica: RegistryProcess, redis_server: RedisServer) -> Iterator[httpx.Client]:
    redis_server.client().flushall()
    with httpx.Client(base_url=replica.url, timeout=10) as client:
        yield client


def _agent_state(key: bytes) -> bool:
    # What requests write: agents, indexes, assignments, the locator and namespaces. Left
    # out: event streams (the audit log gains auth-denied), the sweeper's schedule, and the
    # fleet-config keys every replica refreshes each second.
    if key in (b"reg:locator", b"reg:namespaces"):
        return True
    return (
        key.startswith(b"reg:{")
        and not key.startswith(b"reg:{config}")
        and not key.endswith((b":ev", b":due"))
    )


def snapshot(redis_server: RedisServer) -> dict[bytes, bytes | None]:
    """Every agent-state key's serialized value (DUMP: type, value and encoding)."""
    r = redis_server.client()
    return {k: r.dump(k) for k in sorted(r.scan_iter(count=1000)) if _agent_state(k)}


def register(http: httpx.Client, body: dict[str, Any], who: str) -> httpx.Response:
    return http.post("/heartbeat", json=body, headers=bearer(who))


# (method, path, body, kind): kind says who may: "self" (agent a-1's own identity), "read",
# "admin", "open".
ROUTES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("POST", "/heartbeat", agent("a-1", tool("t", "cap-a")), "self"),
    ("HEAD", "/heartbeat/a-1", None, "self"),
    ("GET", "/agents", None, "read"),
    ("GET", "/agents/a-1", None, "read"),
    ("GET", "/agents/a-1/health", None, "read"),
    ("GET", "/capabilities", None, "read"),
    ("GET", "/capabilities/cap-a/providers", None, "read"),
    ("GET", "/events", None, "read"),
    ("GET", "/registry/metrics", None, "read"),
    ("GET", "/drift", None, "read"),
    ("GET", "/config/active", None, "read"),
    ("GET", "/config/versions", None, "read"),
    ("GET", "/config/capabilities", None, "read"),
    ("GET", "/config/profiles/worker", None, "read"),
    ("GET", "/config/diff?from=sha256:0&to=sha256:1", None, "read"),
    ("GET", "/ui/", None, "ui"),
    ("GET", "/ui/agents", None, "ui"),
    ("GET", "/ui/agents/a-1", None, "ui"),
    ("GET", "/ui/capabilities", None, "ui"),
    ("GET", "/ui/drift", None, "ui"),
    ("GET", "/ui/config", None, "ui"),
    ("GET", "/ui/events", None, "ui"),
    ("GET", "/admin/agents/a-1/capabilities/available", None, "admin"),
    ("PUT", "/admin/agents/a-1/capabilities", {"capabilities": [{"name": "search"}]}, "admin"),
    ("DELETE", "/admin/agents/a-1/capabilities", None, "admin"),
    ("POST", "/admin/capabilities/validate", {"name": "search"}, "admin"),
    ("PUT", "/admin/config/pin", {"version": "sha256:" + "0" * 64}, "admin"),
    ("DELETE", "/admin/config/pin", None, "admin"),
    ("PUT", "/admin/agents/a-1/owner", {"owner": "token:team-a"}, "admin"),
    ("DELETE", "/admin/agents/a-1/owner", None, "admin"),
    ("PUT", "/admin/agents/a-1/owner", {"owner": "token:team-a"}, "admin"),
    ("GET", "/health", None, "open"),
    ("GET", "/health/ready", None, "open"),
    ("GET", "/metrics", None, "open"),
    ("GET", "/health/live", None, "open"),
    ("GET", "/schema/openapi.json", None, "open"),
    ("DELETE", "/agents/a-1", None, "self"),  # last: it removes a-1
]


def expected(kind: str, who: str) -> int | None:
    """The refusal ``who`` gets for a route of ``kind``; ``None`` when it is allowed."""
    if kind == "open":
        return None
    if who == "none":
        return 303 if kind == "ui" else 401  # the dashboard sends people to its sign-in page
    if who in ("wrong", "expired"):
        return 403
    allowed = {
        "self": {"agent_a", "agent_a_rotated"},
        "read": {"agent_a", "agent_a_rotated", "agent_b", "reader", "admin"},
        "ui": {"agent_a", "agent_a_rotated", "agent_b", "reader", "admin"},
        "admin": {"admin"},
    }[kind]
    return None if who in allowed else 403


@pytest.mark.parametrize("who", WHO)
def test_every_route_with_every_identity(
    http: httpx.Client, redis_server: RedisServer, who: str
) -> None:
    assert register(http, agent("a-1", tool("t", "cap-a")), "agent_a").status_code == 200
    for method, path, body, kind in ROUTES:
        before = snapshot(redis_server)
        r = http.request(method, path, json=body, headers=bearer(_who(who)))
        refusal = expected(kind, who)
        if refusal is None:
            assert r.status_code not in (401, 403), (method, path, who, r.status_code, r.text)
            continue
        assert r.status_code == refusal, (method, path, who, r.status_code, r.text)
        assert snapshot(redis_server) == before, (method, path, who)
        if method != "HEAD" and refusal != 303:
            problem = r.json()
            assert r.headers["content-type"].startswith("application/problem+json")
            assert problem["status"] == refusal
            assert "tok-" not in r.text  # never echo a token


def test_a_rotated_token_keeps_the_id(http: httpx.Client) -> None:
    assert register(http, provider("a-2"), "agent_a").status_code == 200
    assert register(http, provider("a-2"), "agent_a_rotated").status_code == 200
    head = http.head("/heartbeat/a-2", headers=bearer("agent_a_rotated"))
    assert head.status_code == 200


def test_takeover_fails_and_consumers_stay_wired(
    http: httpx.Client, redis_server: RedisServer
) -> None:
    assert register(http, provider("a-prov", port=9101), "agent_a").status_code == 200
    wired = register(http, consumer("c-1"), "agent_a").json()
    assert wired["dependencies_resolved"]["welcome"][0]["agent_id"] == "a-prov"
    before = snapshot(redis_server)
    evil = provider("a-prov", version="9.9.9", endpoint="http://6.6.6.6:6666")
    r = register(http, evil, "agent_b")
    assert r.status_code == 403
    assert "another identity" in r.json()["detail"]
    assert snapshot(redis_server) == before
    assert http.head("/heartbeat/a-prov", headers=bearer("agent_b")).status_code == 403
    slot = register(http, consumer("c-1"), "agent_a").json()["dependencies_resolved"]["welcome"][0]
    assert slot["endpoint"] == "http://127.0.0.1:9101"
    events = http.get("/events?type=auth-denied", headers=bearer("reader")).json()["events"]
    assert any(e["agent_id"] == "a-prov" and "team-b" in e["detail"] for e in events)


def test_deletion_by_another_identity_fails_and_keeps_the_assignment(
    http: httpx.Client, redis_server: RedisServer
) -> None:
    body = agent("a-3", tool("search", "search"), profile="worker")
    assert register(http, body, "agent_a").status_code == 200
    put = http.put(
        "/admin/agents/a-3/capabilities",
        json={"capabilities": [{"name": "search"}]},
        headers=bearer("admin"),
    )
    assert put.status_code == 200, put.text
    before = snapshot(redis_server)
    assert http.delete("/agents/a-3", headers=bearer("agent_b")).status_code == 403
    assert snapshot(redis_server) == before
    assert http.get("/agents/a-3", headers=bearer("reader")).status_code == 200


def test_cross_namespace_hijack_fails_and_the_victim_notices_nothing(
    http: httpx.Client, redis_server: RedisServer
) -> None:
    assert register(http, agent("vx-1", namespace="prod"), "agent_a").status_code == 200
    before = snapshot(redis_server)
    hijack = {"agent_id": "vx-1", "namespace": "evil", "tools": []}
    assert register(http, hijack, "agent_b").status_code == 403
    assert snapshot(redis_server) == before
    assert http.head("/heartbeat/vx-1", headers=bearer("agent_a")).status_code == 200
    seen = http.get("/agents/vx-1", headers=bearer("reader")).json()
    assert seen["namespace"] == "prod"
    # The owner itself may move its agent to another namespace.
    assert register(http, agent("vx-1", namespace="staging"), "agent_a").status_code == 200
    assert http.get("/agents/vx-1", headers=bearer("reader")).json()["namespace"] == "staging"


def test_dangerous_endpoints_are_refused_and_nothing_is_stored(
    http: httpx.Client, redis_server: RedisServer
) -> None:
    before = snapshot(redis_server)
    for endpoint in ("http://169.254.169.254/latest/meta-data/", "javascript:alert(1)"):
        r = register(http, provider("a-evil", endpoint=endpoint), "agent_a")
        assert r.status_code == 422
        assert r.json()["field"] == "endpoint"
    assert snapshot(redis_server) == before


def test_admins_see_the_owner_and_can_release_or_transfer(http: httpx.Client) -> None:
    assert register(http, provider("a-4"), "agent_a").status_code == 200
    assert "owner" not in http.get("/agents/a-4", headers=bearer("reader")).json()
    assert http.get("/agents/a-4", headers=bearer("admin")).json()["owner"] == "token:team-a"
    moved = http.put(
        "/admin/agents/a-4/owner", json={"owner": "token:team-b"}, headers=bearer("admin")
    )
    assert moved.status_code == 200
    assert register(http, provider("a-4"), "agent_a").status_code == 403
    assert register(http, provider("a-4"), "agent_b").status_code == 200
    released = http.delete("/admin/agents/a-4/owner", headers=bearer("admin"))
    assert released.json() == {"agent_id": "a-4", "owner": ""}
    assert register(http, provider("a-4"), "agent_a").status_code == 200
    assert http.get("/agents/a-4", headers=bearer("admin")).json()["owner"] == "token:team-a"


def test_refusals_are_counted_by_reason(http: httpx.Client) -> None:
    http.get("/agents", headers=bearer(None))
    http.get("/agents", headers=bearer("wrong"))
    text = http.get("/metrics").text
    assert 'registry_auth_failures_total{reason="missing"}' in text
    assert 'registry_auth_failures_total{reason="invalid"}' in text


MCP_TOOLS: list[tuple[str, dict[str, Any], str]] = [
    ("agent_heartbeat", agent("a-1", tool("t", "cap-a")), "self"),
    ("list_available_agents", {}, "read"),
    ("get_capability_providers", {"capability": "cap-a"}, "read"),
    ("get_agent_health_status", {"agent_id": "a-1"}, "read"),
    ("get_registry_metrics", {}, "read"),
    ("export_prometheus_metrics", {}, "read"),
    ("get_available_capabilities", {"agent_id": "a-1"}, "admin"),
    ("update_agent_capabilities", {"agent_id": "a-1", "capabilities": []}, "admin"),
    ("validate_capability_dependencies", {"capability": {"name": "search"}}, "admin"),
    ("get_config_rollout", {}, "read"),
    ("control_config_rollout", {"action": "pause", "reason": "drill"}, "admin"),
]


@pytest.mark.parametrize("who", WHO)
async def test_every_mcp_tool_with_every_identity(
    replica: RegistryProcess, redis_server: RedisServer, who: str
) -> None:
    redis_server.client().flushall()
    with httpx.Client(base_url=replica.url, timeout=10) as http:
        assert register(http, agent("a-1", tool("t", "cap-a")), "agent_a").status_code == 200
    async with mcp_session(replica.url, headers=bearer(_who(who))) as session:
        for name, args, kind in MCP_TOOLS:
            before = snapshot(redis_server)
            result = await session.call_tool(name, args)
            refusal = expected(kind, who)
            problem = result.structured_content or {}
            if refusal is None:
                assert problem.get("status") not in (401, 403), (name, who, result.content)
                continue
            assert result.is_error, (name, who)
            assert problem["status"] == refusal, (name, who, problem)
            assert snapshot(redis_server) == before, (name, who)


def test_ownership_holds_on_every_replica_and_data_loss_rebinds_to_the_first(
    own_redis: RedisServer, tmp_path: Any
) -> None:
    env = {
        "REGISTRY_REDIS_URL": own_redis.url,
        "REGISTRY_AUTH": "token",
        "REGISTRY_TOKENS": tokens_json(),
    }
    one, two = start_registry(tmp_path, **env), start_registry(tmp_path, **env)
    try:
        with (
            httpx.Client(base_url=one.url, timeout=10) as r1,
            httpx.Client(base_url=two.url, timeout=10) as r2,
        ):
            assert register(r1, provider("a-9"), "agent_a").status_code == 200
            assert register(r2, provider("a-9"), "agent_b").status_code == 403
            assert r2.head("/heartbeat/a-9", headers=bearer("agent_b")).status_code == 403
            assert r2.head("/heartbeat/a-9", headers=bearer("agent_a")).status_code == 200
            assert r2.delete("/agents/a-9", headers=bearer("agent_b")).status_code == 403
            # Redis lost everything: the binding went with the record, so whoever registers
            # the id first owns it again (the README's Security section says so).
            own_redis.client().flushall()
            assert r2.head("/heartbeat/a-9", headers=bearer("agent_a")).status_code == 410
            assert register(r2, provider("a-9"), "agent_b").status_code == 200
            assert register(r1, provider("a-9"), "agent_a").status_code == 403
    finally:
        one.stop()
        two.stop()


def test_the_dashboard_signs_in_with_a_token_kept_in_a_cookie(http: httpx.Client) -> None:
    refused = http.get("/ui/", follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/ui/login/"
    assert "Sign in" in http.get("/ui/login/").text
    bad = http.post("/ui/login/", data={"token": "tok-nobody-issued"}, follow_redirects=False)
    assert bad.status_code == 403 and "not valid" in bad.text
    assert "registry_token" not in bad.headers.get("set-cookie", "")
    ok = http.post("/ui/login/", data={"token": TOKENS["reader"]}, follow_redirects=False)
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "Path=/ui" in cookie
    assert http.get("/ui/").status_code == 200  # the client keeps the cookie
    # The cookie is the dashboard's alone: an API route still wants the header.
    assert http.get("/agents").status_code == 401
    assert http.get("/ui/login/out", follow_redirects=False).status_code == 303
