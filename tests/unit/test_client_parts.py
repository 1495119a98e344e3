"""Client building blocks (no sockets): backoff bounds and the atomic disk cache."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from service.client import AgentState, Backoff, DiskCache
from service.settings import Settings, SettingsError


def test_backoff_grows_exponentially_with_jitter_and_stays_bounded() -> None:
    b = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(12)]
    for i, d in enumerate(delays):
        raw = min(1.0, 0.1 * 2**i)
        assert raw / 2 <= d <= raw
    assert max(delays) <= 1.0
    b.reset()
    assert b.next_delay() <= 0.1


def test_cache_round_trips_and_replaces_atomically(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c", "agent-1")
    assert cache.load() is None
    state = AgentState(config_version="sha256:x", config_generation=3, config={"a": 1})
    cache.save(state)
    cache.save(AgentState(config_version="sha256:y", config_generation=4))
    loaded = cache.load()
    assert loaded is not None and loaded.config_version == "sha256:y"
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["agent-1.json"]  # no temp left


def test_unreadable_cache_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "agent-1.json").write_text("{not json")
    assert DiskCache(tmp_path, "agent-1").load() is None


def test_config_refresh_settings_are_validated() -> None:
    s = Settings.from_env({"REGISTRY_CONFIG_REFRESH": "0.5", "REGISTRY_CONFIG_CLAIM_TTL": "3"})
    assert (s.config_refresh, s.config_claim_ttl) == (0.5, 3.0)
    with pytest.raises(SettingsError, match="REGISTRY_CONFIG_CLAIM_TTL"):
        Settings.from_env({"REGISTRY_CONFIG_REFRESH": "2", "REGISTRY_CONFIG_CLAIM_TTL": "3"})
    with pytest.raises(SettingsError, match="REGISTRY_CONFIG_REFRESH"):
        Settings.from_env({"REGISTRY_CONFIG_REFRESH": "0"})
