"""A retried upload is not recorded twice, and a file and its row are saved together or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from tests.api.documents.conftest import UPLOADS, history_total, upload_rows
from tests.api.documents.pdfs import pdf


def post(client, supplier, content: bytes, key: str | None = None, **fields):
    headers = {**supplier.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(
        UPLOADS, headers=headers, data=supplier.fields(**fields), files={"file": ("a.pdf", content, "application/pdf")}
    )


def test_a_retry_with_the_same_key_returns_the_first_result_and_records_nothing_new(client, supplier, db, stored_files):
    content = pdf(text="retry me")
    first = post(client, supplier, content, key="upload-7f3a")
    files_after_first = stored_files()

    retry = post(client, supplier, content, key="upload-7f3a")

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert len(upload_rows(db, supplier)) == 1
    assert stored_files() == files_after_first


def test_the_same_key_for_a_different_upload_is_refused(client, supplier):
    post(client, supplier, pdf(text="one"), key="upload-key-1")

    other_file = post(client, supplier, pdf(text="two"), key="upload-key-1")
    other_fields = post(client, supplier, pdf(text="one"), key="upload-key-1", description="Credit Report")

    assert (other_file.status_code, other_file.json()["rule"]) == (422, "idempotency_key_reused")
    assert (other_fields.status_code, other_fields.json()["rule"]) == (422, "idempotency_key_reused")
    assert "new key" in other_file.json()["detail"]
    assert history_total(client, supplier) == 1


def test_keys_belong_to_one_user(client, make_supplier):
    alice, bob = make_supplier(), make_supplier()

    a = post(client, alice, pdf(text="same"), key="shared-key")
    b = post(client, bob, pdf(text="same"), key="shared-key")

    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["confirmation_number"] != b.json()["confirmation_number"]


def test_a_staged_upload_retried_with_its_key_is_recorded_once(client, supplier):
    staged = client.post(
        f"{UPLOADS}/staged", headers=supplier.headers, files={"file": ("s.pdf", pdf(), "application/pdf")}
    ).json()
    body = supplier.fields(staged_file_id=staged["staged_file_id"])
    headers = {**supplier.headers, "Idempotency-Key": "chat-turn-42"}

    first = client.post(UPLOADS, headers=headers, json=body)
    retry = client.post(UPLOADS, headers=headers, json=body)

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["confirmation_number"] == first.json()["confirmation_number"]
    assert history_total(client, supplier) == 1


def test_a_malformed_idempotency_key_is_refused(client, supplier):
    response = post(client, supplier, pdf(), key="x" * 200)

    assert response.status_code == 422
    assert response.json()["rule"] == "invalid_field"
    assert history_total(client, supplier) == 0


def test_when_the_database_fails_the_file_is_removed_and_the_answer_says_nothing_was_saved(
    client, supplier, stored_files, monkeypatch
):
    from api.documents import service

    real_insert = service._insert_upload

    def failing_insert(**kwargs):
        db = kwargs["db"]
        real_commit = db.commit

        def commit():
            monkeypatch.setattr(db, "commit", real_commit)
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))

        monkeypatch.setattr(db, "commit", commit)
        return real_insert(**kwargs)

    monkeypatch.setattr(service, "_insert_upload", failing_insert)
    before = stored_files()

    response = post(client, supplier, pdf(text="db down"))

    assert response.status_code == 503
    assert response.json()["rule"] == "service_unavailable"
    assert "could not save anything" in response.json()["detail"]
    assert stored_files() == before
    monkeypatch.undo()
    assert history_total(client, supplier) == 0


def test_when_the_disk_fails_nothing_is_recorded(client, supplier, stored_files, monkeypatch):
    from api.documents.storage import LocalStorage

    def full_disk(self, pending):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(LocalStorage, "save", full_disk)
    before = stored_files()

    response = post(client, supplier, pdf(text="disk full"))

    assert response.status_code == 503
    assert response.json()["rule"] == "storage_unavailable"
    assert "nothing was saved" in response.json()["detail"]
    assert stored_files() == before
    assert history_total(client, supplier) == 0


@pytest.mark.parametrize("stage", ["check", "fields"])
def test_a_refused_upload_leaves_no_temporary_file(client, supplier, storage_dir, stage):
    content = pdf(encrypt=("pw", "o", "RC4-128")) if stage == "check" else pdf()
    fields = {"bidder_number": "00000000"} if stage == "fields" else {}

    response = post(client, supplier, content, **fields)

    assert response.status_code in {403, 422}
    assert list((storage_dir / "tmp").iterdir()) == []
