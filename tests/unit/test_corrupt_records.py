"""Undecodable stored values without a socket: the decoders skip and collect them, and the
reporter counts every skip but asks the store to record each value once."""

from __future__ import annotations

import hashlib

import msgspec
from prometheus_client import REGISTRY

from service.domain.matching import ProviderEntry
from service.errors import StoreUnavailable
from service.registry.corrupt import CorruptReporter
from service.store.corrupt import Corrupt
from service.store.results import candidates_of, rows_of

ENTRY = msgspec.json.encode(
    ProviderEntry(
        agent_id="a-1",
        function_name="f",
        capability="c",
        version="1.0.0",
        tags=[],
        endpoint="http://h:1",
        namespace="default",
    )
)
DOC = (
    b'{"id":"a-1","name":"a","type":"mcp_agent","ver":"1.0.0","ep":"http://h:1","ns":"default",'
    b'"prof":"a","tools":[],"fp":"0","prov":[],"at":1}'
)
BAD = [b"{", b"[1]", b'{"id": 7}', b"\xff", b"[" * 50_000 + b"]" * 50_000]


def test_candidates_of_skips_and_collects_entries_that_do_not_decode() -> None:
    rows: list[object] = [ENTRY, 5, 10]
    for raw in BAD:
        rows += [raw, 5, 10]
    bad: list[tuple[bytes, BaseException]] = []
    (only,) = candidates_of(rows, bad)
    assert only.entry.agent_id == "a-1" and not only.degraded
    assert [raw for raw, _ in bad] == BAD
    assert candidates_of(rows) == [only]  # without a collector they are only skipped


def test_rows_of_skips_and_collects_records_that_do_not_decode() -> None:
    out: list[object] = [1000, [b"a-1", DOC, [20000, 10000, 300000], 15000, 0]]
    out += [[f"b-{i}".encode(), raw, False, -2, 0] for i, raw in enumerate(BAD)]
    out += [[b"gone", False, False, -2, 0]]  # purged: not corrupt, just absent
    bad: list[tuple[str, bytes, BaseException]] = []
    (row,) = rows_of(out, bad)
    assert row.doc.id == "a-1" and row.live is not None
    assert [(i, raw) for i, raw, _ in bad] == [(f"b-{i}", raw) for i, raw in enumerate(BAD)]


def test_a_corrupt_value_is_named_by_the_digest_the_script_recomputes() -> None:
    try:
        msgspec.json.decode(b"{" * 5000 + b"x")
    except ValueError as exc:
        found = Corrupt.of("doc", "default", "reg:{default}:a:x", "x", b"{x", exc)
    assert found.digest == hashlib.sha1(b"{x").hexdigest()[:16]
    assert found.reason.startswith("DecodeError: ") and len(found.reason) <= 160


class _Store:
    """What the reporter uses of the store: ``note_corrupt``, failing on request."""

    def __init__(self) -> None:
        self.noted: list[Corrupt] = []
        self.down = False

    async def note_corrupt(self, found: Corrupt) -> int:
        if self.down:
            raise StoreUnavailable("down")
        self.noted.append(found)
        return 1


def _skipped(kind: str) -> float:
    return REGISTRY.get_sample_value("registry_corrupt_records_total", {"kind": kind}) or 0.0


async def test_the_reporter_counts_every_skip_and_records_each_value_once() -> None:
    store = _Store()
    report = CorruptReporter(store)  # type: ignore[arg-type]
    one = Corrupt("entry", "default", "reg:{default}:c:c", "", "1" * 16, "bad")
    other = Corrupt("entry", "default", "reg:{default}:c:c", "", "2" * 16, "bad")
    before = _skipped("entry")

    store.down = True
    await report(one)  # Redis away: counted, not recorded, and not forgotten either
    store.down = False
    for _ in range(3):
        await report(one)
    await report(other)
    assert _skipped("entry") == before + 5
    assert store.noted == [one, other]
