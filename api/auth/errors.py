"""Errors a user can cause, each answered with a 4xx status, one sentence and a machine code.

A `Problem` is an `HTTPException`, so it works in any router; the application's handler
(`problem_handler`, installed in `api.main`) renders it as `{"detail": ..., "rule": ...}`.
Views declare the problems they can answer with `problem_responses(...)` so that OpenAPI lists them.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

CUSTOMER_SERVICE_PHONE = "877-577-5331"


class Problem(HTTPException):
    """A broken rule: status, machine code (`rule`) and one sentence naming the rule and the fix."""

    def __init__(self, status_code: int, rule: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.rule = rule


class ProblemBody(BaseModel):
    """The body of every error answer."""

    detail: str = Field(description="One sentence naming the rule that was broken and how to fix it.")
    rule: str = Field(description="Machine code of the rule, e.g. `invalid_credentials`.")


class InvalidRequestBody(BaseModel):
    """The body of a 422 answer: a broken input rule, or a request that does not match the schema."""

    detail: str
    rule: str | None = Field(None, description="Present when a named input rule was broken.")
    errors: list[dict[str, Any]] | None = Field(None, description="Present when the request did not match the schema.")


async def problem_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return JSONResponse(
        status_code=exc.status_code,
        content={"detail": exc.detail, "rule": exc.rule},
        headers=exc.headers,
    )


# rule -> (status, what it means); used only to document the answers in OpenAPI.
RULES: dict[str, tuple[int, str]] = {
    "not_signed_in": (401, "No credential, or a session that has ended."),
    "chat_not_signed_in": (401, "The conversation is not bound to a signed-in user."),
    "service_credential_required": (401, "Only the action server may call this."),
    "conversation_id_required": (400, "The service credential needs an X-Conversation-Id header."),
    "agent_only": (403, "Only customer service agents may do this."),
    "user_credential_required": (403, "The user's own client must make this call, not the service."),
    "invalid_credentials": (401, "The user ID or password is not right."),
    "sign_in_expired": (401, "The sign-in token is unknown, used or expired."),
    "code_incorrect": (401, "The code is not the one that was sent or shown."),
    "code_expired": (401, "The code is older than 10 minutes, or no code is waiting."),
    "code_already_used": (401, "The code was accepted before; codes are single use."),
    "too_many_attempts": (429, "Too many failed attempts; wait for Retry-After seconds."),
    "too_many_codes": (429, "Too many codes were sent for this sign-in or set-up."),
    "account_locked": (423, "The account is locked after 100 failed attempts; call customer service."),
    "conversation_in_use": (409, "The chat is signed in as another user."),
    "device_not_found": (404, "No such active device on this account."),
    "enrollment_not_found": (404, "No such device set-up on this account."),
    "enrollment_not_pending": (409, "The device set-up is already finished, failed or expired."),
    "no_code_to_send": (422, "Authenticator apps make their own codes; nothing is sent."),
    "code_format": (422, "A code is 6 digits."),
    "fresh_verification_required": (403, "Changing devices needs a second factor from the last 10 minutes."),
    "device_already_set_up": (403, "The sign-in token may add a first device only."),
    "device_exists": (409, "The same device is already set up."),
    "too_many_devices": (409, "An account may have at most 10 devices."),
    "last_device": (409, "The last device cannot be removed once MFA is required."),
    "phone_required": (422, "A phone number is needed for text message or voice call."),
    "invalid_phone": (422, "The phone number is not a valid US number."),
    "invalid_email": (422, "The email address is not valid."),
    "password_too_short": (422, "Passwords have at least 8 characters."),
    "password_too_long": (422, "Passwords have at most 128 characters."),
    "password_too_common": (422, "The password is on the list of common passwords."),
    "password_is_user_id": (422, "The password is the user ID."),
    "user_id_taken": (409, "Another account has this user ID."),
    "user_not_found": (404, "No account has this user ID."),
    "bidder_not_found": (404, "No bidder has this bidder number."),
    "session_not_found": (404, "No such session of this user."),
    "delivery_failed": (503, "The code could not be sent; nothing was changed."),
    "not_available": (404, "The page exists only outside production."),
}


def problem_responses(*rules: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the given rules, grouped by status (422 also covers schema errors)."""
    by_status: dict[int, list[str]] = {}
    for rule in rules:
        status, meaning = RULES[rule]
        by_status.setdefault(status, []).append(f"`{rule}`: {meaning}")
    out: dict[int | str, dict[str, Any]] = {}
    for status, lines in sorted(by_status.items()):
        model = InvalidRequestBody if status == 422 else ProblemBody
        out[status] = {"model": model, "description": " ".join(lines)}
    if 422 not in out:
        out[422] = {"model": InvalidRequestBody, "description": "The request does not match the schema."}
    return out
