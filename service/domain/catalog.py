"""Capability injection rules over the bundle's catalog: dependency validation, availability.

Pure functions (no I/O), so the admin API and tests share them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import msgspec

from service.domain.constraints import ConstraintError, parse_constraint, version_matches
from service.domain.depgraph import Graph, requires

ProblemKind = Literal["missing", "version_conflict", "cycle", "invalid"]


class Problem(msgspec.Struct, kw_only=True, frozen=True):
    """One reason a capability cannot be assigned as declared."""

    kind: ProblemKind
    capability: str
    dependency: str | None = None
    reason: str


class ValidationResult(msgspec.Struct, kw_only=True, frozen=True):
    """``validate_capability_dependencies``: valid, or every problem with its reason."""

    capability: str
    valid: bool
    problems: list[Problem]


def catalog_index(catalog: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Catalog capabilities by name."""
    return {
        str(c["name"]): c
        for c in catalog.get("capabilities", [])
        if isinstance(c, dict) and "name" in c
    }


def _deps(cap: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [d for d in cap.get("dependencies") or [] if isinstance(d, dict)]


def validate_capability_dependencies(
    capability: Mapping[str, Any], catalog: Mapping[str, Any]
) -> ValidationResult:
    """Check ``capability`` (a catalog-shaped entry) against the catalog.

    - **missing**: a dependency names a capability the catalog does not hold;
    - **version_conflict**: no catalog version satisfies a dependency's constraint, or two
      dependencies on one capability admit no common version;
    - **cycle**: following required dependencies (with ``capability`` replacing its catalog
      entry) leads back to ``capability``; a ``required: false`` dependency is never an edge.
    """
    name = str(capability.get("name", ""))
    index = catalog_index(catalog)
    index[name] = dict(capability)
    problems: list[Problem] = []
    admitted: dict[str, set[str]] = {}
    for dep in _deps(capability):
        target = str(dep.get("capability", ""))
        constraint_text = dep.get("version")
        entry = index.get(target)
        if entry is None:
            problems.append(
                Problem(
                    kind="missing",
                    capability=name,
                    dependency=target,
                    reason=f"{target!r} is not in the capability catalog",
                )
            )
            continue
        try:
            constraint = parse_constraint(constraint_text)
        except ConstraintError as exc:
            problems.append(
                Problem(kind="invalid", capability=name, dependency=target, reason=str(exc))
            )
            continue
        versions = [str(v) for v in entry.get("versions", [])]
        ok = {v for v in versions if version_matches(v, constraint)}
        if not ok:
            problems.append(
                Problem(
                    kind="version_conflict",
                    capability=name,
                    dependency=target,
                    reason=f"no version of {target!r} ({', '.join(versions)}) satisfies"
                    f" {constraint_text!r}",
                )
            )
            continue
        common = admitted[target] & ok if target in admitted else ok
        if not common:
            problems.append(
                Problem(
                    kind="version_conflict",
                    capability=name,
                    dependency=target,
                    reason=f"the dependencies on {target!r} admit no common version",
                )
            )
        admitted[target] = common or ok
    cycle = _cycle_from(name, index)
    if cycle:
        problems.append(
            Problem(
                kind="cycle",
                capability=name,
                dependency=cycle[1],
                reason="dependency cycle: " + " -> ".join(cycle),
            )
        )
    return ValidationResult(capability=name, valid=not problems, problems=problems)


def _cycle_from(start: str, index: Mapping[str, Mapping[str, Any]]) -> list[str] | None:
    """A required-dependency path from ``start`` back to itself (the one cycle rule)."""
    graph = Graph()
    for name, cap in index.items():
        for dep in _deps(cap):
            if requires(dep):
                graph.add(name, str(dep.get("capability", "")), "", "")
    return graph.cycle_through(start)


def available_capabilities(
    catalog: Mapping[str, Any],
    has_provider: Callable[[str, str | None], bool],
    own: Iterable[str] = (),
) -> list[str]:
    """Catalog capabilities whose required dependencies are all satisfiable.

    A dependency is satisfiable by the agent itself (``own`` capability names) or by a live
    provider that ``has_provider(capability, constraint)`` finds.
    """
    mine = set(own)
    out = []
    for name, cap in sorted(catalog_index(catalog).items()):
        if all(
            not requires(dep)
            or str(dep.get("capability")) in mine
            or has_provider(str(dep.get("capability")), dep.get("version"))
            for dep in _deps(cap)
        ):
            out.append(name)
    return out


def check_assignment(
    caps: list[dict[str, Any]], catalog: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Problems (field, reason) that make an assignment invalid; empty when it is valid."""
    index = catalog_index(catalog)
    problems: list[tuple[str, str]] = []
    for i, cap in enumerate(caps):
        name = str(cap.get("name"))
        entry = index.get(name)
        if entry is None:
            problems.append((f"capabilities[{i}].name", f"{name!r} is not in the catalog"))
            continue
        version = cap.get("version")
        if version is not None and version not in entry.get("versions", []):
            problems.append((f"capabilities[{i}].version", f"{name!r} has no version {version!r}"))
        result = validate_capability_dependencies(entry, catalog)
        problems += [(f"capabilities[{i}]", p.reason) for p in result.problems]
    return problems
