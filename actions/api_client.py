"""The one way actions talk to the API: a service credential, timeouts, failures turned into errors.

The action server holds only its service credential and the conversation id. The API decides which
user (if any) the conversation is bound to; actions never see a password, code or session token.
"""

from __future__ import annotations

import os
from typing import Any

import requests

DEFAULT_TIMEOUT = (2.0, 10.0)  # connect, read (seconds)


class ApiUnavailable(Exception):
    """The API could not be reached or answered with a server error."""


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
        self, method: str, path: str, *, conversation_id: str | None = None, **kwargs: Any
    ) -> requests.Response:
        try:
            response = self._session.request(
                method,
                f"{self.base_url}{path}",
                headers=self._headers(conversation_id),
                timeout=DEFAULT_TIMEOUT,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise ApiUnavailable(str(exc)) from exc
        if response.status_code >= 500:
            raise ApiUnavailable(f"{method} {path} answered {response.status_code}")
        return response

    def contact_center(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/contact-center").json()


client = ApiClient()
