"""Terminal output of the operator CLI: rich tables, status colours, relative times, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {
    "healthy": "green",
    "degraded": "yellow",
    "suspect": "magenta",
    "expired": "red",
    "unresolved": "red",
    "available": "green",
}
ROLLOUT_STYLE = {
    "running": "cyan",
    "paused": "yellow",
    "complete": "green",
    "rolled-back": "red",
    "aborted": "magenta",
    "none": "dim",
}
DECISION_STYLE = {
    "promote": "green",
    "complete": "green",
    "pause": "yellow",
    "rolled-back": "red",
    "aborted": "magenta",
}
EVENT_STYLE = {
    "register": "green",
    "recover": "green",
    "update": "cyan",
    "degraded": "yellow",
    "drift": "yellow",
    "expire": "red",
    "assignment-lost": "red",
    "corrupt": "red",
    "unregister": "magenta",
    "purge": "dim",
}


def console() -> Console:
    """A console on stdout; colours only on a terminal (or with FORCE_COLOR)."""
    return Console(highlight=False, soft_wrap=False)


def print_json(data: Any) -> None:
    """The API's JSON, indented, for ``--output json`` (pipe it into jq)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def print_json_line(data: Any) -> None:
    """One compact JSON object per line (``events --follow -o json``: NDJSON)."""
    sys.stdout.write(json.dumps(data, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def status(value: str | None) -> Text:
    """A status word in its colour."""
    word = value or "-"
    return Text(word, style=STATUS_STYLE.get(word, ""))


def event_type(value: str) -> Text:
    """An event type in its colour."""
    return Text(value, style=EVENT_STYLE.get(value, ""))


def rollout_state(value: str) -> Text:
    """A rollout state in its colour."""
    return Text(value, style=ROLLOUT_STYLE.get(value, ""))


def decision(value: str) -> Text:
    """A rollout decision in its colour."""
    return Text(value, style=DECISION_STYLE.get(value, ""))


def signal_cells(sig: dict[str, Any]) -> tuple[Text, ...]:
    """One gate signal as table cells: name, candidate, baseline, the most allowed, verdict.

    A cohort smaller than the gate's ``min_sample`` is judged on counts (whole agents), a
    larger one on rates (shown as percentages). A breached signal is bold red and says so,
    so it stands out without colours too.
    """
    style = "bold red" if sig["breached"] else ""
    if sig["on_counts"]:
        cand, limit, basis = f"{sig['candidate']:g}", f"{sig['threshold']:g}", "counts"
    else:
        cand, limit, basis = percent(sig["candidate"]), percent(sig["threshold"]), "rates"
    verdict = "BREACHED" if sig["breached"] else "ok"
    return (
        Text(sig["signal"], style=style),
        Text(cand, style=style),
        Text(percent(sig["baseline"])),
        Text(limit),
        Text(basis, style="dim"),
        Text(verdict, style=style or "green"),
    )


def percent(rate: float) -> str:
    """A rate (0..1) as ``12.5%``."""
    return f"{rate * 100:.1f}%"


def duration(ms: int) -> str:
    """``90s``, ``5m``, ``1h30m`` from milliseconds."""
    seconds = round(ms / 1000)
    if seconds < 120:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes}m" + (f"{seconds}s" if seconds else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h" + (f"{minutes}m" if minutes else "")


def ago(timestamp: str | None, now: datetime | None = None) -> str:
    """``12s ago``, ``3m ago``, ``2h ago``, ``4d ago`` from an RFC 3339 timestamp."""
    if not timestamp:
        return "-"
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 0:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def short(version: str | None, width: int = 19) -> str:
    """A config version (``sha256:<64 hex>``) cut to something a table can hold."""
    if not version:
        return "-"
    return version if len(version) <= width else version[:width] + "…"


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A table whose cells are strings or rich ``Text``."""
    out = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    return out
