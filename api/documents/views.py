"""Routes of the document upload: options, CBA search, staging, upload and the upload history.

The upload routes are plain `def` functions: FastAPI runs them in a worker thread, where the body is
streamed to disk with blocking calls that never touch the event loop.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request, Response, status

from api.auth.dependencies import CurrentUser
from api.database import SessionDep
from api.documents import service, validation
from api.documents.errors import DocumentsRoute, error, responses
from api.documents.models import StagedFile
from api.documents.schemas import (
    CbaSearchResult,
    StagedFilePublic,
    StagedUploadRequest,
    UploadFields,
    UploadHistory,
    UploadOptions,
    UploadPublic,
    UploadReceipt,
)
from api.documents.storage import FileStorage, get_storage
from api.documents.upload_body import MAX_JSON_BYTES, RequestBody, is_json, is_multipart

router = APIRouter(route_class=DocumentsRoute, tags=["documents"])

StorageDep = Annotated[FileStorage, Depends(get_storage)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique printable value; a retry with the same key returns the first result.",
    ),
]


def _form_schema(model: type[UploadFields], *, with_file: bool) -> dict[str, Any]:
    schema = model.model_json_schema()
    if with_file:
        schema["properties"]["file"] = {"type": "string", "format": "binary", "description": "The PDF."}
        schema["required"] = [*schema.get("required", []), "file"]
    return schema


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _form_schema(UploadFields, with_file=True)},
            "application/json": {"schema": _form_schema(StagedUploadRequest, with_file=False)},
        },
    }
}
STAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary", "description": "The PDF."}},
                }
            }
        },
    }
}


def _require_multipart(body: RequestBody) -> None:
    if not is_multipart(body.content_type):
        raise error(
            415,
            "unsupported_media_type",
            "Send the file as multipart/form-data with the PDF in the field 'file'.",
        )


def valid_staged_file(staged_file_id: str, db: SessionDep, user: CurrentUser) -> StagedFile:
    staged = service.get_staged_file(db=db, user=user, staged_file_id=staged_file_id)
    if staged is None:
        raise service.staged_not_found()
    return staged


ValidStagedFile = Annotated[StagedFile, Depends(valid_staged_file)]


@router.get("/api/v1/documents/options", response_model=UploadOptions, responses=responses(401, 409))
def get_upload_options(db: SessionDep, user: CurrentUser) -> UploadOptions:
    """What the upload form offers the signed-in user: the bid cycle, their bidder numbers, the
    document types with their descriptions, and how to search the CBAs."""
    return service.get_options(db=db, user=user)


@router.get("/api/v1/cbas", response_model=CbaSearchResult, responses=responses(409, 422))
def search_cbas(
    db: SessionDep,
    q: Annotated[str, Query(max_length=80, description="City, CBA name, state code or state name.")] = "",
    bid_cycle: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=130)] = 20,
) -> CbaSearchResult:
    """Search the competitive bidding areas of the bid cycle by name or state (`q=ohio`, `q=OH`,
    `q=akron`), tolerating small typos; an empty `q` lists them all. Public program data."""
    return service.search_cbas(db=db, q=q, bid_cycle=bid_cycle, limit=limit)


@router.post(
    "/api/v1/documents/staged",
    status_code=status.HTTP_201_CREATED,
    response_model=StagedFilePublic,
    responses=responses(400, 401, 413, 415, 422, 503),
    openapi_extra=STAGE_BODY,
)
def stage_file(
    request: Request, db: SessionDep, user: CurrentUser, storage: StorageDep, background: BackgroundTasks
) -> StagedFilePublic:
    """Stage a PDF for the chat: stream it, check it like an upload, keep it for 24 hours, and return a
    `staged_file_id` that the upload accepts instead of the file. The same file rules as the upload
    apply (a file of 52,428,800 bytes or more is refused)."""
    body = RequestBody(request)
    _require_multipart(body)
    staged = service.stage_file(db=db, storage=storage, user=user, body=body)
    background.add_task(service.maybe_cleanup, storage=storage)
    return service.staged_public(staged)


@router.get("/api/v1/documents/staged/{staged_file_id}", response_model=StagedFilePublic, responses=responses(401, 404))
def get_staged_file(staged: ValidStagedFile) -> StagedFilePublic:
    """A staged file of the signed-in user that has not expired or been uploaded yet."""
    return service.staged_public(staged)


@router.delete(
    "/api/v1/documents/staged/{staged_file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 404),
)
def discard_staged_file(staged: ValidStagedFile, db: SessionDep, storage: StorageDep) -> Response:
    """Discard a staged file the supplier no longer wants to upload."""
    service.discard_staged_file(db=db, storage=storage, staged=staged)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/v1/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadReceipt,
    responses={
        200: {"model": UploadReceipt, "description": "A retry with the same Idempotency-Key: the first result."},
        **responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    },
    openapi_extra=UPLOAD_BODY,
)
def upload_document(
    request: Request,
    response: Response,
    db: SessionDep,
    user: CurrentUser,
    storage: StorageDep,
    idempotency_key: IdempotencyKey = None,
) -> UploadReceipt:
    """Upload a document (Confirm & Upload) and get its confirmation number.

    Either `multipart/form-data` with the fields and the PDF in `file` (streamed to storage while
    counted and hashed, never held in memory), or `application/json` with the fields and the
    `staged_file_id` of a file staged before by the same user.

    The file must be a PDF that pypdf can open, judged by its content (not its name or content
    type), without a password to open it and without a permissions password. Size: a file of
    50 MiB = 52,428,800 bytes or more is refused, so "exactly 50 MB" is refused and the largest
    accepted file is 52,428,799 bytes; a request whose Content-Length already shows that is refused
    before its body is read, and a streamed body is refused at the byte that reaches the limit.

    Every field is checked against the data: the bidder number must be one of the signed-in user's;
    the description must belong to the document type; a CBA is required for a bid surety bond and
    refused otherwise; the nickname is optional (up to 80 characters); the certification signature
    must be the signed-in user's own IDM user ID. Send the fields before the file, and a mistake in
    them is reported before the file is read.

    The upload time is given in Eastern Time. The same `Idempotency-Key` from the same user returns
    the first result (status 200) instead of recording the document twice.
    """
    body = RequestBody(request)
    if is_json(body.content_type):
        raw = body.read_all(limit=MAX_JSON_BYTES)
        result = service.upload_staged_file(
            db=db, user=user, request=validation.parse_json_request(raw), idempotency_key=idempotency_key
        )
    elif is_multipart(body.content_type):
        result = service.upload_file(db=db, storage=storage, user=user, body=body, idempotency_key=idempotency_key)
    else:
        raise error(
            415,
            "unsupported_media_type",
            "Send the upload as multipart/form-data (the fields and the PDF in 'file'), "
            "or as application/json with a staged_file_id.",
        )
    if result.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return service.to_receipt(result.upload)


@router.get("/api/v1/documents", response_model=UploadHistory, responses=responses(401, 403, 422))
def upload_history(
    db: SessionDep,
    user: CurrentUser,
    bidder_number: Annotated[str | None, Query(max_length=16)] = None,
    document_type: Annotated[str | None, Query(max_length=100, description="Code or name.")] = None,
    uploaded_from: Annotated[dt.date | None, Query(description="First day, in Eastern Time.")] = None,
    uploaded_to: Annotated[dt.date | None, Query(description="Last day (included), in Eastern Time.")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> UploadHistory:
    """My Upload History: the signed-in user's uploads only, newest first, one page at a time,
    filtered by bidder number, document type and a date range. It confirms receipt only, not that a
    document is accurate or complete."""
    rows, total = service.list_uploads(
        db=db,
        user=user,
        bidder_number=bidder_number,
        document_type=document_type,
        uploaded_from=uploaded_from,
        uploaded_to=uploaded_to,
        page=page,
        page_size=page_size,
    )
    return UploadHistory(
        items=[service.to_public(r) for r in rows],
        total=total,
        page=page,
        page_size=page_size,
        pages=service.page_count(total, page_size),
    )


@router.get("/api/v1/documents/{confirmation_number}", response_model=UploadPublic, responses=responses(401, 404))
def get_upload(confirmation_number: str, db: SessionDep, user: CurrentUser) -> UploadPublic:
    """One of the signed-in user's uploads, by its confirmation number."""
    upload = service.get_upload(db=db, user=user, confirmation_number=confirmation_number)
    if upload is None:
        raise error(
            404,
            "upload_not_found",
            f"You have no upload with confirmation number {confirmation_number[:24]}; check the number "
            "against your upload history.",
        )
    return service.to_public(upload)
