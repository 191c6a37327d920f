"""The document upload: storing a checked file with its row, staged files, the history, options and CBAs.

A file and its database row are committed together or not at all: the file is received under a
temporary name, checked, fsynced and renamed, then the row is committed; if the commit fails the file
is removed. A process that dies between the rename and the commit leaves a file without a row, which
`cleanup` removes later; there is never a row without its file.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from api.auth.models import User
from api.config import get_settings
from api.documents import reference_data, validation
from api.documents.errors import DocumentError, error
from api.documents.models import Cba, DocumentUpload, StagedFile
from api.documents.schemas import (
    CONFIRMATION_NUMBER_PATTERN,
    STAGED_FILE_ID_PATTERN,
    BidCyclePublic,
    BidderPublic,
    CbaPublic,
    CbaSearchResult,
    CleanupReport,
    DescriptionPublic,
    DocumentTypePublic,
    StagedFilePublic,
    StagedUploadRequest,
    UploadFields,
    UploadOptions,
    UploadPublic,
    UploadReceipt,
)
from api.documents.storage import FileStorage, PendingFile
from api.documents.upload_body import MAX_FILE_BYTES, ReceivedForm, RequestBody, receive_form

STAGED_FILE_LIFETIME = dt.timedelta(hours=24)
ORPHAN_GRACE_SECONDS = 3600.0  # a file younger than this may belong to an upload still committing
CLEANUP_INTERVAL_SECONDS = 600.0
CONFIRMATION_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
FILE_RULES = "A PDF under 50 MB (at most 52,428,799 bytes) that opens without a password."


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def eastern(value: dt.datetime) -> dt.datetime:
    return _aware(value).astimezone(get_settings().tz)


def eastern_text(value: dt.datetime) -> str:
    local = eastern(value)
    return f"{local:%B} {local.day}, {local.year} at {local:%I:%M %p %Z}".replace(" at 0", " at ")


def _missing_file() -> DocumentError:
    return error(422, "file_missing", "No file was attached; choose your PDF file and upload again.", field="file")


def _storage_failed() -> DocumentError:
    return error(
        503,
        "storage_unavailable",
        "The file could not be stored just now and nothing was saved; please try again in a few minutes, "
        "and call customer service at 877-577-5331 if it keeps failing.",
    )


def _save(storage: FileStorage, pending: PendingFile) -> str:
    try:
        return storage.save(pending)
    except OSError:
        raise _storage_failed() from None


def _receive(
    body: RequestBody,
    *,
    storage: FileStorage,
    allowed: frozenset[str],
    before_file: Callable[[dict[str, str]], None] | None = None,
) -> ReceivedForm:
    try:
        return receive_form(body, storage=storage, allowed_fields=allowed, before_file=before_file)
    except OSError:
        raise _storage_failed() from None


# --- uploads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadResult:
    upload: DocumentUpload
    replayed: bool


def _fingerprint(fields: UploadFields, content: str) -> str:
    """What a request asked for, so that a reused Idempotency-Key with another request is refused."""
    data = fields.model_dump(exclude={"staged_file_id"})
    normalized = {k: validation.fold(v) if isinstance(v, str) else v for k, v in data.items()}
    normalized["content"] = content
    return hashlib.sha256(json.dumps(normalized, sort_keys=True).encode()).hexdigest()


def _by_idempotency_key(*, db: Session, user: User, key: str | None) -> DocumentUpload | None:
    if key is None:
        return None
    return db.scalar(
        select(DocumentUpload).where(DocumentUpload.user_pk == user.id, DocumentUpload.idempotency_key == key)
    )


def _replay(original: DocumentUpload, fingerprint: str) -> UploadResult:
    if original.request_fingerprint != fingerprint:
        raise error(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different upload; send a new key for a new upload.",
        )
    return UploadResult(original, replayed=True)


def _confirmation_number() -> str:
    code = "".join(secrets.choice(CONFIRMATION_ALPHABET) for _ in range(8))
    return f"CBP-{code[:4]}-{code[4:]}"


def _insert_upload(
    *,
    db: Session,
    user: User,
    resolved: validation.ResolvedUpload,
    file_name: str,
    size: int,
    pages: int,
    sha256: str,
    storage_key: str,
    idempotency_key: str | None,
    fingerprint: str,
    consume_staged: StagedFile | None = None,
) -> UploadResult:
    """Commit the upload row (and consume the staged file); the caller removes the file when this raises."""
    for _attempt in range(3):
        if consume_staged is not None:
            # Deleting the staged row first makes the file ours: a second upload or the clean-up that
            # comes later deletes nothing and stops.
            gone = db.execute(delete(StagedFile).where(StagedFile.id == consume_staged.id)).rowcount  # type: ignore[attr-defined]
            if gone != 1:
                db.rollback()
                raise staged_not_found()
        upload = DocumentUpload(
            confirmation_number=_confirmation_number(),
            user_pk=user.id,
            bidder_pk=resolved.bidder.id,
            bid_cycle_pk=resolved.bid_cycle.id,
            document_type_pk=resolved.document_type.id,
            description_pk=resolved.description.id,
            cba_pk=resolved.cba.id if resolved.cba else None,
            file_name=file_name,
            nickname=resolved.nickname,
            size_bytes=size,
            page_count=pages,
            sha256=sha256,
            storage_key=storage_key,
            certification_user_id=resolved.certification_user_id,
            uploaded_at=_now(),
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
        )
        db.add(upload)
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            original = _by_idempotency_key(db=db, user=user, key=idempotency_key)
            if original is not None:  # the same request, committed by a concurrent retry
                result = _replay(original, fingerprint)
                db.commit()
                return result
            continue  # a confirmation number collision: draw another
        return UploadResult(upload, replayed=False)
    raise error(503, "service_unavailable", "The upload could not be recorded just now; please try again.")


def upload_file(
    *, db: Session, storage: FileStorage, user: User, body: RequestBody, idempotency_key: str | None
) -> UploadResult:
    """Receive a multipart upload (fields and the file), check it all, store the file and record it."""
    existing = _by_idempotency_key(db=db, user=user, key=idempotency_key)
    early_fields: dict[str, str] | None = None
    early: validation.ResolvedUpload | None = None

    def before_file(fields: dict[str, str]) -> None:
        # The fields sent before the file are checked before the file is read, so a mistake there
        # costs the supplier nothing; no transaction stays open while the file streams.
        nonlocal early_fields, early
        if existing is None and fields.keys() >= validation.REQUIRED_FIELDS:
            early = validation.resolve_fields(db=db, user=user, fields=validation.parse_fields(fields))
            early_fields = fields
        db.commit()

    db.commit()
    form = _receive(body, storage=storage, allowed=validation.UPLOAD_FIELDS, before_file=before_file)
    pending = form.file
    try:
        if pending is None:
            raise _missing_file()
        fields = validation.parse_fields(form.fields)
        fingerprint = _fingerprint(fields, f"sha256:{pending.sha256}")
        if existing is not None:
            return _replay(existing, fingerprint)
        # Fields may also follow the file: then (and only then) they are checked now.
        resolved = early if early is not None and early_fields == form.fields else None
        if resolved is None:
            resolved = validation.resolve_fields(db=db, user=user, fields=fields)
        db.commit()
        pages = validation.check_file(pending)
        key = _save(storage, pending)
    finally:
        if pending is not None:
            pending.discard()  # a no-op once saved: the temporary name no longer exists
    try:
        result = _insert_upload(
            db=db,
            user=user,
            resolved=resolved,
            file_name=form.file_name or "document.pdf",
            size=pending.size,
            pages=pages,
            sha256=pending.sha256,
            storage_key=key,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    except BaseException:
        db.rollback()
        storage.delete(key)
        raise
    if result.replayed:
        storage.delete(key)  # a concurrent retry with the same key won; its file is the one kept
    return result


def upload_staged_file(
    *, db: Session, user: User, request: StagedUploadRequest, idempotency_key: str | None
) -> UploadResult:
    """Record an upload of a file staged before by the same user (the chat's way to upload)."""
    fingerprint = _fingerprint(request, f"staged:{request.staged_file_id}")
    existing = _by_idempotency_key(db=db, user=user, key=idempotency_key)
    if existing is not None:
        return _replay(existing, fingerprint)
    resolved = validation.resolve_fields(db=db, user=user, fields=request)
    staged = get_staged_file(db=db, user=user, staged_file_id=request.staged_file_id)
    if staged is None:
        raise staged_not_found()
    db.commit()  # the write transaction below must begin with a write (SQLite)
    return _insert_upload(
        db=db,
        user=user,
        resolved=resolved,
        file_name=staged.file_name,
        size=staged.size_bytes,
        pages=staged.page_count,
        sha256=staged.sha256,
        storage_key=staged.storage_key,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        consume_staged=staged,
    )


def get_upload(*, db: Session, user: User, confirmation_number: str) -> DocumentUpload | None:
    """One of the user's own uploads, by confirmation number."""
    if not re.fullmatch(CONFIRMATION_NUMBER_PATTERN, confirmation_number.strip().upper()):
        return None  # cannot exist; and odd bytes (NUL) never reach the database
    return db.scalar(
        _upload_query().where(
            DocumentUpload.user_pk == user.id,
            DocumentUpload.confirmation_number == confirmation_number.strip().upper(),
        )
    )


def _upload_query() -> Select[DocumentUpload]:
    return select(DocumentUpload).options(
        joinedload(DocumentUpload.bidder),
        joinedload(DocumentUpload.bid_cycle),
        joinedload(DocumentUpload.document_type),
        joinedload(DocumentUpload.description),
        joinedload(DocumentUpload.cba),
    )


def list_uploads(
    *,
    db: Session,
    user: User,
    bidder_number: str | None = None,
    document_type: str | None = None,
    uploaded_from: dt.date | None = None,
    uploaded_to: dt.date | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[DocumentUpload], int]:
    """The user's own uploads, newest first, filtered; returns one page and the total count."""
    conditions = [DocumentUpload.user_pk == user.id]
    if bidder_number is not None:
        bidder = validation.resolve_bidder(user=user, bidder_number=bidder_number)
        conditions.append(DocumentUpload.bidder_pk == bidder.id)
    if document_type is not None:
        doc_type = validation.resolve_document_type(db=db, value=document_type)
        conditions.append(DocumentUpload.document_type_pk == doc_type.id)
    if uploaded_from and uploaded_to and uploaded_from > uploaded_to:
        raise error(
            422,
            "date_range_invalid",
            "The start date of the range is after its end date; swap them or change one.",
            field="uploaded_from",
        )
    tz = get_settings().tz
    if uploaded_from is not None:  # dates are days in Eastern Time, the end day included
        start = dt.datetime.combine(uploaded_from, dt.time(), tzinfo=tz).astimezone(dt.UTC)
        conditions.append(DocumentUpload.uploaded_at >= start)
    if uploaded_to is not None:
        end = dt.datetime.combine(uploaded_to + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
        conditions.append(DocumentUpload.uploaded_at < end)
    total = db.scalar(select(func.count()).select_from(DocumentUpload).where(*conditions)) or 0
    rows = db.scalars(
        _upload_query()
        .where(*conditions)
        .order_by(DocumentUpload.uploaded_at.desc(), DocumentUpload.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return list(rows), total


def page_count(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


def to_public(upload: DocumentUpload) -> UploadPublic:
    return UploadPublic(
        confirmation_number=upload.confirmation_number,
        bid_cycle=upload.bid_cycle.name,
        bidder_number=upload.bidder.bidder_number,
        document_type=upload.document_type.code,
        document_type_name=upload.document_type.name,
        description=upload.description.code,
        description_name=upload.description.name,
        cba=upload.cba.code if upload.cba else None,
        cba_name=upload.cba.name if upload.cba else None,
        file_name=upload.file_name,
        nickname=upload.nickname,
        size_bytes=upload.size_bytes,
        pages=upload.page_count,
        sha256=upload.sha256,
        uploaded_at=eastern(upload.uploaded_at),
        uploaded_at_text=eastern_text(upload.uploaded_at),
    )


def to_receipt(upload: DocumentUpload) -> UploadReceipt:
    public = to_public(upload)
    what = public.description_name
    if validation.fold(public.description_name) != validation.fold(public.document_type_name):
        what += f" ({public.document_type_name})"
    if public.cba_name:
        what += f", CBA {public.cba_name},"
    pages = f"{public.pages} page{'s' if public.pages != 1 else ''}"
    message = (
        f"Your upload succeeded: confirmation number {public.confirmation_number}. We received {what} for "
        f"bidder {public.bidder_number} in {public.bid_cycle} ({public.file_name}, {pages}) "
        f"on {public.uploaded_at_text}."
    )
    return UploadReceipt(**public.model_dump(), message=message)


# --- staged files -----------------------------------------------------------------------------------


def staged_not_found() -> DocumentError:
    return error(
        404,
        "staged_file_not_found",
        "The staged file was not found: it has expired (after 24 hours), was already uploaded, or was never "
        "yours; attach the file again.",
        field="staged_file_id",
    )


def get_staged_file(*, db: Session, user: User, staged_file_id: str) -> StagedFile | None:
    """A staged file of this user that has not expired."""
    if not re.fullmatch(STAGED_FILE_ID_PATTERN, staged_file_id) or len(staged_file_id) > 64:
        return None
    return db.scalar(
        select(StagedFile).where(
            StagedFile.staged_file_id == staged_file_id,
            StagedFile.user_pk == user.id,
            StagedFile.expires_at > _now(),
        )
    )


def stage_file(*, db: Session, storage: FileStorage, user: User, body: RequestBody) -> StagedFile:
    """Receive and check a PDF for a later upload; the chat bot only gets its reference."""
    db.commit()
    form = _receive(body, storage=storage, allowed=frozenset())
    pending = form.file
    try:
        if pending is None:
            raise _missing_file()
        pages = validation.check_file(pending)
        key = _save(storage, pending)
    finally:
        if pending is not None:
            pending.discard()
    try:
        now = _now()
        staged = StagedFile(
            staged_file_id=secrets.token_urlsafe(24),
            user_pk=user.id,
            file_name=form.file_name or "document.pdf",
            size_bytes=pending.size,
            page_count=pages,
            sha256=pending.sha256,
            storage_key=key,
            created_at=now,
            expires_at=now + STAGED_FILE_LIFETIME,
        )
        db.add(staged)
        db.commit()
    except BaseException:
        db.rollback()
        storage.delete(key)
        raise
    return staged


def discard_staged_file(*, db: Session, storage: FileStorage, staged: StagedFile) -> None:
    """Remove a staged file the user no longer wants."""
    gone = db.execute(delete(StagedFile).where(StagedFile.id == staged.id)).rowcount  # type: ignore[attr-defined]
    db.commit()
    if gone == 1:
        storage.delete(staged.storage_key)


def staged_public(staged: StagedFile) -> StagedFilePublic:
    expires = eastern(staged.expires_at)
    return StagedFilePublic(
        staged_file_id=staged.staged_file_id,
        file_name=staged.file_name,
        size_bytes=staged.size_bytes,
        pages=staged.page_count,
        sha256=staged.sha256,
        expires_at=expires,
        message=(
            f"{staged.file_name} ({staged.page_count} page{'s' if staged.page_count != 1 else ''}) is a PDF we can "
            f"accept. It is kept until {eastern_text(staged.expires_at)} for you to finish the upload; "
            "it is not uploaded yet."
        ),
    )


# --- clean-up ---------------------------------------------------------------------------------------


def cleanup(*, db: Session, storage: FileStorage, now: dt.datetime | None = None) -> CleanupReport:
    """Remove expired staged files, files that no row refers to, and temporary files left behind."""
    now = now or _now()
    expired = 0
    for staged in db.scalars(select(StagedFile).where(StagedFile.expires_at <= now)).all():
        gone = db.execute(delete(StagedFile).where(StagedFile.id == staged.id)).rowcount  # type: ignore[attr-defined]
        db.commit()
        if gone == 1:  # only the one who deleted the row may delete the file
            storage.delete(staged.storage_key)
            expired += 1
    db.commit()
    cutoff = time.time() - ORPHAN_GRACE_SECONDS
    orphans = 0
    candidates = [key for key, mtime in storage.stored_files() if mtime < cutoff]
    for start in range(0, len(candidates), 500):
        batch = candidates[start : start + 500]
        known = set(db.scalars(select(DocumentUpload.storage_key).where(DocumentUpload.storage_key.in_(batch))))
        known |= set(db.scalars(select(StagedFile.storage_key).where(StagedFile.storage_key.in_(batch))))
        for key in batch:
            if key not in known:
                storage.delete(key)
                orphans += 1
    db.commit()
    temporary = storage.sweep_temporary(older_than=ORPHAN_GRACE_SECONDS)
    return CleanupReport(expired_staged_files=expired, orphan_files=orphans, temporary_files=temporary)


_cleanup_lock = threading.Lock()
_last_cleanup = 0.0


async def maybe_cleanup(*, storage: FileStorage) -> CleanupReport | None:
    """`cleanup`, at most once per `CLEANUP_INTERVAL_SECONDS` (run after staging, in the background),
    in a worker thread once its turn at the database comes."""
    global _last_cleanup
    with _cleanup_lock:
        if time.monotonic() - _last_cleanup < CLEANUP_INTERVAL_SECONDS:
            return None
        _last_cleanup = time.monotonic()
    from api.database import in_db

    return await in_db(cleanup, storage=storage)


# --- options and CBAs -------------------------------------------------------------------------------


def get_options(*, db: Session, user: User) -> UploadOptions:
    cycle = validation.default_bid_cycle(db=db)
    if cycle is None:
        raise error(
            409,
            "no_open_bid_cycle",
            "No bid cycle accepts uploads right now; call customer service at 877-577-5331 for help.",
        )
    cba_count = db.scalar(select(func.count()).select_from(Cba).where(Cba.bid_cycle_pk == cycle.id)) or 0
    return UploadOptions(
        bid_cycle=BidCyclePublic(
            name=cycle.name,
            is_open=cycle.is_open,
            contract_start=cycle.contract_start,
            contract_end=cycle.contract_end,
        ),
        bidder_numbers=[BidderPublic(bidder_number=b.bidder_number, organization=b.organization) for b in user.bidders],
        document_types=[
            DocumentTypePublic(
                code=t.code,
                name=t.name,
                requires_cba=t.requires_cba,
                help=t.help,
                descriptions=[DescriptionPublic(code=d.code, name=d.name, help=d.help) for d in t.descriptions],
            )
            for t in validation.document_types(db=db)
        ],
        cba_count=cba_count,
        cba_search="/api/v1/cbas?q=",
        max_file_bytes=MAX_FILE_BYTES,
        file_rules=FILE_RULES,
    )


def _cba_public(cba: Cba) -> CbaPublic:
    return CbaPublic(code=cba.code, name=cba.name, state=cba.state, states=cba.states.split("-"))


def search_cbas(*, db: Session, q: str, bid_cycle: str | None = None, limit: int = 20) -> CbaSearchResult:
    """CBAs whose name, state code or state name matches `q`, tolerating small typos; best first."""
    cycle = validation.resolve_bid_cycle(db=db, name=bid_cycle) if bid_cycle else validation.default_bid_cycle(db=db)
    if cycle is None:
        return CbaSearchResult(bid_cycle="", query=q, total=0, items=[])
    cbas = list(db.scalars(select(Cba).where(Cba.bid_cycle_pk == cycle.id).order_by(Cba.name)))
    query = validation.fold(re.sub(r"[^\w\s.-]", " ", q))
    if not query:
        matches = cbas
    else:
        scored = [(score, cba) for cba in cbas if (score := _cba_score(cba, query)) > 0]
        scored.sort(key=lambda pair: (-pair[0], pair[1].name))
        matches = [cba for _, cba in scored]
    return CbaSearchResult(
        bid_cycle=cycle.name, query=q, total=len(matches), items=[_cba_public(c) for c in matches[:limit]]
    )


def _cba_score(cba: Cba, query: str) -> float:
    names = reference_data.state_names()
    states = cba.states.split("-")
    name = validation.fold(cba.name)
    state_names = [validation.fold(names.get(s, "")) for s in states]
    if len(query) == 2 and query.upper() in states:
        return 90 if query.upper() == cba.state else 80
    if query in state_names:
        return 85 if state_names[0] == query else 75
    if name.startswith(query):
        return 100
    if query in name or any(query in s for s in state_names):
        return 60
    # Fuzzy: every word of the query close to some word of the name or a state name.
    words = re.split(r"[\s,.-]+", name) + [w for s in state_names for w in s.split()]
    words = [w for w in words if w]
    ratios = []
    for term in query.split():
        best = max((difflib.SequenceMatcher(None, term, w).ratio() for w in words), default=0.0)
        if best < 0.75:
            return 0
        ratios.append(best)
    return 40 * min(ratios)
