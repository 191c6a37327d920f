"""A fake API behind `ApiClient.request`, trackers built from dicts or JSON files, and running actions."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.api_client import ApiClient, ApiUnavailable

ROOT = Path(__file__).resolve().parents[2]
TRACKERS = Path(__file__).parent / "trackers"
SENDER = "conv-test-1"

Answer = tuple[int, Any] | Exception | Callable[..., tuple[int, Any]]


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


@dataclass
class Call:
    method: str
    path: str
    conversation_id: str | None
    headers: dict[str, str]
    kwargs: dict[str, Any]


@dataclass
class FakeApi:
    """Answers by (method, path); records every call. An unknown route answers 404 like FastAPI."""

    routes: dict[tuple[str, str], Answer] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def on(self, method: str, path: str, answer: Answer) -> FakeApi:
        self.routes[(method, path)] = answer
        return self

    def down(self, method: str, path: str) -> FakeApi:
        return self.on(method, path, ApiUnavailable(f"{method} {path} answered 503"))

    def called(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path == path]

    def request(self, _client: ApiClient, method: str, path: str, **kwargs: Any) -> FakeResponse:
        conversation_id = kwargs.pop("conversation_id", None)
        headers = kwargs.pop("headers", None) or {}
        kwargs.pop("timeout", None)
        self.calls.append(Call(method, path, conversation_id, headers, kwargs))
        answer = self.routes.get((method, path), (404, {"detail": "Not Found"}))
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            answer = answer(**kwargs)
        status, body = answer
        if status >= 500:
            raise ApiUnavailable(f"{method} {path} answered {status}")
        return FakeResponse(status, body)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()

    def request(client: ApiClient, method: str, path: str, **kwargs: Any) -> FakeResponse:
        return fake.request(client, method, path, **kwargs)

    monkeypatch.setattr(ApiClient, "request", request)
    return fake


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text())


def tracker(
    *,
    slots: dict[str, Any] | None = None,
    intent: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    text: str = "",
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    sender_id: str = SENDER,
) -> Tracker:
    """A tracker whose latest message has `intent` and `entities`, with `events` before it."""
    latest = {"intent": {"name": intent, "confidence": 1.0}, "entities": entities or [], "text": text}
    history = list(events or [])
    if intent is not None:
        history.append({"event": "user", "text": text, "parse_data": latest})
    return Tracker(
        sender_id=sender_id,
        slots=dict(slots or {}),
        latest_message=latest,
        events=history,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def tracker_from_json(name: str) -> Tracker:
    """A tracker as the action server receives it (`tests/actions/trackers/<name>.json`)."""
    return Tracker.from_dict(json.loads((TRACKERS / f"{name}.json").read_text()))


def run(
    action: Any, tr: Tracker, domain: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an action; return (events, messages)."""
    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, tr, domain or {})
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return list(result), dispatcher.messages


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The slots the events set (the last value wins)."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def form_turn(slots: dict[str, Any], candidates: dict[str, Any], *, requested: str, form: str) -> Tracker:
    """The tracker a form's validation action gets: the slot candidates after the form's ActionExecuted."""
    events = [
        {"event": "user", "text": "answer", "parse_data": {"intent": {"name": "inform"}, "entities": []}},
        {"event": "slot", "name": "requested_slot", "value": requested},
        {"event": "action", "name": form},
        *({"event": "slot", "name": k, "value": v} for k, v in candidates.items()),
    ]
    return Tracker(
        sender_id=SENDER,
        slots={"requested_slot": requested, **slots, **candidates},
        latest_message={"intent": {"name": "inform"}, "entities": []},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": form},
        latest_action_name=form,
    )
