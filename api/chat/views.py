"""Routes of the chat transport (HTTP), and the one router `api.main` includes for the whole chat:
these routes, the WebSocket (`ws.py`) and the Chat Now pages and widget files (`pages.py`).

The widget prefers the WebSocket; these routes are its fallback (and what a plain HTTP client uses):
post a message, then long-poll `GET .../messages?after=<last seq>&wait=25` for what follows.
Every call but the start of a chat carries the chat's client token in `X-Chat-Token`.
"""

from __future__ import annotations

import time
from typing import Annotated

from anyio import from_thread
from fastapi import APIRouter, BackgroundTasks, Depends, Header, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from api.auth.dependencies import ClientAddress
from api.chat import pages, service, transport, ws
from api.chat.delivery import SYNC_SECONDS, hub
from api.chat.errors import ChatError, ChatRoute, responses
from api.chat.models import Conversation
from api.chat.prechat import PrechatConfig, load_config
from api.chat.schemas import (
    ChatFilePublic,
    ConversationCreate,
    ConversationCreated,
    ConversationPublic,
    MessageAck,
    MessageCreate,
    MessagesPage,
)
from api.database import SessionDep
from api.documents import service as documents_service
from api.documents.storage import FileStorage, get_storage
from api.documents.upload_body import RequestBody

api_router = APIRouter(prefix="/api/v1/chat", tags=["chat"], route_class=ChatRoute)

ConversationIdPath = Annotated[
    str, Path(min_length=1, max_length=64, description="The conversation id given when the chat started.")
]
ChatToken = Annotated[
    str | None,
    Header(alias="X-Chat-Token", max_length=128, description="The client token given when the chat started."),
]
StorageDep = Annotated[FileStorage, Depends(get_storage)]
TOKEN_ERRORS = ("chat_token_required", "conversation_not_found")


def valid_conversation(conversation_id: ConversationIdPath, db: SessionDep, token: ChatToken = None) -> Conversation:
    """The conversation, when the caller holds its client token (loaded and checked once per request)."""
    return service.authorize(db=db, conversation_id=conversation_id, client_token=token)


ValidConversation = Annotated[Conversation, Depends(valid_conversation)]


async def valid_conversation_id(conversation_id: ConversationIdPath, token: ChatToken = None) -> str:
    """Like `valid_conversation`, for async routes: checked in a worker thread, no session kept open."""
    conversation = await transport.in_db(service.authorize, conversation_id=conversation_id, client_token=token)
    return conversation.id


ValidConversationId = Annotated[str, Depends(valid_conversation_id)]


@api_router.get("/prechat", response_model=PrechatConfig)
def get_prechat() -> PrechatConfig:
    """The pre-chat questions the widget asks (from `bot/widget/prechat.json`; the server checks the same)."""
    return load_config()


@api_router.post(
    "/conversations",
    response_model=ConversationCreated,
    status_code=status.HTTP_201_CREATED,
    responses=responses("prechat_invalid", "too_many_conversations"),
)
def start_conversation(data: ConversationCreate, db: SessionDep, address: ClientAddress) -> ConversationCreated:
    """Start a chat with the pre-chat answers (checked again here: 422 with one message per field).

    The answer holds the conversation id and the client token, shown once: keep both (the widget keeps
    them in sessionStorage) to read and write this chat. The assistant's greeting follows as messages.
    """
    conversation, token = service.create_conversation(db=db, prechat=data.prechat, address=address)
    public = service.conversation_public(db=db, conversation=conversation)
    from_thread.run_sync(transport.spawn_turn, conversation.id, None)
    return ConversationCreated(**public.model_dump(), client_token=token)


@api_router.get(
    "/conversations/{conversation_id}", response_model=ConversationPublic, responses=responses(*TOKEN_ERRORS)
)
def get_conversation(conversation: ValidConversation, db: SessionDep) -> ConversationPublic:
    """The chat's status, whether it is signed in, its newest sequence number and its pre-chat answers."""
    return service.conversation_public(db=db, conversation=conversation)


@api_router.post(
    "/conversations/{conversation_id}/messages",
    response_model=MessageAck,
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(
        *TOKEN_ERRORS,
        "conversation_closed",
        "message_empty",
        "message_too_long",
        "code_in_message",
        "secret_in_message",
        "password_in_message",
        "command_not_allowed",
        "chat_not_signed_in",
        "staged_file_unknown",
        "too_many_messages",
    ),
)
def post_message(data: MessageCreate, conversation: ValidConversation, db: SessionDep) -> MessageAck:
    """Send a user turn: typed `text`, or a button's or widget command's `payload`. Stored before the answer.

    A resend with the same `client_message_id` is stored once (`duplicate: true`); when the earlier try
    could not reach the assistant, the resend relays it again. The reply arrives as new messages.
    """
    accepted = service.accept_user_turn(db=db, conversation=conversation, data=data)
    if not accepted.duplicate:
        service.deliver(conversation.id, [accepted.message])
    if accepted.relay:
        job = service.relay_job(db=db, conversation_id=conversation.id, message_id=accepted.message.id)
        from_thread.run_sync(transport.spawn_turn, conversation.id, accepted.message.id, job)
    return MessageAck(message=service.message_public(accepted.message), duplicate=accepted.duplicate)


@api_router.get(
    "/conversations/{conversation_id}/messages", response_model=MessagesPage, responses=responses(*TOKEN_ERRORS)
)
async def list_messages(
    conversation_id: ValidConversationId,
    after: Annotated[int, Query(ge=0, le=2_147_483_647, description="The last sequence number seen.")] = 0,
    wait: Annotated[int, Query(ge=0, le=30, description="Seconds to wait for a new message (long-poll).")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> MessagesPage:
    """The messages after sequence number `after`, oldest first; with `wait`, hold until one arrives."""
    subscription = hub.subscribe(conversation_id) if wait else None
    deadline = time.monotonic() + wait
    try:
        while True:
            messages = await transport.in_db(
                service.messages_after, conversation_id=conversation_id, after=after, limit=limit
            )
            left = deadline - time.monotonic()
            if messages or subscription is None or left <= 0:
                break
            # Woken by any event of the chat (typing, status, a message) or the timeout: look again.
            await subscription.get(timeout=min(left, SYNC_SECONDS))
    finally:
        if subscription is not None:
            hub.unsubscribe(subscription)
    conversation = await transport.in_db(_conversation_state, conversation_id=conversation_id)
    return MessagesPage(
        messages=[service.message_public(m) for m in messages],
        last_seq=conversation.last_seq,
        status=conversation.status,
        typing=hub.is_typing(conversation_id),
    )


def _conversation_state(*, db: Session, conversation_id: str) -> Conversation:
    row = db.get(Conversation, conversation_id)
    if row is None:
        raise service.not_found()
    return row


@api_router.post(
    "/conversations/{conversation_id}/files",
    response_model=ChatFilePublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ChatFilePublic, "description": "A retry with the same Idempotency-Key: the first result."},
        **responses(
            *TOKEN_ERRORS,
            "idempotency_key_required",
            "chat_not_signed_in",
            "conversation_closed",
            "too_many_files",
            "unsupported_media_type",
            "file_too_large",
            "file_refused",
        ),
    },
    openapi_extra={
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
    },
)
def attach_file(
    request: Request,
    response: Response,
    conversation: ValidConversation,
    db: SessionDep,
    storage: StorageDep,
    background: BackgroundTasks,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=128,
            pattern=r"^[\x21-\x7e]+$",
            description="Made by the client per file; a retry with the same key returns the first result.",
        ),
    ] = None,
) -> ChatFilePublic:
    """Attach a PDF to a signed-in chat: staged for the user with the documents API (same checks: a PDF
    under 50 MB, not password protected). Pass only the `staged_file_id` on to the bot.

    At most 20 files per chat. Streamed to storage from a worker thread, never held in memory.
    """
    if not idempotency_key:
        raise ChatError(
            400,
            "idempotency_key_required",
            "Send an Idempotency-Key header (any unique value per file) so that a retry does not attach it twice.",
        )
    public, replayed = service.attach_file(
        db=db, storage=storage, conversation=conversation, body=RequestBody(request), idempotency_key=idempotency_key
    )
    if replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    else:
        background.add_task(documents_service.maybe_cleanup, storage=storage)
    return public


@api_router.post(
    "/conversations/{conversation_id}/close", response_model=ConversationPublic, responses=responses(*TOKEN_ERRORS)
)
def close_conversation(conversation: ValidConversation, db: SessionDep) -> ConversationPublic:
    """End the chat (the supplier chose End chat). Later messages are refused; a new chat can start."""
    service.close_conversation(db=db, conversation=conversation)
    return service.conversation_public(db=db, conversation=conversation)


router = APIRouter()
router.include_router(api_router)
router.include_router(ws.router)
router.include_router(pages.router)
