"""Unit tests of the custom actions, run in the Rasa environment: `.venv-rasa/bin/python -m pytest tests/actions`.

The API is faked at `ApiClient.request` (every action goes through it); the real chain is covered by the
live-stack conversation tests. Under the API's environment (no rasa_sdk) this directory is skipped.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("rasa_sdk") is None:  # the API's .venv: these tests belong to .venv-rasa
    collect_ignore_glob = ["*.py"]
else:
    from tests.actions.helpers import api, domain  # noqa: F401  (fixtures)
