"""Trains the Rasa model when (and only when) its inputs changed."""

from __future__ import annotations

import fcntl
import subprocess
import time

from stack import fingerprint, paths
from stack.services import RASA_ENV


class TrainingFailed(Exception):
    pass


def train(*, force: bool = False, quiet: bool = False) -> float | None:
    """Train if needed; the seconds it took, or None when the model was already current."""
    paths.MODELS.mkdir(parents=True, exist_ok=True)
    with open(paths.MODELS / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runners on one checkout train once
        if not force and fingerprint.is_current():
            if not quiet:
                print(f"Model is up to date ({paths.MODEL_FILE.relative_to(paths.ROOT)}); not training.")
            return None
        value = fingerprint.compute()
        print("Training the Rasa model (data/, config.yml or domain.yml changed)...", flush=True)
        started = time.monotonic()
        import os

        env = (
            os.environ
            | RASA_ENV
            | {"RASA_CACHE_DIRECTORY": str(paths.VAR / "rasa-cache"), "MPLCONFIGDIR": str(paths.VAR / "mpl")}
        )
        result = subprocess.run(
            [
                str(paths.RASA_VENV / "bin" / "rasa"),
                "train",
                "--config",
                "config.yml",
                "--domain",
                "domain.yml",
                "--data",
                "data",
                "--out",
                str(paths.MODELS),
                "--fixed-model-name",
                paths.MODEL_NAME,
                "--force",
            ],
            cwd=paths.ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0 or not paths.MODEL_FILE.exists():
            raise TrainingFailed(
                "Training the Rasa model failed (see the output above): fix data/, domain.yml or config.yml "
                "and run 'make run' again."
            )
        fingerprint.record(value=value)
        elapsed = time.monotonic() - started
        print(f"Trained in {elapsed:.0f} s.", flush=True)
        return elapsed
