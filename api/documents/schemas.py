"""What the documents routes accept and answer, kept apart from the ORM models."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

STAGED_FILE_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
CONFIRMATION_NUMBER_PATTERN = r"^CBP-[0-9A-Z]{4}-[0-9A-Z]{4}$"

RECEIPT_ONLY = (
    "The upload history confirms that a document was received; it does not confirm that the document "
    "is accurate or complete."
)


class UploadFields(BaseModel):
    """The upload form's fields (`multipart/form-data` beside the file, or JSON with a staged file)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    bid_cycle: str | None = Field(None, max_length=64, description="Default: the open bid cycle (Round 2021).")
    bidder_number: str = Field(min_length=1, max_length=16, description="One of the signed-in user's bidder numbers.")
    document_type: str = Field(
        min_length=1, max_length=100, description="`I am uploading…`: a document type code or name, e.g. financial."
    )
    description: str = Field(
        min_length=1, max_length=100, description="`This document includes…`: a description code or name."
    )
    cba: str | None = Field(
        None, max_length=120, description="CBA code or name; required for a bid surety bond, refused otherwise."
    )
    nickname: str | None = Field(None, max_length=200, description="Optional alternate name, up to 80 characters.")
    certification_user_id: str = Field(
        min_length=1, max_length=64, description="The signature: the signed-in user's own IDM user ID."
    )

    @field_validator("bid_cycle", "cba", "nickname", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("bid_cycle", "bidder_number", "document_type", "description", "cba", "certification_user_id")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        # (The nickname has its own, more precise rule.) NUL and friends never reach the database.
        if value is not None and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("control characters")
        return value


class StagedUploadRequest(UploadFields):
    """An upload of a file staged before (`POST /api/v1/documents/staged`), sent as JSON."""

    staged_file_id: str = Field(
        min_length=1, max_length=64, pattern=STAGED_FILE_ID_PATTERN, description="The reference returned by staging."
    )


class UploadPublic(BaseModel):
    """One upload, as the upload history shows it."""

    confirmation_number: str
    bid_cycle: str
    bidder_number: str
    document_type: str
    document_type_name: str
    description: str
    description_name: str
    cba: str | None
    cba_name: str | None
    file_name: str = Field(description="The original file name, sanitized; metadata only.")
    nickname: str | None
    size_bytes: int
    pages: int
    sha256: str
    uploaded_at: dt.datetime = Field(description="In prevailing Eastern Time.")
    uploaded_at_text: str = Field(description='E.g. "November 23, 2026 at 11:31 AM EST".')


class UploadReceipt(UploadPublic):
    """The answer to a successful upload: what was recorded, when, and its confirmation number."""

    message: str
    notice: str = RECEIPT_ONLY


class UploadHistory(BaseModel):
    """One page of the signed-in user's upload history, newest first."""

    items: list[UploadPublic]
    total: int
    page: int
    page_size: int
    pages: int
    notice: str = RECEIPT_ONLY


class StagedFilePublic(BaseModel):
    """A checked PDF waiting for its upload; the chat passes only `staged_file_id` on."""

    staged_file_id: str
    file_name: str
    size_bytes: int
    pages: int
    sha256: str
    expires_at: dt.datetime = Field(description="In prevailing Eastern Time.")
    message: str


class BidCyclePublic(BaseModel):
    name: str
    is_open: bool
    contract_start: dt.date | None
    contract_end: dt.date | None


class BidderPublic(BaseModel):
    bidder_number: str
    organization: str


class DescriptionPublic(BaseModel):
    code: str
    name: str
    help: str | None


class DocumentTypePublic(BaseModel):
    code: str
    name: str
    requires_cba: bool
    help: str | None
    descriptions: list[DescriptionPublic]


class UploadOptions(BaseModel):
    """Everything the upload form offers the signed-in user."""

    bid_cycle: BidCyclePublic
    bidder_numbers: list[BidderPublic]
    document_types: list[DocumentTypePublic]
    cba_count: int
    cba_search: str = Field(description="Where to search the CBAs of the bid cycle.")
    max_file_bytes: int = Field(description="A file of this many bytes or more is refused (50 MB).")
    file_rules: str


class CbaPublic(BaseModel):
    code: str
    name: str
    state: str
    states: list[str]


class CbaSearchResult(BaseModel):
    bid_cycle: str
    query: str
    total: int
    items: list[CbaPublic]


class CleanupReport(BaseModel):
    expired_staged_files: int
    orphan_files: int
    temporary_files: int
