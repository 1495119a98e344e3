"""Semantic diff of two config bundles, shared by ``registry-build diff`` and ``GET /config/diff``.

Paths are JSON pointers (RFC 6901) into a profile payload or a catalog capability. Lists are
compared as whole values: reordering a list is a change of that list. A profile change is
**major** when a changed path equals, lies under, or contains one of the profile's declared
``major_keys`` (from either side), because agents must restart to apply it.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from service.bundle import Bundle

__all__ = ["BundleDiff", "CatalogDiff", "KeyChange", "ProfileDiff", "diff_bundles", "diff_values"]

ChangeKind = Literal["added", "removed", "changed"]


class KeyChange(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One changed leaf: ``before`` is unset for additions, ``after`` for removals."""

    path: str
    kind: ChangeKind
    before: Any = msgspec.UNSET
    after: Any = msgspec.UNSET
    major: bool = False


class ProfileDiff(msgspec.Struct, frozen=True, kw_only=True):
    """What changed in one profile present in both bundles."""

    profile: str
    added: list[str]
    removed: list[str]
    changed: list[str]
    major: bool
    major_paths: list[str]
    changes: list[KeyChange]


class CatalogDiff(msgspec.Struct, frozen=True, kw_only=True):
    """Capabilities added, removed or changed (by name), plus other catalog-level changes."""

    added: list[str]
    removed: list[str]
    changed: dict[str, list[KeyChange]]
    other: list[KeyChange]

    @property
    def empty(self) -> bool:
        """True when the catalogs are equal."""
        return not (self.added or self.removed or self.changed or self.other)


class BundleDiff(msgspec.Struct, frozen=True, kw_only=True):
    """The semantic difference from bundle ``a`` (before) to bundle ``b`` (after)."""

    from_version: str
    to_version: str
    from_environment: str
    to_environment: str
    profiles_added: list[str]
    profiles_removed: list[str]
    profiles: list[ProfileDiff]
    catalog: CatalogDiff
    defaults: list[KeyChange]
    major: bool

    @property
    def identical(self) -> bool:
        """True when no profile, catalog entry or default differs."""
        return not (
            self.profiles_added
            or self.profiles_removed
            or self.profiles
            or self.defaults
            or not self.catalog.empty
        )

    def to_json(self) -> bytes:
        """JSON encoding of the diff (the body of ``GET /config/diff``)."""
        return msgspec.json.encode(self)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _same(a: Any, b: Any) -> bool:
    # 1 == 1.0 == True in Python, but they are different JSON values.
    return type(a) is type(b) and a == b


def diff_values(before: Any, after: Any, path: str = "") -> list[KeyChange]:
    """Leaf-level changes between two JSON values, recursing into objects only."""
    changes: list[KeyChange] = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            sub = f"{path}/{_escape(str(key))}"
            if key not in after:
                changes.append(KeyChange(path=sub, kind="removed", before=before[key]))
            elif key not in before:
                changes.append(KeyChange(path=sub, kind="added", after=after[key]))
            else:
                changes.extend(diff_values(before[key], after[key], sub))
    elif not _same(before, after):
        changes.append(KeyChange(path=path or "/", kind="changed", before=before, after=after))
    return changes


def _is_major(path: str, major_keys: set[str]) -> bool:
    for key in major_keys:
        if path == key or path.startswith(key + "/") or key.startswith(path + "/"):
            return True
    return False


def _profile_diff(name: str, a: dict[str, Any], b: dict[str, Any]) -> ProfileDiff | None:
    raw = diff_values(a, b)
    if not raw:
        return None
    major_keys = {str(k) for k in a.get("major_keys", [])} | {
        str(k) for k in b.get("major_keys", [])
    }
    changes = [
        msgspec.structs.replace(change, major=_is_major(change.path, major_keys)) for change in raw
    ]
    major_paths = [c.path for c in changes if c.major]
    return ProfileDiff(
        profile=name,
        added=[c.path for c in changes if c.kind == "added"],
        removed=[c.path for c in changes if c.kind == "removed"],
        changed=[c.path for c in changes if c.kind == "changed"],
        major=bool(major_paths),
        major_paths=major_paths,
        changes=changes,
    )


def _by_name(catalog: dict[str, Any]) -> dict[str, Any]:
    return {
        str(cap.get("name")): cap
        for cap in catalog.get("capabilities", [])
        if isinstance(cap, dict)
    }


def _catalog_diff(a: dict[str, Any], b: dict[str, Any]) -> CatalogDiff:
    caps_a, caps_b = _by_name(a), _by_name(b)
    changed = {
        name: changes
        for name in sorted(caps_a.keys() & caps_b.keys())
        if (changes := diff_values(caps_a[name], caps_b[name]))
    }
    rest_a = {k: v for k, v in a.items() if k != "capabilities"}
    rest_b = {k: v for k, v in b.items() if k != "capabilities"}
    return CatalogDiff(
        added=sorted(caps_b.keys() - caps_a.keys()),
        removed=sorted(caps_a.keys() - caps_b.keys()),
        changed=changed,
        other=diff_values(rest_a, rest_b),
    )


def diff_bundles(a: Bundle, b: Bundle) -> BundleDiff:
    """The semantic diff from ``a`` to ``b``.

    Added and removed profiles are listed but never major: no agent runs the new profile
    yet, and agents of a removed profile keep their last config until redeployed.
    """
    profiles = [
        diff
        for name in sorted(a.profiles.keys() & b.profiles.keys())
        if (diff := _profile_diff(name, a.profiles[name], b.profiles[name])) is not None
    ]
    return BundleDiff(
        from_version=a.version,
        to_version=b.version,
        from_environment=a.environment,
        to_environment=b.environment,
        profiles_added=sorted(b.profiles.keys() - a.profiles.keys()),
        profiles_removed=sorted(a.profiles.keys() - b.profiles.keys()),
        profiles=profiles,
        catalog=_catalog_diff(a.catalog, b.catalog),
        defaults=diff_values(a.manifest.get("defaults", {}), b.manifest.get("defaults", {})),
        major=any(p.major for p in profiles),
    )
