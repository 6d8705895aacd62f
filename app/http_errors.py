"""Errors of ``docqa serve``: OpenAI-shaped error bodies, the status for each docqa error, the body-size limit."""

import logging
from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.jobs import QueueFull
from ingest.core.errors import GenerationError, InputError, ModelError, QAError

log = logging.getLogger(__name__)

ErrorType = Literal["invalid_request_error", "authentication_error", "not_found_error", "rate_limit_error",
                    "model_error", "server_error"]


# -- errors ---------------------------------------------------------------------------------------------
class ApiError(Exception):
    """An error answer: status, one-line message, OpenAI error type, extra headers."""

    def __init__(self, status: int, message: str, kind: ErrorType, *, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.headers = status, message, kind, param, headers


def error_body(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param}}


def api_error(err: Exception) -> ApiError:
    """The answer to an exception: 429 for a full queue, 4xx for docqa's own errors, 503 for a failing model."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, QueueFull):
        return ApiError(429, str(err), "rate_limit_error", headers={"Retry-After": str(err.retry_after)})
    if isinstance(err, InputError):
        return ApiError(422, str(err), "invalid_request_error")
    if isinstance(err, GenerationError | ModelError):  # the model, not the request: a server-side failure
        return ApiError(503, str(err), "model_error")
    if isinstance(err, QAError):
        return ApiError(400, str(err), "invalid_request_error")
    log.error("internal error", exc_info=err)
    return ApiError(500, f"internal error: {type(err).__name__}: {err}", "server_error")


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(error_body(err.message, err.kind, err.param), status_code=err.status, headers=err.headers)


def validation_message(err: RequestValidationError) -> tuple[int, str, str | None]:
    """Status, one-line message and field of a request validation error: bad JSON is 400, the rest 422."""
    problems = list(err.errors())
    if any(p.get("type") == "json_invalid" for p in problems):
        detail = next(p for p in problems if p.get("type") == "json_invalid").get("ctx", {}).get("error", "")
        return 400, f"request body is not valid JSON{f' ({detail})' if detail else ''}", None
    parts, param = [], None
    for p in problems:
        loc = [str(x) for x in p.get("loc", ()) if x != "body"]
        where = ".".join(loc) or "body"
        param = param or (loc[0] if loc else None)
        parts.append(f"{where}: {p.get('msg', 'invalid')}")
    return 422, "; ".join(parts) or "invalid request", param


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, by ``Content-Length`` and by the bytes that arrive
    (chunked uploads have no length); the body is read here, then handed on unchanged."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await error_response(ApiError(400, f"bad Content-Length header {declared.decode(errors='replace')!r}",
                                               "invalid_request_error"))(scope, receive, send)
                return
            if size > self.max_bytes:
                await self._too_large(scope, receive, send, size)
                return
        chunks: list[bytes] = []
        received, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._too_large(scope, receive, send, received, partial=True)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # then disconnects, as usual
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, size: int, *, partial: bool = False) -> None:
        got = f"more than {self.max_bytes}" if partial else str(size)
        response = error_response(ApiError(413, f"request body is {got} bytes; the limit is {self.max_bytes} "
                                                 "([serve] max_body_bytes)", "invalid_request_error"))
        await response(scope, receive, send)
