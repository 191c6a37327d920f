"""Fixtures of the documents tests: fresh suppliers, the stored files, big PDFs and a live API server."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stack.localhost import free_port, wait_healthy
from tests.api.documents.pdfs import pdf, write_pdf_of_size

ROOT = Path(__file__).resolve().parents[3]
MAX_FILE_BYTES = 52_428_800
UPLOADS = "/api/v1/documents"


@dataclass
class Supplier:
    user_id: str
    bidder_numbers: list[str]
    headers: dict[str, str]

    def fields(self, **overrides: Any) -> dict[str, str]:
        """A valid set of upload fields for this supplier (a balance sheet); `None` drops a field."""
        fields = {
            "bidder_number": self.bidder_numbers[0],
            "document_type": "financial",
            "description": "balance_sheet",
            "certification_user_id": self.user_id,
        }
        fields.update(overrides)
        return {k: v for k, v in fields.items() if v is not None}


@pytest.fixture
def make_supplier(db: Session, demo_data: None):  # type: ignore[no-untyped-def]
    """make_supplier() -> a new signed-in supplier with two bidder numbers of their own."""
    from api.auth.models import Bidder, User
    from api.auth.passwords import hash_password
    from api.auth.sessions import create_session

    def _make(bidders: int = 2) -> Supplier:
        tag = uuid.uuid4().hex[:10]
        user = User(
            user_id=f"supplier.{tag}",
            first_name="Test",
            last_name="Supplier",
            email=f"{tag}@supplier.example",
            phone=None,
            password_hash=hash_password("Test-password-2021"),
        )
        numbers = [f"{int(tag[:7], 16) % 10**7:07d}{i}" for i in range(bidders)]
        user.bidders = [Bidder(bidder_number=n, organization=f"Supplier {tag} #{i}") for i, n in enumerate(numbers)]
        db.add(user)
        db.commit()
        token, _ = create_session(db=db, user=user)
        return Supplier(user.user_id, numbers, {"Authorization": f"Bearer {token}"})

    return _make


@pytest.fixture
def supplier(make_supplier) -> Supplier:  # type: ignore[no-untyped-def]
    return make_supplier()


def upload(client: Any, supplier: Supplier, content: bytes | None = None, name: str = "document.pdf", **fields: Any):  # type: ignore[no-untyped-def]
    """POST one multipart upload (fields first, then the file) and return the response."""
    files = {"file": (name, pdf() if content is None else content, "application/pdf")}
    return client.post(UPLOADS, headers=supplier.headers, data=supplier.fields(**fields), files=files)


def history_total(client: Any, supplier: Supplier) -> int:
    response = client.get(UPLOADS, headers=supplier.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


@pytest.fixture
def storage_dir(app_env: dict[str, str]) -> Path:
    return Path(app_env["STORAGE_DIR"])


@pytest.fixture
def stored_files(storage_dir: Path):  # type: ignore[no-untyped-def]
    """stored_files() -> every file under the storage folder (saved and temporary)."""

    def _files() -> set[str]:
        return {p.relative_to(storage_dir).as_posix() for p in storage_dir.rglob("*") if p.is_file()}

    return _files


def upload_rows(db: Session, supplier: Supplier) -> list[Any]:
    from api.auth.models import User
    from api.documents.models import DocumentUpload

    db.expire_all()
    user = db.scalar(select(User).where(User.user_id == supplier.user_id))
    assert user is not None
    return list(db.scalars(select(DocumentUpload).where(DocumentUpload.user_pk == user.id)))


def multipart_body(fields: dict[str, str], file_chunks: Iterator[bytes], name: str, boundary: str) -> Iterator[bytes]:
    """A multipart/form-data body as a generator: the fields, then the file, chunk by chunk."""
    for key, value in fields.items():
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    yield from file_chunks
    yield f"\r\n--{boundary}--\r\n".encode()


def file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


@pytest.fixture(scope="session")
def big_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Valid PDFs of 52,428,799 bytes (largest accepted), exactly 50 MiB, and 50 MiB + 1 byte."""
    folder = tmp_path_factory.mktemp("big-pdfs")
    return {
        "largest_accepted": write_pdf_of_size(folder / "largest.pdf", MAX_FILE_BYTES - 1),
        "exactly_50_mb": write_pdf_of_size(folder / "exact.pdf", MAX_FILE_BYTES),
        "50_mb_plus_1": write_pdf_of_size(folder / "plus1.pdf", MAX_FILE_BYTES + 1),
    }


@pytest.fixture(scope="session")
def live_server(app_env: dict[str, str], demo_data: None) -> Iterator[str]:
    """A real uvicorn server of the API on a free port, on the test database and storage."""
    port = free_port()
    env = {**os.environ, **app_env}
    command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([*command, "--log-level", "warning"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, "API server", timeout=180)  # generous: a loaded 2-core machine imports slowly
    except RuntimeError:
        proc.kill()
        raise
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
