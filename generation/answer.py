"""Generate a cited answer from ranked passages with an LLM backend."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from generation.citations import parse_citations
from generation.prompt import build_messages, fit_passages
from generation.types import LLM, Answer, Completion
from ingest.errors import InputError
from ingest.types import Passage

PROMPT_OVERHEAD_TOKENS = 320  # system prompt + chat template + question framing, measured on Qwen2.5


def check_question(question: str) -> str:
    """The stripped question.

    :raises InputError: an empty question.
    """
    q = (question or "").strip()
    if not q:
        raise InputError("question: empty question")
    return q


def context_budget(llm: LLM, question: str, max_answer_tokens: int) -> int:
    """Tokens left for passages once the answer, the prompt frame and the question are reserved."""
    return llm.context_tokens - max_answer_tokens - PROMPT_OVERHEAD_TOKENS - llm.count_tokens(question)


def stream_answer(llm: LLM, question: str, passages: Sequence[Passage], *, max_answer_tokens: int,
                  timings: dict[str, float] | None = None, notes: Sequence[str] = ()) -> Iterator[str | Answer]:
    """Yield answer text as it is generated, then the final :class:`Answer`.

    :param llm: the backend.
    :param question: the user's question.
    :param passages: ranked passages, best first; whole passages are packed into the context budget.
    :param max_answer_tokens: most tokens generated.
    :param timings: earlier stages' timings, carried into the answer.
    :param notes: facts about the run to report (reranker, mode, ...).
    """
    question = check_question(question)
    t = time.perf_counter()
    context = fit_passages(passages, context_budget(llm, question, max_answer_tokens), llm.count_tokens)
    messages = build_messages(question, context)
    timings = dict(timings or {})
    timings["prompt"] = time.perf_counter() - t
    completion: Completion | None = None
    for piece in llm.stream(messages, max_tokens=max_answer_tokens):
        if isinstance(piece, Completion):
            completion = piece
        else:
            yield piece
    assert completion is not None
    text, citations, dropped = parse_citations(completion.text, context)
    timings["generate"] = completion.seconds
    if completion.first_token_seconds is not None:
        timings["first_token"] = completion.first_token_seconds
    extra = list(notes)
    if len(context) < len(passages):
        extra.append(f"context: {len(context)} of {len(passages)} passages fit the token budget")
    if dropped:
        extra.append(f"dropped citations to passages that do not exist: {dropped}")
    yield Answer(
        question=question, text=text, citations=tuple(citations), passages=tuple(context), timings=timings,
        tokens={"prompt": completion.prompt_tokens, "completion": completion.completion_tokens},
        dropped_citations=tuple(dropped), model=llm.name, notes=tuple(extra),
    )


def answer(llm: LLM, question: str, passages: Sequence[Passage], *, max_answer_tokens: int,
           timings: dict[str, float] | None = None, notes: Sequence[str] = ()) -> Answer:
    """The final :class:`Answer` of :func:`stream_answer`."""
    final = None
    for piece in stream_answer(llm, question, passages, max_answer_tokens=max_answer_tokens, timings=timings,
                               notes=notes):
        if isinstance(piece, Answer):
            final = piece
    assert final is not None
    return final
