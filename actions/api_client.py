"""The one way actions talk to the API: a service credential, timeouts, failures turned into errors.

The action server holds only its service credential and the conversation id. The API decides which
user (if any) the conversation is bound to; actions never see a password, code or session token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional
from urllib.parse import quote

import requests

DEFAULT_TIMEOUT = (2.0, 10.0)  # connect, read (seconds)
UPLOAD_TIMEOUT = (2.0, 60.0)  # an upload copies the staged file and records it


class ApiUnavailable(Exception):
    """The API could not be reached or answered with a server error."""


@dataclass
class ApiAnswer:
    """A 2xx or 4xx answer: its status and JSON body. 4xx bodies are `{"detail", "rule", "field"?}`."""

    status: int
    body: Dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def rule(self) -> Optional[str]:
        return self.body.get("rule")

    @property
    def detail(self) -> str:
        detail = self.body.get("detail")
        return detail if isinstance(detail, str) else ""

    @property
    def field(self) -> Optional[str]:
        return self.body.get("field")


class ApiClient:
    def __init__(self, base_url: str | None = None, token: str | None = None) -> None:
        self.base_url = (base_url or os.environ.get("API_URL", "http://127.0.0.1:8000")).rstrip("/")
        self.token = token if token is not None else os.environ.get("ACTION_SERVICE_TOKEN", "")
        self._session = requests.Session()

    def _headers(self, conversation_id: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if conversation_id:
            headers["X-Conversation-Id"] = conversation_id
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        conversation_id: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> requests.Response:
        try:
            response = self._session.request(
                method,
                f"{self.base_url}{path}",
                headers={**self._headers(conversation_id), **(headers or {})},
                timeout=timeout,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise ApiUnavailable(str(exc)) from exc
        if response.status_code >= 500:
            raise ApiUnavailable(f"{method} {path} answered {response.status_code}")
        return response

    def answer(self, method: str, path: str, **kwargs: Any) -> ApiAnswer:
        """`request`, with the JSON body read (a list answer comes as `{"items": [...]}`)."""
        response = self.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {"items": body}
        return ApiAnswer(response.status_code, body)

    def contact_center(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/contact-center").json()

    # --- who is signed in ----------------------------------------------------------------------------

    def me(self, conversation_id: str) -> ApiAnswer:
        """The user bound to the conversation (401 `chat_not_signed_in` when none)."""
        return self.answer("GET", "/api/v1/me", conversation_id=conversation_id)

    # --- documents -----------------------------------------------------------------------------------

    def upload_options(self, conversation_id: str) -> ApiAnswer:
        """Bid cycle, the user's bidder numbers, document types with their descriptions."""
        return self.answer("GET", "/api/v1/documents/options", conversation_id=conversation_id)

    def search_cbas(self, query: str, *, limit: int = 8) -> ApiAnswer:
        """CBAs of the open bid cycle matching a city, CBA name, state code or state name (public data)."""
        return self.answer("GET", "/api/v1/cbas", params={"q": query[:80], "limit": limit})

    def staged_file(self, conversation_id: str, staged_file_id: str) -> ApiAnswer:
        path = f"/api/v1/documents/staged/{quote(staged_file_id, safe='')}"
        return self.answer("GET", path, conversation_id=conversation_id)

    def discard_staged_file(self, conversation_id: str, staged_file_id: str) -> ApiAnswer:
        path = f"/api/v1/documents/staged/{quote(staged_file_id, safe='')}"
        return self.answer("DELETE", path, conversation_id=conversation_id)

    def upload_staged_file(self, conversation_id: str, fields: dict[str, Any], *, idempotency_key: str) -> ApiAnswer:
        """Confirm & Upload a staged file; a retry with the same key returns the first result."""
        return self.answer(
            "POST",
            "/api/v1/documents",
            conversation_id=conversation_id,
            json=fields,
            headers={"Idempotency-Key": idempotency_key},
            timeout=UPLOAD_TIMEOUT,
        )

    def upload_history(self, conversation_id: str, **filters: Any) -> ApiAnswer:
        """My Upload History, newest first; filters: bidder_number, document_type, uploaded_from/to, page_size."""
        params = {key: value for key, value in filters.items() if value is not None}
        return self.answer("GET", "/api/v1/documents", conversation_id=conversation_id, params=params)

    # --- MFA ----------------------------------------------------------------------------------------

    def start_mfa_enrollment(
        self, conversation_id: str, *, kind: str, phone: str | None = None, email: str | None = None
    ) -> ApiAnswer:
        body: dict[str, Any] = {"kind": kind}
        if phone:
            body["phone"] = phone
        if email:
            body["email"] = email
        return self.answer("POST", "/api/v1/auth/mfa/enrollments", conversation_id=conversation_id, json=body)

    def mfa_setup_state(self, conversation_id: str) -> ApiAnswer:
        """The outcome of the latest device set-up (never its key, QR code or codes)."""
        return self.answer("GET", "/api/v1/me/mfa-setup", conversation_id=conversation_id)

    # --- hand-over ----------------------------------------------------------------------------------

    def request_handoff(self, conversation_id: str, *, reason: str, topic: str | None) -> ApiAnswer:
        path = f"/api/v1/chat/conversations/{quote(conversation_id, safe='')}/handoff"
        return self.answer("POST", path, conversation_id=conversation_id, json={"reason": reason, "topic": topic})

    # --- dates --------------------------------------------------------------------------------------

    def business_day_after(self, start: str, days: int) -> ApiAnswer:
        """The date `days` business days after `start` (weekends and federal holidays skipped)."""
        return self.answer("GET", "/api/v1/contact-center/business-days", params={"start": start, "days": days})

    def program_dates(self) -> ApiAnswer:
        """Today in Eastern Time, the configured MFA enforcement date and whether it has passed."""
        return self.answer("GET", "/api/v1/program/dates")


client = ApiClient()
