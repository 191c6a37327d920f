"""The relay to Rasa's REST channel: one user turn in, the bot's messages out.

`POST {rasa_url}/webhooks/rest/webhook` with `sender` = the conversation id, the turn's text, and
`metadata` = `{"prechat": {...}, "signed_in": bool}` (see bot/PROTOCOL.md). Never a password, a code
or a token: those go from the widget to the identity API directly. Rasa answers with a list of
messages (`text`, `buttons`, `image`, `custom`); they are cleaned here into what the widget renders.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from api.config import get_settings

logger = logging.getLogger("api.chat.relay")

RASA_TIMEOUT = aiohttp.ClientTimeout(total=60.0, connect=3.0)
KEEPALIVE_SECONDS = 60.0
"""An idle connection to Rasa is closed after this long: before the server at RASA_URL closes it, so that
a turn is never sent on a connection the other end is closing. Rasa's server keeps an idle connection for
120 s (`rasa run` sets Sanic's KEEP_ALIVE_TIMEOUT from `rasa.core.constants.DEFAULT_KEEP_ALIVE_TIMEOUT`,
not Sanic's own 5 s), and the nginx in front of the Rasa servers in the scaled layout for 75 s
(`keepalive_timeout`, stack/scaled.py and deploy/nginx.conf). Suppliers pause for seconds between turns:
at 4 s, a quarter of the paced benchmark's turns opened a new connection to Rasa first
(bench/results/chat-profile.md, session 12). tests/stack/test_live_stack.py checks both servers' values."""
MAX_TEXT_CHARS = 4_000
MAX_BUTTONS = 10
MAX_BUTTON_TITLE = 200
MAX_BUTTON_PAYLOAD = 500
CUSTOM_TYPES = frozenset({"sign_in_required", "secure_input", "mfa_qr", "file_request", "handoff"})


class RasaUnavailable(Exception):
    """Rasa could not be reached, timed out or answered with an error."""


@dataclass
class BotReply:
    """One message of the bot, ready to store: text plus buttons, an image or a custom payload."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = weakref.WeakKeyDictionary()


def _client() -> aiohttp.ClientSession:
    """One client per event loop, kept open with its connections to Rasa.

    A new client per turn cost 10-200 ms (certificate loading, a new connection), and httpx's client
    five times aiohttp's CPU per request (0.62 ms against 0.12; `python -m bench.relay_client`): both
    measured in the chat benchmark, where the API shares two cores with Rasa (bench/results/chat-profile.md).
    """
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.closed:
        connector = aiohttp.TCPConnector(limit=100, keepalive_timeout=KEEPALIVE_SECONDS)
        client = aiohttp.ClientSession(timeout=RASA_TIMEOUT, connector=connector)
        _clients[loop] = client
    return client


async def close_clients() -> None:
    """Close this event loop's client (at the API's shutdown)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.close()


def webhook_url() -> str:
    return f"{get_settings().rasa_url}/webhooks/rest/webhook"


async def send_turn(*, conversation_id: str, text: str, metadata: dict[str, Any]) -> list[BotReply]:
    """Relay one user turn to Rasa and return its replies; RasaUnavailable when that fails."""
    body = {"sender": conversation_id, "message": text, "metadata": metadata}
    try:
        async with _client().post(webhook_url(), json=body) as response:
            status = response.status
            content = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        logger.warning("Rasa is not reachable (%s): %s", type(exc).__name__, exc)
        raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
    if status != 200:
        logger.warning("Rasa answered %s to a turn", status)
        raise RasaUnavailable(f"status {status}")
    try:
        raw = json.loads(content)
    except ValueError as exc:
        raise RasaUnavailable("not JSON") from exc
    if not isinstance(raw, list):
        raise RasaUnavailable("not a list")
    return parse_replies(raw)


def _safe_url(value: Any) -> str | None:
    """An http(s) URL or a path on this origin; anything else (javascript:, data:...) is dropped."""
    if not isinstance(value, str) or not value or len(value) > 2_000:
        return None
    if value.startswith("/") and not value.startswith("//"):
        return value
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def _buttons(raw: Any) -> list[dict[str, str]]:
    buttons: list[dict[str, str]] = []
    if not isinstance(raw, list):
        return buttons
    for item in raw[:MAX_BUTTONS]:
        if not isinstance(item, dict):
            continue
        title, payload = item.get("title"), item.get("payload")
        if isinstance(title, str) and isinstance(payload, str) and title.strip() and payload.strip():
            buttons.append({"title": title.strip()[:MAX_BUTTON_TITLE], "payload": payload.strip()[:MAX_BUTTON_PAYLOAD]})
    return buttons


def _custom(raw: Any) -> dict[str, Any] | None:
    """A protocol payload the widget understands, with its scalar fields only."""
    if not isinstance(raw, dict) or raw.get("type") not in CUSTOM_TYPES:
        return None
    return {
        key: value
        for key, value in raw.items()
        if isinstance(key, str)
        and len(key) <= 40
        and isinstance(value, str | int | float | bool)
        and len(str(value)) <= 200
    }


def parse_replies(raw: list[Any]) -> list[BotReply]:
    """Rasa's REST answer as clean replies; unknown or unsafe parts are left out, never passed on."""
    replies: list[BotReply] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        raw_text = item.get("text")
        text = raw_text if isinstance(raw_text, str) else ""
        data: dict[str, Any] = {}
        if buttons := _buttons(item.get("buttons")):
            data["buttons"] = buttons
        if image := _safe_url(item.get("image")):
            data["image"] = image
        if custom := _custom(item.get("custom")):
            data["custom"] = custom
        if text or data:
            replies.append(BotReply(text=text[:MAX_TEXT_CHARS], data=data))
    return replies
