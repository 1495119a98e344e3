"""``registry-build promote``: rebuild the commit an environment runs for the next one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from buildtime.gitmeta import GitError, git, resolve_ref
from buildtime.project import Project
from buildtime.sources import build_ref, resolve_source
from service.bundle import Bundle
from service.bundle_diff import BundleDiff, diff_bundles

__all__ = ["Promotion", "promote", "source_ref"]


@dataclass(frozen=True)
class Promotion:
    """The rebuilt target bundle and its diff against what the target runs now."""

    commit: str
    ref: str
    bundle: Bundle
    current_label: str | None
    diff: BundleDiff | None


def _branch_exists(project: Project, branch: str) -> bool:
    try:
        git(project.root, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}")
    except GitError:
        return False
    return True


def source_ref(project: Project, env: str, ref: str | None) -> str:
    """``ref`` if given, else the branch mapped to ``env`` if it exists, else ``HEAD``."""
    if ref:
        return ref
    branch = project.branch_for_env(env)
    return branch if branch and _branch_exists(project, branch) else "HEAD"


def promote(
    project: Project,
    from_env: str,
    to_env: str,
    environ: Mapping[str, str],
    *,
    ref: str | None = None,
    current: str | None = None,
) -> Promotion:
    """Validate the source commit for both envs, then diff against the target's current bundle.

    Raises ``BuildFailed`` listing every error if either build does not validate.
    """
    ref = source_ref(project, from_env, ref)
    sha = resolve_ref(project.root, ref)
    build_ref(project, sha, from_env, environ)  # what is promoted must be valid where it ran
    bundle = build_ref(project, sha, to_env, environ)
    if current is None:
        branch = project.branch_for_env(to_env)
        current = branch if branch and _branch_exists(project, branch) else None
    if current is None:
        return Promotion(sha, ref, bundle, None, None)
    resolved = resolve_source(project, current, to_env, environ)
    return Promotion(sha, ref, bundle, resolved.label, diff_bundles(resolved.bundle, bundle))
