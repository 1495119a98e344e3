"""Print the chart's rendered manifests, like `helm template`, with no helm binary.

Helm's own engine renders (through helm-python-sdk): values.schema.json and the chart's
`fail` rules apply exactly as on `helm install`.

    python helm/tools/template.py [-f values.yaml ...] [--set key.path=value ...]
        [--set-file key.path=FILE ...] [--name reg] [--namespace agents] [--revision 1]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "agent-registry"


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge like Helm merges -f files: maps recursively, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def set_value(values: dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value``; the value is read as YAML (``true``, ``3``, ``[x]``)."""
    path, sep, raw = assignment.partition("=")
    if not sep or not path:
        raise SystemExit(f"--set {assignment!r}: use key.path=value")
    *parents, leaf = path.split(".")
    node = values
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = yaml.safe_load(raw) if raw else ""


def render(values: dict[str, Any], name: str, namespace: str, revision: int) -> str:
    """Every rendered template (NOTES.txt left out) as one multi-document YAML stream."""
    import helm_python as helm

    with tempfile.TemporaryDirectory(prefix="helm-template-") as home:
        for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            os.environ.setdefault(var, os.path.join(home, var.lower()))
        with helm.Chart.load(CHART) as chart:
            rendered = chart.render(
                values=values,
                name=name,
                namespace=namespace,
                revision=revision,
                is_install=revision == 1,
                is_upgrade=revision > 1,
            )
    docs = [
        f"---\n# Source: {path}\n{text.strip()}\n"
        for path, text in sorted(rendered.items())
        if text.strip() and not path.endswith("NOTES.txt")
    ]
    return "".join(docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--values", action="append", default=[], type=Path)
    parser.add_argument("--set", action="append", default=[], dest="sets")
    parser.add_argument("--set-file", action="append", default=[], dest="set_files")
    parser.add_argument("--name", default="reg", help="release name (default reg)")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--revision", type=int, default=1)
    args = parser.parse_args(argv)
    values: dict[str, Any] = {}
    for path in args.values:
        values = merge(values, yaml.safe_load(path.read_text()) or {})
    for assignment in args.sets:
        set_value(values, assignment)
    for assignment in args.set_files:
        key, _, path = assignment.partition("=")
        set_value(values, f"{key}=")
        *parents, leaf = key.split(".")
        node = values
        for part in parents:
            node = node[part]
        node[leaf] = Path(path).read_text()  # as Helm's --set-file: the file's text
    try:
        sys.stdout.write(render(values, args.name, args.namespace, args.revision))
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except Exception as exc:  # Helm's errors (schema, `fail`) as one line, no traceback
        print(f"helm-template: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
