"""The store's value codecs (no socket): liveness fields, the epoch tag, the record."""

from __future__ import annotations

import json

import msgspec

from service.models import HeartbeatRequest
from service.store.records import (
    Liveness,
    StoredTool,
    agent_view,
    decode_doc,
    decode_entry,
    encode_agent,
    epoch_tag,
)
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


_BIG_TOOL = {
    "function_name": "greet",
    "capability": "greeting",
    "version": "1.2.0",
    "tags": ["en", "fast"],
    "description": "says hello",
    "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
    "outputSchema": {"type": "string"},
    "inputSchemaHash": "sha256:" + "1" * 64,
    "outputSchemaHash": "sha256:" + "2" * 64,
    "kwargs": {"timeout": 30},
    "dependencies": [{"capability": "clock", "version": ">=1"}],
}


def _request() -> HeartbeatRequest:
    body = {"agent_id": "g-1", "http_host": "10.0.0.1", "http_port": 9000, "tools": [_BIG_TOOL]}
    return msgspec.json.decode(json.dumps(body), type=HeartbeatRequest)


def test_the_record_keeps_what_is_read_back_and_drops_schemas_hashes_and_kwargs() -> None:
    encoded = encode_agent(_request(), profile="default", now_ms=1_000)
    [stored] = json.loads(encoded.doc)["tools"]
    assert stored == {
        "function_name": "greet",
        "capability": "greeting",
        "version": "1.2.0",
        "tags": ["en", "fast"],
        "description": "says hello",
        "dependencies": [{"capability": "clock", "version": ">=1"}],
    }
    # kwargs still reach consumers through the provider entry.
    [(_, _, entry)] = encoded.entries
    assert decode_entry(entry.encode()).kwargs == {"timeout": 30}
    view = agent_view(decode_doc(encoded.doc), None, 2_000)
    assert [(c.name, c.version, c.tags, c.description) for c in view.capabilities] == [
        ("greeting", "1.2.0", ["en", "fast"], "says hello")
    ]
    assert view.dependencies == ["clock"]


def test_a_record_written_with_whole_tools_still_decodes() -> None:
    fresh = json.loads(encode_agent(_request(), profile="default", now_ms=1_000).doc)
    older = {**fresh, "tools": [_BIG_TOOL]}  # the layout before tools were stored lean
    doc = decode_doc(json.dumps(older).encode())
    assert doc.tools == [
        StoredTool(
            function_name="greet",
            capability="greeting",
            version="1.2.0",
            tags=["en", "fast"],
            description="says hello",
            dependencies=doc.tools[0].dependencies,
        )
    ]
    assert doc.tools[0].dependencies[0].capability == "clock"
