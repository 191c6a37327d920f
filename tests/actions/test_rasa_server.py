"""bot/rasa_server.py: the Rasa server checks each action server answer against a schema compiled once."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_server

VALID = {
    "events": [{"event": "slot", "name": "upload_outcome", "value": "uploaded", "timestamp": None}],
    "responses": [{"response": "utter_upload_done"}],
}


@pytest.fixture
def action() -> RemoteAction:
    rasa_server.install()
    return RemoteAction("action_upload_document", EndpointConfig("http://127.0.0.1:5055/webhook"))


def test_a_valid_answer_is_accepted_without_checking_the_schema_again(action, monkeypatch) -> None:
    checks = []
    cls = jsonschema.validators.validator_for(RemoteAction.action_response_format_spec())
    monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, schema, *a, **k: checks.append(schema)))
    for _ in range(50):
        assert action._validate_action_result(VALID) is True
    assert len(checks) <= 1  # Rasa's own method checked the schema on every call: 50 times


@pytest.mark.parametrize(
    "answer",
    [
        {"events": [{"event": "slot", "name": 5}]},  # a slot name must be a string
        {"events": "not a list"},
        {"responses": [1, 2]},
    ],
)
def test_an_invalid_answer_fails_as_in_rasa(action, answer) -> None:
    with pytest.raises(jsonschema.ValidationError) as raised:
        action._validate_action_result(answer)
    assert "Failed to validate Action server response" in raised.value.message


def test_installing_twice_keeps_rasas_own_method_underneath() -> None:
    first = rasa_server.install()
    second = rasa_server.install()
    assert first is second
    assert first.__qualname__ == "RemoteAction._validate_action_result"
