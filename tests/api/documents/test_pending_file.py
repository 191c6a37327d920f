"""The temporary file an upload is written to: what it stores and the SHA-256 it reports must agree."""

from __future__ import annotations

import hashlib
import os

import pytest

from api.documents.storage import LocalStorage


def test_the_reported_sha256_and_the_stored_bytes_match_whatever_the_piece_sizes(tmp_path):
    storage = LocalStorage(tmp_path)
    pieces = [os.urandom(n) for n in (1, 700, 64 * 1024, 3 * 1024 * 1024 + 5, 10, 256 * 1024)]
    reused = bytearray(os.urandom(200 * 1024))  # a buffer its owner changes right after the write
    pending = storage.begin()

    for piece in pieces[:3]:
        pending.write(piece)
    pending.write(memoryview(reused))
    expected_reused = bytes(reused)
    reused[:] = b"\0" * len(reused)
    for piece in pieces[3:]:
        pending.write(memoryview(piece)[: len(piece)])
    pending.start_sync()
    key = storage.save(pending)

    content = b"".join(pieces[:3]) + expected_reused + b"".join(pieces[3:])
    assert pending.size == len(content)
    assert pending.sha256 == hashlib.sha256(content).hexdigest()
    assert storage.path(key).read_bytes() == content
    assert list((tmp_path / "tmp").iterdir()) == []


def test_nothing_can_be_added_once_the_file_is_being_synced(tmp_path):
    pending = LocalStorage(tmp_path).begin()
    pending.write(b"%PDF-1.7\n")
    pending.start_sync()

    with pytest.raises(ValueError, match="closed"):
        pending.write(b"more")

    pending.discard()
    assert list((tmp_path / "tmp").iterdir()) == []
