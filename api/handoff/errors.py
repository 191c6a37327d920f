"""Errors of the handoff and the agent console: a 4xx status, one sentence naming the rule and the fix, a rule.

They are the chat transport's `ChatError`, so the routes use the chat's `ChatRoute` and every error
(including schema mismatches and sign-in problems raised by dependencies) has the same shape:
`{"detail": ..., "rule": ...}`; a database failure is a 503 to retry, never a 500.
"""

from __future__ import annotations

from typing import Any

from api.chat.errors import RULES as CHAT_RULES
from api.chat.errors import ChatError, ChatErrorBody

HandoffError = ChatError

# rule -> (status, meaning): documents the answers in OpenAPI.
RULES: dict[str, tuple[int, str]] = {
    **CHAT_RULES,
    "service_credential_required": (401, "Only the action server (service credential) may call this."),
    "not_signed_in": (401, "No session token, or a session that has ended: sign in again."),
    "agent_only": (403, "Only customer service agents (role agent) may do this."),
    "user_credential_required": (403, "The agent's own session token is needed, not the service credential."),
    "already_with_agent": (409, "The chat is already with an agent."),
    "not_in_queue": (409, "The chat is not waiting in the queue."),
    "already_claimed": (409, "Another agent claimed it first (or it left the queue)."),
    "not_your_conversation": (409, "Another agent has this chat now."),
    "handoff_not_found": (404, "No handoff has this id."),
    "handoff_closed": (409, "The handoff was closed already."),
    "callback_not_offered": (409, "A callback is offered only when the center was closed at the handoff."),
    "callback_not_found": (404, "No callback request has this id."),
    "callback_not_waiting": (409, "Another agent took the callback request, or it is done."),
    "callback_not_yours": (409, "Another agent took the callback request."),
    "invalid_phone": (422, "The phone number is not a valid US number with its area code."),
    "best_time_required": (422, "The best time to call is empty or too long."),
    "rating_not_requested": (409, "Only a chat with an agent can be rated, once it has ended."),
    "already_rated": (409, "The chat was rated already."),
    "rating_out_of_range": (422, "The rating is not a whole number from 1 to 5."),
    "comment_too_long": (422, "The comment is longer than 1,000 characters."),
    "agent_not_found": (404, "No agent has this user ID."),
    "text_required": (422, "The message or note is empty or too long."),
    "cannot_start_over": (409, "Only a chat that is not with a person can go back to the assistant."),
    "ticket_invalid": (401, "The WebSocket ticket is unknown, used or expired."),
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
