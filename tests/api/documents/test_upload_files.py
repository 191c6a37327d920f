"""The file is judged by its content: a corpus of bad files, each refused with its own message.

No refused file changes the upload history or leaves a file behind.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from tests.api.documents.conftest import MAX_FILE_BYTES, UPLOADS, file_chunks, history_total, multipart_body, upload
from tests.api.documents.pdfs import deeply_nested, exponential_page_tree, page_tree, pdf

GOOD = pdf(pages=2)

CORPUS = {
    # name: (content, file name, status, rule, words the message must contain)
    "not a PDF, named .pdf": (b"PK\x03\x04 this is a zip file" * 20, "report.pdf", 415, "not_a_pdf", ["not a PDF"]),
    "HTML named .pdf": (
        b"<!doctype html><html><body>Balance sheet</body></html>",
        "a.pdf",
        415,
        "not_a_pdf",
        ["not a PDF"],
    ),
    "empty file": (b"", "empty.pdf", 422, "empty_file", ["empty", "0 bytes"]),
    "truncated PDF": (GOOD[: len(GOOD) // 2], "cut.pdf", 422, "pdf_damaged", ["damaged or incomplete"]),
    "PDF header only": (b"%PDF-1.7\n", "header.pdf", 422, "pdf_damaged", ["damaged or incomplete"]),
    "password to open (RC4)": (
        pdf(encrypt=("open-me", "owner-secret", "RC4-128")),
        "locked.pdf",
        422,
        "pdf_password_protected",
        ["password protected", "without a password"],
    ),
    "password to open (AES-256)": (
        pdf(encrypt=("open-me", "owner-secret", "AES-256")),
        "locked-aes.pdf",
        422,
        "pdf_password_protected",
        ["password protected"],
    ),
    "password to open (AES-128)": (
        pdf(encrypt=("open-me", "owner-secret", "AES-128")),
        "locked-aes128.pdf",
        422,
        "pdf_password_protected",
        ["password protected"],
    ),
    "owner password only (RC4)": (
        pdf(encrypt=("", "owner-secret", "RC4-128")),
        "restricted.pdf",
        422,
        "pdf_permissions_protected",
        ["permissions password", "remove the security"],
    ),
    "owner password only (AES-256)": (
        pdf(encrypt=("", "owner-secret", "AES-256")),
        "restricted-aes.pdf",
        422,
        "pdf_permissions_protected",
        ["permissions password", "No Security"],
    ),
    "PDF without pages": (pdf(pages=0), "nothing.pdf", 422, "pdf_no_pages", ["no pages"]),
    "page tree claiming 68 billion pages": (
        exponential_page_tree(),
        "bomb.pdf",
        422,
        "pdf_too_complex",
        ["cannot be checked"],
    ),
    "arrays nested 200,000 deep": (deeply_nested(), "deep.pdf", 422, "pdf_too_complex", ["cannot be checked"]),
    "path in the file name": (GOOD, "../../etc/passwd.pdf", 422, "file_name_has_path", ["slash"]),
    "Windows path in the file name": (GOOD, "reports\\2019\\bs.pdf", 422, "file_name_has_path", ["slash"]),
    "control characters in the file name": (
        GOOD,
        "balance\x07sheet\x1b[31m.pdf",
        422,
        "file_name_has_control_characters",
        ["control characters"],
    ),
    "300-character file name": (GOOD, "b" * 296 + ".pdf", 422, "file_name_too_long", ["300 characters", "255"]),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_a_bad_file_is_refused_with_its_own_message_and_changes_nothing(client, supplier, stored_files, case):
    content, name, status, rule, words = CORPUS[case]
    files_before = stored_files()

    response = upload(client, supplier, content, name=name)

    assert response.status_code == status, response.text
    body = response.json()
    assert body["rule"] == rule
    for word in words:
        assert word.lower() in body["detail"].lower(), body["detail"]
    assert history_total(client, supplier) == 0
    assert stored_files() == files_before


def test_every_bad_file_gets_a_different_message():
    rules = {rule for _, _, _, rule, _ in CORPUS.values()}
    assert len(rules) == 10  # one rule (and one message) per kind of problem


def test_the_content_decides_not_the_name_or_the_content_type(client, supplier):
    response = client.post(
        UPLOADS,
        headers=supplier.headers,
        data=supplier.fields(),
        files={"file": ("notes.txt", GOOD, "text/plain")},
    )

    assert response.status_code == 201, response.text
    assert response.json()["pages"] == 2


def test_an_odd_but_harmless_file_name_is_kept_sanitized(client, supplier):
    response = upload(client, supplier, GOOD, name='  Bilan "2019" <final>?.pdf ')

    assert response.status_code == 201
    assert response.json()["file_name"] == "Bilan _2019_ _final__.pdf"


def test_a_request_without_a_file_is_refused(client, supplier):
    response = client.post(
        UPLOADS, headers=supplier.headers, files={k: (None, v) for k, v in supplier.fields().items()}
    )

    assert response.status_code == 422
    assert response.json()["rule"] == "file_missing"


def test_a_body_that_is_neither_a_form_nor_json_is_refused(client, supplier):
    response = client.post(UPLOADS, headers={**supplier.headers, "Content-Type": "application/pdf"}, content=GOOD)

    assert response.status_code == 415
    assert response.json()["rule"] == "unsupported_media_type"


def test_a_malformed_form_is_refused(client, supplier):
    response = client.post(
        UPLOADS,
        headers={**supplier.headers, "Content-Type": "multipart/form-data; boundary=xyz"},
        content=b'--xyz\r\nContent-Disposition: form-data; name="bidder_number"\r\n\r\n1',  # no end
    )

    assert response.status_code == 400
    assert response.json()["rule"] in {"upload_incomplete", "form_invalid"}


def test_two_files_in_one_upload_are_refused(client, supplier):
    boundary = "b0undary"
    body = b"".join(multipart_body(supplier.fields(), iter([GOOD]), "a.pdf", boundary))
    body = body.replace(f"--{boundary}--".encode(), b"") + b"".join(multipart_body({}, iter([GOOD]), "b.pdf", boundary))

    response = client.post(
        UPLOADS, headers={**supplier.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}, content=body
    )

    assert response.status_code == 400
    assert response.json()["rule"] == "form_invalid"
    assert "only one file" in response.json()["detail"]


# --- the size limit: 52,428,800 bytes (50 MiB) or more is refused --------------------------------


def test_the_largest_accepted_file_is_52_428_799_bytes(client, supplier, big_pdfs, storage_dir, db):
    path = big_pdfs["largest_accepted"]
    assert path.stat().st_size == MAX_FILE_BYTES - 1

    response = upload(client, supplier, path.read_bytes(), name="largest.pdf")

    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == MAX_FILE_BYTES - 1
    assert response.json()["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("which", ["exactly_50_mb", "50_mb_plus_1"])
def test_a_file_of_50_mb_or_more_is_refused_with_a_content_length(client, supplier, big_pdfs, stored_files, which):
    path = big_pdfs[which]
    files_before = stored_files()

    response = upload(client, supplier, path.read_bytes(), name="big.pdf")

    assert response.status_code == 413
    assert response.json()["rule"] == "file_too_large"
    assert "under 50 MB" in response.json()["detail"]
    assert history_total(client, supplier) == 0
    assert stored_files() == files_before


@pytest.mark.parametrize("which", ["exactly_50_mb", "50_mb_plus_1"])
def test_a_file_of_50_mb_or_more_is_refused_when_streamed_without_a_length(
    client, supplier, big_pdfs, stored_files, which
):
    boundary = "streamed-boundary"
    files_before = stored_files()

    response = client.post(
        UPLOADS,
        headers={**supplier.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=multipart_body(supplier.fields(), file_chunks(big_pdfs[which]), "big.pdf", boundary),
    )

    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["rule"] == "file_too_large"
    assert history_total(client, supplier) == 0
    assert stored_files() == files_before


def test_the_largest_file_streamed_without_a_length_is_accepted(client, supplier, big_pdfs):
    boundary = "streamed-boundary"

    response = client.post(
        UPLOADS,
        headers={**supplier.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=multipart_body(supplier.fields(), file_chunks(big_pdfs["largest_accepted"]), "big.pdf", boundary),
    )

    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == MAX_FILE_BYTES - 1


# --- a PDF built to make the parser work hard is bounded by time and memory ------------------------


def test_a_pdf_too_slow_to_read_is_stopped_at_the_time_limit(client, supplier, monkeypatch, stored_files):
    from api.documents import pdf_check

    monkeypatch.setattr(pdf_check, "CHECK_SECONDS", 1.0)
    slow = page_tree(90_000)  # a real 90,000-page PDF: several seconds of pypdf work
    files_before = stored_files()

    started = time.monotonic()
    response = upload(client, supplier, slow, name="slow.pdf")
    elapsed = time.monotonic() - started

    assert response.status_code == 422
    assert response.json()["rule"] == "pdf_too_complex"
    assert elapsed < 5
    assert history_total(client, supplier) == 0
    assert stored_files() == files_before


def test_a_pdf_too_big_to_read_in_memory_is_stopped_at_the_memory_limit(client, supplier, monkeypatch):
    from api.documents import pdf_check

    monkeypatch.setattr(pdf_check, "CHECK_MEMORY_BYTES", 150 * 1024 * 1024)
    response = upload(client, supplier, page_tree(90_000), name="heavy.pdf")

    assert response.status_code == 422
    assert response.json()["rule"] == "pdf_too_complex"
    assert history_total(client, supplier) == 0
