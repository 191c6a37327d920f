"""Rasa's own command line (`rasa run ...`), with one fix to Rasa 3.6 applied first. `make run` starts
the Rasa server through it:

    .venv-rasa/bin/python -m bot.rasa_server run --enable-api --model var/models/cbp-assistant.tar.gz ...

The fix: Rasa 3.6 checks every answer of the action server with `jsonschema.validate()`, which first checks
the schema itself (constant, and large: every event type) against the JSON Schema meta-schema, then builds
a new validator. That was about a quarter of the Rasa server's CPU with 10 chats at once (py-spy,
bench/results/chat-profile.md). Here the schema is checked and compiled once; a valid answer is accepted
with one validation, and an invalid one still goes through Rasa's own method, so it fails exactly as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import lru_cache
from typing import Any


def _compiled_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def install() -> Callable[..., bool]:
    """Replace RemoteAction._validate_action_result; returns Rasa's original method. Safe to call twice."""
    from rasa.core.actions.action import RemoteAction

    current = RemoteAction._validate_action_result
    original: Callable[..., bool] = getattr(current, "rasa_original", current)
    validator = lru_cache(maxsize=1)(_compiled_validator)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if validator().is_valid(result):
            return True
        return original(self, result)  # raises Rasa's own ValidationError, with its message

    _validate_action_result.rasa_original = original  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    return original


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
