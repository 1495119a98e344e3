"""Regenerate the values table in helm/agent-registry/README.md from values.yaml.

A value is documented by the `# --` comment right above it (continued by further `#`
lines). A map with its own `# --` comment is one row; so is any value that
values.schema.json does not describe as a closed object (`additionalProperties: false`).
Other maps are expanded into their keys. tests/unit/helm/test_docs.py fails when the
table and values.yaml disagree.

    python helm/tools/values_table.py          # rewrite the README table
    python helm/tools/values_table.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "agent-registry"
BEGIN = "<!-- values-table:begin -->"
END = "<!-- values-table:end -->"
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):")


def comments(values_text: str) -> dict[str, str]:
    """Dotted key path -> its `# --` description."""
    docs: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in values_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped[1:].strip())
            continue
        match = KEY_LINE.match(line)
        if not match or stripped.startswith("-"):
            pending = None if not stripped else pending
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        if pending is not None:
            docs[".".join(k for _, k in stack)] = " ".join(pending)
            pending = None
    return docs


def rows(
    values: dict[str, Any], schema: dict[str, Any], docs: dict[str, str], prefix: str = ""
) -> list[tuple[str, Any]]:
    """(dotted path, default) for every documented value, in values.yaml order."""
    out: list[tuple[str, Any]] = []
    props = schema.get("properties", {})
    for key, value in values.items():
        path = f"{prefix}{key}"
        node = props.get(key, {})
        closed = node.get("type") == "object" and node.get("additionalProperties") is False
        if isinstance(value, dict) and closed and path not in docs:
            out.extend(rows(value, node, docs, f"{path}."))
        else:
            out.append((path, value))
    return out


def table() -> str:
    values_text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(values_text)
    schema = json.loads((CHART / "values.schema.json").read_text())
    docs = comments(values_text)
    lines = ["| Key | Default | Description |", "|---|---|---|"]
    for path, default in rows(values, schema, docs):
        description = docs.get(path)
        if description is None:
            raise SystemExit(f"values.yaml: {path} has no '# --' comment")
        shown = json.dumps(default, separators=(", ", ": "))
        escaped = description.replace("|", "\\|")
        lines.append(f"| `{path}` | `{shown}` | {escaped} |")
    return "\n".join(lines)


def main() -> int:
    readme = CHART / "README.md"
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    updated = f"{text[:start]}\n{table()}\n{text[end:]}"
    if "--check" in sys.argv:
        if updated != text:
            print("helm/agent-registry/README.md: values table is out of date", file=sys.stderr)
            return 1
        return 0
    readme.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
