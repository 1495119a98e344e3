"""The compiled-template cache: one pack file per templates directory.

Jinja's ``FileSystemBytecodeCache`` keeps one file per template, so a cold build of 1,000
profiles creates 1,000 files and a warm one opens 1,000; on a busy ext4 volume creating a file
can cost a millisecond, more than compiling the template. This cache stores the same Jinja
buckets (key: template name and path; checked on load against the Jinja and Python versions
and the sha1 of the template source, so a stale entry is simply recompiled) in one file, read
once per build and rewritten once at the end of a build that compiled anything.

Forked render workers send the entries they compiled back to the parent (:meth:`take`,
:meth:`add`), which saves the pack. Builds running at the same time may overwrite each
other's pack; that loses cached entries (recompiled next time), never correctness. Entries of
deleted templates stay in the pack (a few KiB each) until :meth:`clear` or a new cache dir.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from jinja2.bccache import Bucket, BytecodeCache

__all__ = ["PACK_SUFFIX", "PackCache"]

PACK_SUFFIX = ".jinja-pack"


class PackCache(BytecodeCache):
    """Compiled templates of the templates directory ``root``, kept in ``directory``."""

    def __init__(self, directory: Path, root: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(root.encode("utf-8"), usedforsecurity=False).hexdigest()[:20]
        self.path = directory / f"templates-{digest}{PACK_SUFFIX}"
        self._stored: dict[str, bytes] | None = None  # read on first use
        self._new: dict[str, bytes] = {}

    def _entries(self) -> dict[str, bytes]:
        if self._stored is None:
            self._stored = {}
            try:
                loaded = marshal.loads(self.path.read_bytes())
            except (OSError, EOFError, ValueError, TypeError):
                return self._stored  # no pack yet, or an unreadable one: compile everything
            if isinstance(loaded, dict):
                self._stored = {
                    k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, bytes)
                }
        return self._stored

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` from the pack; Jinja's checks reset it if the entry is stale."""
        data = self._new.get(bucket.key) or self._entries().get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Remember a freshly compiled template until :meth:`save`."""
        self._new[bucket.key] = bucket.bytecode_to_string()

    def take(self) -> dict[str, bytes]:
        """The entries compiled since the last call (a worker sends these to the parent)."""
        new, self._new = self._new, {}
        return new

    def add(self, entries: Mapping[str, bytes]) -> None:
        """Entries another process compiled, to be saved with this process's own."""
        self._new.update(entries)

    def save(self) -> None:
        """Write the pack if anything was compiled: atomically, so readers never see half."""
        if not self._new:
            return
        entries = {**self._entries(), **self._new}
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(marshal.dumps(entries))
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise
        self._stored, self._new = entries, {}

    def clear(self) -> None:
        """Forget every compiled template of this templates directory."""
        self.path.unlink(missing_ok=True)
        self._stored, self._new = {}, {}
