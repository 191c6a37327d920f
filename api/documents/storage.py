"""Where uploaded files live: a small interface (`FileStorage`) and its local-disk implementation.

A file is first written, counted and hashed under a temporary name (`PendingFile`); only a checked
file is saved, which fsyncs it and renames it to a server-generated key. The user's file name is
never part of a path. Another implementation (an object store) only needs the same methods.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol

from api.config import get_settings

TMP_DIR = "tmp"
FILES_DIR = "files"
WRITEBACK_BYTES = 4 * 1024 * 1024
"""While a file is received, the disk starts writing each such stretch of it (see `_start_writeback`)."""
BACKGROUND_HASH_BYTES = 64 * 1024
"""A written piece at least this large is hashed in a helper thread while it is written."""
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        func = libc.sync_file_range
    except (OSError, AttributeError):  # not Linux: the final fsync alone does the work
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_sync_file_range = _load_sync_file_range()


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a written stretch to disk now, without waiting for it.

    This does not replace the fsync in `PendingFile.finish` (it guarantees nothing: no metadata, no
    disk cache flush); it only moves the disk's work to while the rest of the body is still arriving,
    so that the final fsync has little left to wait for. Linux only; elsewhere a no-op.
    """
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # a failure only costs the head start


_HASHERS = max(2, os.cpu_count() or 2)
_hashers = ThreadPoolExecutor(max_workers=_HASHERS, thread_name_prefix="pending-file-hash")
_free_hashers = threading.BoundedSemaphore(_HASHERS)
"""When every hasher is busy (many uploads at once), a piece is hashed by its own thread instead of queued."""
_syncers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="pending-file-sync")
"""Runs fsyncs apart from the hashers, so that waiting for the disk never delays a hash."""


def _hash_piece(sha256: hashlib._Hash, piece: memoryview) -> None:
    try:
        sha256.update(piece)  # releases the GIL
    finally:
        _free_hashers.release()


class PendingFile:
    """A file being received: written to a temporary name while its bytes are counted and hashed.

    The thread that receives the file writes each piece while a helper thread hashes it (sha256
    releases the GIL), one piece at a time per file and in order, so at most two pieces are held;
    `start_sync` lets the disk finish while the file is checked.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self.head = b""  # the first bytes, to recognise the format without reading the file again
        self._sha256 = hashlib.sha256()
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._writeback_from = 0
        self._hashing: Future[None] | None = None
        self._syncing: Future[None] | None = None

    def write(self, data: bytes | memoryview) -> None:
        if self._fd is None or self._syncing is not None:
            raise ValueError("The pending file is closed.")
        view = memoryview(data)
        if not view.readonly:  # kept until hashed: never a buffer its owner may change meanwhile
            view = memoryview(bytes(view))
        if len(self.head) < 1024:
            self.head += bytes(view[: 1024 - len(self.head)])
        self._wait_for_hash()  # the previous piece: in order, and never more than one behind
        if len(view) >= BACKGROUND_HASH_BYTES and _free_hashers.acquire(blocking=False):
            self._hashing = _hashers.submit(_hash_piece, self._sha256, view)
        else:
            self._sha256.update(view)  # small, or every hasher busy: no hand-over
        rest = view
        while rest:
            written = os.write(self._fd, rest)
            rest = rest[written:]
        self.size += len(view)
        if self.size - self._writeback_from >= WRITEBACK_BYTES:
            _start_writeback(self._fd, self._writeback_from, self.size - self._writeback_from)
            self._writeback_from = self.size

    def _wait_for_hash(self) -> None:
        if self._hashing is not None:
            self._hashing.result()
            self._hashing = None

    @property
    def sha256(self) -> str:
        self._wait_for_hash()
        return self._sha256.hexdigest()

    def start_sync(self) -> None:
        """Start the fsync in a helper thread (once the whole file is written); `finish` waits for it."""
        if self._fd is not None and self._syncing is None:
            self._syncing = _syncers.submit(os.fsync, self._fd)

    def finish(self) -> None:
        """Flush the bytes to disk (fsync) and close the file."""
        if self._fd is not None:
            try:
                if self._syncing is None:
                    os.fsync(self._fd)
                else:
                    self._syncing.result()  # raises the fsync's OSError, if any
            finally:
                self._close()

    def _close(self) -> None:
        if self._syncing is not None:
            wait([self._syncing])  # never close the descriptor under a running fsync
            self._syncing = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """Close and remove the temporary file; safe to call twice."""
        self._close()
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
