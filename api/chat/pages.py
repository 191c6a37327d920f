"""The Chat Now pages: the demo host page at `/` (a program information page with the Chat Now
button) and the widget's static files under `/widget/`, served by the API, the one public origin.

Only the files listed here are served (no directory listing, no path from the URL reaches the disk).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.auth.errors import Problem
from api.config import PROJECT_ROOT

WIDGET_DIR = PROJECT_ROOT / "bot" / "widget"

WIDGET_FILES = {
    "chat-now.js": "text/javascript; charset=utf-8",
    "chat-now.css": "text/css; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
    "prechat.json": "application/json",
}

# The host page runs only our own script and styles; the widget talks to this origin over HTTPS/WSS.
HOST_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def host_page() -> FileResponse:
    """The demo host page: the upload quick reference, with the Chat Now button on it."""
    return FileResponse(
        WIDGET_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={**COMMON_HEADERS, "Content-Security-Policy": HOST_PAGE_CSP, "X-Frame-Options": "DENY"},
    )


@router.get("/widget/{name}")
def widget_file(name: str) -> FileResponse:
    """One of the widget's files (embed with `<script src="/widget/chat-now.js" defer></script>`)."""
    media_type = WIDGET_FILES.get(name)
    if media_type is None:
        raise Problem(404, "not_found", "There is no such Chat Now file; embed /widget/chat-now.js.")
    return FileResponse(WIDGET_DIR / name, media_type=media_type, headers=COMMON_HEADERS)
