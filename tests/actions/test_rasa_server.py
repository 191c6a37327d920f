"""bot/rasa_server.py: the Rasa server checks each action server answer against a schema compiled once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_server

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "var" / "models" / "cbp-assistant.tar.gz"

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
    assert rasa_server.install_fast_predict() is rasa_server.install_fast_predict()


def _probe(way: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_CACHE_DIRECTORY": str(ROOT / "var" / "rasa-cache")}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("rasa_load_probe.py")), way, str(MODEL)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return {**json.loads(line[len("RESULT ") :]), "log": done.stderr}


@pytest.mark.skipif(not MODEL.exists(), reason="no trained model (make test trains one before these tests)")
def test_the_model_loaded_the_fast_way_understands_and_answers_exactly_as_rasas_way() -> None:
    rasa_way, fast_way = _probe("rasa"), _probe("fast")
    assert fast_way["parses"] == rasa_way["parses"]  # DIET: intents, confidences, entities
    # TED and the rules: every action of the conversation, its policy and its confidence
    assert fast_way["actions"] == rasa_way["actions"]
    assert fast_way["replies"] == rasa_way["replies"]
    # The fast way's predictions after the first went to the concrete function: one DIET call per message
    # at least, and TED's.
    assert rasa_way["concrete"] == 0 and fast_way["concrete"] > len(fast_way["parses"])
    assert "own way" not in fast_way["log"]  # no model fell back to Rasa's way of loading
    print(f"model loaded in {rasa_way['seconds']:.1f} s Rasa's way, {fast_way['seconds']:.1f} s the fast way")
