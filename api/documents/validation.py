"""The rules of an upload: every field checked against the data and the signed-in user, and the file.

Each check raises a `DocumentError` naming the rule it enforces and what the supplier should do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from api.auth.models import Bidder, User
from api.documents import pdf_check
from api.documents.errors import DocumentError, error
from api.documents.models import BidCycle, Cba, DocumentDescription, DocumentType
from api.documents.pdf_check import Outcome
from api.documents.schemas import StagedUploadRequest, UploadFields
from api.documents.storage import PendingFile

MAX_NICKNAME_CHARS = 80
NICKNAME_PUNCTUATION = set(" .,-_()&'#+")
UPLOAD_FIELDS = frozenset(UploadFields.model_fields)
REQUIRED_FIELDS = frozenset(name for name, f in UploadFields.model_fields.items() if f.is_required())

FIELD_HINTS = {
    "bid_cycle": "leave it empty to use the open bid cycle",
    "bidder_number": "choose the bidder number you are uploading for",
    "document_type": "choose what you are uploading (I am uploading…)",
    "description": "choose what the document includes (This document includes…)",
    "cba": "choose the competitive bidding area the bond is for",
    "nickname": "shorten the nickname or leave it empty",
    "certification_user_id": "sign the certification statement by entering your IDM user ID",
    "staged_file_id": "attach the file again",
}


FIELD_LABELS = {
    "bid_cycle": "The bid cycle",
    "bidder_number": "The bidder number",
    "document_type": "The document type",
    "description": "The document description",
    "cba": "The CBA",
    "nickname": "The nickname",
    "certification_user_id": "The certification signature (your IDM user ID)",
    "staged_file_id": "The staged file reference",
}


def fold(value: str) -> str:
    return " ".join(value.casefold().split())


def parse_fields(raw: dict[str, Any], model: type[UploadFields] = UploadFields) -> UploadFields:
    """The form's fields as a model, or the first broken rule as one sentence."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _field_error(exc) from None


def parse_json_request(raw: bytes) -> StagedUploadRequest:
    """A JSON upload request (fields and a staged file reference)."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise error(400, "invalid_json", "The request body must be a JSON object with the upload fields.")
    return parse_fields(data, StagedUploadRequest)  # type: ignore[return-value]


def _field_error(exc: ValidationError) -> DocumentError:
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "request"
    label = FIELD_LABELS.get(name, f"The field '{name[:40]}'")
    hint = FIELD_HINTS.get(name, "remove it")
    kind = first["type"]
    if kind == "missing":
        return error(422, "field_required", f"{label} is required; {hint}.", field=name)
    if kind == "extra_forbidden":
        fields = ", ".join(sorted(UPLOAD_FIELDS))
        return error(422, "unknown_field", f"'{name[:40]}' is not an upload field; send only: {fields}.", field=name)
    if kind == "string_too_long":
        limit = first.get("ctx", {}).get("max_length")
        return error(422, "field_too_long", f"{label} may have at most {limit} characters; {hint}.", field=name)
    if kind == "string_too_short":
        return error(422, "field_required", f"{label} is required; {hint}.", field=name)
    if kind == "string_pattern_mismatch":
        return error(422, "field_invalid", f"{label} is not one this service gives out; {hint}.", field=name)
    if kind == "value_error":
        return error(422, "field_invalid", f"{label} must not contain control characters; {hint}.", field=name)
    return error(422, "field_invalid", f"{label} must be text; {hint}.", field=name)


@dataclass(frozen=True)
class ResolvedUpload:
    """The upload fields, each checked against the data and the signed-in user."""

    bid_cycle: BidCycle
    bidder: Bidder
    document_type: DocumentType
    description: DocumentDescription
    cba: Cba | None
    nickname: str | None
    certification_user_id: str


def default_bid_cycle(*, db: Session) -> BidCycle | None:
    """The bid cycle shown and used when none is chosen: the default one that is open."""
    return db.scalar(
        select(BidCycle).where(BidCycle.is_default.is_(True), BidCycle.is_open.is_(True)).order_by(BidCycle.id)
    )


def resolve_bid_cycle(*, db: Session, name: str | None) -> BidCycle:
    default = default_bid_cycle(db=db)
    if name is None:
        if default is None:
            raise error(
                409,
                "no_open_bid_cycle",
                "No bid cycle accepts uploads right now; call customer service at 877-577-5331 for help.",
            )
        return default
    cycle = next((c for c in db.scalars(select(BidCycle)) if fold(c.name) == fold(name)), None)
    use = f"leave the bid cycle empty to use {default.name}" if default else "call customer service at 877-577-5331"
    if cycle is None:
        raise error(422, "bid_cycle_unknown", f"There is no bid cycle named '{name}'; {use}.", field="bid_cycle")
    if not cycle.is_open:
        raise error(
            409, "bid_cycle_closed", f"{cycle.name} is closed and accepts no more uploads; {use}.", field="bid_cycle"
        )
    return cycle


def resolve_bidder(*, user: User, bidder_number: str) -> Bidder:
    """One of the user's own bidders; the answer never reveals whose another number is."""
    for bidder in user.bidders:
        if bidder.bidder_number == bidder_number.strip():
            return bidder
    yours = ", ".join(user.bidder_numbers) or "none"
    raise error(
        403,
        "bidder_not_yours",
        f"Bidder number {bidder_number[:16]} is not one you may act for; choose one of your bidder numbers "
        f"({yours}), or call customer service at 877-577-5331 if one is missing.",
        field="bidder_number",
    )


def document_types(*, db: Session) -> list[DocumentType]:
    return list(
        db.scalars(
            select(DocumentType).options(joinedload(DocumentType.descriptions)).order_by(DocumentType.sort_order)
        ).unique()
    )


def resolve_document_type(*, db: Session, value: str) -> DocumentType:
    types = document_types(db=db)
    for doc_type in types:
        if fold(value) in {fold(doc_type.code), fold(doc_type.name)}:
            return doc_type
    names = ", ".join(t.name for t in types)
    raise error(
        422,
        "document_type_unknown",
        f"'{value[:60]}' is not a document type; choose one of: {names}.",
        field="document_type",
    )


def resolve_description(*, doc_type: DocumentType, value: str) -> DocumentDescription:
    for desc in doc_type.descriptions:
        if fold(value) in {fold(desc.code), fold(desc.name)}:
            return desc
    names = ", ".join(d.name for d in doc_type.descriptions)
    raise error(
        422,
        "description_not_for_type",
        f"'{value[:60]}' is not a description of {doc_type.name}; choose one of: {names}.",
        field="description",
    )


def resolve_cba(*, db: Session, cycle: BidCycle, doc_type: DocumentType, value: str | None) -> Cba | None:
    if not doc_type.requires_cba:
        if value is not None:
            raise error(
                422,
                "cba_not_allowed",
                f"A CBA is chosen only for a bid surety bond; leave the CBA empty for {doc_type.name}.",
                field="cba",
            )
        return None
    if value is None:
        raise error(
            422,
            "cba_required",
            f"A {doc_type.name.lower()} must name its competitive bidding area; choose the CBA the bond is for.",
            field="cba",
        )
    cbas = db.scalars(select(Cba).where(Cba.bid_cycle_pk == cycle.id)).all()
    for cba in cbas:
        if fold(value) in {fold(cba.code), fold(cba.name)}:
            return cba
    raise error(
        422,
        "cba_unknown",
        f"'{value[:60]}' is not one of the {len(cbas)} CBAs of {cycle.name}; "
        "search the CBAs by city or state and choose one from the list.",
        field="cba",
    )


def check_nickname(value: str | None) -> str | None:
    if value is None:
        return None
    nickname = value.strip()
    if len(nickname) > MAX_NICKNAME_CHARS:
        raise error(
            422,
            "nickname_too_long",
            f"A nickname may have at most {MAX_NICKNAME_CHARS} characters and this one has {len(nickname)}; "
            "shorten it or leave it empty.",
            field="nickname",
        )
    if not all(ch.isalnum() or ch in NICKNAME_PUNCTUATION for ch in nickname):  # a tab or newline too
        raise error(
            422,
            "nickname_invalid_characters",
            "A nickname may use only letters, digits, spaces and . , - _ ( ) & ' # +; "
            "remove the other characters or leave it empty.",
            field="nickname",
        )
    return nickname


def check_certification(*, user: User, signature: str) -> str:
    """The signature must be the signed-in user's own IDM user ID (from the session, never the request)."""
    if signature.strip() != user.user_id:
        raise error(
            422,
            "certification_mismatch",
            "The certification statement must be signed with your own IDM user ID, the one you signed in with; "
            "enter it exactly and confirm again.",
            field="certification_user_id",
        )
    return user.user_id


def resolve_fields(*, db: Session, user: User, fields: UploadFields) -> ResolvedUpload:
    """Check every field against the data and the signed-in user; the first broken rule is raised."""
    cycle = resolve_bid_cycle(db=db, name=fields.bid_cycle)
    bidder = resolve_bidder(user=user, bidder_number=fields.bidder_number)
    doc_type = resolve_document_type(db=db, value=fields.document_type)
    description = resolve_description(doc_type=doc_type, value=fields.description)
    cba = resolve_cba(db=db, cycle=cycle, doc_type=doc_type, value=fields.cba)
    nickname = check_nickname(fields.nickname)
    signature = check_certification(user=user, signature=fields.certification_user_id)
    return ResolvedUpload(cycle, bidder, doc_type, description, cba, nickname, signature)


_OUTCOME_ERRORS: dict[Outcome, tuple[int, str, str]] = {
    Outcome.not_a_pdf: (
        415,
        "not_a_pdf",
        "The file is not a PDF, whatever its name says; save or print the document as a PDF and upload that file.",
    ),
    Outcome.damaged: (
        422,
        "pdf_damaged",
        "The PDF is damaged or incomplete and cannot be opened; save or download it again from where it was "
        "made and upload the new file.",
    ),
    Outcome.password_required: (
        422,
        "pdf_password_protected",
        "The PDF is password protected (it needs a password to open); open it, save or print it as a new PDF "
        "without a password, and upload that file.",
    ),
    Outcome.permissions_password: (
        422,
        "pdf_permissions_protected",
        "The PDF has a permissions password that restricts printing or copying, and protected PDFs are not "
        "accepted; remove the security (in Adobe Acrobat: File > Properties > Security > No Security, or print "
        "it to a new PDF) and upload that file.",
    ),
    Outcome.no_pages: (
        422,
        "pdf_no_pages",
        "The PDF has no pages; save the document again as a PDF with its pages and upload that file.",
    ),
    Outcome.too_complex: (
        422,
        "pdf_too_complex",
        "The PDF is built in a way that cannot be checked within the time and memory allowed; print it to a "
        "new PDF (or scan it again) and upload that file.",
    ),
    Outcome.unavailable: (
        503,
        "checker_unavailable",
        "The file could not be checked just now and nothing was saved; please try again in a few minutes.",
    ),
}


def check_file(pending: PendingFile) -> int:
    """Refuse the received file unless it is a PDF that opens without a password; return its page count."""
    if pending.size == 0:
        raise error(
            422,
            "empty_file",
            "The file is empty (0 bytes); choose the PDF again, or save it again if it is empty on your computer.",
            field="file",
        )
    if not pdf_check.looks_like_pdf(pending.head):
        outcome = pdf_check.PdfCheck(Outcome.not_a_pdf)
    else:
        outcome = pdf_check.check_pdf(pending.path)
    if outcome.outcome is Outcome.ok:
        return outcome.pages
    status, rule, detail = _OUTCOME_ERRORS[outcome.outcome]
    raise error(status, rule, detail, field="file")
