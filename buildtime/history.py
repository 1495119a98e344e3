"""``registry-build history``: the commits that changed a profile's inputs, with the bundle
version each produced. Each commit is rebuilt from its own inputs with today's build code."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from buildtime.build import Builder, BuildFailed
from buildtime.gitmeta import log
from buildtime.project import CONFIG_FILE, Project
from buildtime.sources import build_ref

__all__ = ["Entry", "format_history", "history", "input_paths"]


@dataclass(frozen=True)
class Entry:
    """One commit of the audit trail."""

    commit: str
    date: str
    author: str
    subject: str
    version: str | None  # None when the commit's inputs do not validate
    profile_digest: str | None  # sha256 of the profile's payload, when a profile is given
    errors: int


def input_paths(project: Project, profile: str | None) -> list[str]:
    """Root-relative paths that feed ``profile`` (or every profile)."""
    if profile is None:
        return [CONFIG_FILE, *project.input_paths()]
    renderer = Builder(project, {}).renderer
    templates = [
        project.rel(p) for p in renderer.template_paths(renderer.profile_template(profile))
    ]
    return sorted(
        {
            CONFIG_FILE,
            project.schemas_dir,
            project.rel(project.values),
            project.rel(project.templates / project.catalog_template),
            *templates,
        }
    )


def history(
    project: Project, profile: str | None, env: str, environ: Mapping[str, str], *, limit: int = 20
) -> list[Entry]:
    """Newest first. A commit that does not build is listed with its error count."""
    entries = []
    for commit in log(project.root, input_paths(project, profile), limit=limit):
        version = digest = None
        errors = 0
        try:
            bundle = build_ref(project, commit.sha, env, environ)
            version = bundle.version
            if profile is not None:
                digest = bundle.manifest["files"].get(f"profiles/{profile}.json")
        except BuildFailed as exc:
            errors = len(exc.issues)
        entries.append(
            Entry(commit.sha, commit.date, commit.author, commit.subject, version, digest, errors)
        )
    return entries


def format_history(entries: list[Entry], profile: str | None, fmt: str = "text") -> str:
    """A table (text) or a JSON list."""
    if fmt == "json":
        return json.dumps([asdict(e) for e in entries], indent=2)
    lines = []
    for i, entry in enumerate(entries):
        version = entry.version[7:19] if entry.version else f"invalid ({entry.errors} errors)"
        marker = ""
        if profile is not None and entry.version:
            older = entries[i + 1].profile_digest if i + 1 < len(entries) else None
            if entry.profile_digest is None:
                marker = " (profile absent)"
            elif entry.profile_digest != older:
                marker = " (payload changed)"
        lines.append(
            f"{entry.commit[:10]}  {entry.date[:19]}  {version:<12}{marker}  "
            f"{entry.author}: {entry.subject}"
        )
    return "\n".join(lines) if lines else "no commits touch these inputs"
