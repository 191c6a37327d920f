"""The answer to a broken rule: a 4xx status, one sentence naming the rule and the fix, a rule code.

Every documents route uses `DocumentsRoute`, which turns a `DocumentError` (and the sign-in and
validation errors raised before the view runs) into `{"detail": ..., "rule": ...}`, so that no
input to these routes can end in a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger("api.documents")


class ErrorResponse(BaseModel):
    detail: str
    rule: str
    field: str | None = None


class DocumentError(Exception):
    """A rule the request broke. `detail` is one sentence a supplier can act on."""

    def __init__(self, status_code: int, rule: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.rule = rule
        self.detail = detail
        self.field = field

    def response(self) -> JSONResponse:
        content: dict[str, Any] = {"detail": self.detail, "rule": self.rule}
        if self.field:
            content["field"] = self.field
        return JSONResponse(status_code=self.status_code, content=content)


def error(status_code: int, rule: str, detail: str, *, field: str | None = None) -> DocumentError:
    return DocumentError(status_code, rule, detail, field=field)


UNAVAILABLE = (
    "The upload service could not save anything just now because its database did not answer; "
    "please try again in a few minutes, and call customer service at 877-577-5331 if it keeps failing."
)

_AUTH_RULES = {status.HTTP_401_UNAUTHORIZED: "not_signed_in", status.HTTP_403_FORBIDDEN: "not_allowed"}


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ())]
    field = ".".join(loc[1:]) or "request"
    message = str(first.get("msg", "is not valid")).rstrip(".")
    detail = f"{field}: {message}; correct it and try again."
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": detail, "rule": "invalid_field", "field": field},
    )


class DocumentsRoute(APIRoute):
    """An APIRoute whose errors all have the documents error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except DocumentError as exc:
                return exc.response()
            except RequestValidationError as exc:
                return _validation_response(exc)
            except HTTPException as exc:
                rule = _AUTH_RULES.get(exc.status_code, "bad_request")
                return JSONResponse(
                    status_code=exc.status_code,
                    content={"detail": exc.detail, "rule": rule},
                    headers=exc.headers,
                )
            except SQLAlchemyError:
                logger.exception("Database error on %s %s", request.method, request.url.path)
                return JSONResponse(
                    status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                    content={"detail": UNAVAILABLE, "rule": "service_unavailable"},
                )

        return route_handler


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error codes a route can answer with."""
    described = {
        400: "The request is malformed (form, header or interrupted upload).",
        401: "Not signed in, or the session has ended.",
        403: "The bidder number is not one the signed-in user may act for.",
        404: "No such upload or staged file for the signed-in user.",
        409: "The bid cycle is closed.",
        413: "The file is 50 MB (52,428,800 bytes) or larger.",
        415: "The content is not a PDF, or the request is not multipart/form-data or JSON.",
        422: "A field or the file breaks a rule; `rule` names it.",
        503: "The service cannot check or save files right now; nothing was saved.",
    }
    return {code: {"model": ErrorResponse, "description": described[code]} for code in codes}
