"""The bundle format module stays import-light; the service never imports buildtime."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = ("redis", "jinja2", "buildtime", "yaml", "jsonschema")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_bundle_modules_import_no_heavy_dependencies(repo_root: Path) -> None:
    for name in ("bundle.py", "bundle_diff.py"):
        found = _imports(repo_root / "service" / name)
        assert not found & set(FORBIDDEN), (name, found)


def test_service_never_imports_buildtime(repo_root: Path) -> None:
    offenders = [p for p in (repo_root / "service").rglob("*.py") if "buildtime" in _imports(p)]
    assert offenders == []
