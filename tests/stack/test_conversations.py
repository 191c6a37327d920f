"""`rasa test` conversation tests (tests/conversations), with --fail-on-prediction-errors.

They run against the live stack's action server, so custom actions really call the API.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stack.services import RASA_ENV

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]


def test_conversation_tests_pass(live_stack, tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: {live_stack.action_url}/webhook\n")
    result = subprocess.run(
        [
            str(ROOT / ".venv-rasa/bin/rasa"),
            "test",
            "core",
            "--stories",
            "tests/conversations",
            "--model",
            "var/models/cbp-assistant.tar.gz",
            "--endpoints",
            str(endpoints),
            "--fail-on-prediction-errors",
            "--out",
            str(tmp_path / "results"),
            "--no-plot",
        ],
        cwd=ROOT,
        env=live_stack.env | RASA_ENV | {"RASA_CACHE_DIRECTORY": str(ROOT / "var/rasa-cache"), "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    failed = tmp_path / "results" / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, f"{detail}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "Finished evaluation" in result.stdout + result.stderr or result.returncode == 0
