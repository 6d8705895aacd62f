"""The ``openai`` backend against a real OpenAI-compatible server: llama-cpp-python's own
(``python -m llama_cpp.server``) serving the packaged SmolLM2-135M, started by the tests on 127.0.0.1.

The model is small: the tests check mechanics (citations resolve to the right lines, logit features run
through ``top_logprobs`` or say they were skipped, failures are one line, the key never leaks), not
answer quality.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.cli import main
from app.factory import make_llm
from app.sdk import Index
from generation.answer import Draft, Verifier
from generation.citations import parse_citations
from generation.llama_server import free_port
from generation.llama_server import llama_server as serve_llama
from generation.models import packaged_model_path
from generation.openai_llm import OpenAILLM, estimate_tokens
from ingest.core.errors import GenerationError, ModelError
from ingest.core.protocols import LogitsLLM, ScoringLLM, capable
from ingest.core.records import Completion, Message, WarningKind, line_span
from ingest.core.settings import AnswerSettings, LLMSettings, Settings

MODEL = "smollm2-135m"  # the alias the server lists under /v1/models
FAKE_KEY = "sk-docqa-FAKE-7f3a9c1e5b2d"  # recognisable: must never show up in logs, errors, answers or indexes
KEY_ENV = "DOCQA_LLM_API_KEY"
QUESTION = "Where was the backup generator moved?"
FACT_LINE = 9
READY_SECONDS = 90  # model load on a busy 2-core machine


@contextmanager
def llama_server(log_dir: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The packaged SmolLM2 behind ``python -m llama_cpp.server`` on a free loopback port; always stopped."""
    model = packaged_model_path("smollm2-135m-instruct-q4_1")
    with serve_llama(model, MODEL, log_path=log_dir / "llama-server.log", args=("--n_ctx", "4096", *args),
                     ready_seconds=READY_SECONDS) as running:
        yield running


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server without auth that returns log-probabilities (llama_cpp.server's default ``logits_all``)."""
    with llama_server(tmp_path_factory.mktemp("server")) as (base_url, _):
        yield base_url


def llm_section(base_url: str, **changes: object) -> dict[str, object]:
    return {"backend": "openai", "base_url": base_url, "model": MODEL, "context_tokens": 4096,
            "max_answer_tokens": 48, **changes}


def write_docs(directory: Path) -> tuple[Path, Path]:
    """A maintenance log (the fact on line :data:`FACT_LINE`) and an unrelated menu: two passages at least."""
    lines = [f"Log entry {i}: routine check of pump {i}, nothing unusual." for i in range(1, 13)]
    lines[FACT_LINE - 1] = f"Log entry {FACT_LINE}: the backup generator was moved to the north annex basement."
    log_doc = directory / "maintenance-log.txt"
    log_doc.write_text("\n".join(lines) + "\n")
    menu = directory / "canteen-menu.txt"
    menu.write_text("Canteen menu.\nMonday: lentil soup.\nTuesday: fish pie.\nWednesday: vegetable curry.\n")
    return log_doc, menu


def tree_hashes(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def assert_no_key(directory: Path, *texts: str) -> None:
    for text in texts:
        assert FAKE_KEY not in text
    for path in directory.rglob("*"):
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path


def assert_one_line(err: BaseException, *needles: str) -> str:
    text = str(err)
    assert "\n" not in text and text, text
    for needle in needles:
        assert needle in text, text
    assert FAKE_KEY not in text
    return text


def fact_draft(index: Index) -> tuple[Draft, str]:
    """A draft that copies the log's fact and cites its passage: it passes the citation check, so the answer
    check runs whatever the small model would have written."""
    passage = next(p for p in index.passages() if "generator" in p.text)
    text = "The backup generator was moved to the north annex basement [1]."
    resolved, citations, _ = parse_citations(text, [passage])
    return Draft(raw=text, text=resolved, citations=tuple(citations), context=(passage,), dropped=(), trace=()), text


# -- no server needed ---------------------------------------------------------------------------------------
def test_registered_cheap_to_build_and_needs_a_url():
    llm = make_llm(LLMSettings(**llm_section(f"http://127.0.0.1:{free_port()}/v1")))  # nothing listens: no request
    assert isinstance(llm, OpenAILLM) and llm.name == f"openai:{MODEL}"
    assert llm.context_tokens == 4096 and llm.count_tokens("hello world") == estimate_tokens("hello world") == 4
    with pytest.raises(ModelError, match="base_url"):
        make_llm(LLMSettings(backend="openai", model=MODEL))


def test_server_down_is_one_line_without_the_key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAILLM(LLMSettings(**llm_section(url, max_retries=1)))
    for call in (lambda: llm.complete([Message("user", "Hi")], max_tokens=4),
                 lambda: list(llm.stream([Message("user", "Hi")], max_tokens=4)),
                 lambda: llm.supports("LogitsLLM")):
        with pytest.raises(GenerationError) as info:
            call()
        assert_one_line(info.value, url, "cannot reach", "after 1 retry")


# -- against llama_cpp.server -------------------------------------------------------------------------------
@pytest.mark.slow
def test_complete_stream_and_detected_capabilities(server: str):
    llm = OpenAILLM(LLMSettings(**llm_section(server)))
    messages = [Message("user", "Name one colour.")]
    done = llm.complete(messages, max_tokens=8)
    assert done.text and 0 < done.completion_tokens <= 8 and done.prompt_tokens > 0
    *pieces, final = list(llm.stream(messages, max_tokens=8))
    assert pieces and all(isinstance(p, str) for p in pieces) and isinstance(final, Completion)
    assert final.text == "".join(pieces) == done.text  # greedy both ways
    assert final.first_token_seconds is not None and final.completion_tokens >= len(pieces)
    assert capable(llm, LogitsLLM)  # the server returned top_logprobs when asked once
    assert not capable(llm, ScoringLLM)  # segment scoring falls back to embeddings


@pytest.mark.slow
def test_unknown_model_is_one_line(server: str):
    llm = OpenAILLM(LLMSettings(**llm_section(server, model="no-such-model")))
    with pytest.raises(GenerationError) as info:
        llm.complete([Message("user", "Hi")], max_tokens=4)
    assert_one_line(info.value, "'no-such-model' is not served", server, f"served: {MODEL}")


@pytest.mark.slow
def test_logprobs_equal_the_in_process_backend(server: str):
    """The same GGUF in-process: yes/no and listwise identifiers (after the assistant prefix "[") score the same."""
    from generation.llamacpp import LlamaCppLLM
    from rerank.prompts import ASSISTANT_PREFIX, identifier_continuations, listwise_messages

    remote = OpenAILLM(LLMSettings(**llm_section(server)))
    local = LlamaCppLLM(LLMSettings(model="smollm2-135m-instruct-q4_1", context_tokens=4096, max_answer_tokens=48))
    try:
        yes_no = [Message("user", "Is Paris in France? Answer Yes or No.")]
        ranking = listwise_messages("capital of France", ["Berlin is in Germany.", "Paris is the capital of France.",
                                                          "Bananas are yellow."], words=50)
        for messages, continuations, prefix in ((yes_no, ["Yes", "No"], ""),
                                                (ranking, identifier_continuations(3), ASSISTANT_PREFIX)):
            got = remote.continuation_logprobs(messages, continuations, assistant_prefix=prefix)
            want = local.continuation_logprobs(messages, continuations, assistant_prefix=prefix)
            assert got.logprobs == pytest.approx(want.logprobs, abs=1e-3)
            assert got.prompt_tokens == want.prompt_tokens
        code = Path(__file__).read_text()[:3000]
        table = "Year 2019: 1234567 units at 3.14 EUR, 2020-01-01. " * 10
        for text in (QUESTION, ranking[1].content, code, table, "Übergröße der Straßenbahn, 東京の人口"):
            assert estimate_tokens(text) >= local.count_tokens(text), text  # the estimate errs high
    finally:
        local.close()


@pytest.mark.slow
def test_answer_end_to_end_cites_lines_and_scores_through_logprobs(tmp_path: Path, server: str,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture):
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)  # the server has no auth and ignores it; it must still never leak
    caplog.set_level(logging.DEBUG)
    log_doc, menu = write_docs(tmp_path)
    settings = Settings().replace(llm=llm_section(server),
                                  answer={"rerank": "full-logits", "unsupported": "flag"})  # citations are kept
    index = Index.build([log_doc, menu], tmp_path / "idx", settings=settings)
    answer = index.ask(QUESTION)

    assert answer.model == f"openai:{MODEL}" and answer.stage("generate").method == answer.model
    texts = {str(log_doc): log_doc.read_text(), str(menu): menu.read_text()}
    assert answer.passages and any(FACT_LINE in range(p.lines[0], p.lines[1] + 1)
                                   for p in answer.passages if p.source == str(log_doc))
    for passage in (*answer.passages, *(c.passage for c in answer.citations)):  # every one resolves to its lines
        text = texts[passage.source]
        assert text[passage.chars[0]:passage.chars[1]] == passage.text
        assert passage.lines == line_span(text, *passage.chars)
        assert passage.label == f"{passage.source}:{passage.lines[0]}-{passage.lines[1]}"
    for c in answer.citations:
        assert c.passage == answer.passages[c.number - 1]
    rerank = answer.stage("rerank")  # single-pass listwise through top_logprobs, no fallback
    assert (rerank.method, rerank.outcome, rerank.calls) == ("full-logits", "ok", 1) and rerank.prompt_tokens > 0

    draft, _ = fact_draft(index)
    checked = Verifier(index.llm, AnswerSettings()).check(QUESTION, draft)
    check = next(t for t in checked.trace if t.name == "answer_check")
    assert (check.method, check.calls) == ("yes-no", 1) and check.prompt_tokens > 0
    assert not [w for w in (*answer.warnings, *checked.warnings) if w.kind == WarningKind.FEATURE_SKIPPED]

    index.close()
    assert_no_key(tmp_path / "idx", caplog.text, json.dumps(answer.to_dict()), repr(index.settings))


@pytest.mark.slow
def test_cli_server_down_exits_1_and_leaves_the_index(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch):
    log_doc, menu = write_docs(tmp_path)
    Index.build([log_doc, menu], tmp_path / "idx", settings=Settings()).close()
    before = tree_hashes(tmp_path / "idx")
    down = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    monkeypatch.setenv("DOCQA_LLM_BASE_URL", down)
    monkeypatch.setenv("DOCQA_LLM_MAX_RETRIES", "1")
    code = main(["ask", "--index", str(tmp_path / "idx"), "--backend", "openai", "--model", MODEL, QUESTION])
    out, err = capsys.readouterr()
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("docqa: error: ")]
    assert len(errors) == 1 and down in errors[0] and "cannot reach" in errors[0], err
    assert FAKE_KEY not in out + err
    assert tree_hashes(tmp_path / "idx") == before


@pytest.mark.slow
def test_auth_no_logprobs_and_server_killed_mid_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture):
    """A server that wants a key and returns no log-probabilities: wrong or missing keys are one-line errors;
    every logit feature says in the notes what it skipped or fell back to; killing the server mid-answer is a
    one-line error."""
    caplog.set_level(logging.DEBUG)
    with llama_server(tmp_path, "--api_key", FAKE_KEY, "--logits_all", "false") as (url, proc):
        settings = Settings().replace(llm=llm_section(url, max_retries=0),
                                      answer={"rerank": "full-logits", "select": "llm", "verify": "llm"})
        for key in ("sk-wrong-key-123", None):
            if key is None:
                monkeypatch.delenv(KEY_ENV, raising=False)
            else:
                monkeypatch.setenv(KEY_ENV, key)
            with pytest.raises(GenerationError) as info:
                OpenAILLM(settings.llm).complete([Message("user", "Hi")], max_tokens=4)
            assert "sk-wrong-key-123" not in assert_one_line(info.value, url, "401", KEY_ENV)

        monkeypatch.setenv(KEY_ENV, FAKE_KEY)
        log_doc, menu = write_docs(tmp_path)
        index = Index.build([log_doc, menu], tmp_path / "idx", settings=settings)
        assert not capable(index.llm, LogitsLLM)  # asked once: the server refuses logprobs
        answer = index.ask(QUESTION)
        notes = "\n".join(answer.notes)
        assert answer.stage("rerank").outcome in ("fallback", "skipped") and answer.stage("rerank").details, notes
        assert "cannot score text; used embeddings" in notes and answer.stage("select").method == "embedding"
        assert f"citation check: {index.llm.name} cannot score yes/no; lexical only" in notes
        draft, _ = fact_draft(index)
        checked = Verifier(index.llm, AnswerSettings()).check(QUESTION, draft)
        assert next(t for t in checked.trace if t.name == "answer_check").outcome == "skipped"
        assert any(w.kind == WarningKind.FEATURE_SKIPPED and "answer check" in str(w) for w in checked.warnings)

        stream = index.llm.stream([Message("user", "Count from 1 to 500, separated by commas.")], max_tokens=1024)
        assert isinstance(next(stream), str)
        proc.kill()
        proc.wait()
        with pytest.raises(GenerationError) as info:
            for _ in stream:
                pass
        assert_one_line(info.value, url, "streaming an answer")
        with pytest.raises(GenerationError) as info:
            index.ask(QUESTION)
        assert_one_line(info.value, url)
        index.close()
    assert_no_key(tmp_path / "idx", caplog.text, json.dumps(answer.to_dict()))
