"""Per-environment values: YAML, JSON or TOML files, merged, env-substituted and validated."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from buildtime.envsubst import EnvError, substitute_string
from buildtime.issues import Issue
from buildtime.project import Project
from buildtime.schemas import SchemaSet

__all__ = ["FORMATS", "Values", "line_of_pointer", "load_values", "locate", "parse_document"]

FORMATS = (".yaml", ".yml", ".json", ".toml")
COMMON = "common"
_TOML_LINE = re.compile(r"line (\d+)")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Values:
    """The merged values of one environment and the files they came from."""

    env: str
    data: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    @property
    def vars(self) -> dict[str, Any]:
        """Template variables."""
        return dict(self.data.get("vars", {}))

    def overrides(self, profile: str) -> dict[str, Any]:
        """Per-profile overrides (``profiles.<name>``)."""
        return dict(self.data.get("profiles", {}).get(profile, {}))

    @property
    def excluded(self) -> frozenset[str]:
        """Profiles not built in this environment."""
        return frozenset(self.data.get("exclude_profiles", ()))


class DocumentError(Exception):
    """A file could not be parsed; carries the 1-based line when the parser knows it."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def parse_document(text: str, suffix: str) -> Any:
    """Parse YAML, JSON or TOML text by file suffix; raise ``DocumentError`` with a line."""
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            return tomllib.loads(text)
        return yaml.load(text, Loader=_Loader)
    except json.JSONDecodeError as exc:
        raise DocumentError(exc.msg, exc.lineno) from None
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        raise DocumentError(str(exc), int(match.group(1)) if match else None) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise DocumentError(str(problem), mark.line + 1 if mark else None) from None


def line_of_pointer(text: str, suffix: str, pointer: str) -> int | None:
    """Best-effort line of ``pointer`` in a YAML or JSON document (JSON parses as YAML)."""
    if suffix == ".toml" or not pointer:
        return None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    for part in pointer.strip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
        else:
            node = None
        if node is None:
            return None
    return int(node.start_mark.line) + 1 if node is not None else None


def locate(project: Project, files: tuple[str, ...], pointer: str) -> tuple[str, int | None]:
    """The values file (the last to set ``pointer``: it wins the merge) and its line there.

    Only for error reports: it reads the files again. Falls back to the last file.
    """
    for rel in reversed(files):
        path = project.root / rel
        text = path.read_text(encoding="utf-8")
        try:
            doc = parse_document(text, path.suffix)
        except DocumentError:
            continue
        node = doc
        for part in pointer.strip("/").split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict):
                node = node.get(key)
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]  # e.g. /defaults/rollout/steps/1/share
            else:
                node = None
        if node is not None:
            return rel, line_of_pointer(text, path.suffix, pointer)
    return (files[-1] if files else ""), None


def _substitute(
    value: Any, environ: Mapping[str, str], pointer: str, errors: list[tuple[str, EnvError]]
) -> Any:
    if isinstance(value, str):
        try:
            return substitute_string(value, environ)
        except EnvError as exc:
            errors.append((pointer, exc))
            return None
    if isinstance(value, dict):
        return {k: _substitute(v, environ, f"{pointer}/{k}", errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, environ, f"{pointer}/{i}", errors) for i, v in enumerate(value)]
    return value


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings; lists and scalars in ``over`` replace those in ``base``."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _find(directory: Path, stem: str) -> list[Path]:
    return [
        directory / f"{stem}{suffix}"
        for suffix in FORMATS
        if (directory / f"{stem}{suffix}").is_file()
    ]


def _load_file(
    project: Project, path: Path, env: str, schemas: SchemaSet, environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[Issue]]:
    rel = project.rel(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = parse_document(text, path.suffix)
    except DocumentError as exc:
        return {}, [Issue("values-syntax", str(exc), rel, exc.line, hint="fix the syntax")]
    if data is None:
        data = {}
    issues: list[Issue] = []
    env_errors: list[tuple[str, EnvError]] = []
    data = _substitute(data, environ, "", env_errors)
    for pointer, env_error in env_errors:
        hint = (
            f"export {env_error.variable} or give env() a default"
            if env_error.code == "env-missing"
            else 'supported: env("NAME", type="str|int|float|bool|json|list", default=...)'
        )
        issues.append(
            Issue(
                env_error.code,
                f"{env_error} (requested by {rel})",
                rel,
                line_of_pointer(text, path.suffix, pointer),
                pointer,
                hint,
            )
        )
    for issue in schemas.issues("values", data, rel, code="values-schema"):
        line = line_of_pointer(text, path.suffix, issue.pointer or "")
        issues.append(Issue(**{**issue.to_dict(), "line": line, "envs": ()}))
    declared = data.get("environment") if isinstance(data, dict) else None
    if path.stem != COMMON and declared is not None and declared != env:
        issues.append(
            Issue(
                "values-env",
                f"file declares environment {declared!r}, loaded for {env!r}",
                rel,
                line_of_pointer(text, path.suffix, "/environment"),
                "/environment",
                "rename the file or fix its environment key",
            )
        )
    return (data if isinstance(data, dict) else {}), issues


def load_values(
    project: Project, env: str, schemas: SchemaSet, environ: Mapping[str, str]
) -> tuple[Values, list[Issue]]:
    """Load ``values/common.*`` then ``values/<env>.*`` (env wins), reporting every problem."""
    issues: list[Issue] = []
    merged: dict[str, Any] = {}
    used: list[str] = []
    for stem, required in ((COMMON, False), (env, True)):
        found = _find(project.values, stem)
        rel = project.rel(project.values / stem)
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            issues.append(
                Issue(
                    "values-ambiguous",
                    f"several values files for {stem}: {names}",
                    rel,
                    hint="keep exactly one of .yaml, .json or .toml",
                )
            )
            continue
        if not found:
            if required:
                issues.append(
                    Issue(
                        "values-missing",
                        f"no values file for environment {env!r}",
                        rel + ".yaml",
                        hint=f"create values/{env}.yaml, .json or .toml",
                    )
                )
            continue
        data, file_issues = _load_file(project, found[0], env, schemas, environ)
        issues.extend(file_issues)
        merged = _merge(merged, data)
        used.append(project.rel(found[0]))
    merged.pop("environment", None)
    return Values(env=env, data=merged, files=tuple(used)), issues
