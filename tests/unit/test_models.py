"""Wire models: MCP Mesh bodies decode; bounds reject oversized input."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from service.models import HeartbeatRequest
from service.store.keys import Keys
from service.store.records import agent_view, decode_doc, encode_agent, endpoint_of

CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "mcp-mesh-captures"


def _captured_posts() -> list[dict[str, object]]:
    bodies = []
    for path in sorted(CAPTURES.glob("0*.json")):
        for ex in json.loads(path.read_text())["exchanges"]:
            if ex["method"] == "POST" and ex["req_body"]:
                bodies.append(ex["req_body"])
    return bodies


def test_every_captured_mcp_mesh_post_decodes() -> None:
    bodies = _captured_posts()
    assert len(bodies) >= 10
    for body in bodies:
        req = msgspec.json.decode(json.dumps(body), type=HeartbeatRequest)
        assert req.agent_id == body["agent_id"]
        assert len(req.tools) == len(body["tools"])  # type: ignore[arg-type]
        assert endpoint_of(req) == f"http://127.0.0.1:{body['http_port']}"


def test_encoded_record_keeps_what_lua_needs() -> None:
    req = msgspec.convert(
        {
            "agent_id": "a-1",
            "http_port": 80,
            "tools": [
                {"function_name": "f", "capability": "c"},
                {"function_name": "g", "capability": "c"},
                {"function_name": "h", "capability": "d"},
            ],
        },
        HeartbeatRequest,
    )
    enc = encode_agent(req, profile="a", now_ms=1)
    doc = json.loads(enc.doc)
    assert doc["prov"] == [["c", "a-1:f"], ["c", "a-1:g"], ["d", "a-1:h"]]
    assert doc["fp"] == enc.fingerprint
    assert enc.provided == ["c", "d"]
    assert [e[0] for e in enc.entries] == [1, 1, 2]
    moved = msgspec.structs.replace(req, http_port=81)
    assert encode_agent(moved, profile="a", now_ms=1).fingerprint != enc.fingerprint


def test_config_status_is_stored_short_and_only_when_reported() -> None:
    plain = msgspec.convert({"agent_id": "a-1", "config_version": "sha256:v1"}, HeartbeatRequest)
    doc = json.loads(encode_agent(plain, profile="a", now_ms=1).doc)
    assert doc["cfg"] == "sha256:v1"
    assert "cs" not in doc and "ce" not in doc  # records of agents that never report: as before
    failed = msgspec.structs.replace(
        plain, config_status="failed", config_error="ValueError: no model " + "x" * 491
    )
    raw = encode_agent(failed, profile="a", now_ms=1).doc
    assert (json.loads(raw)["cs"], len(json.loads(raw)["ce"])) == ("failed", 512)
    view = agent_view(decode_doc(raw), None, 1)
    assert (view.config_version, view.config_status) == ("sha256:v1", "failed")
    assert view.config_error is not None and view.config_error.startswith("ValueError: no model")
    # A record written before these fields existed decodes to "not reported".
    old = agent_view(decode_doc(encode_agent(plain, profile="a", now_ms=1).doc), None, 1)
    assert (old.config_status, old.config_error) == (None, None)


@pytest.mark.parametrize("field", ["agent_id", "namespace"])
def test_identifiers_are_bounded(field: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=field):
        msgspec.convert({"agent_id": "a", field: "x" * 100}, HeartbeatRequest)


def test_keys_share_the_namespace_hash_tag() -> None:
    k = Keys("reg")
    keys = [
        k.doc("team-a", "x"),
        k.live("team-a", "x"),
        k.providers("team-a", "cap"),
        k.ids("team-a"),
        k.due("team-a"),
        k.capver("team-a"),
        k.events("team-a"),
    ]
    assert all("{team-a}" in key for key in keys)
    assert all(key.startswith("reg:") for key in keys)
    doc_prefix, live_prefix, prov_prefix = k.prefixes("team-a")
    assert k.doc("team-a", "x") == doc_prefix + "x"
    assert k.live("team-a", "x") == live_prefix + "x"
    assert k.providers("team-a", "cap") == prov_prefix + "cap"
