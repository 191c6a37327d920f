"""A fingerprint of everything a trained model depends on, so that training runs only on change."""

from __future__ import annotations

import hashlib
from pathlib import Path

from stack import paths


def training_inputs(root: Path = paths.ROOT) -> list[Path]:
    """config.yml, domain.yml, every file under data/, and the Rasa lock (Rasa's version)."""
    files = [root / "config.yml", root / "domain.yml", root / "requirements" / "rasa.lock.txt"]
    files += sorted(p for p in (root / "data").rglob("*") if p.is_file())
    return files


def compute(root: Path = paths.ROOT) -> str:
    digest = hashlib.sha256()
    for path in training_inputs(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


def is_current(model_file: Path = paths.MODEL_FILE, stamp: Path = paths.FINGERPRINT_FILE) -> bool:
    return model_file.exists() and stamp.exists() and stamp.read_text().strip() == compute()


def record(stamp: Path = paths.FINGERPRINT_FILE, value: str | None = None) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text((value or compute()) + "\n")
