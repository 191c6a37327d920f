"""The FastAPI application: the one public origin (REST API, chat transport, pages)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from api import contact_center, health, program
from api.auth import views as auth_views
from api.auth.errors import Problem, problem_handler
from api.chat import relay, transport
from api.chat import views as chat_views
from api.documents import views as documents_views
from api.handoff import views as handoff_views

logger = logging.getLogger("api")

SHUTDOWN_WAIT_SECONDS = 10.0
"""How long a stopping API waits for the chat turns in flight (stored answers) before it closes."""


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    # Turns in flight are finished (their answers stored) before the connections to Rasa close.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(transport.wait_for_turns(), SHUTDOWN_WAIT_SECONDS)
    await relay.close_clients()  # the kept-open connections to Rasa


def create_app() -> FastAPI:
    app = FastAPI(
        lifespan=lifespan,
        title="DMEPOS CBP Chat Now API",
        version="1.0.0",
        description="Backend of the Chat Now assistant for suppliers of the Medicare DMEPOS "
        "Competitive Bidding Program: documents, identity, chat transport and the agent console.",
    )
    app.include_router(health.router)
    app.include_router(contact_center.router)
    app.include_router(program.router)
    app.include_router(auth_views.router)
    app.include_router(auth_views.dev_router)
    app.add_exception_handler(Problem, problem_handler)  # {"detail", "rule"} for every broken rule
    app.include_router(documents_views.router)
    app.include_router(chat_views.router)  # chat transport, WebSocket, Chat Now page and widget
    app.include_router(handoff_views.router)  # handoff, queue, callbacks, ratings, agent console

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One sentence per broken rule, naming the field, instead of pydantic's raw structure.
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            problems.append({"field": field, "message": f"{field}: {err.get('msg', 'is not valid')}."})
        message = problems[0]["message"] if problems else "The request is not valid."
        return JSONResponse(status_code=422, content={"detail": message, "errors": problems})

    @app.exception_handler(SQLAlchemyError)
    async def _database_unavailable(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # The database is down or every pooled connection is busy: nothing was saved, and trying again
        # in a moment is the fix (a 503, not a 500: the request itself was fine).
        logger.error("Database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={
                "detail": "The service is busy or cannot reach its database. Nothing was saved. "
                "Please try again in a minute.",
                "rule": "service_unavailable",
            },
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unexpected error on %s %s", request.method, request.url.path)
        # A safety net, not a design: every rule a user can break has its own 4xx answer.
        return JSONResponse(
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            content={"detail": "The service had a problem and did not save anything. Please try again."},
        )

    return app


app = create_app()
