"""Render Jinja2 templates (strict undefined) into YAML documents, mapping errors to file:line."""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import msgspec
import yaml
from jinja2 import meta

from buildtime.bytecode import PackCache
from buildtime.envsubst import MISSING, EnvError, lookup
from buildtime.issues import Issue
from buildtime.project import Project
from buildtime.yamlload import load_yaml

__all__ = ["PROFILE_SUFFIX", "RenderError", "Renderer"]

PROFILE_SUFFIX = ".yaml.j2"
_PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _undefined_hook(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming the variable
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


_json = msgspec.json.Encoder(order="sorted", enc_hook=_undefined_hook)


class RenderError(Exception):
    """Rendering or parsing failed; ``issue`` says where and why."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _json_filter(value: Any) -> str:
    # JSON scalars and flow collections are valid YAML, so templates quote values with it.
    return _json.encode(value).decode()


@dataclass
class Renderer:
    """One Jinja environment per build: every template is compiled once and reused."""

    project: Project
    environ: Mapping[str, str]
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        self._root = str(self.project.templates.resolve())
        # Compiled templates keyed by source checksum: compiling is the slowest step.
        self.cache = None if self.cache_dir is None else PackCache(self.cache_dir, self._root)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self._root),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            cache_size=-1,  # 1,000+ profiles must not evict each other's compiled templates
            auto_reload=False,
            # The optimizer only folds constants (same output, same errors) and costs a third
            # of code generation, which a cold build pays for every template.
            optimized=False,
            bytecode_cache=self.cache,
        )
        self.env.filters["json"] = _json_filter
        self.env.globals["env"] = self._env_global

    def _env_global(self, name: str, type: str = "str", default: Any = MISSING) -> Any:
        return lookup(name, type, default, environ=self.environ)

    def profile_names(self) -> list[str]:
        """Profiles are ``profiles/*.yaml.j2`` not starting with ``_`` (partials, bases)."""
        directory = self.project.templates / self.project.profiles_dir
        names = []
        for path in sorted(directory.glob(f"*{PROFILE_SUFFIX}")):
            if not path.name.startswith("_"):
                names.append(path.name.removesuffix(PROFILE_SUFFIX))
        return names

    def profile_template(self, name: str) -> str:
        """Loader name of a profile's template."""
        return f"{self.project.profiles_dir}/{name}{PROFILE_SUFFIX}"

    def file_of(self, template: str) -> str:
        """Project-relative path of a template loader name."""
        return f"{self.project.templates_dir}/{template}"

    def _locate(self, exc: BaseException, fallback: str) -> tuple[str, int | None]:
        """The innermost template frame of the traceback: Jinja rewrites frames to file:line."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            filename = os.path.realpath(frame.filename)
            if filename.startswith(self._root + os.sep):
                rel = os.path.relpath(filename, self._root).replace(os.sep, "/")
                return self.file_of(rel), frame.lineno
        return self.file_of(fallback), None

    def render_text(self, template: str, context: Mapping[str, Any]) -> str:
        """Render ``template``; every failure becomes a ``RenderError`` naming file and line."""
        try:
            return self.env.get_template(template).render(context)
        except jinja2.TemplateSyntaxError as exc:
            name = exc.name or template
            raise RenderError(
                Issue(
                    "template-syntax",
                    exc.message or str(exc),
                    self.file_of(name),
                    exc.lineno,
                    hint="fix the Jinja2 syntax",
                )
            ) from None
        except jinja2.TemplateNotFound as exc:
            file, line = self._locate(exc, template)
            raise RenderError(
                Issue(
                    "template-not-found",
                    f"template {exc.name!r} not found",
                    file,
                    line,
                    hint=f"templates are loaded relative to {self.project.templates_dir}/",
                )
            ) from None
        except jinja2.UndefinedError as exc:
            file, line = self._locate(exc, template)
            raise RenderError(
                Issue(
                    "undefined",
                    f"{exc.message} (in {file})",
                    file,
                    line,
                    hint="define it in values (vars:) or guard it with `is defined` / default()",
                )
            ) from None
        except EnvError as exc:
            file, line = self._locate(exc, template)
            hint = (
                f"export {exc.variable} or give env() a default"
                if exc.code == "env-missing"
                else None
            )
            raise RenderError(
                Issue(exc.code, f"{exc} (requested by {file})", file, line, hint=hint)
            ) from None
        except Exception as exc:  # a template error of any kind must name the template
            file, line = self._locate(exc, template)
            raise RenderError(
                Issue("render-error", f"{type(exc).__name__}: {exc}", file, line)
            ) from None

    def render_document(self, template: str, context: Mapping[str, Any]) -> Any:
        """Render ``template`` and parse the output as YAML."""
        text = self.render_text(template, context)
        try:
            return load_yaml(text)
        except yaml.YAMLError as exc:
            raise RenderError(self._yaml_issue(template, text, exc)) from None

    def _yaml_issue(self, template: str, text: str, exc: yaml.YAMLError) -> Issue:
        """A YAML error in rendered output, traced back to the template line that wrote it."""
        lines = text.splitlines()
        problem = getattr(exc, "problem", None) or "invalid YAML"
        parts: list[str] = []
        file, line = self.file_of(template), None
        # The problem mark, then where the construct began (an unclosed `[` is reported at
        # the end of the document, but began on the line that needs fixing).
        for mark in (getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)):
            if mark is None or not 0 <= mark.line < len(lines) or not lines[mark.line].strip():
                continue
            rendered = lines[mark.line].strip()
            where = f"line {mark.line + 1} of the rendered output ({rendered!r})"
            origins = self._origins(template, rendered)
            if len(origins) == 1:
                file, line = origins[0]
                where += f", written by {file} line {line}"
            elif origins:
                where += ", written by one of " + ", ".join(f"{f}:{n}" for f, n in origins[:3])
            parts.append(where)
        where = "; ".join(parts) or "the rendered output"
        return Issue(
            "yaml-syntax",
            f"rendered output of {self.file_of(template)} is not valid YAML at {where} ({problem})",
            file,
            line,
            hint="check indentation around blocks and includes; quote values with | json",
        )

    def _origins(self, template: str, rendered: str) -> list[tuple[str, int]]:
        """Template lines (of ``template`` and everything it uses) that can render ``rendered``.

        A source line matches when its literal text equals the rendered line, with each
        ``{{ expression }}`` standing for any text and statements and comments removed.
        """
        found: list[tuple[str, int]] = []
        for ref in sorted(self.referenced(template)):
            try:
                source = self.env.loader.get_source(self.env, ref)[0]  # type: ignore[union-attr]
            except (jinja2.TemplateError, OSError):
                continue
            for number, src in enumerate(source.splitlines(), start=1):
                pattern = _line_pattern(src)
                if pattern is not None and pattern.fullmatch(rendered):
                    found.append((self.file_of(ref), number))
        return found

    def check_name(self, name: str) -> Issue | None:
        """An issue if ``name`` cannot be a profile name."""
        if _PROFILE_NAME.match(name):
            return None
        return Issue(
            "profile-name",
            f"invalid profile name {name!r}",
            self.file_of(self.profile_template(name)),
            hint="use lowercase letters, digits and '-', at most 63 characters",
        )

    def referenced(self, template: str) -> set[str]:
        """Every template ``template`` extends, includes or imports, transitively."""
        seen: set[str] = set()
        todo = [template]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            try:
                source = self.env.loader.get_source(self.env, current)[0]  # type: ignore[union-attr]
                found = meta.find_referenced_templates(self.env.parse(source))
            except (jinja2.TemplateError, OSError):
                continue
            todo.extend(ref for ref in found if ref is not None)
        return seen

    def template_paths(self, template: str) -> list[Path]:
        """Files feeding ``template`` (itself and everything it references)."""
        return sorted(self.project.templates / ref for ref in self.referenced(template))


_JINJA_TAG = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})")


def _line_pattern(source_line: str) -> re.Pattern[str] | None:
    """A regex for what one template line renders to; ``None`` if it writes no literal text."""
    pieces = _JINJA_TAG.split(source_line.strip())
    literal = "".join(p for i, p in enumerate(pieces) if i % 2 == 0)
    if not literal.strip():
        return None
    out = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            out.append(re.escape(piece))
        elif piece.startswith("{{"):
            out.append(".*?")
    return re.compile("".join(out).strip())
