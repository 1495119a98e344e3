"""Identities, tokens, certificates and safe endpoints: the pure rules behind the guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.domain.endpoints import address_class, check_endpoint
from service.domain.identity import TokenEntry, cert_name, token_digest, xfcc_name
from service.errors import Forbidden, InvalidInput, Unauthorized
from service.models import HeartbeatRequest
from service.registry.access import Access
from service.settings import Settings, SettingsError

AGENT_TOKEN, READ_TOKEN, ADMIN_TOKEN = "tok-agent-a", "tok-reader", "tok-admin"


def _tokens() -> str:
    return json.dumps(
        [
            {
                "subject": "team-a",
                "sha256": token_digest(AGENT_TOKEN),
                "scopes": ["agent"],
                "agents": ["a-*"],
                "namespaces": ["default"],
            },
            {"subject": "reader", "sha256": token_digest(READ_TOKEN), "scopes": ["read"]},
            {"subject": "ops", "sha256": token_digest(ADMIN_TOKEN), "scopes": ["admin"]},
            {
                "subject": "old",
                "sha256": token_digest("tok-expired"),
                "scopes": ["agent"],
                "expires": "2020-01-01T00:00:00Z",
            },
        ]
    )


def _access(**env: str) -> tuple[Access, list[tuple[str, str, str]]]:
    settings = Settings.from_env(
        {"REGISTRY_REDIS_URL": "redis://127.0.0.1:1/0", "REGISTRY_TOKENS": _tokens(), **env}
    )
    denied: list[tuple[str, str, str]] = []
    return Access(settings, lambda *a: denied.append(a)), denied


def _who(access: Access, token: str | None) -> object:
    return access.identify(f"Bearer {token}" if token else None, {}, {})


def test_real_redis_needs_an_explicit_auth_mode() -> None:
    with pytest.raises(SettingsError, match="REGISTRY_AUTH must be set"):
        Settings.from_env({"REGISTRY_REDIS_URL": "redis://127.0.0.1:1/0"})
    off = Settings.from_env({"REGISTRY_REDIS_URL": "redis://127.0.0.1:1/0", "REGISTRY_AUTH": "off"})
    assert off.auth.mode == "off"
    assert Settings.from_env({}).auth.mode == "off"  # the embedded store may stay off


def test_the_reserved_setting_is_refused_with_its_replacement() -> None:
    with pytest.raises(SettingsError, match="REGISTRY_TOKENS"):
        Settings.from_env({"REGISTRY_AGENT_TOKENS": "a,b"})


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"REGISTRY_AUTH": "token", "REGISTRY_TOKENS": ""}, "needs tokens"),
        ({"REGISTRY_AUTH": "mtls"}, "REGISTRY_TLS_CLIENT_CA"),
        ({"REGISTRY_AUTH": "token", "REGISTRY_TOKENS": '[{"subject": "x"}]'}, "REGISTRY_TOKENS"),
        ({"REGISTRY_AUTH": "token", "REGISTRY_TOKENS": "not json"}, "REGISTRY_TOKENS"),
        (
            {
                "REGISTRY_AUTH": "token",
                "REGISTRY_TOKENS": json.dumps(
                    [{"subject": "x", "sha256": "abc", "scopes": ["read"]}]
                ),
            },
            "64 lowercase hex",
        ),
        ({"REGISTRY_AUTH": "off", "REGISTRY_TRUSTED_PROXIES": "not-an-ip"}, "TRUSTED_PROXIES"),
        ({"REGISTRY_AUTH": "off", "REGISTRY_REFUSE_ENDPOINTS": "moon"}, "REFUSE_ENDPOINTS"),
    ],
)
def test_inconsistent_auth_settings_name_the_variable(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        Settings.from_env({"REGISTRY_REDIS_URL": "redis://127.0.0.1:1/0", **env})


def test_embedded_with_auth_off_binds_loopback_only() -> None:
    with pytest.raises(SettingsError, match=r"127\.0\.0\.1"):
        Settings.from_env({"REGISTRY_HOST": "0.0.0.0"})


def test_tokens_prove_subjects_and_scopes() -> None:
    access, _ = _access(REGISTRY_AUTH="token")
    agent = access.identify(f"Bearer {AGENT_TOKEN}", {}, {})
    assert agent.owner == "token:team-a"
    assert agent.has("agent") and not agent.has("read", "admin")
    assert agent.may_speak_for("a-1") and not agent.may_speak_for("b-1")
    assert agent.may_use("default") and not agent.may_use("prod")
    access.require(access.identify(f"Bearer {ADMIN_TOKEN}", {}, {}), "admin")


def test_refusals_are_401_without_credentials_and_403_with_bad_ones() -> None:
    access, denied = _access(REGISTRY_AUTH="token")
    with pytest.raises(Unauthorized):
        access.require(_who(access, None), "read")  # type: ignore[arg-type]
    with pytest.raises(Forbidden, match="not valid"):
        _who(access, "tok-wrong")
    with pytest.raises(Forbidden, match="expired"):
        _who(access, "tok-expired")
    reader = access.identify(f"Bearer {READ_TOKEN}", {}, {})
    with pytest.raises(Forbidden, match="scope"):
        access.require(reader, "admin")
    agent = access.identify(f"Bearer {AGENT_TOKEN}", {}, {})
    with pytest.raises(Forbidden, match="may not speak for"):
        access.require_agent(agent, "b-1", "default")
    with pytest.raises(Forbidden, match="namespace"):
        access.require_agent(agent, "a-1", "prod")
    # Events name the identity and the agent, never the token; repeats are rate-limited.
    with pytest.raises(Forbidden):
        access.require_agent(agent, "b-1", "default")
    assert ("token:team-a", "b-1", "agent") in denied
    assert denied.count(("token:team-a", "b-1", "agent")) == 1
    assert not any(AGENT_TOKEN in " ".join(d) for d in denied)


def test_two_tokens_of_one_subject_share_the_owner() -> None:
    tokens = [
        TokenEntry(subject="svc", sha256=token_digest(t), scopes=["agent"]) for t in ("t1", "t2")
    ]
    settings = Settings(auth=Settings().auth.__class__(mode="token", tokens=tuple(tokens)))
    access = Access(settings, lambda *a: None)
    assert access.identify("Bearer t1", {}, {}).owner == access.identify("Bearer t2", {}, {}).owner


def test_off_mode_lets_anyone_register_but_admin_needs_the_admin_token() -> None:
    access = Access(Settings(admin_token="s3cret"), lambda *a: None)
    anyone = access.identify(None, {}, {})
    access.require_agent(anyone, "x", "default")
    assert anyone.owner == ""
    with pytest.raises(Unauthorized):
        access.require(anyone, "admin")
    with pytest.raises(Forbidden, match="admin token is not valid"):
        access.require(access.identify("Bearer nope", {}, {}), "admin")
    access.require(access.identify("Bearer s3cret", {}, {}), "admin")
    assert "s3cret" not in repr(Settings(admin_token="s3cret"))


def test_certificate_names_prefer_spiffe_then_cn() -> None:
    peer = {
        "subject": ((("commonName", "greeter"),),),
        "subjectAltName": (("DNS", "greeter.local"), ("URI", "spiffe://mesh/agent/greeter")),
    }
    assert cert_name(peer) == "spiffe://mesh/agent/greeter"
    assert cert_name({"subject": ((("commonName", "greeter"),),)}) == "greeter"
    assert cert_name({}) is None


def test_the_client_cert_header_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    access, _ = _access(REGISTRY_AUTH="mtls", REGISTRY_TRUSTED_PROXIES="10.0.0.0/8")
    header = {"x-forwarded-client-cert": 'Hash=1;Subject="CN=greeter,O=Acme";URI=spiffe://m/g'}
    from_proxy = access.identify(None, header, {"client": ("10.1.2.3", 5000)})
    assert from_proxy.owner == "mtls:spiffe://m/g"
    from_anyone = access.identify(None, header, {"client": ("192.0.2.7", 5000)})
    with pytest.raises(Unauthorized):
        access.require(from_anyone, "agent")
    assert xfcc_name('Subject="CN=a,O=x";Hash=2') == "a"


def test_mtls_identity_from_the_server_protocol() -> None:
    access, _ = _access(REGISTRY_AUTH="mtls", REGISTRY_TRUSTED_PROXIES="10.0.0.0/8")
    scope = {"extensions": {"tls": {"client_cert_identity": "spiffe://m/g"}}}
    who = access.identify(None, {}, scope)
    assert who.owner == "mtls:spiffe://m/g"
    assert who.has("agent") and who.has("read") and not who.has("admin")


def _req(**fields: object) -> HeartbeatRequest:
    return HeartbeatRequest(agent_id="a-1", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"endpoint": "javascript:alert(1)"}, "endpoint"),
        ({"endpoint": "http://user:pw@10.0.0.1:80"}, "endpoint"),
        ({"endpoint": "ftp://x"}, "endpoint"),
        ({"endpoint": "http://"}, "endpoint"),
        ({"endpoint": "http://169.254.169.254/latest/meta-data/"}, "endpoint"),
        ({"http_host": "169.254.10.1", "http_port": 80}, "http_host"),
        ({"http_host": "metadata.google.internal", "http_port": 80}, "http_host"),
        ({"http_host": "a b/c", "http_port": 80}, "http_host"),
    ],
)
def test_unsafe_endpoints_are_refused(fields: dict[str, object], field: str) -> None:
    for _ in range(2):  # the second verdict comes from the cache: refused all the same
        with pytest.raises(InvalidInput) as err:
            check_endpoint(_req(**fields), ("link-local", "metadata"))
        assert err.value.field == field


def test_the_cached_verdict_follows_the_refused_classes() -> None:
    req = _req(http_host="127.0.0.1", http_port=9000)
    check_endpoint(req, ("link-local",))
    with pytest.raises(InvalidInput, match="loopback"):
        check_endpoint(req, ("loopback", "link-local"))
    check_endpoint(req, ("link-local",))


def test_safe_endpoints_pass_and_classes_are_opt_in() -> None:
    check_endpoint(_req(endpoint="https://greeter.prod.svc:8443"), ("link-local", "metadata"))
    check_endpoint(_req(http_host="127.0.0.1", http_port=9000), ("link-local", "metadata"))
    with pytest.raises(InvalidInput, match="loopback"):
        check_endpoint(_req(http_host="127.0.0.1", http_port=9000), ("loopback",))
    assert address_class("fe80::1") == {"link-local"}
    assert "private" in address_class("10.1.2.3")
