"""The build pipeline: values -> render -> schema validation -> dependency checks -> bundle."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from buildtime.depcheck import check_all
from buildtime.issues import Issue, Issues
from buildtime.project import Project
from buildtime.render import Renderer, RenderError
from buildtime.schemas import SchemaSet
from buildtime.values import load_values
from service.bundle import DEFAULT_THRESHOLDS, Bundle, Thresholds, write_bundle

__all__ = ["BuildFailed", "Builder", "EnvBuild"]


class BuildFailed(Exception):
    """Validation failed; ``issues`` lists every error."""

    def __init__(self, issues: Issues) -> None:
        super().__init__(f"{len(issues)} validation error(s)")
        self.issues = issues


@dataclass
class EnvBuild:
    """The rendered, validated documents of one environment."""

    env: str
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    catalog: dict[str, Any] = field(default_factory=dict)
    defaults: Thresholds = DEFAULT_THRESHOLDS
    files: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


def _floats(thresholds: Mapping[str, Any]) -> dict[str, float]:
    # YAML gives 5 or 5.0 depending on how it was written; one JSON form keeps hashes stable.
    return {key: float(value) for key, value in thresholds.items()}


class Builder:
    """Builds one project; schemas and compiled templates are shared across environments."""

    def __init__(self, project: Project, environ: Mapping[str, str] | None = None) -> None:
        self.project = project
        self.environ = dict(os.environ if environ is None else environ)
        self.schemas, self.schema_issues = SchemaSet.load(project.schemas, rel=project.schemas_dir)
        self.renderer = Renderer(project, self.environ)

    def build_env(self, env: str) -> EnvBuild:
        """Render and validate every profile and the catalog of ``env``; never raises."""
        result = EnvBuild(env=env, issues=list(self.schema_issues))
        values, value_issues = load_values(self.project, env, self.schemas, self.environ)
        result.issues += value_issues
        if value_issues:
            # Rendering with broken values would only repeat the same problem per profile.
            return result
        defaults_data = values.data.get("defaults", {}).get("thresholds", {})
        result.defaults = Thresholds.from_dict(defaults_data)
        base = {**values.vars, "environment": env}

        catalog_ok = self._render_catalog(result, base)
        names = self.renderer.profile_names()
        for name in sorted(values.excluded - set(names)):
            result.issues.append(Issue("values-exclude", f"exclude_profiles names unknown profile {name!r}",
                                       values.files[-1], pointer="/exclude_profiles"))
        for name in names:
            if name not in values.excluded:
                self._render_profile(result, name, {**base, "profile_name": name,
                                                    "overrides": values.overrides(name)})
        if catalog_ok:
            result.issues += check_all(result.catalog, self._catalog_file, result.profiles, result.files)
        return result

    @property
    def _catalog_file(self) -> str:
        return self.renderer.file_of(self.project.catalog_template)

    def _render_catalog(self, result: EnvBuild, context: Mapping[str, Any]) -> bool:
        try:
            catalog = self.renderer.render_document(self.project.catalog_template, context)
        except RenderError as exc:
            result.issues.append(exc.issue)
            return False
        issues = self.schemas.issues("catalog", catalog, self._catalog_file, code="catalog-schema")
        result.issues += issues
        if not issues:
            result.catalog = catalog
        return not issues

    def _render_profile(self, result: EnvBuild, name: str, context: Mapping[str, Any]) -> None:
        template = self.renderer.profile_template(name)
        file = self.renderer.file_of(template)
        if (bad := self.renderer.check_name(name)) is not None:
            result.issues.append(bad)
            return
        try:
            payload = self.renderer.render_document(template, context)
        except RenderError as exc:
            result.issues.append(exc.issue)
            return
        if isinstance(payload, dict):
            own = payload.get("thresholds") or {}
            if isinstance(own, dict):
                payload["thresholds"] = {**result.defaults.to_dict(), **own}
        issues = self.schemas.issues("profile", payload, file)
        if not issues and payload["profile"] != name:
            issues.append(Issue("profile-name", f"payload names profile {payload['profile']!r}, "
                                f"the file is {name!r}", file, pointer="/profile",
                                hint="a profile is named after its template file"))
        result.issues += issues
        if not issues:
            payload["thresholds"] = _floats(payload["thresholds"])
            result.profiles[name] = payload
            result.files[name] = file

    def validate(self, envs: Iterable[str]) -> tuple[Issues, dict[str, EnvBuild]]:
        """Build every env in memory; all issues, merged across envs."""
        issues = Issues()
        builds: dict[str, EnvBuild] = {}
        for env in envs:
            builds[env] = build = self.build_env(env)
            issues.extend(Issue(**{**i.to_dict(), "envs": (env,)}) for i in build.issues)
        return issues, builds

    def write(
        self, env: str, out: Path, git: Mapping[str, Any], *, stamp: bool = False,
        build: EnvBuild | None = None,
    ) -> Bundle:
        """Validate ``env`` and write its bundle to ``out``; raises ``BuildFailed``."""
        build = build or self.build_env(env)
        if build.issues:
            issues = Issues()
            issues.extend(Issue(**{**i.to_dict(), "envs": (env,)}) for i in build.issues)
            raise BuildFailed(issues)
        build_info = None
        if stamp:
            build_info = {"time": datetime.now(UTC).isoformat(timespec="seconds"),
                          "host": socket.gethostname()}
        bundle = write_bundle(
            out, profiles=build.profiles, catalog=build.catalog, environment=env, git=git,
            schema_versions=self.schemas.versions, defaults=build.defaults, build_info=build_info,
        )
        manifest_issues = self.schemas.issues("manifest", bundle.manifest, f"{out}/manifest.json")
        if manifest_issues:
            issues = Issues()
            issues.extend(manifest_issues)
            raise BuildFailed(issues)
        return bundle
