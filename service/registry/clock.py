"""The replica's wall clock, used only for record timestamps (health uses Redis TIME)."""

from __future__ import annotations

import time


def now_ms() -> int:
    """This replica's wall clock in ms (only for record timestamps, never for health)."""
    return time.time_ns() // 1_000_000
