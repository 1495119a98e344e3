"""Jinja2 rendering for the dashboard: the environment, filters, and the heartbeat-rate buffer."""

from __future__ import annotations

import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import jinja2
from litestar import Response

from service import __version__

NAV = (
    ("/ui", "overview"),
    ("/ui/agents", "agents"),
    ("/ui/capabilities", "capabilities"),
    ("/ui/drift", "drift"),
    ("/ui/config", "config"),
    ("/ui/events", "events"),
)
LIVE_REFRESH_MS = 1000  # how often a page's live part is re-fetched


def ago(timestamp: str | None, now: datetime | None = None) -> str:
    """``12s ago`` from an RFC 3339 timestamp (``-`` when there is none)."""
    if not timestamp:
        return "-"
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 1:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def short(version: str | None) -> str:
    """A ``sha256:`` version cut to 19 characters."""
    if not version:
        return "-"
    return version if len(version) <= 19 else version[:19] + "…"


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("service.ui", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["ago"] = ago
_env.filters["short"] = short


def page(
    template: str,
    *,
    title: str,
    here: str,
    fragment: bool,
    refresh: int | None = LIVE_REFRESH_MS,
    **context: Any,
) -> Response[str]:
    """A full page, or only its live part when ``fragment`` (what ``live.js`` re-fetches)."""
    html = _env.get_template(template).render(
        layout="fragment.html" if fragment else "base.html",
        title=title,
        here=here,
        nav=NAV,
        refresh=refresh,
        replica_version=__version__,
        now=datetime.now(UTC),
        **context,
    )
    return Response(
        html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
    )


class Rate:
    """Heartbeats per second of this replica, from counter samples taken at page renders."""

    def __init__(self, keep: int = 60) -> None:
        self.samples: deque[tuple[float, float]] = deque(maxlen=keep + 1)

    def sample(self, total: float) -> None:
        """Record the counter's current ``total`` (renders closer than 0.5 s are merged)."""
        now = time.monotonic()
        if self.samples and now - self.samples[-1][0] < 0.5:
            return
        self.samples.append((now, total))

    def rates(self) -> list[float]:
        """Per-interval rates, oldest first (a counter reset counts as 0)."""
        pairs = zip(list(self.samples)[:-1], list(self.samples)[1:], strict=True)
        return [max(0.0, (b[1] - a[1]) / (b[0] - a[0])) for a, b in pairs]

    @property
    def last(self) -> float:
        """The latest rate (0 before two samples)."""
        rates = self.rates()
        return rates[-1] if rates else 0.0

    def points(self, width: int, height: int) -> str:
        """An SVG ``polyline`` points attribute for the sparkline."""
        rates = self.rates() or [0.0]
        top = max(rates) or 1.0
        step = width / max(len(rates) - 1, 1)
        return " ".join(
            f"{i * step:.1f},{height - 2 - (r / top) * (height - 4):.1f}"
            for i, r in enumerate(rates)
        )
