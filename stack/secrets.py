"""Per-install random secrets, kept in var/secrets.env (git-ignored) unless set explicitly."""

from __future__ import annotations

import os
import secrets

from stack import paths

GENERATED = ("ACTION_SERVICE_TOKEN", "RASA_AUTH_TOKEN")


def ensure_secrets() -> None:
    """Write var/secrets.env with any generated secret that is missing from it."""
    existing: dict[str, str] = {}
    if paths.SECRETS_FILE.exists():
        for line in paths.SECRETS_FILE.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                existing[key.strip()] = value.strip()
    changed = False
    for name in GENERATED:
        if name not in existing:
            existing[name] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        paths.SECRETS_FILE.parent.mkdir(parents=True, exist_ok=True)
        body = "# Generated once by the stack runner; environment variables and .env override these.\n"
        body += "".join(f"{k}={v}\n" for k, v in existing.items())
        fd = os.open(paths.SECRETS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(body)
