"""The store's admission gate: bounded slots, a bounded queue, one deadline per operation."""

from __future__ import annotations

import asyncio

import pytest

from service.errors import StoreSaturated, StoreUnavailable
from service.metrics import STORE_SHED
from service.store.conn import Conn
from service.store.gate import Gate


class _Idle:
    """Stands in for a client: Conn only registers scripts on it."""

    def register_script(self, source: str) -> object:
        return object()


async def test_slots_then_queue_then_refusal() -> None:
    gate = Gate(size=2, queue=1, timeout=5)
    await gate.acquire()
    await gate.acquire()
    queued = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert gate.waiting == 1 and not queued.done()
    shed_before = STORE_SHED._value.get()
    with pytest.raises(StoreSaturated):
        await gate.acquire()  # two in flight, one queued: refused without waiting
    assert STORE_SHED._value.get() == shed_before + 1
    gate.release()
    await asyncio.wait_for(queued, 1)
    assert gate.waiting == 0


async def test_a_call_past_the_deadline_is_503_and_frees_its_slot() -> None:
    conn = Conn(_Idle(), Gate(size=1, queue=0, timeout=0.05))  # type: ignore[arg-type]
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.05 s"):
        await conn.call(never)
    assert never.cancelled()
    # The slot came back: the next call runs.
    assert await conn.call(asyncio.sleep(0, result="ok")) == "ok"


async def test_a_refused_call_is_closed_not_left_unawaited() -> None:
    conn = Conn(_Idle(), Gate(size=1, queue=0, timeout=5))  # type: ignore[arg-type]
    await conn.gate.acquire()
    pending = asyncio.sleep(0)
    with pytest.raises(StoreSaturated):
        await conn.call(pending)
    assert pending.cr_frame is None  # closed: no "coroutine was never awaited"


async def test_one_operation_shares_one_deadline() -> None:
    gate = Gate(size=4, queue=4, timeout=0.2)
    conn = Conn(_Idle(), gate)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    with gate.bounded():
        first = gate.deadline()
        await conn.call(asyncio.sleep(0.05))
        assert gate.deadline() == first  # the second call does not get a fresh timeout
        with gate.bounded():
            assert gate.deadline() == first  # nested scopes keep the outer deadline
        with pytest.raises(StoreUnavailable):
            await conn.call(asyncio.sleep(1))
        assert loop.time() >= first
    assert gate.deadline() > first  # outside an operation: a fresh timeout


async def test_after_a_failure_one_probe_at_a_time_until_one_succeeds() -> None:
    gate = Gate(size=8, queue=1, timeout=5)
    gate.failed()
    probe = await gate.acquire()
    assert probe is True  # the first caller after a failure is the probe
    second = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert not second.done() and gate.waiting == 1  # others wait behind it...
    with pytest.raises(StoreSaturated, match="recovering"):
        await gate.acquire()  # ...in the same bounded queue
    gate.release(probe)  # the probe failed too (still tripped): the next one probes
    assert await asyncio.wait_for(second, 1) is True
    gate.succeeded()
    gate.release(True)
    assert await gate.acquire() is False  # healthy: slots again, many at once
    assert await gate.acquire() is False


async def test_a_failed_call_trips_the_gate_and_a_success_resets_it() -> None:
    conn = Conn(_Idle(), Gate(size=4, queue=4, timeout=5))  # type: ignore[arg-type]

    async def boom() -> None:
        raise ConnectionError("reset by peer")

    with pytest.raises(StoreUnavailable):
        await conn.call(boom())
    assert conn.gate.tripped
    assert await conn.call(asyncio.sleep(0, result=1)) == 1
    assert not conn.gate.tripped
