"""Stored values that do not decode: counted on every read that skips one, recorded once.

The store skips such a value and awaits :class:`CorruptReporter` with it before the read
returns (see :mod:`service.store.corrupt`). The counter shows how often reads meet one, as
long as it is there; the ``corrupt`` event says once which value it is, whichever replica
reads it first, and asks its agent for the full heartbeat that rewrites it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from service.errors import StoreUnavailable
from service.metrics import CORRUPT_RECORDS
from service.store.corrupt import Corrupt
from service.store.store import Store

log = logging.getLogger("service.corrupt")
# Values this replica already had recorded, so that reading one again costs no round trip;
# bounded (least recently used dropped first), since a forgotten one only costs a call.
_REMEMBER = 4096


class CorruptReporter:
    """The store's ``on_corrupt`` hook for one replica."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._recorded: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def __call__(self, found: Corrupt) -> None:
        """Count ``found``; record it as an event unless this replica already had it recorded."""
        CORRUPT_RECORDS.labels(kind=found.kind).inc()
        seen = (found.key, found.digest)
        if seen in self._recorded:
            self._recorded.move_to_end(seen)
            return
        try:
            recorded = await self._store.note_corrupt(found)
        except StoreUnavailable:
            return  # the read that found it still answers; a later read records it
        self._recorded[seen] = None
        if len(self._recorded) > _REMEMBER:
            self._recorded.popitem(last=False)
        if recorded:
            log.warning(
                "stored %s at %s does not decode (%s): skipped by reads until rewritten",
                found.kind,
                found.key,
                found.reason,
            )
