"""The build pipeline: values -> render -> schema validation -> dependency checks -> bundle."""

from __future__ import annotations

import gc
import os
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from buildtime.depcheck import Checker
from buildtime.issues import Issue, Issues
from buildtime.project import Project
from buildtime.render import Renderer, RenderError
from buildtime.rollout import check_rollout, normalized_override
from buildtime.schemas import SchemaSet
from buildtime.values import Values, load_values, locate
from service.bundle import DEFAULT_THRESHOLDS, Bundle, Thresholds, assemble_bundle, save_bundle
from service.domain.thresholds import RULE, threshold_problems

__all__ = ["BuildFailed", "Builder", "EnvBuild", "Rendered", "gc_paused"]

# (payload or None, issues) of one profile in one environment.
Rendered = tuple[dict[str, Any] | None, list[Issue]]


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
    rollout: dict[str, Any] | None = None  # the manifest's defaults.rollout; None: no policy
    files: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


@dataclass(frozen=True)
class EnvPlan:
    """What to render for one environment whose values loaded cleanly."""

    env: str
    context: dict[str, Any]
    overrides: dict[str, dict[str, Any]]
    defaults: Thresholds
    names: tuple[str, ...]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Suspend the cyclic garbage collector while a build allocates.

    A large build allocates millions of container objects (template ASTs, payloads) that
    either die young, freed by reference counting, or live until the build ends; it creates
    almost no reference cycles. Each collection pass walks ever more live objects and frees
    next to nothing, which cost 10-25% of a 1,000-profile build. Pauses nest (the collector
    resumes when the outermost ends), work as decorators, and forked workers inherit them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _floats(thresholds: Mapping[str, Any]) -> dict[str, float]:
    # YAML gives 5 or 5.0 depending on how it was written; one JSON form keeps hashes stable.
    return {key: float(value) for key, value in thresholds.items()}


class Builder:
    """Builds one project; schemas and compiled templates are shared across environments.

    ``cache_dir`` keeps compiled templates between runs (keyed by template source), and
    ``jobs`` > 1 renders profiles in that many processes, this one and ``jobs - 1`` forked
    workers (default: CPUs, for large projects only).
    """

    def __init__(
        self,
        project: Project,
        environ: Mapping[str, str] | None = None,
        *,
        cache_dir: Path | None = None,
        jobs: int | None = None,
    ) -> None:
        self.project = project
        self.environ = dict(os.environ if environ is None else environ)
        self.schemas, self.schema_issues = SchemaSet.load(project.schemas, rel=project.schemas_dir)
        self.renderer = Renderer(project, self.environ, cache_dir=cache_dir)
        self.jobs = jobs

    def build_env(self, env: str) -> EnvBuild:
        """Render and validate every profile and the catalog of ``env``; never raises."""
        return self.build_envs([env])[env]

    @gc_paused()
    def build_envs(self, envs: Sequence[str]) -> dict[str, EnvBuild]:
        """Build several environments; profiles of all of them render in one pass."""
        from buildtime.workers import render_all  # a cycle otherwise: workers use Builder

        results: dict[str, EnvBuild] = {}
        plans: list[EnvPlan] = []
        loaded: dict[str, Values] = {}
        names = self.renderer.profile_names()
        for env in envs:
            result = results[env] = EnvBuild(env=env, issues=list(self.schema_issues))
            values, value_issues = load_values(self.project, env, self.schemas, self.environ)
            result.issues += value_issues
            if value_issues:
                # Rendering with broken values would only repeat the same problem per profile.
                continue
            defaults, threshold_issues = self._defaults(values)
            if defaults is None:
                # Every profile inherits the defaults: one report here, not one per profile.
                result.issues += threshold_issues
                continue
            result.defaults = defaults
            loaded[env] = values
            for name in sorted(values.excluded - set(names)):
                result.issues.append(
                    Issue(
                        "values-exclude",
                        f"exclude_profiles names unknown profile {name!r}",
                        values.files[-1],
                        pointer="/exclude_profiles",
                    )
                )
            wanted = tuple(n for n in names if n not in values.excluded)
            plans.append(
                EnvPlan(
                    env,
                    {**values.vars, "environment": env},
                    {n: values.overrides(n) for n in wanted},
                    result.defaults,
                    wanted,
                )
            )

        checkers: dict[str, Checker] = {}  # per environment whose catalog is valid

        def catalogs() -> None:  # runs in this process while workers render profiles
            for plan in plans:
                result = results[plan.env]
                self._render_catalog(result, plan.context)
                if result.catalog:
                    checkers[plan.env] = Checker(result.catalog, self._catalog_file)

        def check(batch: Iterable[tuple[str, str, Rendered]]) -> None:
            # Cross-file checks of profiles as they arrive, rather than all after rendering.
            for env, name, (payload, _) in batch:
                if payload is not None and env in checkers:
                    checkers[env].add(name, payload, self._profile_file(name))

        rendered = render_all(self, plans, catalogs, check, jobs=self.jobs)
        for plan in plans:
            result = results[plan.env]
            for name in plan.names:
                payload, issues = rendered[(plan.env, name)]
                result.issues += issues
                if payload is not None:
                    result.profiles[name] = payload
                    result.files[name] = self._profile_file(name)
            if plan.env in checkers:
                result.issues += checkers[plan.env].finish()
            # After rendering: the overrides to cross-check are in the rendered payloads.
            rollout_issues, result.rollout = check_rollout(
                self.project, loaded[plan.env], result.profiles, result.files
            )
            result.issues += rollout_issues
        if self.renderer.cache is not None:
            self.renderer.cache.save()
        return results

    def _defaults(self, values: Values) -> tuple[Thresholds | None, list[Issue]]:
        """``defaults.thresholds`` of the values, or an issue per broken part of the rule."""
        merged = Thresholds.merged(values.data.get("defaults", {}).get("thresholds", {}))
        issues = []
        for problem in threshold_problems(merged):
            pointer = f"/defaults/thresholds/{problem.fields[0]}"
            file, line = locate(self.project, values.files, pointer)
            issues.append(
                Issue(
                    "thresholds",
                    f"defaults.thresholds: {problem.message}",
                    file,
                    line,
                    pointer,
                    "the rule is " + RULE.format_map({f: f for f in merged}),
                )
            )
        return (None, issues) if issues else (Thresholds(**merged), [])

    @property
    def _catalog_file(self) -> str:
        return self.renderer.file_of(self.project.catalog_template)

    def _profile_file(self, name: str) -> str:
        return self.renderer.file_of(self.renderer.profile_template(name))

    def _render_catalog(self, result: EnvBuild, context: Mapping[str, Any]) -> None:
        try:
            catalog = self.renderer.render_document(self.project.catalog_template, context)
        except RenderError as exc:
            result.issues.append(exc.issue)
            return
        issues = self.schemas.issues("catalog", catalog, self._catalog_file, code="catalog-schema")
        result.issues += issues
        if not issues:
            result.catalog = catalog

    def render_profile(self, plan: EnvPlan, name: str) -> Rendered:
        """Render, complete and validate one profile payload."""
        template = self.renderer.profile_template(name)
        file = self.renderer.file_of(template)
        if (bad := self.renderer.check_name(name)) is not None:
            return None, [bad]
        context = {**plan.context, "profile_name": name, "overrides": plan.overrides[name]}
        try:
            payload = self.renderer.render_document(template, context)
        except RenderError as exc:
            return None, [exc.issue]
        if isinstance(payload, dict):
            own = payload.get("thresholds") or {}
            if isinstance(own, dict):
                payload["thresholds"] = {**plan.defaults.to_dict(), **own}
        issues = self.schemas.issues("profile", payload, file)
        if not issues and payload["profile"] != name:
            issues.append(
                Issue(
                    "profile-name",
                    f"payload names profile {payload['profile']!r}, the file is {name!r}",
                    file,
                    pointer="/profile",
                    hint="a profile is named after its template file",
                )
            )
        if issues:
            return None, issues
        payload["thresholds"] = _floats(payload["thresholds"])
        if "rollout" in payload:
            payload["rollout"] = normalized_override(payload["rollout"])
        return payload, []

    def validate(self, envs: Iterable[str]) -> tuple[Issues, dict[str, EnvBuild]]:
        """Build every env in memory; all issues, merged across envs."""
        issues = Issues()
        builds = self.build_envs(list(envs))
        for env, build in builds.items():
            issues.extend(Issue(**{**i.to_dict(), "envs": (env,)}) for i in build.issues)
        return issues, builds

    @gc_paused()
    def assemble(
        self,
        env: str,
        git: Mapping[str, Any],
        *,
        stamp: bool = False,
        build: EnvBuild | None = None,
    ) -> Bundle:
        """Validate ``env`` and assemble its bundle in memory; raises ``BuildFailed``."""
        build = build or self.build_env(env)
        issues = Issues()
        issues.extend(Issue(**{**i.to_dict(), "envs": (env,)}) for i in build.issues)
        if issues:
            raise BuildFailed(issues)
        build_info = None
        if stamp:
            build_info = {
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
                "host": socket.gethostname(),
            }
        bundle = assemble_bundle(
            profiles=build.profiles,
            catalog=build.catalog,
            environment=env,
            git=git,
            schema_versions=self.schemas.versions,
            defaults=build.defaults,
            rollout=build.rollout,
            build_info=build_info,
        )
        issues.extend(self.schemas.issues("manifest", bundle.manifest, "manifest.json"))
        if issues:
            raise BuildFailed(issues)
        return bundle

    @gc_paused()
    def write(
        self,
        env: str,
        out: Path,
        git: Mapping[str, Any],
        *,
        stamp: bool = False,
        build: EnvBuild | None = None,
    ) -> Bundle:
        """Validate ``env`` and write its bundle to ``out``; raises ``BuildFailed``."""
        return save_bundle(self.assemble(env, git, stamp=stamp, build=build), out)
