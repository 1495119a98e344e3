"""Cross-file checks no single schema can express: dependencies, cycles, conditional settings.

Runs on schema-valid documents. Every problem is collected; nothing stops at the first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from buildtime.issues import Issue
from service.domain.constraints import ConstraintError, parse_constraint
from service.domain.depgraph import Graph, requires
from service.domain.thresholds import RULE, Thresholds, threshold_problems

__all__ = ["Checker", "Source", "check_all", "resolve_pointer"]

_MISSING = object()
_DEFAULT_THRESHOLDS = Thresholds().to_dict()
_SELF = {name: name for name in _DEFAULT_THRESHOLDS}
# Why each part of the threshold rule matters, keyed by the field to change.
_THRESHOLD_HINTS = {
    "heartbeat_interval": "agents must heartbeat at a positive interval",
    "degraded_after": "otherwise healthy agents look degraded between heartbeats",
    "expire_after": "expiry comes after degradation",
    "retention": "retention is how long an expired agent stays listed",
}
# Keys whose string values look like credentials: those belong in `secrets:` references.
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|credential|private[_-]?key)$", re.I
)


@dataclass(frozen=True)
class Source:
    """Where a document came from, for error messages."""

    file: str


def resolve_pointer(doc: Any, pointer: str) -> Any:
    """The value at ``pointer`` in ``doc``, or a sentinel if it does not exist."""
    node = doc
    for part in pointer.strip("/").split("/") if pointer not in ("", "/") else []:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _MISSING
    return node


def _present(doc: Any, pointer: str) -> bool:
    value = resolve_pointer(doc, pointer)
    return value is not _MISSING and value is not None


def _check_dependency(
    dep: Mapping[str, Any], versions: Mapping[str, Sequence[str]], file: str, pointer: str
) -> list[Issue]:
    name, text = dep["capability"], dep["version"]
    if name not in versions:
        close = difflib.get_close_matches(name, list(versions), n=3)
        return [
            Issue(
                "dep-missing-capability",
                f"dependency on unknown capability {name!r}",
                file,
                pointer=f"{pointer}/capability",
                hint=f"did you mean {', '.join(close)}?"
                if close
                else "add it to the capability catalog or fix the name",
            )
        ]
    try:
        constraint = parse_constraint(text)
    except ConstraintError as exc:
        return [
            Issue(
                "dep-bad-constraint",
                str(exc),
                file,
                pointer=f"{pointer}/version",
                hint="use >=1.2,<2 · ^1.2 · ~1.2 · 1.x · 1.2.3 · ^1 || ^2 · * (docs/matching.md)",
            )
        ]
    if constraint is not None and not constraint.matching(versions[name]):
        offered = ", ".join(versions[name])
        return [
            Issue(
                "dep-unsatisfiable",
                f"no version of {name!r} satisfies {text!r} (catalog offers {offered})",
                file,
                pointer=f"{pointer}/version",
                hint="relax the constraint or add the version to the catalog",
            )
        ]
    return []


def _check_profile(
    name: str,
    payload: Mapping[str, Any],
    file: str,
    catalog: Mapping[str, Any],
    caps: Mapping[str, Mapping[str, Any]],
    versions: Mapping[str, Sequence[str]],
    graph: Graph,
) -> list[Issue]:
    issues: list[Issue] = []
    for i, cap in enumerate(payload["capabilities"]):
        if cap["name"] not in caps:
            issues.append(
                Issue(
                    "dep-missing-capability",
                    f"profile provides unknown capability {cap['name']!r}",
                    file,
                    pointer=f"/capabilities/{i}/name",
                    hint="add it to the capability catalog",
                )
            )
        elif cap["version"] not in versions[cap["name"]]:
            issues.append(
                Issue(
                    "capability-version",
                    f"{cap['name']} {cap['version']} is not in the catalog "
                    f"(offers {', '.join(versions[cap['name']])})",
                    file,
                    pointer=f"/capabilities/{i}/version",
                    hint="add the version to the catalog",
                )
            )
    provided = [c["name"] for c in payload["capabilities"]]
    for i, dep in enumerate(payload["dependencies"]):
        issues += _check_dependency(dep, versions, file, f"/dependencies/{i}")
        if requires(dep):
            for cap_name in provided:
                graph.add(cap_name, dep["capability"], file, f"/dependencies/{i}")
    for cap_name in dict.fromkeys(provided):
        for pointer in caps.get(cap_name, {}).get("requires_config", ()):
            if not _present(payload, pointer):
                issues.append(
                    Issue(
                        "conditional",
                        f"capability {cap_name!r} requires {pointer} to be set",
                        file,
                        pointer=pointer,
                        hint="set it in the profile template or values",
                    )
                )
    dep_names = {d["capability"] for d in payload["dependencies"]}
    for r, rule in enumerate(catalog.get("rules", ())):
        value = resolve_pointer(payload, rule["when"])
        if value is _MISSING or not value:
            continue
        for pointer in rule.get("require", ()):
            if not _present(payload, pointer):
                issues.append(
                    Issue(
                        "conditional",
                        f"{rule['when']} is set, so {pointer} is required (catalog rules[{r}])",
                        file,
                        pointer=pointer,
                        hint=rule.get("hint"),
                    )
                )
        for cap_name in rule.get("require_dependency", ()):
            if cap_name not in dep_names:
                issues.append(
                    Issue(
                        "conditional",
                        f"{rule['when']} is set, so a dependency on {cap_name!r} "
                        f"is required (catalog rules[{r}])",
                        file,
                        pointer="/dependencies",
                        hint=rule.get("hint"),
                    )
                )
    issues += _check_thresholds(payload["thresholds"], file)
    for i, key in enumerate(payload["major_keys"]):
        if resolve_pointer(payload, key) is _MISSING:
            issues.append(
                Issue(
                    "major-key",
                    f"major key {key} does not exist in the payload",
                    file,
                    pointer=f"/major_keys/{i}",
                    hint="fix the pointer or drop it",
                )
            )
    issues += _check_secrets(payload["config"], file, "/config")
    return issues


def _check_thresholds(t: Mapping[str, float], file: str) -> list[Issue]:
    """The one threshold rule (``service.domain.thresholds``), one issue per broken part."""
    return [
        Issue(
            "thresholds",
            problem.message,
            file,
            pointer=f"/thresholds/{problem.fields[0]}",
            hint=f"{_THRESHOLD_HINTS[problem.fields[0]]}; the rule is {RULE.format_map(_SELF)}",
        )
        for problem in threshold_problems({**_DEFAULT_THRESHOLDS, **t})
    ]


def _check_secrets(node: Any, file: str, pointer: str) -> list[Issue]:
    # Only containers are descended into and pointers are built only for them: most nodes
    # are scalars, and this runs for every payload of every environment.
    issues: list[Issue] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                if value and _SECRET_KEY.search(str(key)):
                    sub = f"{pointer}/{key}"
                    issues.append(
                        Issue(
                            "secret-inline",
                            f"{sub} looks like a secret value",
                            file,
                            pointer=sub,
                            hint="never render secrets: list a reference under `secrets:` "
                            "(name, secret, key) and resolve it at runtime",
                        )
                    )
            elif isinstance(value, (dict, list)):
                issues += _check_secrets(value, file, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                issues += _check_secrets(value, file, f"{pointer}/{i}")
    return issues


class Checker:
    """:func:`check_all` a profile at a time, so profiles are checked as they are rendered.

    :meth:`finish` returns the issues in ``check_all`` order (catalog, profiles by name,
    cycles) whatever order the profiles were added in.
    """

    def __init__(self, catalog: Mapping[str, Any], catalog_file: str) -> None:
        self.catalog = catalog
        self._issues: list[Issue] = []
        self._caps: dict[str, Mapping[str, Any]] = {}
        for i, cap in enumerate(catalog.get("capabilities", ())):
            if cap["name"] in self._caps:
                self._issues.append(
                    Issue(
                        "catalog-duplicate",
                        f"capability {cap['name']!r} is listed twice",
                        catalog_file,
                        pointer=f"/capabilities/{i}/name",
                        hint="merge the entries",
                    )
                )
            self._caps.setdefault(cap["name"], cap)
        self._versions = {name: tuple(cap["versions"]) for name, cap in self._caps.items()}
        self._graph = Graph()
        for i, cap in enumerate(catalog.get("capabilities", ())):
            for j, dep in enumerate(cap.get("dependencies", ())):
                pointer = f"/capabilities/{i}/dependencies/{j}"
                self._issues += _check_dependency(dep, self._versions, catalog_file, pointer)
                if requires(dep):
                    self._graph.add(cap["name"], dep["capability"], catalog_file, pointer)
        self._profiles: dict[str, tuple[list[Issue], Graph]] = {}

    def add(self, name: str, payload: Mapping[str, Any], file: str) -> None:
        """Check one schema-valid profile payload against the catalog."""
        edges = Graph()
        found = _check_profile(name, payload, file, self.catalog, self._caps, self._versions, edges)
        self._profiles[name] = (found, edges)

    def finish(self) -> list[Issue]:
        """Every issue, including required-dependency cycles across all profiles."""
        issues = list(self._issues)
        graph = Graph()
        graph.update(self._graph)
        for name in sorted(self._profiles):
            found, edges = self._profiles[name]
            issues += found
            graph.update(edges)  # in name order, so cycles are reported as check_all did
        for cycle in graph.cycles():
            file, pointer = graph.origin[(cycle[-2], cycle[-1])]
            issues.append(
                Issue(
                    "dep-cycle",
                    "required dependencies form a cycle: " + " -> ".join(cycle),
                    file,
                    pointer=pointer,
                    hint="make one dependency optional (required: false) or split the capability",
                )
            )
        return issues


def check_all(
    catalog: Mapping[str, Any],
    catalog_file: str,
    profiles: Mapping[str, Mapping[str, Any]],
    files: Mapping[str, str],
) -> list[Issue]:
    """Check the catalog and every profile against it, including required-dependency cycles."""
    checker = Checker(catalog, catalog_file)
    for name, payload in profiles.items():
        checker.add(name, payload, files[name])
    return checker.finish()
