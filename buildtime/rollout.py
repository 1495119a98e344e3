"""The environment's rollout policy at build time: read from the values, checked, normalised.

The rule itself is :func:`service.domain.rollout.policy_problems`; this module only locates
each problem in the file that caused it and writes policies and profile overrides in one
canonical form, so the way a number was written (5 or 5.0) never changes a bundle version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from buildtime.issues import Issue
from buildtime.project import Project
from buildtime.values import Values, locate
from service.domain.rollout import Gate, Policy, policy_problems

__all__ = ["POINTER", "check_rollout", "normalized_override", "normalized_policy", "raw_policy"]

POINTER = "/defaults/rollout"
HINT = (
    "shares are per cent of a profile's agents: they grow strictly and the last is 100, and a "
    "profile's own shares have one entry per step (docs/buildtime.md#rollout-policy)"
)
_GATE_TYPES: dict[str, Any] = {f.name: f.type for f in msgspec.structs.fields(Gate)}


def raw_policy(values: Values) -> Any:
    """``defaults.rollout`` of the merged values as written; ``None``: no policy."""
    defaults = values.data.get("defaults") or {}
    return defaults.get("rollout") if isinstance(defaults, dict) else None


def normalized_policy(raw: Any) -> dict[str, Any]:
    """The manifest form of a policy that breaks no rule: every default filled in.

    Explicit defaults make a bundle mean the same to a replica whose built-in defaults
    differ; unset optional fields (``null``) are left out.
    """
    data: dict[str, Any] = msgspec.to_builtins(msgspec.convert(raw, Policy))
    data["steps"] = [{k: v for k, v in step.items() if v is not None} for step in data["steps"]]
    return {k: v for k, v in data.items() if v is not None}


def normalized_override(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A schema-valid profile ``rollout`` key with shares as floats, gate values as typed."""
    out: dict[str, Any] = {}
    if raw.get("shares") is not None:
        out["shares"] = [float(share) for share in raw["shares"]]
    if raw.get("gate") is not None:
        out["gate"] = {k: _GATE_TYPES.get(k, float)(v) for k, v in raw["gate"].items()}
    return out


def _override_at(
    project: Project, values: Values, profile: str, file: str, pointer: str
) -> tuple[str, int | None, str]:
    """Where a profile's override problem is: the values that set it, else its template.

    ``pointer`` is ``/profiles/<name>/rollout/...``, which is where the values keep a
    profile's overrides (the shipped ``_base`` template renders ``overrides.rollout``).
    """
    if values.overrides(profile).get("rollout") is not None:
        found, line = locate(project, values.files, pointer)
        return found, line, pointer
    return file, None, pointer.removeprefix(f"/profiles/{profile}")


def check_rollout(
    project: Project,
    values: Values,
    profiles: Mapping[str, Mapping[str, Any]],
    files: Mapping[str, str],
) -> tuple[list[Issue], dict[str, Any] | None]:
    """Every problem of the policy and of the profiles' overrides; the manifest form.

    ``profiles`` are the rendered payloads and ``files`` their templates. A profile
    overriding the rollout of an environment without a policy is a problem too: its
    override would silently do nothing.
    """
    raw = raw_policy(values)
    overrides = {name: p["rollout"] for name, p in profiles.items() if p.get("rollout")}
    issues: list[Issue] = []
    if raw is None:
        for name in sorted(overrides):
            file, line, pointer = _override_at(
                project, values, name, files[name], f"/profiles/{name}/rollout"
            )
            issues.append(
                Issue(
                    "rollout",
                    f"profile {name!r} overrides the rollout, but environment {values.env!r} "
                    "has no rollout policy (defaults.rollout)",
                    file,
                    line,
                    pointer,
                    "set defaults.rollout in the values, or drop the profile's rollout key",
                )
            )
        return issues, None
    for problem in policy_problems(raw, overrides, pointer=POINTER):
        if problem.pointer.startswith("/profiles/"):
            name = problem.pointer.split("/")[2]
            file, line, pointer = _override_at(project, values, name, files[name], problem.pointer)
            message = f"rollout of profile {name!r}: {problem.message}"
        else:
            pointer = problem.pointer
            file, line = locate(project, values.files, pointer)
            message = f"defaults.rollout: {problem.message}"
        issues.append(Issue("rollout", message, file, line, pointer, HINT))
    return issues, (None if issues else normalized_policy(raw))
