"""Bid cycles, document types and their descriptions, CBAs, staged files and uploads.

The reference rows (cycles, types, descriptions, CBAs) are data, loaded from
`reference_data.json`; the code only knows their shape.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.auth.models import Bidder, User
from api.database import Base


class BidCycle(Base):
    """A bid cycle (e.g. Round 2021). A closed cycle accepts no uploads."""

    __tablename__ = "bid_cycles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_open: Mapped[bool] = mapped_column(Boolean, comment="Accepts uploads.")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, comment="Shown and used when none is chosen.")
    contract_start: Mapped[dt.date | None] = mapped_column(Date)
    contract_end: Mapped[dt.date | None] = mapped_column(Date)


class DocumentType(Base):
    """What is being uploaded (`I am uploading…`), e.g. financial documents or a bid surety bond."""

    __tablename__ = "document_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    requires_cba: Mapped[bool] = mapped_column(Boolean, comment="A CBA is required, and refused when false.")
    help: Mapped[str | None] = mapped_column(String(300))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    descriptions: Mapped[list[DocumentDescription]] = relationship(
        back_populates="document_type", order_by="DocumentDescription.sort_order"
    )


class DocumentDescription(Base):
    """A description allowed for one document type (`This document includes…`)."""

    __tablename__ = "document_descriptions"
    __table_args__ = (UniqueConstraint("document_type_pk", "code", name="uq_document_descriptions_type_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_type_pk: Mapped[int] = mapped_column(ForeignKey("document_types.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    help: Mapped[str | None] = mapped_column(String(300))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    document_type: Mapped[DocumentType] = relationship(back_populates="descriptions")


class Cba(Base):
    """A competitive bidding area of one bid cycle, e.g. "Akron, OH"."""

    __tablename__ = "cbas"
    __table_args__ = (UniqueConstraint("bid_cycle_pk", "code", name="uq_cbas_bid_cycle_pk_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bid_cycle_pk: Mapped[int] = mapped_column(ForeignKey("bid_cycles.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(2), comment="The first (main) state of the area.")
    states: Mapped[str] = mapped_column(String(32), comment="Every state of the area, e.g. OH-KY-IN.")


class StagedFile(Base):
    """A checked PDF the chat client stored before the upload; the bot only holds its reference."""

    __tablename__ = "staged_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    staged_file_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    file_name: Mapped[str] = mapped_column(String(255), comment="Sanitized original name: metadata only.")
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    page_count: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class DocumentUpload(Base):
    """One document a user uploaded: everything the upload history shows, and the stored file."""

    __tablename__ = "document_uploads"
    __table_args__ = (
        # A retried request with the same key returns the first result instead of a duplicate.
        UniqueConstraint("user_pk", "idempotency_key", name="uq_document_uploads_user_pk_idempotency_key"),
        Index("ix_document_uploads_user_pk_uploaded_at", "user_pk", "uploaded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation_number: Mapped[str] = mapped_column(String(24), unique=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    bidder_pk: Mapped[int] = mapped_column(ForeignKey("bidders.id", ondelete="RESTRICT"), index=True)
    bid_cycle_pk: Mapped[int] = mapped_column(ForeignKey("bid_cycles.id", ondelete="RESTRICT"))
    document_type_pk: Mapped[int] = mapped_column(ForeignKey("document_types.id", ondelete="RESTRICT"))
    description_pk: Mapped[int] = mapped_column(ForeignKey("document_descriptions.id", ondelete="RESTRICT"))
    cba_pk: Mapped[int | None] = mapped_column(ForeignKey("cbas.id", ondelete="RESTRICT"))
    file_name: Mapped[str] = mapped_column(String(255), comment="Sanitized original name: metadata only.")
    nickname: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    page_count: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(
        String(200), unique=True, comment="Server-generated; never the user's name."
    )
    certification_user_id: Mapped[str] = mapped_column(
        String(64), comment="The IDM user ID signed under the certification statement (the uploader's own)."
    )
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64), comment="Hash of what was asked, for key reuse.")

    user: Mapped[User] = relationship()
    bidder: Mapped[Bidder] = relationship()
    bid_cycle: Mapped[BidCycle] = relationship()
    document_type: Mapped[DocumentType] = relationship()
    description: Mapped[DocumentDescription] = relationship()
    cba: Mapped[Cba | None] = relationship()
