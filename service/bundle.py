"""The config bundle format: canonical JSON, the manifest, content hashing and verification.

This module is the single definition of the bundle format. ``buildtime`` writes bundles with
:func:`write_bundle`; the service loads them with :func:`load_bundle` (from disk) or
:func:`bundle_from_files` (from the copy published in Redis). Keeping the writer and the
verifier in one place means they can never disagree. It depends on the standard library and
msgspec only.

Layout of a bundle directory::

    manifest.json          format, version, environment, git, schema_versions, defaults, files
    catalog.json           the capability catalog
    profiles/<name>.json   one payload per agent profile

Every file is canonical JSON (:func:`canonical_json`). ``manifest.files`` maps each other
file to ``sha256:<hex>`` of its bytes. The bundle ``version`` is ``sha256:<hex>`` of the
canonical manifest without its unhashed fields (``version``, ``git``, ``build``), so the
version depends on content only: two commits that render the same config share a version,
and build time, host and git provenance never change it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec

from service.domain.rollout import Policy
from service.domain.thresholds import Thresholds

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FORMAT",
    "Bundle",
    "BundleError",
    "Thresholds",
    "assemble_bundle",
    "bundle_from_files",
    "canonical_json",
    "load_bundle",
    "save_bundle",
    "sha256_digest",
    "write_bundle",
]

FORMAT = 1
MANIFEST = "manifest.json"
CATALOG = "catalog.json"
PROFILES_DIR = "profiles"
# Provenance, not content: excluded from the version so identical config shares a version.
UNHASHED_FIELDS = frozenset({"version", "git", "build"})
_PROFILE_FILE = re.compile(r"^profiles/([a-z0-9][a-z0-9-]{0,62})\.json$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")

_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder()


class BundleError(Exception):
    """A bundle is incomplete, tampered with or malformed; the message names the file(s)."""

    def __init__(self, message: str, *, files: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.files = tuple(files)


# MCP Mesh defaults: a bundle records its own defaults in the manifest; these seed them.
DEFAULT_THRESHOLDS = Thresholds()


def canonical_json(obj: Any) -> bytes:
    """The one canonical form: UTF-8 JSON, keys sorted, no insignificant whitespace."""
    return _encoder.encode(obj)


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``; the digest format used throughout the bundle."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _version_of(manifest: Mapping[str, Any]) -> str:
    hashed = {k: v for k, v in manifest.items() if k not in UNHASHED_FIELDS}
    return sha256_digest(canonical_json(hashed))


@dataclass(frozen=True)
class Bundle:
    """A verified, immutable config bundle.

    ``version`` is ``"sha256:<64 hex>"``. ``files`` keeps the exact bytes that were verified,
    so :meth:`to_canonical_files` republishes them unchanged.
    """

    path: Path | None
    manifest: dict[str, Any]
    profiles: dict[str, dict[str, Any]]
    catalog: dict[str, Any]
    files: Mapping[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    @property
    def version(self) -> str:
        """The content version, ``sha256:<hex>``."""
        return str(self.manifest["version"])

    @property
    def environment(self) -> str:
        """The environment the bundle was built for."""
        return str(self.manifest["environment"])

    @property
    def default_thresholds(self) -> Thresholds:
        """The bundle's default thresholds, used by profiles that set none."""
        data = self.manifest.get("defaults", {}).get("thresholds", {})
        return Thresholds.from_dict(data)

    @cached_property
    def rollout_policy(self) -> Policy | None:
        """The bundle's rollout policy (``defaults.rollout``); ``None``: activate at once."""
        return Policy.parse(self.manifest.get("defaults", {}).get("rollout"))

    def rollout_override(self, profile: str) -> dict[str, Any] | None:
        """The ``rollout`` key of a profile's payload: its own shares and gate thresholds."""
        payload = self.profiles.get(profile) or {}
        override = payload.get("rollout")
        return override if isinstance(override, dict) else None

    def thresholds(self, profile: str) -> Thresholds | None:
        """The profile's thresholds over the bundle defaults; ``None`` for an unknown profile."""
        payload = self.profiles.get(profile)
        if payload is None:
            return None
        return Thresholds.from_dict(
            payload.get("thresholds") or {}, fallback=self.default_thresholds
        )

    def major_keys(self, profile: str) -> tuple[str, ...]:
        """JSON pointers whose change requires the profile's agents to restart."""
        payload = self.profiles.get(profile)
        if payload is None:
            return ()
        return tuple(str(key) for key in payload.get("major_keys", ()))

    def to_canonical_files(self) -> dict[str, bytes]:
        """Relative path -> exact bytes of every file, manifest included."""
        return dict(self.files)


def _decode_object(name: str, raw: bytes, errors: list[str]) -> dict[str, Any] | None:
    try:
        value = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        errors.append(f"{name} is not valid JSON ({exc})")
        return None
    if not isinstance(value, dict):
        errors.append(f"{name} must hold a JSON object")
        return None
    if canonical_json(value) != raw:
        errors.append(f"{name} is not in canonical form")
        return None
    return value


def _fail(errors: list[str], files: list[str]) -> BundleError:
    summary = "; ".join(errors)
    return BundleError(f"invalid config bundle: {summary}", files=files)


def bundle_from_files(files: Mapping[str, bytes], *, path: Path | None = None) -> Bundle:
    """Verify and parse a bundle given as relative path -> bytes.

    Every listed file must be present with the hash the manifest records, no unlisted file may
    be present, and the manifest must hash to its own version. All problems are reported in
    one :class:`BundleError` whose message names each offending file.
    """
    if MANIFEST not in files:
        raise BundleError(f"invalid config bundle: {MANIFEST} is missing", files=[MANIFEST])
    errors: list[str] = []
    bad: list[str] = []
    manifest = _decode_object(MANIFEST, files[MANIFEST], errors)
    if manifest is None:
        raise _fail(errors, [MANIFEST])
    if manifest.get("format") != FORMAT:
        raise _fail([f"{MANIFEST} has unsupported format {manifest.get('format')!r}"], [MANIFEST])
    listed = manifest.get("files")
    if not isinstance(listed, dict) or CATALOG not in listed:
        raise _fail([f"{MANIFEST} does not list {CATALOG} in 'files'"], [MANIFEST])

    for name in sorted(listed):
        expected = listed[name]
        if not isinstance(expected, str) or not _DIGEST.match(expected):
            errors.append(f"{MANIFEST} records no valid sha256 for {name}")
            bad.append(MANIFEST)
        elif name not in files:
            errors.append(f"{name} is missing (listed in {MANIFEST})")
            bad.append(name)
        elif (actual := sha256_digest(files[name])) != expected:
            errors.append(f"{name} does not match {MANIFEST} (expected {expected}, found {actual})")
            bad.append(name)
    for name in sorted(set(files) - set(listed) - {MANIFEST}):
        errors.append(f"{name} is not listed in {MANIFEST}")
        bad.append(name)
    if not errors and (recomputed := _version_of(manifest)) != manifest.get("version"):
        errors.append(
            f"{MANIFEST} does not match its version "
            f"(records {manifest.get('version')!r}, content hashes to {recomputed})"
        )
        bad.append(MANIFEST)
    if errors:
        raise _fail(errors, bad)

    profiles: dict[str, dict[str, Any]] = {}
    catalog = _decode_object(CATALOG, files[CATALOG], errors) or {}
    for name in sorted(listed):
        if name == CATALOG:
            continue
        match = _PROFILE_FILE.match(name)
        if match is None:
            errors.append(f"{name} is not a catalog or profiles/<name>.json file")
            bad.append(name)
            continue
        payload = _decode_object(name, files[name], errors)
        if payload is not None and payload.get("profile") != match.group(1):
            errors.append(f"{name} holds profile {payload.get('profile')!r}")
            bad.append(name)
        elif payload is not None:
            profiles[match.group(1)] = payload
    if errors:
        raise _fail(errors, bad or [CATALOG])
    return Bundle(path=path, manifest=manifest, profiles=profiles, catalog=catalog, files=files)


def load_bundle(directory: Path) -> Bundle:
    """Read and verify the bundle in ``directory`` (e.g. ``REGISTRY_BUNDLE_DIR``).

    Raises :class:`BundleError` naming every file that is missing, unlisted or does not match.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"invalid config bundle: {directory} is not a directory", files=[])
    files: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            files[path.relative_to(directory).as_posix()] = path.read_bytes()
    return bundle_from_files(files, path=directory)


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Swap ``staging`` into ``out_dir``; stale files of an older bundle never survive."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    if not out_dir.is_dir():
        raise BundleError(f"cannot write bundle: {out_dir} exists and is not a directory")
    if any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise BundleError(f"refusing to replace {out_dir}: it is not empty and holds no bundle")
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    try:
        out_dir.rename(old)
    except OSError:
        # A mount point cannot be renamed: empty it and move the new files in instead.
        for child in out_dir.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        for child in staging.iterdir():
            child.rename(out_dir / child.name)
        staging.rmdir()
        return
    staging.rename(out_dir)
    shutil.rmtree(old)


def assemble_bundle(
    *,
    profiles: Mapping[str, Mapping[str, Any]],
    catalog: Mapping[str, Any],
    environment: str,
    git: Mapping[str, Any],
    schema_versions: Mapping[str, str],
    defaults: Thresholds = DEFAULT_THRESHOLDS,
    rollout: Mapping[str, Any] | None = None,
    build_info: Mapping[str, Any] | None = None,
) -> Bundle:
    """Build a bundle in memory (``path`` is ``None``); :func:`write_bundle` persists one.

    ``rollout`` is the rollout policy, written to ``defaults.rollout`` as given (buildtime
    normalises it; one that breaks the rule raises :class:`BundleError`). ``None`` writes no
    key, so a bundle without a policy keeps the manifest, and the version, it had before
    policies existed. ``build_info`` (build time, host) is recorded in the manifest but not
    hashed; leave it out for byte-identical output.
    """
    files: dict[str, bytes] = {CATALOG: canonical_json(catalog)}
    for name in sorted(profiles):
        if not _PROFILE_FILE.match(f"{PROFILES_DIR}/{name}.json"):
            raise BundleError(f"invalid profile name {name!r} for {PROFILES_DIR}/{name}.json")
        files[f"{PROFILES_DIR}/{name}.json"] = canonical_json(profiles[name])
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "environment": environment,
        "schema_versions": dict(schema_versions),
        "defaults": {"thresholds": defaults.to_dict()},
        "files": {name: sha256_digest(data) for name, data in files.items()},
        "git": dict(git),
    }
    if rollout is not None:
        try:
            Policy.parse(dict(rollout))
        except ValueError as exc:
            # Refused here rather than by every replica that would load the bundle.
            raise BundleError(f"invalid rollout policy: {exc}") from None
        manifest["defaults"]["rollout"] = dict(rollout)
    if build_info:
        manifest["build"] = dict(build_info)
    manifest["version"] = _version_of(manifest)
    files[MANIFEST] = canonical_json(manifest)
    return Bundle(
        path=None,
        manifest=_decoder.decode(files[MANIFEST]),
        # Decoded back from the bytes so the result equals what load_bundle returns.
        profiles={name: _decoder.decode(files[f"{PROFILES_DIR}/{name}.json"]) for name in profiles},
        catalog=_decoder.decode(files[CATALOG]),
        files=files,
    )


def _write_files(directory: Path, files: Mapping[str, bytes]) -> None:
    """Create each file in ``directory`` (which must not hold it yet) with its bytes."""
    # Plain descriptors rather than Path.write_bytes: a bundle is thousands of small files,
    # and a buffered file object per file costs more than writing the bytes.
    base = os.fspath(directory)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for name, data in files.items():
        fd = os.open(f"{base}/{name}", flags, 0o644)
        try:
            os.fchmod(fd, 0o644)  # the umask may have taken bits off
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


def save_bundle(bundle: Bundle, out_dir: Path) -> Bundle:
    """Write ``bundle``'s files to ``out_dir``, replacing an older bundle there."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        # Fixed modes whatever the umask: the runtime image reads the bundle as a user other
        # than the one who built it, and a bundle holds no secrets.
        staging.chmod(0o755)
        (staging / PROFILES_DIR).mkdir()
        (staging / PROFILES_DIR).chmod(0o755)
        _write_files(staging, bundle.files)
        _replace_dir(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return replace(bundle, path=out_dir)


def write_bundle(
    out_dir: Path,
    *,
    profiles: Mapping[str, Mapping[str, Any]],
    catalog: Mapping[str, Any],
    environment: str,
    git: Mapping[str, Any],
    schema_versions: Mapping[str, str],
    defaults: Thresholds = DEFAULT_THRESHOLDS,
    rollout: Mapping[str, Any] | None = None,
    build_info: Mapping[str, Any] | None = None,
) -> Bundle:
    """Assemble a bundle and write it to ``out_dir`` (replacing an older bundle there)."""
    bundle = assemble_bundle(
        profiles=profiles,
        catalog=catalog,
        environment=environment,
        git=git,
        schema_versions=schema_versions,
        defaults=defaults,
        rollout=rollout,
        build_info=build_info,
    )
    return save_bundle(bundle, out_dir)
