"""The agent console pages, served by the API (the one public origin): `/agent`, `/agent/supervisor` and
their static files under `/agent/static/`. The pages hold no data: their script signs the agent in with
the identity API and calls the console API with the session token as a Bearer token.

Only the files listed here are served (no directory listing, no path from the URL reaches the disk).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.auth.errors import Problem

STATIC_DIR = Path(__file__).resolve().parent / "static"

STATIC_FILES = {
    "console.js": "text/javascript; charset=utf-8",
    "supervisor.js": "text/javascript; charset=utf-8",
    "agent-common.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}

# Our own script and styles only; the console talks to this origin over HTTPS/WSS.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONSOLE_CSP,
    "X-Frame-Options": "DENY",
}

router = APIRouter(include_in_schema=False)


@router.get("/agent")
def console_page() -> FileResponse:
    """The agent console: sign-in, the live queue, claimed chats."""
    return FileResponse(STATIC_DIR / "console.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/agent/supervisor")
def supervisor_page() -> FileResponse:
    """The supervisor view: queue length, longest wait, chats per agent, satisfaction by day."""
    return FileResponse(STATIC_DIR / "supervisor.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/agent/static/{name}")
def console_file(name: str) -> FileResponse:
    """One of the console's script or style files."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise Problem(404, "not_found", "There is no such agent console file; open /agent.")
    return FileResponse(
        STATIC_DIR / name,
        media_type=media_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )
