"""Property tests: the documented formats parse, the tag rule, ranking, wire round trips."""

from __future__ import annotations

import itertools
import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import constraints, heartbeats, tag_items, tags, versions

from service.domain.endpoints import check_endpoint
from service.domain.matching import (
    Candidate,
    ProviderEntry,
    parse_constraint,
    parse_version,
    rank,
    tag_score,
    tags_admit,
)
from service.models import ENDPOINT_PATTERN, HOST_PATTERN, Dependency, HeartbeatRequest
from service.registry.decoding import decode_json
from service.registry.heartbeat import validate_semantics

_decoder = msgspec.json.Decoder(HeartbeatRequest)


@given(versions)
def test_every_documented_version_parses(text: str) -> None:
    parse_version(text)


@given(constraints)
def test_every_documented_constraint_parses(text: str) -> None:
    parse_constraint(text)


@given(st.sets(tags, max_size=6), tag_items)
def test_tag_rule_requires_plain_excludes_minus_and_never_rejects_for_plus(
    have: set[str], spec: list[Any]
) -> None:
    admitted = tags_admit(have, spec)
    plain = [t for t in spec if isinstance(t, str) and not t.startswith(("+", "-"))]
    minus = [t[1:] for t in spec if isinstance(t, str) and t.startswith("-")]
    if any(t not in have for t in plain) or any(t in have for t in minus):
        assert not admitted
    # Removing every preferred item never changes admission: "+tag" only scores.
    without_plus = [t for t in spec if not (isinstance(t, str) and t.startswith("+"))]
    assert tags_admit(have, without_plus) == admitted
    if admitted:
        score = tag_score(have, spec)
        assert score == sum(
            1 for t in spec if isinstance(t, str) and t[:1] == "+" and t[1:] in have
        )


_entries = st.builds(
    ProviderEntry,
    agent_id=st.from_regex(r"[a-z]{1,6}", fullmatch=True),
    function_name=st.sampled_from(["f", "g"]),
    capability=st.just("svc"),
    version=versions,
    tags=st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True),
    endpoint=st.just("http://p:1"),
    namespace=st.sampled_from(["default", "other"]),
)


@settings(max_examples=100)
@given(st.lists(_entries, max_size=8), constraints, st.lists(st.sampled_from(["+a", "b", "-c"])))
def test_rank_returns_exactly_the_matching_live_providers_best_first(
    entries: list[ProviderEntry], constraint: str, spec: list[str]
) -> None:
    dep = Dependency(capability="svc", version=constraint, tags=list(spec))
    cands = [Candidate(e, degraded=False) for e in entries]
    ranked = rank(dep, cands, namespace="default")
    parsed = parse_constraint(constraint)
    expected = [
        c
        for c in cands
        if c.entry.namespace == "default"
        and (parsed is None or parsed.allows(c.entry.version))
        and tags_admit(c.entry.tags, spec)
    ]
    assert sorted(map(id, ranked)) == sorted(map(id, expected))
    keys = [
        (-(tag_score(c.entry.tags, spec) or 0), c.entry.version, c.entry.agent_id) for c in ranked
    ]
    # Preferred-tag score never increases down the list; ties fall back to the higher version.
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    for a, b in itertools.pairwise(ranked):
        if tag_score(a.entry.tags, spec) == tag_score(b.entry.tags, spec):
            assert parse_version(a.entry.version) >= parse_version(b.entry.version)


@settings(max_examples=60)
@given(heartbeats())
def test_accepted_heartbeat_round_trips_through_the_wire(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    req = decode_json(raw, _decoder)
    validate_semantics(req)
    again = decode_json(msgspec.json.encode(req), _decoder)
    assert again == req
    assert msgspec.to_builtins(again)["tools"] == msgspec.to_builtins(req)["tools"]


@given(
    st.from_regex(ENDPOINT_PATTERN).filter(lambda s: len(s) <= 512),
    st.from_regex(HOST_PATTERN).filter(lambda s: len(s) <= 253),
)
def test_every_documented_endpoint_and_host_passes_the_endpoint_check(ep: str, host: str) -> None:
    check_endpoint(HeartbeatRequest(agent_id="a", endpoint=ep, http_host=host), ())
