"""Staging for the chat: the client stages a checked PDF, the bot uploads it by reference."""

from __future__ import annotations

import datetime as dt
import os
import time

from sqlalchemy import select, update

from tests.api.documents.conftest import UPLOADS, history_total
from tests.api.documents.pdfs import pdf

STAGED = f"{UPLOADS}/staged"


def stage(client, supplier, content: bytes | None = None, name: str = "staged.pdf"):
    files = {"file": (name, pdf(pages=4) if content is None else content, "application/pdf")}
    return client.post(STAGED, headers=supplier.headers, files=files)


def staged_upload(client, supplier, staged_file_id: str, **fields):
    return client.post(UPLOADS, headers=supplier.headers, json=supplier.fields(staged_file_id=staged_file_id, **fields))


def test_a_staged_pdf_is_checked_and_described_but_not_uploaded(client, supplier):
    response = stage(client, supplier, name="Income statement.pdf")

    assert response.status_code == 201, response.text
    staged = response.json()
    assert staged["file_name"] == "Income statement.pdf"
    assert staged["pages"] == 4
    assert staged["size_bytes"] > 0
    assert "not uploaded yet" in staged["message"]
    expires = dt.datetime.fromisoformat(staged["expires_at"])
    assert dt.timedelta(hours=23, minutes=59) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)
    assert history_total(client, supplier) == 0
    assert client.get(f"{STAGED}/{staged['staged_file_id']}", headers=supplier.headers).json() == staged


def test_a_staged_file_is_uploaded_by_its_reference_and_only_once(client, supplier):
    staged = stage(client, supplier).json()

    first = staged_upload(client, supplier, staged["staged_file_id"], description="Income Statement")
    again = staged_upload(client, supplier, staged["staged_file_id"], description="Income Statement")

    assert first.status_code == 201, first.text
    assert first.json()["sha256"] == staged["sha256"]
    assert first.json()["pages"] == 4
    assert again.status_code == 404
    assert again.json()["rule"] == "staged_file_not_found"
    assert "attach the file again" in again.json()["detail"]
    assert history_total(client, supplier) == 1


def test_a_bad_staged_file_is_refused_like_an_upload_and_nothing_is_kept(client, supplier, stored_files):
    before = stored_files()

    locked = stage(client, supplier, pdf(encrypt=("pw", "owner", "AES-256")))
    not_pdf = stage(client, supplier, b"GIF89a not a pdf")

    assert (locked.status_code, locked.json()["rule"]) == (422, "pdf_password_protected")
    assert (not_pdf.status_code, not_pdf.json()["rule"]) == (415, "not_a_pdf")
    assert stored_files() == before


def test_another_users_staged_file_cannot_be_seen_used_or_discarded(client, supplier, make_supplier):
    other = make_supplier()
    staged = stage(client, supplier).json()
    sid = staged["staged_file_id"]

    seen = client.get(f"{STAGED}/{sid}", headers=other.headers)
    used = staged_upload(client, other, sid)
    discarded = client.delete(f"{STAGED}/{sid}", headers=other.headers)

    assert (seen.status_code, used.status_code, discarded.status_code) == (404, 404, 404)
    assert used.json()["rule"] == "staged_file_not_found"
    assert history_total(client, other) == 0
    assert staged_upload(client, supplier, sid).status_code == 201  # still the owner's to use


def test_a_staged_upload_checks_the_fields_too(client, supplier):
    staged = stage(client, supplier).json()

    response = staged_upload(client, supplier, staged["staged_file_id"], bidder_number="24680")

    assert response.status_code == 403
    assert response.json()["rule"] == "bidder_not_yours"
    assert client.get(f"{STAGED}/{staged['staged_file_id']}", headers=supplier.headers).status_code == 200


def test_a_json_upload_must_name_a_staged_file_and_only_known_fields(client, supplier):
    missing = client.post(UPLOADS, headers=supplier.headers, json=supplier.fields())
    extra = client.post(UPLOADS, headers=supplier.headers, json=supplier.fields(staged_file_id="x", owner="me"))
    not_json = client.post(
        UPLOADS, headers={**supplier.headers, "Content-Type": "application/json"}, content=b"{not json"
    )

    assert (missing.status_code, missing.json()["rule"]) == (422, "field_required")
    assert missing.json()["field"] == "staged_file_id"
    assert (extra.status_code, extra.json()["rule"]) == (422, "unknown_field")
    assert (not_json.status_code, not_json.json()["rule"]) == (400, "invalid_json")


def test_an_expired_staged_file_cannot_be_uploaded_and_the_cleanup_removes_it(client, supplier, db, storage_dir):
    from api.documents import service
    from api.documents.models import StagedFile
    from api.documents.storage import get_storage

    staged = stage(client, supplier).json()
    row = db.scalar(select(StagedFile).where(StagedFile.staged_file_id == staged["staged_file_id"]))
    path = storage_dir / row.storage_key
    assert path.exists()
    db.execute(
        update(StagedFile)
        .where(StagedFile.id == row.id)
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db.commit()

    response = staged_upload(client, supplier, staged["staged_file_id"])
    report = service.cleanup(db=db, storage=get_storage())

    assert response.status_code == 404
    assert response.json()["rule"] == "staged_file_not_found"
    assert report.expired_staged_files >= 1
    assert not path.exists()
    db.expire_all()
    assert db.scalar(select(StagedFile).where(StagedFile.id == row.id)) is None


def test_a_staged_file_can_be_discarded(client, supplier, storage_dir, db):
    from api.documents.models import StagedFile

    staged = stage(client, supplier).json()
    key = db.scalar(select(StagedFile.storage_key).where(StagedFile.staged_file_id == staged["staged_file_id"]))

    response = client.delete(f"{STAGED}/{staged['staged_file_id']}", headers=supplier.headers)

    assert response.status_code == 204
    assert not (storage_dir / key).exists()
    assert staged_upload(client, supplier, staged["staged_file_id"]).status_code == 404


def test_the_cleanup_removes_orphan_and_temporary_files_but_keeps_uploaded_ones(client, supplier, db, storage_dir):
    from api.documents import service
    from api.documents.storage import get_storage

    uploaded = client.post(
        UPLOADS, headers=supplier.headers, data=supplier.fields(), files={"file": ("a.pdf", pdf(), "application/pdf")}
    ).json()
    (row,) = [
        r
        for r in db.scalars(select(service.DocumentUpload))
        if r.confirmation_number == uploaded["confirmation_number"]
    ]
    kept = storage_dir / row.storage_key
    orphan = storage_dir / "files" / "ab" / ("ab" + "0" * 30 + ".pdf")
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"%PDF-1.7 left by a crash between rename and commit")
    temporary = storage_dir / "tmp" / "deadbeef.part"
    temporary.write_bytes(b"half an upload")
    old = time.time() - 2 * 3600
    for path in (kept, orphan, temporary):
        os.utime(path, (old, old))

    report = service.cleanup(db=db, storage=get_storage())

    assert report.orphan_files >= 1
    assert report.temporary_files >= 1
    assert not orphan.exists()
    assert not temporary.exists()
    assert kept.exists()
