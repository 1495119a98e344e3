"""Git metadata for the manifest, and reading the inputs as they were at any commit."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Commit", "GitError", "export_ref", "git", "is_repo", "log", "metadata", "resolve_ref"]

# Honoured when .git is absent (container builds): CI passes these as build args.
ENV_OVERRIDES = {
    "commit": "REGISTRY_GIT_COMMIT",
    "tag": "REGISTRY_GIT_TAG",
    "branch": "REGISTRY_GIT_BRANCH",
    "dirty": "REGISTRY_GIT_DIRTY",
}
# Detached checkouts in CI know the branch only through these.
_CI_BRANCH_VARS = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME")


class GitError(Exception):
    """A git command failed."""


@dataclass(frozen=True)
class Commit:
    """One commit of ``git log``."""

    sha: str
    date: str
    author: str
    subject: str


def git(root: Path, *args: str, binary: bool = False) -> Any:
    """Run ``git -C root args`` and return stdout (``bytes`` if ``binary``)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise GitError(f"git {' '.join(args)}: {message}")
    return done.stdout if binary else done.stdout.decode().strip()


def is_repo(root: Path) -> bool:
    """True if ``root`` is inside a git work tree."""
    try:
        return bool(git(root, "rev-parse", "--is-inside-work-tree") == "true")
    except GitError:
        return False


def resolve_ref(root: Path, ref: str) -> str:
    """The full commit sha of ``ref``."""
    return str(git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"))


def _tag_of(root: Path, rev: str) -> str | None:
    try:
        return str(git(root, "describe", "--tags", "--exact-match", rev)) or None
    except GitError:
        return None


def _branch(root: Path, environ: Mapping[str, str]) -> str | None:
    try:
        name = str(git(root, "rev-parse", "--abbrev-ref", "HEAD"))
    except GitError:
        name = "HEAD"
    if name != "HEAD":
        return name
    return next((environ[v] for v in _CI_BRANCH_VARS if environ.get(v)), None)


def _overrides(info: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for key, var in ENV_OVERRIDES.items():
        value = environ.get(var)
        if value:
            info[key] = value.lower() in ("1", "true", "yes") if key == "dirty" else value
    return info


def metadata(
    root: Path, inputs: Sequence[str], environ: Mapping[str, str] = os.environ
) -> dict[str, Any]:
    """Commit, tag, branch and dirty flag of the work tree.

    ``dirty`` means the bundle inputs (``inputs``, e.g. templates/ and schemas/) differ from
    the commit; edits elsewhere in the repository cannot change the bundle.
    """
    info: dict[str, Any] = {"commit": None, "tag": None, "branch": None, "dirty": None}
    if is_repo(root):
        try:
            info["commit"] = str(git(root, "rev-parse", "HEAD"))
        except GitError:  # a repository with no commit yet
            return _overrides(info, environ)
        info["tag"] = _tag_of(root, "HEAD")
        info["branch"] = _branch(root, environ)
        status = git(root, "status", "--porcelain", "--untracked-files=all", "--", *inputs)
        info["dirty"] = bool(status)
    return _overrides(info, environ)


def ref_metadata(root: Path, ref: str, sha: str) -> dict[str, Any]:
    """Metadata for a build of a committed ref (never dirty)."""
    try:
        git(root, "show-ref", "--verify", "--quiet", f"refs/heads/{ref}")
        branch: str | None = ref
    except GitError:
        branch = None
    return {"commit": sha, "tag": _tag_of(root, sha), "branch": branch, "dirty": False}


def export_ref(root: Path, ref: str, paths: Sequence[str], dest: Path) -> str:
    """Extract ``paths`` as of ``ref`` into ``dest``; returns the commit sha."""
    sha = resolve_ref(root, ref)
    present = []
    for path in paths:
        try:
            git(root, "cat-file", "-e", f"{sha}:{path}")
            present.append(path)
        except GitError:
            continue
    dest.mkdir(parents=True, exist_ok=True)
    if present:
        data = git(root, "archive", "--format=tar", sha, "--", *present, binary=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(dest, filter="data")
    return sha


def log(root: Path, paths: Sequence[str], *, limit: int) -> list[Commit]:
    """Commits touching ``paths``, newest first."""
    out = git(root, "log", f"--max-count={limit}", "--format=%H%x1f%aI%x1f%an%x1f%s", "--", *paths)
    commits = []
    for line in str(out).splitlines():
        sha, date, author, subject = line.split("\x1f", 3)
        commits.append(Commit(sha=sha, date=date, author=author, subject=subject))
    return commits
