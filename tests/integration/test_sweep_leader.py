"""One replica of the fleet sweeps, under a lease; another takes over when it stops."""

from __future__ import annotations

import contextlib
from typing import Any

from apps import ClientFactory
from litestar.testing import AsyncTestClient
from support import eventually

from service.store.store import Store


def _count_sweeps(client: AsyncTestClient[Any]) -> list[int]:
    """Wrap this replica's ``store.sweep``; the returned cell counts its passes."""
    store: Store = client.app.state.registry.store
    calls = [0]
    real = store.sweep

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await real(*args, **kwargs)

    store.sweep = counted  # type: ignore[method-assign]
    return calls


async def test_one_replica_sweeps_and_the_other_takes_over_when_it_stops(
    app_client: ClientFactory,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        # A lease of 3 x 0.2 s: long enough that a busy test machine does not hand over.
        replicas = [await stack.enter_async_context(app_client(sweep_interval=0.2))]
        late = contextlib.AsyncExitStack()
        replicas.append(await late.enter_async_context(app_client(sweep_interval=0.2)))
        counts = [_count_sweeps(c) for c in replicas]

        async def passes() -> int:
            total = counts[0][0] + counts[1][0]
            return total if total >= 4 else 0

        await eventually(passes)
        sweeping = [i for i, c in enumerate(counts) if c[0]]
        assert len(sweeping) == 1, counts  # the other replica only bids for the lease
        leader, follower = sweeping[0], 1 - sweeping[0]
        # The leader stops; its lease lapses and the follower takes the sweep over.
        if leader == 1:
            await late.aclose()
        else:
            await stack.aclose()
        before = counts[follower][0]

        async def taken_over() -> bool:
            return counts[follower][0] > before + 1

        await eventually(taken_over)
        await late.aclose()
