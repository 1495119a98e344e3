"""The JSON Schemas in ``schemas/``: loaded, checked and compiled once per build."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from buildtime.fastschema import Check, Unsupported, compile_schema
from buildtime.issues import Issue

__all__ = ["REQUIRED", "SchemaSet", "pointer_of"]

# Every schema the build validates against; the manifest records each one's version. A schema
# another one refers to ($ref) is required too (rollout, for one): only when referenced, so a
# commit from before it existed still builds with today's code (diff, promote, history).
REQUIRED = ("profile", "values", "catalog", "thresholds", "manifest")
SUFFIX = ".schema.json"


def pointer_of(path: Any) -> str:
    """JSON pointer for a jsonschema error path (a deque of keys and indexes)."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _file_refs(node: Any) -> Iterator[str]:
    """The schemas ``node`` refers to in other files (``x.schema.json#/$defs/y`` -> ``x``)."""
    children: Any = ()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            target = ref.split("#", 1)[0].rsplit("/", 1)[-1]
            if target.endswith(SUFFIX):
                yield target.removesuffix(SUFFIX)
        children = node.values()
    elif isinstance(node, list):
        children = node
    for child in children:
        yield from _file_refs(child)


def _shorten(message: str, limit: int = 240) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _extra_keys(error: ValidationError) -> list[str]:
    """The keys an ``additionalProperties: false`` error is about."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return sorted(
        str(k)
        for k in error.instance
        if k not in known and not any(p.search(str(k)) for p in patterns)
    )


def _hint(error: ValidationError) -> str:
    """A short fix suggestion derived from the failing keyword."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(schema.get("properties", {})))
        return f"remove the key or rename it; allowed keys here: {allowed}"
    if error.validator == "required":
        return "add the missing key (see the schema for its type)"
    if error.validator in ("type", "enum", "const"):
        return f"expected {error.validator} {error.validator_value!r}"
    if error.validator == "pattern":
        return f"the value must match {error.validator_value}"
    if description := schema.get("description"):
        return str(description)
    return f"violates '{error.validator}' in the schema"


@dataclass(frozen=True)
class SchemaSet:
    """Compiled validators keyed by schema name (``profile``, ``catalog``, ...)."""

    validators: dict[str, Draft202012Validator]
    versions: dict[str, str]
    files: dict[str, str]
    fast: dict[str, Check]

    @classmethod
    def load(cls, directory: Path, *, rel: str = "schemas") -> tuple[SchemaSet, list[Issue]]:
        """Load every ``*.schema.json``; problems come back as issues, never exceptions."""
        issues: list[Issue] = []
        documents: dict[str, dict[str, Any]] = {}
        files: dict[str, str] = {}
        for path in sorted(directory.glob(f"*{SUFFIX}")):
            name = path.name.removesuffix(SUFFIX)
            files[name] = f"{rel}/{path.name}"
            try:
                documents[name] = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                issues.append(
                    Issue("schema-invalid", f"not valid JSON: {exc.msg}", files[name], exc.lineno)
                )
        refs = {name: set(_file_refs(doc)) for name, doc in documents.items()}
        needed: dict[str, str | None] = dict.fromkeys(REQUIRED)
        for name in sorted(refs):
            for ref in sorted(refs[name]):
                needed.setdefault(ref, files[name])
        for name, referrer in needed.items():
            if name not in files:
                issues.append(
                    Issue(
                        "schema-missing",
                        f"schema {name}{SUFFIX} is missing"
                        + (f" (referenced by {referrer})" if referrer else ""),
                        f"{rel}/{name}{SUFFIX}",
                        hint="every config file is validated; restore the schema from git",
                    )
                )
        registry: Registry[Any] = Registry().with_resources(
            (doc.get("$id", name), Resource.from_contents(doc, default_specification=DRAFT202012))
            for name, doc in documents.items()
        )
        validators: dict[str, Draft202012Validator] = {}
        versions: dict[str, str] = {}
        for name, doc in documents.items():
            if not refs[name] <= documents.keys():
                continue  # its $refs would not resolve while validating; reported above
            try:
                Draft202012Validator.check_schema(doc)
            except SchemaError as exc:
                issues.append(
                    Issue("schema-invalid", exc.message, files[name], pointer=pointer_of(exc.path))
                )
                continue
            if "$id" not in doc or "x-schema-version" not in doc:
                issues.append(
                    Issue(
                        "schema-invalid",
                        "schema needs $id and x-schema-version",
                        files[name],
                        hint='add "x-schema-version": "1" and bump it on incompatible changes',
                    )
                )
            versions[name] = str(doc.get("x-schema-version", "0"))
            validators[name] = Draft202012Validator(doc, registry=registry)
        fast: dict[str, Check] = {}
        for name in validators:
            try:
                fast[name] = compile_schema(documents[name], registry)
            except (Unsupported, LookupError, KeyError):
                continue  # jsonschema alone validates this schema
        return cls(validators=validators, versions=versions, files=files, fast=fast), issues

    def errors(self, name: str, instance: Any) -> Iterator[ValidationError]:
        """All errors of ``instance`` against schema ``name`` (none if the schema is absent)."""
        validator = self.validators.get(name)
        if validator is None:
            return iter(())
        return validator.iter_errors(instance)

    def issues(self, name: str, instance: Any, file: str, *, code: str = "schema") -> list[Issue]:
        """Validate ``instance`` and return one issue per error, with pointer and hint."""
        validator = self.validators.get(name)
        if validator is None:
            return []
        fast = self.fast.get(name)
        # The compiled pre-check is sound: True means valid. Otherwise jsonschema decides.
        if (fast is not None and fast(instance)) or validator.is_valid(instance):
            return []
        found = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
            pointer = pointer_of(error.absolute_path)
            keys: list[str | None] = [*_extra_keys(error)] or [None]
            for key in keys:
                # Point at each unexpected key itself, so YAML and JSON errors get its line.
                where = f"{pointer}/{_escape(key)}" if key is not None else pointer or "/"
                message = f"unexpected key {key!r}" if key is not None else _shorten(error.message)
                found.append(
                    Issue(
                        code,
                        f"{message} (schema {self.files.get(name, name)})",
                        file,
                        pointer=where,
                        hint=_hint(error),
                    )
                )
        return found
