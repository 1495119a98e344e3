"""The store's value codecs (no socket): liveness fields and the epoch tag."""

from __future__ import annotations

from service.store.records import Liveness, epoch_tag
from service.store.scripts import Scripts, source


def test_liveness_decodes_its_hash_fields_with_the_pttl() -> None:
    live = Liveness.parse([b"20000", b"10000", b"300000"], 14_000)
    assert live == Liveness(ttl_ms=20000, degraded_ms=10000, retention_ms=300000, age_ms=6000)
    assert live.status == "healthy"
    late = Liveness.parse([b"20000", b"10000", b"300000"], 5_000)
    assert late is not None and late.status == "degraded"


def test_an_expired_or_missing_liveness_value_is_none() -> None:
    assert Liveness.parse(None, 1000) is None
    assert Liveness.parse([b"20000", b"10000", b"300000"], -2) is None


def test_epoch_tags_fit_a_listpack_value_and_keep_versions_apart() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert len(epoch_tag(a)) == 12 and epoch_tag(a) != epoch_tag(b)
    assert epoch_tag(a) == epoch_tag(a)
    assert epoch_tag("") == ""
    assert epoch_tag(a) not in ("-", "stale")


def test_every_script_runs_after_the_prelude_and_keeps_its_header() -> None:
    prelude = source("touch").split("\n-- touch.lua")[0]
    for name in Scripts.names():
        text = source(name)
        assert text.startswith(prelude), name
        body = text[len(prelude) :].lstrip("\n")
        assert body.startswith(f"-- {name}.lua: "), name
        assert "redis.call('TIME')" not in body, f"{name}: use now_ms() from the prelude"
