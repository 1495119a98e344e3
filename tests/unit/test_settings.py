"""Settings are validated at startup; every error names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import server_options
from service.settings import Settings, SettingsError, Thresholds


def test_defaults_use_embedded_store_and_mcp_mesh_timers() -> None:
    s = Settings.from_env({})
    assert s.embedded
    assert s.redis_url is None
    assert s.thresholds == Thresholds(5.0, 10.0, 20.0, 300.0)
    assert (s.host, s.port, s.workers) == ("127.0.0.1", 8000, 1)
    # Above the default 5 s heartbeat interval: uvicorn's own 5 s default races with it.
    assert server_options(s)["timeout_keep_alive"] == 75.0
    assert server_options(s)["limit_concurrency"] == 1024
    assert s.body_read_timeout == 10.0


def test_values_are_parsed() -> None:
    s = Settings.from_env(
        {
            "REGISTRY_REDIS_URL": "redis://10.0.0.1:6380/2",
            "REGISTRY_PORT": "9000",
            "REGISTRY_WORKERS": "4",
            "REGISTRY_KEEPALIVE_TIMEOUT": "120",
            "REGISTRY_HEARTBEAT_INTERVAL": "2.5",
            "REGISTRY_DEGRADED_AFTER": "6",
            "REGISTRY_EXPIRE_AFTER": "12.5",
            "REGISTRY_RETENTION": "60",
            "REGISTRY_DEPLOY_REVISION": "7",
            "REGISTRY_BUNDLE_DIR": "/app/bundle",
            "REGISTRY_AUTH": "token",
            "REGISTRY_TOKENS": '[{"subject": "a", "sha256": "'
            + "0" * 64
            + '", "scopes": ["read"]}]',
        }
    )
    assert not s.embedded
    assert s.thresholds == Thresholds(2.5, 6.0, 12.5, 60.0)
    assert (s.port, s.workers, s.deploy_revision) == (9000, 4, 7)
    assert server_options(s)["timeout_keep_alive"] == 120.0
    assert s.bundle_dir == Path("/app/bundle")
    assert s.auth.mode == "token"
    assert [t.subject for t in s.auth.tokens] == ["a"]


def test_secrets_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    s = Settings.from_env({"REGISTRY_REDIS_PASSWORD_FILE": str(secret)})
    assert s.redis_password == "s3cret"
    with pytest.raises(SettingsError, match="REGISTRY_ADMIN_TOKEN_FILE"):
        Settings.from_env({"REGISTRY_ADMIN_TOKEN_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"REGISTRY_PORT": "eighty"}, "REGISTRY_PORT"),
        ({"REGISTRY_PORT": "70000"}, "REGISTRY_PORT"),
        ({"REGISTRY_WORKERS": "0"}, "REGISTRY_WORKERS"),
        ({"REGISTRY_REDIS_URL": "http://x"}, "REGISTRY_REDIS_URL"),
        ({"REGISTRY_REDIS_MODE": "mesh"}, "REGISTRY_REDIS_MODE"),
        ({"REGISTRY_REDIS_MODE": "sentinel"}, "REGISTRY_REDIS_SENTINELS"),
        ({"REGISTRY_REDIS_MODE": "cluster"}, "REGISTRY_REDIS_URL"),
        ({"REGISTRY_REDIS_SENTINELS": "host-without-port"}, "REGISTRY_REDIS_SENTINELS"),
        ({"REGISTRY_EXPIRE_AFTER": "soon"}, "REGISTRY_EXPIRE_AFTER"),
        ({"REGISTRY_EXPIRE_AFTER": "nan"}, "REGISTRY_EXPIRE_AFTER"),
        ({"REGISTRY_DEGRADED_AFTER": "30"}, "REGISTRY_HEARTBEAT_INTERVAL"),
        ({"REGISTRY_LOG_LEVEL": "loud"}, "REGISTRY_LOG_LEVEL"),
        ({"REGISTRY_PAGE_SIZE": "2000"}, "REGISTRY_PAGE_SIZE"),
        ({"REGISTRY_KEY_PREFIX": "a b"}, "REGISTRY_KEY_PREFIX"),
        ({"REGISTRY_DEPLOY_REVISION": "-1"}, "REGISTRY_DEPLOY_REVISION"),
        ({"REGISTRY_PROTECT_SHARE": "0"}, "REGISTRY_PROTECT_SHARE"),
        ({"REGISTRY_PROTECT_SHARE": "1.5"}, "REGISTRY_PROTECT_SHARE"),
        ({"REGISTRY_PROTECT_MIN_AGENTS": "0"}, "REGISTRY_PROTECT_MIN_AGENTS"),
        ({"REGISTRY_PROTECT_WINDOW": "-1"}, "REGISTRY_PROTECT_WINDOW"),
        ({"REGISTRY_REDIS_QUEUE": "-1"}, "REGISTRY_REDIS_QUEUE"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(env)


def test_protection_window_defaults_to_expire_after_and_zero_disables_it() -> None:
    p = Settings.from_env(
        {"REGISTRY_EXPIRE_AFTER": "12", "REGISTRY_DEGRADED_AFTER": "8"}
    ).protection
    assert (p.window_ms, p.share, p.min_agents) == (12_000, 0.15, 10)
    assert p.sweep_window_ms == 5_000  # the default heartbeat interval
    assert Settings.from_env({"REGISTRY_PROTECT_WINDOW": "0"}).protection.window_ms == 0
