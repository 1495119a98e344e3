"""The Redis store: the only package that imports ``redis``."""

from service.store.store import AgentRow, HeartbeatResult, Store, SweepStats, Touch

__all__ = ["AgentRow", "HeartbeatResult", "Store", "SweepStats", "Touch"]
