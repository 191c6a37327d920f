"""Where uploaded files live: a small interface (`FileStorage`) and its local-disk implementation.

A file is first written, counted and hashed under a temporary name (`PendingFile`); only a checked
file is saved, which fsyncs it and renames it to a server-generated key. The user's file name is
never part of a path. Another implementation (an object store) only needs the same methods.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol

from api.config import get_settings

TMP_DIR = "tmp"
FILES_DIR = "files"


class PendingFile:
    """A file being received: written to a temporary name while its bytes are counted and hashed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self.head = b""  # the first bytes, to recognise the format without reading the file again
        self._sha256 = hashlib.sha256()
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def write(self, data: bytes | memoryview) -> None:
        if self._fd is None:
            raise ValueError("The pending file is closed.")
        if len(self.head) < 1024:
            self.head += bytes(data[: 1024 - len(self.head)])
        self._sha256.update(data)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(data)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def finish(self) -> None:
        """Flush the bytes to disk (fsync) and close the file."""
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def discard(self) -> None:
        """Close and remove the temporary file; safe to call twice."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)


class FileStorage(Protocol):
    def begin(self) -> PendingFile:
        """A new temporary file to write a received file into."""
        ...

    def save(self, pending: PendingFile) -> str:
        """Make a received file permanent (durably) and return its key."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The stored file, for reading."""
        ...

    def delete(self, key: str) -> None:
        """Remove a stored file; no error when it is already gone."""
        ...

    def stored_files(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time (for the clean-up)."""
        ...

    def sweep_temporary(self, *, older_than: float) -> int:
        """Remove temporary files left by interrupted processes; returns how many."""
        ...


class LocalStorage:
    """Files under one folder that no web route serves: `tmp/` while receiving, `files/` once saved."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        (root / TMP_DIR).mkdir(parents=True, exist_ok=True)
        (root / FILES_DIR).mkdir(parents=True, exist_ok=True)

    def begin(self) -> PendingFile:
        return PendingFile(self.root / TMP_DIR / f"{secrets.token_hex(16)}.part")

    def save(self, pending: PendingFile) -> str:
        pending.finish()
        name = secrets.token_hex(16)
        key = f"{FILES_DIR}/{name[:2]}/{name}.pdf"
        target = self._path(key)
        if not target.parent.exists():
            target.parent.mkdir(exist_ok=True)
            _fsync_dir(target.parent.parent)
        os.replace(pending.path, target)
        _fsync_dir(target.parent)  # the rename itself must survive a crash
        return key

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        return self._path(key)

    def stored_files(self) -> Iterator[tuple[str, float]]:
        base = self.root / FILES_DIR
        for path in base.glob("*/*.pdf"):
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            yield path.relative_to(self.root).as_posix(), mtime

    def sweep_temporary(self, *, older_than: float) -> int:
        removed = 0
        cutoff = time.time() - older_than
        for path in (self.root / TMP_DIR).glob("*.part"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _path(self, key: str) -> Path:
        # Keys are made here; refuse anything else so that a bad key can never leave the root.
        parts = key.split("/")
        if len(parts) != 3 or parts[0] != FILES_DIR or not all(p and p not in {".", ".."} for p in parts):
            raise ValueError(f"Not a storage key: {key!r}")
        return self.root.joinpath(*parts)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@lru_cache
def _storage_for(root: str) -> LocalStorage:
    return LocalStorage(Path(root))


def get_storage() -> FileStorage:
    """The storage configured by `settings.storage_dir` (a dependency, so tests can replace it)."""
    return _storage_for(str(get_settings().storage_dir))
