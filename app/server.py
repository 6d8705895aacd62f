"""``docqa serve``: one index over HTTP, as a REST API and as an OpenAI-compatible "model", citations kept.

Endpoints (``/v1/*`` need ``Authorization: Bearer <key>`` when the server has a key; ``/health`` and the
OpenAPI documents never do):

- ``POST /v1/search`` ``{query, k, mode?, level?, docs?, scope?}``: ranked passages with their provenance.
- ``POST /v1/ask`` ``{question, scope?}``: the full answer (:meth:`Answer.to_dict`) plus ``queue_seconds``.
- ``POST /v1/ask/stream`` ``{question, scope?}``: server-sent events ``queued`` (when it waits), ``token``
  (``{"text"}``, the raw generation), ``answer`` (the checked answer object, as from ``/v1/ask``), then
  ``done``; a failure after the stream started arrives as ``event: error``.
- ``GET /v1/documents``, ``GET /v1/passages/{id}``.
- ``POST /v1/chat/completions`` (stream or not) and ``GET /v1/models``: the last user message is the
  question and the messages before it are the conversation, so a follow-up ("and when was it built?") is
  rewritten to stand alone first (an optional ``scope`` field restricts it); the reply keeps its ``[n]``
  markers and ends with a "Sources:" list; the structured citations
  travel in the extra field ``docqa`` (``answer``, ``mode``, ``citations``, ``warnings``, ``notes``,
  ``queue_seconds``) of the response, or of the last chunk of a stream.
- ``GET /health``, ``GET /openapi.json``.

Errors are ``{"error": {"message", "type", "param"}}`` (OpenAI's shape) with a 4xx status that says what
was wrong; a full answer queue is 429 with ``Retry-After``. Handlers call the SDK (:class:`app.sdk.Index`)
only. Searches run concurrently in the thread pool; answers run one at a time per model
(:class:`app.jobs.AnswerQueue`), each in a worker thread of its own.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations at run time, and the
# request models are built per app (their limits come from the settings), inside create_app's scope.

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.changes import checked_note
from app.http_errors import ApiError, BodyLimit, ErrorType, api_error, error_body, error_response, validation_message
from app.http_schema import (
    BUSY,
    ERRORS,
    MODEL_ID,
    NOT_FOUND,
    AnswerResponse,
    AskBody,
    ChatBody,
    ChatCompletionResponse,
    DocumentsResponse,
    Health,
    ModelList,
    PassageOut,
    ScopeIn,
    SearchBody,
    SearchResponse,
    request_models,
)
from app.jobs import AnswerQueue
from app.sdk import Index
from ingest.core.errors import InputError, QAError
from ingest.core.records import Answer, Message, Passage
from ingest.core.serialize import answer_to_dict, hits_to_list, passage_to_dict
from ingest.core.settings import ServeSettings, Settings
from ingest.core.text import check_question
from retrieval.scope import Scope

log = logging.getLogger(__name__)



# -- answering in turn ----------------------------------------------------------------------------------
_END = object()


@dataclass(frozen=True)
class _Final:
    """The worker's last item: the final answer."""

    answer: Answer


class AnswerJob:
    """One question answered in a worker thread of its own, in its turn; its pieces are read on the event loop.

    Creating it takes a place in line (:class:`QueueFull` at once when the line is full) and starts the
    worker, so a request that is never read still gives its turn back.
    """

    def __init__(self, index: Index, queue: AnswerQueue, question: str, scope: Scope | None = None,
                 history: tuple[Message, ...] = ()) -> None:
        self.index, self.queue, self.question, self.scope, self.history = index, queue, question, scope, history
        self.final: Answer | None = None
        self.ticket = queue.enter()
        self.position = queue.position(self.ticket)
        self._loop = asyncio.get_running_loop()
        self._items: asyncio.Queue[object] = asyncio.Queue()
        threading.Thread(target=self._run, name=f"docqa-answer-{self.ticket.number}", daemon=True).start()

    @property
    def queue_seconds(self) -> float:
        """How long the question waited for the model."""
        return round(self.ticket.waited, 3)

    def _emit(self, item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is gone: the server is shutting down
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)

    def _run(self) -> None:
        try:
            if not self.queue.wait(self.ticket):
                return  # cancelled while waiting: the client went away
            stream = self.index.ask_stream(self.question, scope=self.scope, history=self.history)
            try:
                for piece in stream:
                    if self.ticket.cancelled:
                        break
                    self._emit(piece)
                else:
                    self._emit(_Final(stream.answer))
            finally:
                stream.close()
        except Exception as err:  # noqa: BLE001  (handed to the request, which answers with it)
            self._emit(err)
        finally:
            self.queue.release(self.ticket)
            self._emit(_END)

    async def pieces(self) -> AsyncIterator[str]:
        """Text pieces as generated; once they end, :attr:`final` holds the answer. A failure is raised here."""
        try:
            while (item := await self._items.get()) is not _END:
                if isinstance(item, Exception):
                    raise item
                if isinstance(item, _Final):
                    self.final = item.answer
                elif isinstance(item, str):
                    yield item
        finally:
            self.queue.cancel(self.ticket)  # stops the job if the reader left early; harmless once it is done
        if self.final is None:
            raise RuntimeError("the answer stream ended without an answer")

    async def answer(self) -> Answer:
        """The final answer."""
        async for _ in self.pieces():
            pass
        assert self.final is not None  # pieces() raises otherwise
        return self.final


# -- rendering ------------------------------------------------------------------------------------------
def sources_text(answer: Answer) -> str:
    """The "Sources:" list that follows a chat reply (empty without citations).

    >>> sources_text(Answer(question="q", text="t", citations=(), passages=()))
    ''
    """
    if not answer.citations:
        return ""
    lines = [f"[{c.number}] {c.label}" + (f" ({c.passage.symbol})" if c.passage.symbol else "")
             for c in answer.citations]
    return "\n\nSources:\n" + "\n".join(lines)


def docqa_extra(answer: Answer, queue_seconds: float) -> dict[str, Any]:
    """The extra ``docqa`` field of OpenAI-compatible responses."""
    d = answer_to_dict(answer)
    return {"answer": answer.text, "mode": answer.mode, "citations": d["citations"], "warnings": d["warnings"],
            "notes": d["notes"], "queue_seconds": queue_seconds}


def _usage(answer: Answer) -> dict[str, int]:
    prompt, completion = answer.tokens.get("prompt", 0), answer.tokens.get("completion", 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _content_text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):  # content parts: the text ones
        return "\n".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return content or ""


_SOURCES = "\n\nSources:\n"


def chat_turns(messages: list[tuple[str, str]]) -> tuple[str, tuple[Message, ...]]:
    """The question of an OpenAI-style chat (its last user message) and the conversation before it, from
    ``(role, text)`` pairs: user and assistant messages (a reply's "Sources:" list left out), system and
    developer messages as system messages, tool messages skipped.

    :raises InputError: no user message.

    >>> question, history = chat_turns([("system", "Be brief."), ("user", "Who built it?"),
    ...                                 ("assistant", "Ada Works [1].\\n\\nSources:\\n[1] a.txt"), ("user", "When?")])
    >>> question, [(m.role, m.content) for m in history]
    ('When?', [('system', 'Be brief.'), ('user', 'Who built it?'), ('assistant', 'Ada Works [1].')])
    """
    last = max((i for i, (role, _) in enumerate(messages) if role == "user"), default=None)
    if last is None:
        raise InputError("messages: no user message (the last user message is the question)")
    history: list[Message] = []
    for role, text in messages[:last]:
        if role == "user":
            history.append(Message("user", text))
        elif role == "assistant":
            history.append(Message("assistant", text.split(_SOURCES, 1)[0]))
        elif role in ("system", "developer"):
            history.append(Message("system", text))
    return messages[last][1], tuple(history)


async def answer_events(job: AnswerJob) -> AsyncIterator[str]:
    """``/v1/ask/stream``: server-sent events ``queued`` (if it waits), ``token`` pieces, ``answer``, ``done``; a
    failure after the status was sent arrives as ``error``."""
    if job.position > 0:
        yield _sse("queued", {"position": job.position})
    try:
        async for piece in job.pieces():
            yield _sse("token", {"text": piece})
    except Exception as err:  # noqa: BLE001  (the status is sent: report it in the stream)
        e = api_error(err)
        yield _sse("error", error_body(e.message, e.kind))
        return
    assert job.final is not None  # pieces() raises otherwise
    yield _sse("answer", {**answer_to_dict(job.final), "queue_seconds": job.queue_seconds})
    yield _sse("done", {})


@dataclass(frozen=True)
class ChatReply:
    """An OpenAI-compatible reply to one chat request: a ``chat.completion`` or a stream of chunks."""

    id: str
    created: int
    model: str

    def completion(self, answer: Answer, queue_seconds: float) -> dict[str, Any]:
        """The whole reply: the answer, its "Sources:" list, usage, and the ``docqa`` field."""
        message = {"role": "assistant", "content": answer.text + sources_text(answer)}
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": _usage(answer),
                "docqa": docqa_extra(answer, queue_seconds)}

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        data = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": choices, **extra}
        return f"data: {json.dumps(data)}\n\n"

    def _delta(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": finish}], **extra)

    async def chunks(self, job: AnswerJob, *, include_usage: bool = False) -> AsyncIterator[str]:
        """The streamed reply: the raw generation piece by piece; then, if the checks changed it, one line
        saying what changed (:func:`app.changes.checked_note`); the "Sources:" list; a last chunk with the ``docqa``
        field; a usage chunk if asked for; ``[DONE]``."""
        yield self._delta({"role": "assistant", "content": ""})
        streamed: list[str] = []
        try:
            async for piece in job.pieces():
                streamed.append(piece)
                yield self._delta({"content": piece})
        except Exception as err:  # noqa: BLE001  (the status is sent: report it in the stream, as OpenAI does)
            e = api_error(err)
            yield f"data: {json.dumps(error_body(e.message, e.kind))}\n\ndata: [DONE]\n\n"
            return
        final = job.final
        assert final is not None  # pieces() raises otherwise
        tail = sources_text(final)
        note = checked_note("".join(streamed), final.text, label="Computed" if final.calculation else "Checked")
        if note:  # the checks changed the streamed draft: what changed, not the whole answer again
            tail = f"\n\n{note}{tail}"
        if tail:
            yield self._delta({"content": tail})
        yield self._delta({}, "stop", docqa=docqa_extra(final, job.queue_seconds))
        if include_usage:
            yield self._chunk([], usage=_usage(final))
        yield "data: [DONE]\n\n"


@dataclass
class ServerState:
    """What the handlers share: the index, its answer queue, the limits, and lookups built on first use."""

    index: Index
    settings: Settings
    queue: AnswerQueue
    api_key: str | None
    model_id: str = MODEL_ID
    started: int = field(default_factory=lambda: int(time.time()))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _documents: list[dict[str, Any]] | None = None

    def passage(self, passage_id: str) -> Passage | None:
        """The indexed passage with this id (one indexed SQL lookup)."""
        return self.index.reader.passage_by_id(passage_id)

    def documents(self) -> list[dict[str, Any]]:
        """The indexed documents (without their text), built once."""
        with self._lock:
            if self._documents is None:
                self._documents = self.index.reader.document_summaries()
            return self._documents


def resolve_api_key(api_key: str | None, settings: ServeSettings) -> str | None:
    """The key clients must send: the one given ("": none), else the environment variable the settings name
    (unset or empty: none)."""
    if api_key is not None:
        return api_key or None
    return os.environ.get(settings.api_key_env) or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None, *, env_name: str = "DOCQA_SERVE_API_KEY") -> None:
    """Refuse to listen beyond this machine without an API key.

    :raises InputError: a non-loopback ``host`` and no key.
    """
    if not api_key and not is_loopback(host):
        raise InputError(f"refusing to listen on {host} without an API key: set {env_name} or pass --api-key "
                         "(or listen on 127.0.0.1)")


def create_app(index: Index, settings: Settings, *, api_key: str | None = None, queue: AnswerQueue | None = None,
               model_id: str = MODEL_ID) -> FastAPI:
    """The HTTP API over ``index`` (see the module docstring for the endpoints).

    :param api_key: the bearer token clients must send ("": no auth); None: the environment variable named by
        ``settings.serve.api_key_env`` (unset: no auth).
    :param queue: the answer queue (default: the one of the index's model in its runtime, shared with every other
        app, MCP server or UI session of the process that answers with that model; made with
        ``settings.serve.queue_size`` places when it is the first).
    :param model_id: the name of the index as an OpenAI "model".
    """
    limits = settings.serve
    key = resolve_api_key(api_key, limits)
    queue = queue or index.runtime.answer_queue(index.llm, capacity=limits.queue_size)
    state = ServerState(index, settings, queue, key, model_id)
    SearchRequest, AskRequest, ChatRequest = request_models(limits)

    app = FastAPI(title="docqa", version="1", description=__doc__.split("\n\n", 1)[1] if __doc__ else "",
                  responses=ERRORS)
    app.state.docqa = state
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, err: ApiError) -> JSONResponse:
        return error_response(err)

    @app.exception_handler(QAError)
    async def on_qa_error(request: Request, err: QAError) -> JSONResponse:
        return error_response(api_error(err))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        status, message, param = validation_message(err)
        return error_response(ApiError(status, message, "invalid_request_error", param=param))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        kind: ErrorType = "not_found_error" if err.status_code == 404 else "invalid_request_error"
        return error_response(ApiError(err.status_code, str(err.detail), kind, headers=dict(err.headers or {})))

    @app.exception_handler(Exception)
    async def on_crash(request: Request, err: Exception) -> JSONResponse:
        return error_response(api_error(err))

    bearer = HTTPBearer(auto_error=False, description="the server's API key (--api-key or $" +
                                                      limits.api_key_env + ")")

    def authorize(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if credentials is None:
            raise ApiError(401, "missing API key: send the header 'Authorization: Bearer <key>'",
                           "authentication_error", headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(credentials.credentials.encode(), (key or "").encode()):
            raise ApiError(401, "wrong API key", "authentication_error", headers={"WWW-Authenticate": "Bearer"})

    v1 = [Depends(authorize)] if key else []

    def question_of(text: str, what: str = "question") -> str:
        return check_question(text, what=what, max_chars=limits.max_question_chars)

    def scope_of(body: ScopeIn | None) -> Scope | None:
        """The request's scope, checked against the index now (a scope matching nothing is a 422 before any
        answering starts)."""
        if body is None:
            return None
        scope = Scope.of(body.documents, body.kinds, body.pages)
        index.resolve_scope(scope)
        return scope or None

    @app.get("/health", response_model=Health, tags=["status"])
    def health() -> dict[str, Any]:
        """Liveness and size of the index; the answer queue's state. Needs no key."""
        counts = index.manifest.counts
        return {"status": "ok", "documents": int(counts.get("documents", 0)),
                "passages": int(counts.get("passages", 0)), "queue": state.queue.snapshot()}

    @app.post("/v1/search", response_model=SearchResponse, dependencies=v1, tags=["rest"])
    def search(sent: SearchRequest) -> dict[str, Any]:  # type: ignore[valid-type]
        """The best ``k`` passages for ``query`` (runs concurrently with other searches and with answering)."""
        body: SearchBody = sent
        t = time.perf_counter()
        hits = index.search(question_of(body.query, "query"), body.k, mode=body.mode, level=body.level, docs=body.docs,
                            scope=scope_of(body.scope))
        return {"query": body.query, "mode": body.mode or settings.search.mode, "level": body.level,
                "hits": hits_to_list(hits),
                "seconds": round(time.perf_counter() - t, 4)}

    @app.post("/v1/ask", response_model=AnswerResponse, dependencies=v1, tags=["rest"], responses=BUSY)
    async def ask(sent: AskRequest) -> dict[str, Any]:  # type: ignore[valid-type]
        """Answer the question with citations; one answer at a time per model, others wait in a bounded queue."""
        body: AskBody = sent
        job = AnswerJob(index, state.queue, question_of(body.question), scope_of(body.scope))
        answer = await job.answer()
        return {**answer_to_dict(answer), "queue_seconds": job.queue_seconds}

    @app.post("/v1/ask/stream", dependencies=v1, tags=["rest"], responses={
        200: {"content": {"text/event-stream": {}}, "description": "events: queued?, token*, answer, done "
                                                                   "(or error)"}, **BUSY})
    async def ask_stream(sent: AskRequest) -> StreamingResponse:  # type: ignore[valid-type]
        """Answer as server-sent events: ``queued`` ``{position}`` while waiting, ``token`` ``{text}`` pieces of the
        raw generation, then ``answer`` (the checked answer, as from ``/v1/ask``) and ``done``."""
        body: AskBody = sent
        job = AnswerJob(index, state.queue, question_of(body.question), scope_of(body.scope))
        return StreamingResponse(answer_events(job), media_type="text/event-stream", headers=_STREAM_HEADERS)

    @app.get("/v1/documents", response_model=DocumentsResponse, dependencies=v1, tags=["rest"])
    def documents() -> dict[str, Any]:
        """The indexed documents (without their text)."""
        return {"documents": state.documents()}

    @app.get("/v1/passages/{passage_id}", response_model=PassageOut, dependencies=v1, tags=["rest"],
             responses=NOT_FOUND)
    def passage(passage_id: str) -> dict[str, Any]:
        """One indexed passage by id (as in search hits and citations)."""
        p = state.passage(passage_id)
        if p is None:
            raise ApiError(404, f"no passage {passage_id!r} in this index (passages merged into an answer's "
                                "context have ids of their own; their text is in the answer's passages)",
                           "not_found_error", param="passage_id")
        return passage_to_dict(p)

    @app.get("/v1/models", response_model=ModelList, dependencies=v1, tags=["openai"])
    def models() -> dict[str, Any]:
        """The index as the one model this server offers."""
        return {"object": "list", "data": [{"id": model_id, "object": "model", "created": state.started,
                                            "owned_by": "docqa"}]}

    @app.post("/v1/chat/completions", response_model=ChatCompletionResponse, dependencies=v1, tags=["openai"],
              responses={200: {"content": {"text/event-stream": {}}, "description": "a chat.completion, or with "
                                                                                     "stream: chunks, then [DONE]"},
                         **NOT_FOUND, **BUSY})
    async def chat(sent: ChatRequest) -> Any:  # type: ignore[valid-type]
        """OpenAI-compatible chat: the last user message is the question, the messages before it the conversation
        (a follow-up is rewritten to stand alone). The reply keeps its ``[n]`` markers and ends with a "Sources:"
        list; the extra field ``docqa`` holds the structured citations (on the last chunk of a stream)."""
        body: ChatBody = sent
        if body.model != model_id:
            raise ApiError(404, f"model {body.model!r} is not served here; this server's model is {model_id!r}",
                           "not_found_error", param="model")
        question, history = chat_turns([(m.role, _content_text(m.content)) for m in body.messages])
        job = AnswerJob(index, state.queue, question_of(question), scope_of(body.scope), history)
        reply = ChatReply(f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), model_id)
        if not body.stream:
            return reply.completion(await job.answer(), job.queue_seconds)
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        return StreamingResponse(reply.chunks(job, include_usage=include_usage), media_type="text/event-stream",
                                 headers=_STREAM_HEADERS)

    return app


_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def listen(app: FastAPI, *, host: str, port: int, log_level: str = "warning") -> tuple[Any, socket.socket, str]:
    """Bind ``host:port`` for ``app`` (``port`` 0: any free port): the uvicorn server, its listening socket and
    the URL; ``server.run(sockets=[sock])`` serves, ``server.should_exit = True`` stops it.

    :raises InputError: a non-loopback ``host`` for an app without an API key, or an address that cannot be bound.
    """
    import uvicorn

    state: ServerState = app.state.docqa
    check_bind(host, state.api_key, env_name=state.settings.serve.api_key_env)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections wait in the backlog from now on, so the URL works as soon as it is shown
    except OSError as err:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=5))
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    return server, sock, f"http://{shown}:{sock.getsockname()[1]}"


def serve(app: FastAPI, *, host: str, port: int, on_listening: Callable[[str], None] | None = None,
          log_level: str = "warning") -> None:
    """Run ``app`` under uvicorn until interrupted (SIGINT, SIGTERM); ``on_listening(url)`` once the socket listens.

    :raises InputError: as :func:`listen`.
    """
    server, sock, url = listen(app, host=host, port=port, log_level=log_level)
    if on_listening is not None:
        on_listening(url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down gracefully, then re-raised the signal: Ctrl-C is the normal stop
        pass
    finally:
        sock.close()
