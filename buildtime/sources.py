"""Where a bundle comes from: a bundle directory, the work tree, or a git ref built on the fly."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from buildtime.build import Builder
from buildtime.gitmeta import GitError, export_ref, metadata, ref_metadata, resolve_ref
from buildtime.project import CONFIG_FILE, Project
from service.bundle import MANIFEST, Bundle, load_bundle

__all__ = ["Resolved", "build_ref", "build_worktree", "resolve_source"]


@dataclass(frozen=True)
class Resolved:
    """A bundle and a human label for where it came from."""

    bundle: Bundle
    label: str


def build_worktree(project: Project, env: str, environ: Mapping[str, str]) -> Bundle:
    """Build ``env`` from the files on disk, in memory."""
    git = metadata(project.root, project.input_paths(), environ)
    return Builder(project, environ).assemble(env, git)


def build_ref(project: Project, ref: str, env: str, environ: Mapping[str, str]) -> Bundle:
    """Build ``env`` from the inputs as committed at ``ref`` (with today's build code).

    Raises ``BuildFailed`` if that commit's inputs do not validate, ``GitError`` for a bad ref.
    """
    with tempfile.TemporaryDirectory(prefix="registry-build-") as tmp:
        src = Path(tmp)
        paths = (CONFIG_FILE, *project.input_paths())
        sha = export_ref(project.root, ref, paths, src)
        (src / project.templates_dir).mkdir(parents=True, exist_ok=True)
        sub = Project.load(src)
        return Builder(sub, environ).assemble(env, ref_metadata(project.root, ref, sha))


def resolve_source(project: Project, source: str, env: str, environ: Mapping[str, str]) -> Resolved:
    """``source`` is a bundle directory, ``.`` (the work tree), a git ref, or an environment.

    An environment name (``prod``) that is not also a git ref means the work tree built for
    that environment, so ``diff prod .`` works in a fresh clone with no ``prod`` branch.
    A git ref of the same name wins: that is the deployed branch of the branch mapping.
    """
    path = Path(source)
    if (path / MANIFEST).is_file():
        return Resolved(load_bundle(path), f"bundle {source}")
    if source == ".":
        return Resolved(build_worktree(project, env, environ), f"work tree ({env})")
    try:
        resolve_ref(project.root, source)
    except GitError:
        if source in project.environments:
            return Resolved(build_worktree(project, source, environ), f"work tree ({source})")
        envs = ", ".join(project.environments)
        raise GitError(
            f"{source!r} is not a bundle directory (no {MANIFEST}), '.', an environment "
            f"({envs}) or a git ref (branch, tag or commit)"
        ) from None
    return Resolved(build_ref(project, source, env, environ), f"{source} ({env})")
