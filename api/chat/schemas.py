"""Request, response and WebSocket frame bodies of the chat transport, kept apart from the ORM models.

Every input has a length limit; the rules a supplier can break with an otherwise well-formed request
(message length, pre-chat answers) are checked by the service, which answers with a clear sentence.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from api.chat.models import ConversationStatus, MessageKind, Sender

MAX_MESSAGE_CHARS = 2_000
"""Longest message a supplier may send."""
MAX_MESSAGES_PER_MINUTE = 20
"""User turns per conversation in any 60 seconds."""
MAX_FILES_PER_CONVERSATION = 20

ConversationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
ClientMessageId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$"),
    Field(description="Made by the client for each message; a resend with the same id is stored once."),
]
# Generous bounds for the schema: the service answers a longer message with a clear sentence.
MessageText = Annotated[str, Field(max_length=20_000, description=f"At most {MAX_MESSAGE_CHARS:,} characters.")]
Payload = Annotated[
    str,
    Field(
        max_length=1_000,
        description="A quick-reply button's payload, or a widget command (`/signed_in`, `/file_staged{...}`...).",
    ),
]


# --- conversations --------------------------------------------------------------------------------


EXAMPLE_PRECHAT: dict[str, str] = {
    "first_name": "Dana",
    "last_name": "Supplier",
    "email": "dana@acme-home-medical.example",
    "phone": "(202) 555-0143",
    "organization": "Acme Home Medical LLC",
    "bidder_number": "12345",
    "topic": "uploading_documents",
}
"""Valid pre-chat answers: the example of the API's documentation, and the supplier of the tests and benchmarks."""


class ConversationCreate(BaseModel):
    """Starting a chat: the pre-chat answers, checked against `bot/widget/prechat.json`."""

    prechat: Annotated[
        dict[Annotated[str, StringConstraints(max_length=40)], Annotated[str, Field(max_length=1_000)] | None],
        Field(max_length=30, examples=[EXAMPLE_PRECHAT]),
    ]


class Limits(BaseModel):
    max_message_chars: int = MAX_MESSAGE_CHARS
    max_messages_per_minute: int = MAX_MESSAGES_PER_MINUTE
    max_files: int = MAX_FILES_PER_CONVERSATION
    max_file_bytes: int = Field(52_428_799, description="Largest file accepted: under 50 MB (52,428,800 bytes).")


class ConversationPublic(BaseModel):
    conversation_id: str
    status: ConversationStatus
    signed_in: bool = Field(description="Whether the chat is bound to a valid session of a signed-in user.")
    last_seq: int = Field(description="Sequence number of the newest message.")
    prechat: dict[str, str | None]
    created_at: dt.datetime
    limits: Limits = Field(default_factory=Limits)


class ConversationCreated(ConversationPublic):
    client_token: str = Field(
        description="Send as `X-Chat-Token` on every call (and in the WebSocket hello); shown once."
    )


# --- messages ---------------------------------------------------------------------------------------


class MessagePublic(BaseModel):
    seq: int = Field(description="Per-conversation sequence number, assigned by the server.")
    sender: Sender
    kind: MessageKind
    text: str
    data: dict[str, Any] | None = Field(None, description="buttons, image, custom payload, event details")
    client_message_id: str | None = None
    created_at: dt.datetime


class MessageCreate(BaseModel):
    """A user turn: typed `text`, or the `payload` of a button or a widget command."""

    client_message_id: ClientMessageId
    text: MessageText = ""
    payload: Payload | None = None


class MessageAck(BaseModel):
    message: MessagePublic
    duplicate: bool = Field(description="True when this client_message_id was stored before (a resend).")


class MessagesPage(BaseModel):
    messages: list[MessagePublic]
    last_seq: int
    status: ConversationStatus
    typing: bool = Field(description="Whether the assistant is composing an answer now.")


# --- files ------------------------------------------------------------------------------------------


class ChatFilePublic(BaseModel):
    staged_file_id: str = Field(description='Pass on to the bot as `/file_staged{"staged_file_id": ...}`.')
    file_name: str
    size_bytes: int
    pages: int
    files_left: int = Field(description="How many more files this chat can take.")
    message: str


# --- WebSocket frames ---------------------------------------------------------------------------------


class HelloFrame(BaseModel):
    """The first frame a client sends: its token (never in the URL) and the last sequence number it saw."""

    type: Literal["hello"]
    token: Annotated[str, Field(min_length=1, max_length=128)]
    after: Annotated[int, Field(ge=0, le=2_147_483_647)] = 0


class MessageFrame(MessageCreate):
    type: Literal["message"]


class PingFrame(BaseModel):
    type: Literal["ping"]


ClientFrame = Annotated[MessageFrame | PingFrame, Field(discriminator="type")]
