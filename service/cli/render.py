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
