"""``docqa serve``: a real uvicorn server on 127.0.0.1, used through the official ``openai`` client, plain HTTP
and schemathesis; auth, bind refusal, limits, the answer queue (429) and its reusable class.

Mechanics only: the fake embedder and scripted LLMs (a model that blocks until released saturates the queue).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

import app.sdk
from app.cli import main
from app.jobs import AnswerQueue, QueueFull
from app.server import create_app, listen
from ingest.core.errors import InputError
from ingest.core.records import Completion, Message
from ingest.core.settings import Settings, SplitSettings
from tests.fakes import FakeEmbedder, ScriptedLLM
from tests.load import HANG_GUARD

DOCS = {
    "harbour.txt": "The harbour of Vellmar was dredged in 1921.\nShips of deeper draught could then dock.\n\n"
                   "The lighthouse keeper, Ida Marsh, kept a log of every arrival for forty years.\n",
    "rail.txt": "The railway reached Vellmar in 1889.\nThe station has two platforms.\n\n"
                "Trains run hourly to Osterby.\nThe line was electrified in 1962.\n",
}

REPLY = "The harbour was dredged in 1921 [1]."
QUESTION = "When was the harbour of Vellmar dredged?"


class RepeatingLLM(ScriptedLLM):
    """Gives the same reply to every question; with ``gate``, waits for it to open before answering."""

    def __init__(self, reply: str = REPLY, *, gate: threading.Event | None = None) -> None:
        super().__init__(reply)
        self.gate = gate
        self.started = threading.Semaphore(0)  # released once per answer that began generating

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        self.started.release()
        if self.gate is not None:
            assert self.gate.wait(30), "the test never released the model"
        self.replies = [self.replies[0]] * 2
        return super().stream(messages, max_tokens=max_tokens)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of two small text documents, built with the fake embedder."""
    from ingest.split import DocumentSplitter, ProseSplitter
    from retrieval.build import build_index

    root = tmp_path_factory.mktemp("served")
    embedder = FakeEmbedder()
    for name, text in DOCS.items():
        (root / name).write_text(text)
    s = SplitSettings(chunk_tokens=24, overlap_tokens=4)
    build_index([root / n for n in DOCS], root / "idx", embedder=embedder,
                splitter=DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens), None))
    return root / "idx"


def open_index(index_dir: Path, llm: ScriptedLLM, **serve: Any) -> tuple[app.sdk.Index, Settings]:
    settings = Settings().replace(serve=serve) if serve else Settings()
    return app.sdk.Index(app.sdk.IndexReader(index_dir), settings, embedder=FakeEmbedder(), llm=llm), settings


@contextlib.contextmanager
def running(index: app.sdk.Index, settings: Settings, **options: Any) -> Iterator[str]:
    """``create_app(index, settings, **options)`` under a real uvicorn server on a free loopback port; its URL."""
    server, sock, url = listen(create_app(index, settings, **options), host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def url(index_dir: Path) -> Iterator[str]:
    """A server without auth whose model answers every question with REPLY."""
    index, settings = open_index(index_dir, RepeatingLLM())
    with running(index, settings, api_key="") as base:
        yield base


def sse_events(text: str) -> list[tuple[str, Any]]:
    """``(event, data)`` pairs of a server-sent event stream."""
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields.get("event", "message"), json.loads(fields["data"])))
    return out


# -- the OpenAI-compatible API, through the official client ------------------------------------------------
def test_openai_client_non_stream_and_stream_keep_citations(url: str):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["docqa"]
    reply = client.chat.completions.create(model="docqa", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}])
    text = reply.choices[0].message.content
    assert text.startswith(REPLY) and "\n\nSources:\n[1] " in text and "harbour.txt:" in text
    extra = reply.model_extra["docqa"]
    cited = extra["citations"][0]
    assert cited["n"] == 1 and cited["source"].endswith("harbour.txt") and cited["lines"][0] == 1
    assert "dredged in 1921" in cited["quote"] and extra["answer"] == REPLY and extra["mode"] == "retrieve"
    assert reply.usage.completion_tokens > 0 and extra["queue_seconds"] >= 0

    chunks = list(client.chat.completions.create(model="docqa", messages=[{"role": "user", "content": QUESTION}],
                                                 stream=True, stream_options={"include_usage": True}))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text  # the same reply, markers and sources, piece by piece
    last = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    assert last.model_extra["docqa"]["citations"] == extra["citations"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_openai_client_gets_clear_errors(url: str):
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="'gpt-4' is not served here"):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.UnprocessableEntityError, match="no user message"):
        client.chat.completions.create(model="docqa", messages=[{"role": "system", "content": "hi"}])


def test_streamed_reply_shows_the_checked_answer_when_the_check_changed_the_draft(index_dir: Path):
    from openai import OpenAI

    index, settings = open_index(index_dir, RepeatingLLM("The pier was built by giants in 1066 [7]."))
    with running(index, settings, api_key="") as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        chunks = list(client.chat.completions.create(model="docqa", messages=[{"role": "user", "content": QUESTION}],
                                                     stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    extra = chunks[-1].model_extra["docqa"]
    assert streamed.startswith("The pier was built by giants in 1066 [7].")  # the raw generation came first
    assert extra["answer"] != "The pier was built by giants in 1066 [7]." and not extra["citations"]
    assert streamed.endswith(f"\n\nChecked: the answer is now: {extra['answer']}") and extra["warnings"]


class FailingLLM(RepeatingLLM):
    """A model server that goes away after the first words."""

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        from ingest.core.errors import GenerationError

        yield "The harbour "
        raise GenerationError("openai backend: http://127.0.0.1:9/v1 is not answering (connection refused)")


def test_a_failing_model_is_a_503_or_an_error_event_never_a_hang(index_dir: Path):
    import openai

    index, settings = open_index(index_dir, FailingLLM())
    with running(index, settings, api_key="") as base:
        plain = httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=30)
        assert plain.status_code == 503 and "is not answering" in plain.json()["error"]["message"]
        events = sse_events(httpx.post(f"{base}/v1/ask/stream", json={"question": QUESTION}, timeout=30).text)
        assert events[0] == ("token", {"text": "The harbour "}) and events[-1][0] == "error"
        assert "is not answering" in events[-1][1]["error"]["message"]
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIError, match="is not answering"):
            list(client.chat.completions.create(model="docqa", messages=[{"role": "user", "content": QUESTION}],
                                                stream=True))
        assert httpx.get(f"{base}/health").json()["queue"]["running"] == 0  # the failed jobs gave their turn back


# -- REST ---------------------------------------------------------------------------------------------------
def test_rest_search_ask_documents_passages_health(url: str):
    with httpx.Client(base_url=url, timeout=30) as http:
        health = http.get("/health").json()
        assert health["status"] == "ok" and health["documents"] == 2 and health["queue"]["running"] == 0
        found = http.post("/v1/search", json={"query": "lighthouse keeper log", "k": 3, "mode": "bm25"}).json()
        best = found["hits"][0]
        assert found["mode"] == "bm25" and best["rank"] == 1 and "Ida Marsh" in best["text"]
        assert best["source"].endswith("harbour.txt") and best["lines"] == [4, 4] and best["label"].endswith(":4")
        assert http.get(f"/v1/passages/{best['id']}").json()["text"] == best["text"]

        answer = http.post("/v1/ask", json={"question": QUESTION}).json()
        assert answer["answer"] == REPLY and answer["queue_seconds"] >= 0
        assert answer["citations"][0]["source"].endswith("harbour.txt") and answer["citations"][0]["supported"]
        assert {"passages", "warnings", "trace", "timings", "tokens", "notes", "draft"} <= set(answer)

        events = sse_events(http.post("/v1/ask/stream", json={"question": QUESTION}).text)
        names = [e for e, _ in events]
        assert names[-2:] == ["answer", "done"] and set(names[:-2]) == {"token"}
        assert "".join(d["text"] for e, d in events if e == "token") == REPLY
        assert events[-2][1]["citations"] == answer["citations"]

        docs = http.get("/v1/documents").json()["documents"]
        assert sorted(Path(d["source"]).name for d in docs) == sorted(DOCS)
        assert all(d["passages"] >= 1 and d["chars"] > 0 for d in docs)
        assert http.get("/openapi.json").json()["info"]["title"] == "docqa"


@pytest.mark.parametrize("method, path, body, status, needle", [
    ("POST", "/v1/ask", {"question": ""}, 422, "question: String should have at least 1 character"),
    ("POST", "/v1/ask", {"question": "   "}, 422, "question: empty question"),
    ("POST", "/v1/ask", {"question": "x" * 4001}, 422, "at most 4000 characters"),
    ("POST", "/v1/ask", {}, 422, "question: Field required"),
    ("POST", "/v1/ask", {"question": "x", "k": 3}, 422, "k: Extra inputs are not permitted"),
    ("POST", "/v1/search", {"query": "harbour", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
    ("POST", "/v1/search", {"query": "harbour", "k": 101}, 422, "k: Input should be less than or equal to 100"),
    ("POST", "/v1/search", {"query": "harbour", "k": "many"}, 422, "k: Input should be a valid integer"),
    ("POST", "/v1/search", {"query": "harbour", "mode": "fuzzy"}, 422, "mode: Input should be 'dense', 'bm25'"),
    ("POST", "/v1/search", {"query": "harbour", "level": "unit", "mode": "bm25"}, 422, "dense only"),
    ("POST", "/v1/search", b'{"query": "harbour", ', 400, "request body is not valid JSON"),
    ("POST", "/v1/search", b"x" * ((1 << 20) + 1), 413, "the limit is 1048576"),
    ("POST", "/v1/chat/completions", {"model": "docqa", "messages": []}, 422, "messages: List should have at least"),
    ("GET", "/v1/passages/p-0000000000000000", None, 404, "no passage 'p-0000000000000000' in this index"),
    ("GET", "/v1/nowhere", None, 404, "Not Found"),
    ("DELETE", "/v1/ask", None, 405, "Method Not Allowed"),
])
def test_bad_requests_get_a_4xx_that_says_what_was_wrong(url: str, method: str, path: str, body: object, status: int,
                                                         needle: str):
    content = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) else body
    response = httpx.request(method, f"{url}{path}", json=payload, content=content, timeout=30,
                             headers={"content-type": "application/json"} if content else None)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert needle in error["message"] and error["type"]


def test_body_limit_counts_the_bytes_of_a_chunked_upload(url: str):
    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
        yield b'{"question": "'
        for _ in range(40):
            yield b"a" * 32_768
        yield b'"}'

    response = httpx.post(f"{url}/v1/ask", content=chunks(), headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert "more than 1048576 bytes; the limit is 1048576" in response.json()["error"]["message"]


def test_schemathesis_finds_no_server_error(url: str):
    """Property-based requests from /openapi.json: never a 5xx, and every response matches the schema."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8
    for operation, mode in [(o, m) for o in operations for m in GenerationMode]:
        @given(case=operation.as_strategy(mode))
        @settings(max_examples=12, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call(base_url=url, timeout=30)
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                     response_schema_conformance])

        with contextlib.suppress(Unsatisfiable) if mode == GenerationMode.NEGATIVE else contextlib.nullcontext():
            check()  # an operation without parameters has no invalid input


# -- auth and binding ----------------------------------------------------------------------------------------
def test_auth_on_needs_the_right_bearer_token(index_dir: Path):
    import openai

    index, settings = open_index(index_dir, RepeatingLLM())
    with running(index, settings, api_key="s3cret") as base:
        assert httpx.get(f"{base}/health").status_code == 200  # health and the OpenAPI document need no key
        missing = httpx.post(f"{base}/v1/search", json={"query": "harbour"})
        assert missing.status_code == 401 and "missing API key" in missing.json()["error"]["message"]
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = httpx.get(f"{base}/v1/documents", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "wrong API key"
        right = httpx.get(f"{base}/v1/documents", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200
        with pytest.raises(openai.AuthenticationError, match="wrong API key"):
            openai.OpenAI(base_url=f"{base}/v1", api_key="nope", max_retries=0).models.list()
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="s3cret", max_retries=0)
        assert client.chat.completions.create(model="docqa", messages=[{"role": "user", "content": QUESTION}]
                                              ).model_extra["docqa"]["citations"]


def test_auth_key_from_the_environment(index_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCQA_SERVE_API_KEY", "from-env")
    index, settings = open_index(index_dir, RepeatingLLM())
    with running(index, settings) as base:
        assert httpx.get(f"{base}/v1/models").status_code == 401
        assert httpx.get(f"{base}/v1/models", headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_refuses_to_bind_beyond_loopback_without_a_key(index_dir: Path, tmp_path: Path, capsys,
                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DOCQA_SERVE_API_KEY", raising=False)
    code = main(["serve", "--index", str(tmp_path / "nowhere"), "--host", "0.0.0.0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("docqa: error: refusing to listen on 0.0.0.0 without an API key: set "
                             "DOCQA_SERVE_API_KEY or pass --api-key")
    monkeypatch.setenv("DOCQA_SERVE_API_KEY", "k")  # with a key the check passes; then the index is missing
    assert main(["serve", "--index", str(tmp_path / "nowhere"), "--host", "0.0.0.0"]) == 1
    assert "no docqa index" in capsys.readouterr().err
    index, settings = open_index(index_dir, RepeatingLLM())
    with pytest.raises(InputError, match="refusing to listen on 0.0.0.0"):
        listen(create_app(index, settings, api_key=""), host="0.0.0.0", port=0)  # the app has no key either


# -- the answer queue ------------------------------------------------------------------------------------------
def test_full_queue_answers_429_at_once_and_every_request_is_answered(index_dir: Path):
    import openai

    gate = threading.Event()
    llm = RepeatingLLM(gate=gate)
    index, settings = open_index(index_dir, llm, queue_size=1)
    with running(index, settings, api_key="") as base, ThreadPoolExecutor(4) as pool:
        first = pool.submit(httpx.post, f"{base}/v1/ask", json={"question": QUESTION}, timeout=60)
        assert llm.started.acquire(timeout=HANG_GUARD)  # the first answer holds the model
        second = pool.submit(httpx.post, f"{base}/v1/ask", json={"question": QUESTION}, timeout=60)
        deadline = time.monotonic() + HANG_GUARD
        while httpx.get(f"{base}/health").json()["queue"]["waiting"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        refused = httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=60)
        assert refused.status_code == 429 and not gate.is_set()  # refused while the model is still held: at once
        assert int(refused.headers["retry-after"]) >= 1 and "the model is busy" in refused.json()["error"]["message"]
        assert httpx.post(f"{base}/v1/ask/stream", json={"question": QUESTION}).status_code == 429
        with pytest.raises(openai.RateLimitError, match="the model is busy"):
            openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0).chat.completions.create(
                model="docqa", messages=[{"role": "user", "content": QUESTION}])
        assert httpx.post(f"{base}/v1/search", json={"query": "harbour"}).status_code == 200  # search still runs
        time.sleep(0.2)
        gate.set()
        answers = [first.result().json(), second.result().json()]
        assert [a["answer"] for a in answers] == [REPLY, REPLY]
        assert answers[1]["queue_seconds"] >= 0.2 > answers[0]["queue_seconds"]
        assert httpx.get(f"{base}/health").json()["queue"] == {"running": 0, "waiting": 0, "capacity": 1}


def test_a_client_that_leaves_gives_its_turn_back(index_dir: Path):
    gate = threading.Event()
    llm = RepeatingLLM(gate=gate)
    index, settings = open_index(index_dir, llm, queue_size=1)
    with running(index, settings, api_key="") as base, ThreadPoolExecutor(2) as pool:
        first = pool.submit(httpx.post, f"{base}/v1/ask", json={"question": QUESTION}, timeout=60)
        assert llm.started.acquire(timeout=HANG_GUARD)
        with httpx.Client(timeout=30) as leaving, leaving.stream("POST", f"{base}/v1/ask/stream",
                                                                 json={"question": QUESTION}) as r:
            first_event = next(r.iter_text())
            assert first_event.startswith("event: queued") and '"position": 1' in first_event
        deadline = time.monotonic() + HANG_GUARD  # the stream closed while waiting: its place is freed
        while httpx.get(f"{base}/health").json()["queue"]["waiting"]:
            assert time.monotonic() < deadline, "the departed client still holds a place in line"
            time.sleep(0.05)
        gate.set()
        assert first.result().json()["answer"] == REPLY
        assert httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=30).status_code == 200


def test_answer_queue_is_first_come_first_served_and_bounded():
    queue = AnswerQueue(capacity=2, default_seconds=3)
    a, b, c = queue.enter(), queue.enter(), queue.enter()
    with pytest.raises(QueueFull, match="1 question is being answered and 2 wait") as full:
        queue.enter()
    assert full.value.retry_after == 3
    assert [queue.position(t) for t in (a, b, c)] == [0, 1, 2]
    assert queue.wait(a, timeout=0) and not queue.wait(b, timeout=0.01)
    order: list[str] = []

    def job(name: str, ticket: Any) -> None:
        assert queue.wait(ticket)
        order.append(name)
        queue.release(ticket)

    threads = [threading.Thread(target=job, args=(n, t)) for n, t in (("c", c), ("b", b))]
    for t in threads:
        t.start()
    time.sleep(0.05)
    assert order == []  # a still runs
    queue.release(a)
    for t in threads:
        t.join(5)
    assert order == ["b", "c"] and queue.snapshot() == {"running": 0, "waiting": 0, "capacity": 2}
    assert queue.position(a) == -1


def test_answer_queue_cancel_and_job():
    queue = AnswerQueue(capacity=0)
    with queue.job() as running_ticket:
        assert queue.position(running_ticket) == 0
        with pytest.raises(QueueFull, match="the limit is 0"):
            queue.enter()
    later = queue.enter()
    blocker = AnswerQueue(capacity=1)
    head, waiting = blocker.enter(), blocker.enter()
    threading.Timer(0.05, blocker.cancel, args=(waiting,)).start()
    assert blocker.wait(head) and not blocker.wait(waiting)  # cancelled while waiting: its turn never comes
    blocker.release(waiting)
    blocker.release(head)
    assert blocker.snapshot()["waiting"] == 0 and queue.wait(later)
    with pytest.raises(ValueError, match="capacity must be >= 0"):
        AnswerQueue(-1)


# -- conversations: the chat endpoint uses every message it receives -------------------------------------
def test_chat_completions_answers_a_follow_up_from_the_messages_it_receives(index_dir: Path):
    from openai import OpenAI

    standalone = "When was the harbour of Vellmar dredged?"
    llm = ScriptedLLM(standalone, REPLY)  # the follow-up rewrite, then the answer
    index, settings = open_index(index_dir, llm)
    with running(index, settings, api_key="") as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="docqa", messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Who kept the log of the lighthouse of Vellmar?"},
            {"role": "assistant", "content": "Ida Marsh kept it [1].\n\nSources:\n[1] harbour.txt:4"},
            {"role": "user", "content": "When was its harbour dredged?"}])
    rewrite_prompt = llm.calls[0][-1].content
    assert "User: Who kept the log of the lighthouse of Vellmar?" in rewrite_prompt
    assert "Assistant: Ida Marsh kept it." in rewrite_prompt and "Sources" not in rewrite_prompt
    assert "Last question: When was its harbour dredged?" in rewrite_prompt
    assert standalone in llm.calls[1][-1].content  # the answer was asked for the standalone question
    text = reply.choices[0].message.content
    extra = reply.model_extra["docqa"]
    assert text.startswith(REPLY) and extra["citations"][0]["source"].endswith("harbour.txt")
    assert f"followup (llm): answered as: {standalone!r}" in extra["notes"]
    assert "followup (llm): history: 1 turn(s): 'Who kept the log of the lighthouse of Vellmar?'" in extra["notes"]


def test_ask_stream_answer_has_the_followup_trace_and_a_single_question_has_none(url: str):
    with httpx.Client(base_url=url, timeout=30) as http:
        answer = http.post("/v1/ask", json={"question": QUESTION}).json()
    assert [s["name"] for s in answer["trace"]][0] == "retrieve"  # no history: no rewrite, no model call for it
