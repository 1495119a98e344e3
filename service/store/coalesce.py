"""Auto-pipelining: script calls made in the same event-loop turn go to Redis in one write.

Each heartbeat is still exactly one EVALSHA; concurrent heartbeats share the socket write and
the pool checkout. Profiling showed the client side of a lone EVALSHA (redis-py's per-command
machinery plus a send and a receive syscall) costs several times what the handler does, and
batching 8-32 calls cuts it by 3-5x. A lone call is sent on its own, exactly as before.

The coalescer also enforces the store deadline (``Gate.bounded``) of what it carries. A
batch's round trip ends by its leader's deadline (when the leader gives up, its followers are
failed with it, as they always were); a follower only needs a timer of its own when its
deadline is earlier than the leader's, which is rare (it began its operation first, say a
registration's second round trip). So a batch costs one loop timer, not one per caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from service.store.client import AnyRedis
from service.store.gate import Gate

#: Enough to amortise the write; small enough that one slow batch delays few callers.
MAX_BATCH = 64

_Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class Coalescer:
    """Queue script calls; flush them once per loop turn as one non-transactional pipeline."""

    def __init__(self, client: AnyRedis, gate: Gate) -> None:
        self.client = client
        #: One slot per round trip: a pipeline of N heartbeats holds one, not N.
        self.gate = gate
        # Cluster pipelines split by node and cannot batch a namespace's calls the same way;
        # there every call goes out on its own.
        self.enabled = isinstance(client, Redis)
        #: The batch being gathered behind this loop turn's leader, if one is gathering.
        self._pending: list[_Call] | None = None
        #: The store deadline of the batch's leader (see :meth:`call`).
        self._lead_at = 0.0

    async def call(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """``script(keys, args)``, possibly sharing a pipeline with concurrent calls, ended by
        the caller's store deadline (``TimeoutError`` past it).

        The first caller of a loop turn leads: it yields once so that the calls made in the
        same turn can queue behind it, then sends them all and hands each its answer. A lone
        call thus costs one bare yield (no future, no task, no scheduled callback), which
        matters at low concurrency; followers wait on a future.
        """
        deadline = self.gate.deadline()
        if not self.enabled:
            async with asyncio.timeout_at(deadline):
                return await self._alone(script, keys, args)
        if self._pending is not None:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._pending.append((script, keys, args, fut))
            if len(self._pending) >= MAX_BATCH:
                self._pending = None  # full: the next caller leads a new batch
            if deadline >= self._lead_at:
                return await fut  # the leader's round trip ends first
            async with asyncio.timeout_at(deadline):
                return await fut
        followers: list[_Call] = []
        self._pending, self._lead_at = followers, deadline
        try:
            await asyncio.sleep(0)  # one loop turn: the other ready handlers queue up
        finally:
            if self._pending is followers:
                self._pending = None
        async with asyncio.timeout_at(deadline):
            if not followers:
                return await self._alone(script, keys, args)
            return await self._lead(script, keys, args, followers)

    async def _alone(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        probe = await self.gate.acquire()
        try:
            return await script(keys=keys, args=args)
        finally:
            self.gate.release(probe)

    async def _lead(
        self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any], followers: list[_Call]
    ) -> Any:
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(script.sha, len(keys), *keys, *args)
        for s, k, a, _ in followers:
            pipe.evalsha(s.sha, len(k), *k, *a)
        try:
            probe = await self.gate.acquire()
            try:
                results = await pipe.execute(raise_on_error=False)
            finally:
                self.gate.release(probe)
        except asyncio.CancelledError:
            # Only the leader was cancelled; the others get an error that reads as a store
            # failure (a 503, never a 410) rather than waiting for ever.
            for *_, fut in followers:
                _fail(fut, ConnectionError("the pipeline carrying this call was cancelled"))
            raise
        except Exception as exc:
            for *_, fut in followers:
                _fail(fut, exc)
            raise
        mine, theirs = results[0], results[1:]
        for (s, k, a, fut), result in zip(followers, theirs, strict=True):
            outcome = await _settle(s, k, a, result)
            if isinstance(outcome, BaseException):
                _fail(fut, outcome)
            else:
                _ok(fut, outcome)
        outcome = await _settle(script, keys, args, mine)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def _settle(
    script: AsyncScript, keys: Sequence[Any], args: Sequence[Any], result: Any
) -> Any:
    """A pipelined reply, with ``NOSCRIPT`` (Redis restarted or failed over) retried through
    the script object, which loads the script and calls it again (within the leader's
    deadline, like the round trip itself)."""
    if not isinstance(result, NoScriptError):
        return result
    try:
        return await script(keys=keys, args=args)
    except Exception as exc:
        return exc


def _ok(fut: asyncio.Future[Any], result: Any) -> None:
    if not fut.done():  # the caller may have gone (client disconnect cancels the handler)
        fut.set_result(result)


def _fail(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
