"""Exponential, jittered, bounded backoff for the agent-side client."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``base * 2**failures`` capped at ``cap``, with "equal jitter" (half fixed, half random).

    Jitter keeps a fleet that lost its registry at the same moment from coming back in
    lockstep; the fixed half keeps the delay from collapsing to zero.
    """

    base: float = 0.2
    cap: float = 10.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay(self) -> float:
        """Record one more failure and return how long to wait before the next attempt."""
        raw: float = min(self.cap, self.base * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return raw / 2 + self.rng.uniform(0, raw / 2)

    def reset(self) -> None:
        """A call succeeded: start again from ``base``."""
        self.failures = 0
