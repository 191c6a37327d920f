"""Against a real uvicorn server: concurrent uploads, interrupted uploads, and refusing a body early."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.api.documents.conftest import MAX_FILE_BYTES, UPLOADS, multipart_body, upload_rows
from tests.api.documents.pdfs import pdf

BOUNDARY = "live-test-boundary"


def _connect(live_server: str) -> socket.socket:
    parts = urlsplit(live_server)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return sock


def _request_head(supplier, *, length: int | None) -> bytes:
    lines = [
        f"POST {UPLOADS} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: {supplier.headers['Authorization']}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


def _read_response(sock: socket.socket, timeout: float) -> tuple[int, dict]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return status, json.loads(rest[:length])


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_20_concurrent_uploads_make_20_rows_and_20_files_whose_hashes_match(
    live_server, make_supplier, db, storage_dir
):
    supplier = make_supplier()
    files = {i: pdf(pages=1 + i % 3, text=f"concurrent upload {i}") for i in range(20)}
    start = threading.Barrier(20)

    def send(i: int) -> httpx.Response:
        with httpx.Client(base_url=live_server, timeout=60) as client:
            start.wait()
            return client.post(
                UPLOADS,
                headers=supplier.headers,
                data=supplier.fields(nickname=f"Upload {i}"),
                files={"file": (f"doc-{i}.pdf", files[i], "application/pdf")},
            )

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(send, range(20)))

    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["confirmation_number"] for r in responses}) == 20
    rows = upload_rows(db, supplier)
    assert len(rows) == 20
    sent = {hashlib.sha256(content).hexdigest() for content in files.values()}
    assert {row.sha256 for row in rows} == sent
    for row in rows:
        stored = (storage_dir / row.storage_key).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == row.sha256
    history = httpx.get(f"{live_server}{UPLOADS}", headers=supplier.headers, params={"page_size": 100}).json()
    assert history["total"] == 20


def _interrupted_upload(live_server, supplier, storage_dir: Path, *, chunked: bool) -> None:
    fields = b"".join(multipart_body(supplier.fields(), iter([]), "cut.pdf", BOUNDARY))
    head_of_body = fields[: fields.index(b"\r\n--" + BOUNDARY.encode() + b"--")]  # fields and file header only
    file_part = pdf() + b"\n%" + b"x" * (8 * 1024 * 1024)  # looks like a PDF; 8 MB, of which half is sent
    total = len(head_of_body) + len(file_part) + len(f"\r\n--{BOUNDARY}--\r\n")
    tmp = storage_dir / "tmp"
    with _connect(live_server) as sock:
        sock.sendall(_request_head(supplier, length=None if chunked else total))
        sent = head_of_body + file_part[: len(file_part) // 2]
        for start in range(0, len(sent), 256 * 1024):
            piece = sent[start : start + 256 * 1024]
            sock.sendall(_chunked(piece) if chunked else piece)
        # The server has started writing the file under a temporary name...
        assert _wait_for(lambda: any(tmp.iterdir())), "the upload never reached the storage"
    # ...and the connection is gone before the end of the body.


def test_an_upload_interrupted_mid_body_leaves_neither_row_nor_file(live_server, make_supplier, db, storage_dir):
    supplier = make_supplier()
    files_before = {p for p in (storage_dir / "files").rglob("*") if p.is_file()}

    _interrupted_upload(live_server, supplier, storage_dir, chunked=False)
    _interrupted_upload(live_server, supplier, storage_dir, chunked=True)

    assert _wait_for(lambda: not any((storage_dir / "tmp").iterdir())), "a temporary file was left behind"
    assert {p for p in (storage_dir / "files").rglob("*") if p.is_file()} == files_before
    assert upload_rows(db, supplier) == []
    # The server is fine afterwards.
    ok = httpx.post(
        f"{live_server}{UPLOADS}",
        headers=supplier.headers,
        data=supplier.fields(),
        files={"file": ("after.pdf", pdf(), "application/pdf")},
    )
    assert ok.status_code == 201


def test_a_declared_size_of_50_mb_or_more_is_refused_before_the_body_is_sent(live_server, make_supplier):
    supplier = make_supplier()
    with _connect(live_server) as sock:
        sock.sendall(_request_head(supplier, length=60_000_000))  # and not one byte of the body

        status, body = _read_response(sock, timeout=10)

    assert status == 413
    assert body["rule"] == "file_too_large"
    assert "under 50 MB" in body["detail"]


def test_a_streamed_file_is_refused_at_the_byte_that_reaches_50_mb_without_waiting_for_the_rest(
    live_server, make_supplier, db, storage_dir
):
    supplier = make_supplier()
    fields = b"".join(multipart_body(supplier.fields(), iter([]), "big.pdf", BOUNDARY))
    head_of_body = fields[: fields.index(b"\r\n--" + BOUNDARY.encode() + b"--")]
    block = b"%PDF-1.7\n" + b"0" * (1024 * 1024 - 9)
    with _connect(live_server) as sock:
        sock.sendall(_request_head(supplier, length=None))
        sock.sendall(_chunked(head_of_body))
        for _ in range(MAX_FILE_BYTES // len(block)):  # exactly 50 MiB of file, then nothing more
            sock.sendall(_chunked(block))

        status, body = _read_response(sock, timeout=10)  # no closing boundary, no last chunk: still answered

    assert status == 413
    assert body["rule"] == "file_too_large"
    assert upload_rows(db, supplier) == []
    assert _wait_for(lambda: not any((storage_dir / "tmp").iterdir()))


def test_bad_fields_sent_before_the_file_are_refused_before_the_file_is_read(live_server, make_supplier, db):
    supplier = make_supplier()
    fields = b"".join(multipart_body(supplier.fields(bidder_number="24680"), iter([]), "a.pdf", BOUNDARY))
    head_of_body = fields[: fields.index(b"\r\n--" + BOUNDARY.encode() + b"--")]
    with _connect(live_server) as sock:
        sock.sendall(_request_head(supplier, length=len(head_of_body) + 40 * 1024 * 1024))
        sock.sendall(head_of_body)  # the fields and the file's header; none of its 40 MB

        status, body = _read_response(sock, timeout=10)

    assert status == 403
    assert body["rule"] == "bidder_not_yours"
    assert upload_rows(db, supplier) == []
