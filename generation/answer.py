"""Generate a cited answer from ranked passages with an LLM backend."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from generation.citations import parse_citations
from generation.context import order_passages, pack_passages
from generation.prompt import NOT_FOUND, build_messages
from generation.types import LLM, Answer, Citation, Completion, LogitsLLM, final_item
from generation.verify import (
    ANSWERS_MARGIN,
    UNSUPPORTED_POLICIES,
    Judge,
    answers_margin,
    llm_judge,
    verify_citations,
    withhold_unsupported,
)
from ingest.errors import InputError
from ingest.types import Passage

PROMPT_OVERHEAD_TOKENS = 320  # system prompt + chat template + question framing, measured on Qwen2.5
PASSAGE_OVERHEAD_TOKENS = 12  # "[n] label" line and blank lines around each passage
VERIFY_MODES = ("none", "lexical", "llm")
UNSUPPORTED_NOTE = "unsupported sentence: "  # notes that warn the reader start with one of these three
WITHHELD_NOTE = "citation check: no passage supports the answer, so it was withheld"
NOT_ANSWERED_NOTE = ("answer check: the model judged that the cited passages do not answer the question, so the "
                     "answer was withheld")


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


def offers_not_found(verify: str, unsupported: str) -> bool:
    """Whether the prompt tells the model it may reply "The document does not say.".

    Not when the citation check will withhold an unsupported answer: a small model offered that reply
    takes it on questions its passages do answer (measured in bench/RESULTS.md, issue 6), while an
    answer made up without the passages fails the check and is withheld anyway.

    >>> offers_not_found("lexical", "abstain"), offers_not_found("lexical", "flag"), offers_not_found("none", "abstain")
    (False, True, True)
    """
    return verify == "none" or unsupported != "abstain"


def stream_answer(llm: LLM, question: str, passages: Sequence[Passage], *, max_answer_tokens: int,
                  timings: dict[str, float] | None = None, notes: Sequence[str] = (), order: str = "rank",
                  verify: str = "none", tokens: dict[str, int] | None = None,
                  unsupported: str = "flag") -> Iterator[str | Answer]:
    """Yield answer text as it is generated, then the final :class:`Answer`.

    :param llm: the backend.
    :param question: the user's question.
    :param passages: ranked passages, best first; packed into the context budget best first (a passage
        that does not fit is left out, or cut at a sentence end and reported in the notes).
    :param max_answer_tokens: most tokens generated.
    :param timings: earlier stages' timings, carried into the answer.
    :param notes: facts about the run to report (reranker, mode, ...).
    :param order: how the packed passages are numbered: "rank" (as given), "edges" (best at both ends),
        "document" (document order).
    :param verify: citation check after generation: "none", "lexical" (overlap test) or "llm" (overlap
        test, with a yes/no question to the model on borderline cases). The streamed pieces are the raw
        generation; the final answer's text carries the checked markers.
    :param tokens: earlier stages' token counts, carried into the answer.
    :param unsupported: with a citation check, what happens to an answer none of whose factual sentences
        any passage supports: "flag" (kept, each sentence noted) or "abstain" (replaced by the
        not-found answer; the withheld draft is in the notes). With "abstain" the prompt asks for an
        answer outright and the check decides whether to withhold it (:func:`offers_not_found`).
    """
    question = check_question(question)
    if verify not in VERIFY_MODES:
        raise ValueError(f"unknown verify mode {verify!r}; valid: {', '.join(VERIFY_MODES)}")
    if unsupported not in UNSUPPORTED_POLICIES:
        raise ValueError(f"unknown unsupported-answer policy {unsupported!r}; valid: {', '.join(UNSUPPORTED_POLICIES)}")
    t = time.perf_counter()
    packed = pack_passages(passages, context_budget(llm, question, max_answer_tokens), llm.count_tokens,
                           overhead_tokens=PASSAGE_OVERHEAD_TOKENS)
    context = order_passages(packed.passages, order)
    messages = build_messages(question, context, offer_not_found=offers_not_found(verify, unsupported))
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
    if packed.trimmed:
        extra.append(f"context: {len(packed.trimmed)} passage(s) cut at a sentence end to fit the token budget")
    if order != "rank":
        extra.append(f"context order: {order}")
    if dropped:
        extra.append(f"dropped citations to passages that do not exist: {dropped}")
    counts = {**(tokens or {}), "prompt": completion.prompt_tokens, "completion": completion.completion_tokens}
    if verify != "none":
        t = time.perf_counter()
        text, citations, verify_notes = _verify(llm, question, text, context, verify, unsupported, counts)
        timings["verify"] = time.perf_counter() - t
        extra.extend(verify_notes)
    yield Answer(
        question=question, text=text, citations=tuple(citations), passages=tuple(context), timings=timings,
        tokens=counts, dropped_citations=tuple(dropped), model=llm.name, notes=tuple(extra), draft=completion.text,
    )


def _verify(llm: LLM, question: str, text: str, context: Sequence[Passage], mode: str, unsupported: str,
            tokens: dict[str, int]) -> tuple[str, list[Citation], list[str]]:
    """Run the citation check; the checked text, its citations and notes on what changed (the answer
    check's prompt tokens are added to ``tokens``).

    With ``unsupported="abstain"`` an answer that passes the check is also withheld when the model, asked
    yes/no, judges that its cited passages do not answer the question (backends that score logits only).
    """
    judge: Judge | None = None
    notes: list[str] = []
    if mode == "llm":
        if isinstance(llm, LogitsLLM):
            judge = llm_judge(llm)
        else:
            notes.append(f"citation check: {llm.name} cannot score yes/no; lexical check only")
    v = verify_citations(text, context, judge=judge)
    summary = f"citation check ({mode}): {len(v.citations)} kept"
    if v.removed:
        summary += f", removed {len(v.removed)} unsupported {[n for _, n in v.removed]}"
    if v.added:
        summary += f", added {[n for _, n in v.added]} to uncited sentences"
    if v.judge_calls:
        summary += f", {v.judge_calls} yes/no checks by the model"
    notes.append(summary)
    notes.extend(UNSUPPORTED_NOTE + claim for claim in v.flagged)
    if unsupported == "abstain" and v.unsupported:
        notes.append(f"{WITHHELD_NOTE} (draft: {' '.join(v.flagged)!r})")
        v = withhold_unsupported(v, NOT_FOUND)
    elif unsupported == "abstain" and v.citations:
        if isinstance(llm, LogitsLLM):
            margin, tokens["answer_check"] = answers_margin(llm, question, [c.passage for c in v.citations])
            if margin < ANSWERS_MARGIN:
                notes.append(f"{NOT_ANSWERED_NOTE} (yes-no margin {margin:+.2f}; draft: {v.text!r})")
                return NOT_FOUND, [], notes
            notes.append(f"answer check: the cited passages answer the question (yes-no margin {margin:+.2f})")
        else:
            notes.append(f"answer check: {llm.name} cannot score yes/no; skipped")
    return v.text, list(v.citations), notes


def warning_notes(result: Answer) -> list[str]:
    """Notes a reader should see next to the answer: withheld answers and unsupported statements.

    >>> warning_notes(Answer(question="q", text="t", citations=(), passages=(),
    ...                      notes=("context order: rank", UNSUPPORTED_NOTE + "It is red.")))
    ['unsupported sentence: It is red.']
    """
    return [n for n in result.notes if n.startswith((UNSUPPORTED_NOTE, WITHHELD_NOTE, NOT_ANSWERED_NOTE))]


def answer(llm: LLM, question: str, passages: Sequence[Passage], *, max_answer_tokens: int,
           timings: dict[str, float] | None = None, notes: Sequence[str] = (), order: str = "rank",
           verify: str = "none", tokens: dict[str, int] | None = None, unsupported: str = "flag") -> Answer:
    """The final :class:`Answer` of :func:`stream_answer`."""
    return final_item(stream_answer(llm, question, passages, max_answer_tokens=max_answer_tokens, timings=timings,
                                    notes=notes, order=order, verify=verify, tokens=tokens,
                                    unsupported=unsupported), Answer)
