"""The FastAPI application: the one public origin (REST API, chat transport, pages)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import contact_center, health

logger = logging.getLogger("api")


def create_app() -> FastAPI:
    app = FastAPI(
        title="DMEPOS CBP Chat Now API",
        version="1.0.0",
        description="Backend of the Chat Now assistant for suppliers of the Medicare DMEPOS "
        "Competitive Bidding Program: documents, identity, chat transport and the agent console.",
    )
    app.include_router(health.router)
    app.include_router(contact_center.router)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One sentence per broken rule, naming the field, instead of pydantic's raw structure.
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            problems.append({"field": field, "message": f"{field}: {err.get('msg', 'is not valid')}."})
        message = problems[0]["message"] if problems else "The request is not valid."
        return JSONResponse(status_code=422, content={"detail": message, "errors": problems})

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
