"""The project layout and ``templates/buildtime.toml``: environments, paths, branch mapping."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CONFIG_FILE", "BranchRule", "Project", "ProjectError"]

CONFIG_FILE = "templates/buildtime.toml"
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class ProjectError(Exception):
    """The project configuration is missing or malformed."""


@dataclass(frozen=True)
class BranchRule:
    """``--env auto``: a branch matching ``pattern`` (fnmatch) builds ``env``."""

    pattern: str
    env: str


@dataclass(frozen=True)
class Project:
    """Where the inputs live, relative to ``root`` (the repository root)."""

    root: Path
    environments: tuple[str, ...] = ("dev", "staging", "prod")
    default_env: str = "dev"
    templates_dir: str = "templates"
    schemas_dir: str = "schemas"
    profiles_dir: str = "profiles"  # inside templates_dir
    values_dir: str = "values"  # inside templates_dir
    catalog_template: str = "catalog.yaml.j2"  # inside templates_dir
    branches: tuple[BranchRule, ...] = ()

    @property
    def templates(self) -> Path:
        """Absolute templates directory."""
        return self.root / self.templates_dir

    @property
    def schemas(self) -> Path:
        """Absolute schemas directory."""
        return self.root / self.schemas_dir

    @property
    def values(self) -> Path:
        """Absolute values directory."""
        return self.templates / self.values_dir

    def rel(self, path: Path | str) -> str:
        """``path`` relative to the project root, for error messages."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def input_paths(self) -> tuple[str, ...]:
        """Root-relative paths whose content feeds a bundle (for dirty checks and history)."""
        return (self.templates_dir, self.schemas_dir)

    def env_for_branch(self, branch: str | None) -> str:
        """Map a git branch to an environment with the first matching rule."""
        for rule in self.branches:
            if branch is not None and fnmatch.fnmatchcase(branch, rule.pattern):
                return rule.env
        raise ProjectError(
            f"no [[branches]] rule in {CONFIG_FILE} matches branch {branch!r}; "
            'add one (a final pattern = "*" catches all) or pass --env'
        )

    def branch_for_env(self, env: str) -> str | None:
        """The first literal (non-glob) branch mapped to ``env``, if any."""
        for rule in self.branches:
            if rule.env == env and not any(ch in rule.pattern for ch in "*?["):
                return rule.pattern
        return None

    def check_env(self, env: str) -> str:
        """Return ``env`` if it is declared, else raise naming the known ones."""
        if env not in self.environments:
            known = ", ".join(self.environments)
            raise ProjectError(f"unknown environment {env!r} (declared in {CONFIG_FILE}: {known})")
        return env

    @classmethod
    def load(cls, root: Path) -> Project:
        """Read ``templates/buildtime.toml`` under ``root`` (defaults apply if it is absent)."""
        root = root.resolve()
        path = root / CONFIG_FILE
        if not path.is_file():
            if not (root / "templates").is_dir():
                raise ProjectError(f"{root} has no templates/ directory (use --root)")
            return cls(root=root)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError(f"{CONFIG_FILE}: {exc}") from exc
        envs = tuple(data.get("environments", cls.environments))
        bad = [e for e in envs if not isinstance(e, str) or not _ENV_NAME.match(e)]
        if bad or not envs:
            raise ProjectError(f"{CONFIG_FILE}: invalid environments {bad or envs!r}")
        paths = data.get("paths", {})
        rules = []
        for i, rule in enumerate(data.get("branches", [])):
            if not isinstance(rule, dict) or rule.get("env") not in envs or "pattern" not in rule:
                raise ProjectError(
                    f"{CONFIG_FILE}: branches[{i}] needs a pattern and an env among {envs}"
                )
            rules.append(BranchRule(pattern=str(rule["pattern"]), env=str(rule["env"])))
        default_env = str(data.get("default_env", envs[0]))
        if default_env not in envs:
            raise ProjectError(f"{CONFIG_FILE}: default_env {default_env!r} is not in {envs}")
        return cls(
            root=root,
            environments=envs,
            default_env=default_env,
            templates_dir=str(paths.get("templates", cls.templates_dir)),
            schemas_dir=str(paths.get("schemas", cls.schemas_dir)),
            branches=tuple(rules),
        )
