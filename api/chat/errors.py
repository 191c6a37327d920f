"""Errors of the chat transport: a 4xx status, one sentence naming the rule and the fix, and a rule code.

Every chat route uses `ChatRoute`, which answers a `ChatError`, a schema mismatch and the sign-in
errors raised before the view runs as `{"detail": ..., "rule": ...}` (plus `errors`, one per field,
for the pre-chat form), and a database failure as a 503 the widget can retry: never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException  # FastAPI's and Starlette's (body parsing) alike

logger = logging.getLogger("api.chat")

CUSTOMER_SERVICE = "877-577-5331"


class FieldProblem(BaseModel):
    field: str
    message: str


class ChatErrorBody(BaseModel):
    """The body of every error answer of the chat transport."""

    detail: str = Field(description="One sentence naming the rule that was broken and how to fix it.")
    rule: str = Field(description="Machine code of the rule, e.g. `too_many_messages`.")
    errors: list[FieldProblem] | None = Field(None, description="One entry per broken field (pre-chat form).")


class ChatError(Exception):
    """A rule the request broke."""

    def __init__(
        self,
        status_code: int,
        rule: str,
        detail: str,
        *,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.rule = rule
        self.detail = detail
        self.errors = errors
        self.headers = headers

    def body(self) -> dict[str, Any]:
        content: dict[str, Any] = {"detail": self.detail, "rule": self.rule}
        if self.errors is not None:
            content["errors"] = [e.model_dump() for e in self.errors]
        return content

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.status_code, content=self.body(), headers=self.headers)


UNAVAILABLE = ChatError(
    status.HTTP_503_SERVICE_UNAVAILABLE,
    "retry",
    "The chat service could not save your message just now; wait a few seconds and send it again.",
)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        field = ".".join(loc[1:]) or "request"
        message = str(err.get("msg", "is not valid")).rstrip(".")
        problems.append(FieldProblem(field=field, message=f"{field}: {message}."))
    detail = problems[0].message[:-1] + "; correct it and try again." if problems else "The request is not valid."
    return ChatError(422, "invalid_request", detail, errors=problems).response()


class ChatRoute(APIRoute):
    """An APIRoute whose errors all have the chat error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ChatError as exc:
                return exc.response()
            except RequestValidationError as exc:
                return _validation_response(exc)
            except HTTPException as exc:  # e.g. the identity API's Problem, raised by a dependency
                rule = getattr(exc, "rule", None) or {401: "not_signed_in", 403: "not_allowed"}.get(
                    exc.status_code, "bad_request"
                )
                return JSONResponse(
                    status_code=exc.status_code, content={"detail": exc.detail, "rule": rule}, headers=exc.headers
                )
            except SQLAlchemyError:
                logger.exception("Database error on %s %s", request.method, request.url.path)
                return UNAVAILABLE.response()

        return route_handler


# rule -> (status, meaning): documents the answers in OpenAPI.
RULES: dict[str, tuple[int, str]] = {
    "chat_token_required": (401, "The X-Chat-Token header (the client token given when the chat started) is missing."),
    "conversation_not_found": (404, "No chat has this id and client token."),
    "conversation_closed": (409, "The chat has ended; start a new one."),
    "prechat_invalid": (422, "A pre-chat answer breaks its field's rule; `errors` has one message per field."),
    "invalid_request": (422, "The request does not match the schema; `errors` names the fields."),
    "message_empty": (422, "The message has no text."),
    "message_too_long": (422, "The message is longer than 2,000 characters."),
    "code_in_message": (422, "The text looks like a one-time code: type codes in the secure code box, not the chat."),
    "secret_in_message": (422, "The text looks like a key or sign-in token: never paste those in the chat."),
    "password_in_message": (422, "The text is the signed-in user's password: use the sign-in panel, not the chat."),
    "command_not_allowed": (422, "The payload is neither one of the bot's buttons nor a widget command."),
    "chat_not_signed_in": (409, "The chat is not signed in (for `/signed_in` and file attachments)."),
    "staged_file_unknown": (422, "`/file_staged` names a file not attached to this chat."),
    "too_many_messages": (429, "More than 20 messages in a minute; wait and send again."),
    "too_many_conversations": (429, "Too many chats started from this address in a minute."),
    "too_many_files": (409, "A chat takes at most 20 files."),
    "unsupported_media_type": (415, "The file was not sent as multipart/form-data."),
    "file_too_large": (413, "The file is 50 MB (52,428,800 bytes) or larger."),
    "file_refused": (422, "The documents API refused the file (not a PDF, password protected...); `rule` names why."),
    "idempotency_key_required": (400, "File attachments need an Idempotency-Key header."),
    "retry": (503, "The service could not save or relay just now; send the same message again."),
}


def responses(*rules: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the given rules, grouped by status."""
    by_status: dict[int, list[str]] = {}
    for rule in (*rules, "retry"):
        code, meaning = RULES[rule]
        by_status.setdefault(code, []).append(f"`{rule}`: {meaning}")
    out: dict[int | str, dict[str, Any]] = {
        code: {"model": ChatErrorBody, "description": " ".join(lines)} for code, lines in sorted(by_status.items())
    }
    out.setdefault(422, {"model": ChatErrorBody, "description": "`invalid_request`: " + RULES["invalid_request"][1]})
    return out
