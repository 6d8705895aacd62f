"""The answering parts of the pipeline: the generator (prompt, stream, citations) and the verifier.

:class:`Generator` packs the context into the model's budget, streams the model's answer and resolves
its ``[n]`` markers; it ends its stream with a :class:`Draft`. :class:`Verifier` checks the draft's
citations (and, when unsupported answers are withheld, asks the model whether the cited passages
answer the question); :class:`FormulaCalculator` computes a figure a draft's calculation block asks for
(``generation/compute.py``). Each reports what it did as :class:`~ingest.core.records.StageTrace` s and
:class:`~ingest.core.records.AnswerWarning` s; ``app/pipeline.py`` assembles the :class:`Answer`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from generation.answerable import AnswerabilitySettings, abstain_reason, assess_answer
from generation.citations import is_abstention, parse_citations
from generation.compute import (
    CalcError,
    asks_calculation,
    calculate,
    display_name,
    is_derived_question,
    parse_block,
    statement,
    strip_block,
)
from generation.context import order_passages, pack_passages
from generation.evidence import Excerpt, select_evidence
from generation.number_check import (
    NOTHING_ASKED,
    Asked,
    LabelMatcher,
    counts_something_else,
    echoes_question,
    states_another_kind,
    withhold_wrong_numbers,
)
from generation.prompt import COMPUTE_REMINDER, COMPUTE_RULES, NOT_FOUND, build_messages
from generation.verify import (
    Verification,
    answers_margin,
    folded_margin,
    llm_judge,
    split_claims,
    verify_citations,
    withhold_unsupported,
)
from ingest.core.protocols import LLM, LogitsLLM, capable
from ingest.core.records import (
    AnswerWarning,
    Calculation,
    Citation,
    Completion,
    Message,
    Passage,
    StageTrace,
    WarningKind,
)
from ingest.core.settings import AnswerSettings, Order, UnsupportedPolicy, VerifyMode

# Fixed, not settings: they only reserve room in the context window and were measured once on the
# packaged Qwen2.5 chat template; a backend with a longer template is still safe, because the packer
# counts each passage's real tokens and the reserve errs high.
PROMPT_OVERHEAD_TOKENS = 320  # system prompt + chat template + question framing
PASSAGE_OVERHEAD_TOKENS = 12  # "[n] label" line and blank lines around each passage
USAGE_NOTES = {"reported": "token counts reported by the server",
               "estimated": "token counts estimated (the server reported none)"}


def context_budget(llm: LLM, question: str, max_answer_tokens: int) -> int:
    """Tokens left for passages once the answer, the prompt frame and the question are reserved."""
    return llm.context_tokens - max_answer_tokens - PROMPT_OVERHEAD_TOKENS - llm.count_tokens(question)


def offers_not_found(verify: VerifyMode, unsupported: UnsupportedPolicy) -> bool:
    """Whether the prompt tells the model it may reply "The document does not say.".

    Not when the citation check will withhold an unsupported answer: a small model offered that reply
    takes it on questions its passages do answer (measured in bench/RESULTS.md, issue 6), while an
    answer made up without the passages fails the check and is withheld anyway.

    >>> offers_not_found("lexical", "abstain"), offers_not_found("lexical", "flag"), offers_not_found("none", "abstain")
    (False, True, True)
    """
    return verify == "none" or unsupported != "abstain"


@dataclass(frozen=True, slots=True)
class Draft:
    """The model's answer before the checks: its text with markers resolved, and the context it saw."""

    raw: str  # the text as generated
    text: str  # markers resolved; out-of-range numbers removed
    citations: tuple[Citation, ...]
    context: tuple[Passage, ...]  # the numbered passages, [1] first
    dropped: tuple[int, ...]  # marker numbers that pointed at no passage
    trace: tuple[StageTrace, ...]  # prompt, generate
    first_token_seconds: float | None = None
    compute: bool = False  # the prompt asked for a calculation block (generation/compute.py)
    messages: tuple[Message, ...] = ()  # the prompt as sent (a folded answer check continues it)


class Generator:
    """Packs passages into the model's context, streams its answer, resolves its citations.

    :param llm: the answering backend.
    :param max_answer_tokens: most tokens generated.
    :param offer_not_found: tell the model it may reply "The document does not say." (see
        :func:`offers_not_found`).
    :param evidence_tokens: passage tokens the model reads (``generation/evidence.py``: the sentences and
        table rows that bear on the question, with their neighbours); 0: whole passages.
    """

    def __init__(self, llm: LLM, *, max_answer_tokens: int, offer_not_found: bool, evidence_tokens: int = 0) -> None:
        self.llm, self.max_answer_tokens, self.offer_not_found = llm, max_answer_tokens, offer_not_found
        self.evidence_tokens = evidence_tokens

    def stream(self, question: str, passages: Sequence[Passage], *, order: Order = "rank",
               compute: bool = False, evidence: bool = True, pinned: Sequence[Excerpt] = ()) -> Iterator[str | Draft]:
        """Yield answer text as it is generated, then the :class:`Draft`.

        :param passages: best first; packed into the context budget best first (a passage that does not
            fit is left out, or cut at a sentence end).
        :param order: how the packed passages are numbered: "rank", "edges" or "document".
        :param compute: when the question asks for a derived figure, ask for a calculation block
            (``generation/compute.py``) instead of the model's arithmetic.
        :param evidence: read only the evidence of the passages (``evidence_tokens``); False for whole documents
            read on purpose (``mode = "full"``).
        :param pinned: what a plan found the question needs (an operand's table row): their passages go first
            and the evidence selection keeps those spans before anything else.
        """
        t = time.perf_counter()
        if pinned:
            first = list({e.passage.id: e.passage for e in pinned}.values())
            passages = first + [p for p in passages if p.id not in {q.id for q in first}]
        derived = compute and is_derived_question(question)
        budget = context_budget(self.llm, question, self.max_answer_tokens)
        if derived:
            budget -= self.llm.count_tokens(COMPUTE_RULES + COMPUTE_REMINDER)
        packed = pack_passages(passages, budget, self.llm.count_tokens,
                               overhead_tokens=PASSAGE_OVERHEAD_TOKENS + header_tokens(passages, self.llm))
        context = order_passages(packed.passages, order)
        shown: Sequence[Passage | Excerpt] = context
        details = [f"{len(context)} passages, order {order}"]
        if self.evidence_tokens and evidence:
            kept = select_evidence(question, context, min(self.evidence_tokens, budget), self.llm.count_tokens,
                                   pinned=pinned)
            shown, context = kept.excerpts, [e.passage for e in kept.excerpts]
            details.append(f"evidence: {kept.tokens} of {kept.source_tokens} passage tokens "
                           f"({kept.kept_units} of {kept.units} sentences or rows, in {len(context)} "
                           f"passages; compression: lexical sentences"
                           + (f"; {len(pinned)} planned piece(s) kept first" if pinned else "") + ")")
        read = [s.text() if isinstance(s, Excerpt) else s.text for s in shown]
        ask = derived and asks_calculation(question, read)
        messages = build_messages(question, shown, offer_not_found=self.offer_not_found, compute=ask)
        if ask:
            details.append("derived figure: calculation block requested")
        elif derived:
            details.append("derived figure: the passages state it, so no calculation block")
        if len(packed.passages) < len(passages):
            details.append(f"{len(packed.passages)} of {len(passages)} passages fit the token budget")
        if packed.trimmed:
            details.append(f"{len(packed.trimmed)} passage(s) cut at a sentence end to fit the token budget")
        prompt = StageTrace("prompt", seconds=time.perf_counter() - t, details=tuple(details))
        completion: Completion | None = None
        for piece in self.llm.stream(messages, max_tokens=self.max_answer_tokens):
            if isinstance(piece, Completion):
                completion = piece
            else:
                yield piece
        if completion is None:
            raise RuntimeError(f"{self.llm.name}: the stream ended without a completion")
        text, citations, dropped = parse_citations(completion.text, context)
        dropped_note: tuple[str, ...] = (f"dropped citations to passages that do not exist: {dropped}",) \
            if dropped else ()
        if completion.usage != "counted":
            dropped_note += (USAGE_NOTES[completion.usage],)
        if completion.cached_tokens:
            dropped_note += (f"{completion.cached_tokens} of {completion.prompt_tokens} prompt tokens reused from "
                             "the model's cache",)
        generate = StageTrace("generate", self.llm.name, seconds=completion.seconds,
                              prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                              calls=1, outcome=completion.finish_reason, details=dropped_note,
                              cached_tokens=completion.cached_tokens)
        yield Draft(raw=completion.text, text=text, citations=tuple(citations), context=tuple(context),
                    dropped=tuple(dropped), trace=(prompt, generate),
                    first_token_seconds=completion.first_token_seconds, compute=ask, messages=tuple(messages))


def header_tokens(passages: Sequence[Passage], llm: LLM) -> int:
    """Tokens the longest passage header adds to a passage's prompt lines (0 when no passage has one, so
    packing for an index without headers is unchanged)."""
    return max((llm.count_tokens(p.header) for p in passages if p.header), default=0)


@dataclass(frozen=True, slots=True)
class Checked:
    """A draft after the checks."""

    text: str
    citations: tuple[Citation, ...]
    warnings: tuple[AnswerWarning, ...]
    trace: tuple[StageTrace, ...]  # compute, verify, answer_check (those that ran)
    calculation: Calculation | None = None  # the figure docqa computed from the draft's calculation block


class Verifier:
    """Checks a draft's citations and, with ``unsupported="abstain"``, whether its passages answer the question.

    The citation check (``verify``: "lexical", or "llm" with yes/no questions on borderline cases) keeps,
    moves or removes each citation and flags sentences no passage supports. With ``unsupported="abstain"``
    an answer no passage supports is withheld; one that passes goes through the evidence check
    (``generation/answerable.py``: does the cited evidence hold a value of the kind asked for, near the
    question's terms? no model call, so every backend runs it), then the answer check: the model is asked
    yes/no whether its cited passages answer the question (backends with logits only), and the answer is
    withheld when the margin falls below ``answer_check_margin``.

    With ``unsupported="abstain"``, an answer to a "how many ...?" question that states numbers but never names
    the thing counted (nor a word for it: "people" for employees) is withheld before those checks
    (``generation.number_check.counts_something_else``: "How many employees?" answered "1,355 stores"), and so is
    an answer to a question asking for an amount or a count whose every number is a change or a percentage
    (``states_another_kind``: "How much revenue did Xbox Live generate?" answered "it increased $500 million").

    With ``number_check`` on, a sentence stating a number that its cited passage prints in another row, another
    year's column or as a count of something else ("6,146 stores") is withheld (``generation/number_check.py``).

    :param answerability: the evidence check's settings (``AnswerabilitySettings(enabled=False)``: off).
    :param labels: a domain's opinion of what a row label holds, for the number check (the profile's).
    """

    def __init__(self, llm: LLM, settings: AnswerSettings, *,
                 answerability: AnswerabilitySettings | None = None, labels: LabelMatcher | None = None) -> None:
        self.llm, self.settings, self.labels = llm, settings, labels
        self.answerability = answerability if answerability is not None else AnswerabilitySettings()

    @property
    def enabled(self) -> bool:
        """Whether any check runs."""
        return self.settings.verify != "none"

    def check(self, question: str, draft: Draft, *, asked: Asked = NOTHING_ASKED) -> Checked:
        """The citation check and the answer check (a requested calculation is the pipeline's calculator's:
        :class:`FormulaCalculator`).

        :param asked: what a shortcut found the question asks for: the part of the whole (a segment, a country, a
            product), whose sentences must cite a place naming it, and the line item of a figure looked up, which
            a number whose sentence does not say what it is must be printed as (the number check).
        """
        if not self.enabled:
            return Checked(draft.text, draft.citations, (), ())
        s = self.settings
        t = time.perf_counter()
        warnings: list[AnswerWarning] = []
        judge = None
        if s.verify == "llm":
            if capable(self.llm, LogitsLLM):
                judge = llm_judge(self.llm)  # type: ignore[arg-type]
            else:
                warnings.append(AnswerWarning(WarningKind.FEATURE_SKIPPED,
                                              f"citation check: {self.llm.name} cannot score yes/no; lexical only"))
        v = verify_citations(draft.text, draft.context, judge=judge, supported=s.support_threshold,
                             borderline=s.borderline_threshold)
        details = [f"{len(v.citations)} kept"]
        if v.removed:
            details.append(f"removed {len(v.removed)} unsupported {[n for _, n in v.removed]}")
        if v.added:
            details.append(f"added {[n for _, n in v.added]} to uncited sentences")
        warnings.extend(AnswerWarning(WarningKind.UNSUPPORTED_SENTENCE, claim) for claim in v.flagged)
        outcome = "ok"
        if s.unsupported == "abstain" and v.unsupported:
            warnings.append(AnswerWarning(WarningKind.WITHHELD_UNSUPPORTED, " ".join(v.flagged)))
            v, outcome = withhold_unsupported(v, NOT_FOUND), "withheld"
        verify = StageTrace("verify", s.verify, seconds=time.perf_counter() - t, calls=v.judge_calls,
                            outcome=outcome, details=("; ".join(details),))
        trace = [verify]
        if s.number_check and outcome == "ok" and not is_abstention(v.text):
            v, numbers = self._number_check(question, v, draft.context, warnings, asked)
            trace.append(numbers)
            if is_abstention(v.text):
                return Checked(v.text, (), tuple(warnings), tuple(trace))
        if s.unsupported == "abstain" and outcome == "ok" and not is_abstention(v.text) \
                and (other := counts_something_else(question, v.text) or states_another_kind(question, v.text)
                     or echoes_question(question, v.text)):
            # "how many employees?" answered "1,355 stores"; "how much revenue?" answered "it increased $500 million"
            warnings.append(AnswerWarning(WarningKind.WITHHELD_NOT_ANSWERED,
                                          f"count check: {other}; draft: {v.text!r}"))
            trace.append(StageTrace("counts", "what is counted", outcome="withheld",
                                    details=(f"withheld: {other}",)))
            return Checked(NOT_FOUND, (), tuple(warnings), tuple(trace))
        if s.unsupported == "abstain" and outcome == "ok" and self.answerability.enabled \
                and not is_abstention(v.text):
            evidence, reason = self._evidence_check(question, v.text, v.citations)
            trace.append(evidence)
            if reason is not None:
                warnings.append(AnswerWarning(WarningKind.WITHHELD_NOT_ANSWERED,
                                              f"evidence check: {reason}; draft: {v.text!r}"))
                return Checked(NOT_FOUND, (), tuple(warnings), tuple(trace))
        if s.unsupported == "abstain" and v.citations and outcome == "ok":
            check, withheld = self._answer_check(question, [c.passage for c in v.citations], v.text, warnings, draft)
            trace.append(check)
            if withheld:
                return Checked(NOT_FOUND, (), tuple(warnings), tuple(trace))
        return Checked(v.text, v.citations, tuple(warnings), tuple(trace))

    def _number_check(self, question: str, v: Verification, context: Sequence[Passage], warnings: list[AnswerWarning],
                      asked: Asked = NOTHING_ASKED) -> tuple[Verification, StageTrace]:
        """The answer without its sentences whose numbers disagree with where their cited passages print them
        (all gone: "not found"), and the stage's trace (warnings appended)."""
        t = time.perf_counter()
        r = withhold_wrong_numbers(v.text, lambda n: context[n - 1] if 1 <= n <= len(context) else None, self.labels,
                                   asked, question)
        warnings.extend(AnswerWarning(WarningKind.WITHHELD_NUMBER, f"{'; '.join(reasons)}: {sentence!r}")
                        for sentence, reasons in r.withheld)
        trace = StageTrace("numbers", "cells and sentences", seconds=time.perf_counter() - t,
                           outcome="withheld" if r.withheld else "ok",
                           details=(f"{r.checked} number(s) checked against where the cited passages print them"
                                    + (f"; {len(r.withheld)} sentence(s) withheld" if r.withheld else ""),))
        if not r.withheld:  # its amounts given their tables' scales where it printed none
            return replace(v, text=r.text), trace
        if not r.text:
            return replace(v, text=NOT_FOUND, citations=()), trace
        still = {n for c in split_claims(r.text) for n in c.numbers}
        return replace(v, text=r.text, citations=tuple(c for c in v.citations if c.number in still)), trace

    def _evidence_check(self, question: str, text: str,
                        citations: Sequence[Citation]) -> tuple[StageTrace, str | None]:
        """The evidence check's trace, and why the answer is withheld (None: it is not)."""
        t = time.perf_counter()
        a = assess_answer(question, text, [c.passage.text for c in citations],
                          headers=[c.passage.header for c in citations if c.passage.header])
        reason = abstain_reason(a, self.answerability)
        found = "a candidate" if a.candidate else "no candidate"
        details = [f"asks for: {a.kind}; {found} in the answer and its cited passages; key terms near the answer "
                   f"{a.coverage:.0%}" + (f" (missing: {', '.join(a.missing)})" if a.missing else "")]
        if a.missing_specific:
            details.append(f"names or numbers in no cited passage: {', '.join(a.missing_specific)}")
        elif a.missing_specific_near:
            details.append(f"names or numbers not around the answer: {', '.join(a.missing_specific_near)}")
        if reason is not None:
            details.append(f"withheld: {reason}")
        return StageTrace("answerable", "evidence", seconds=time.perf_counter() - t,
                          outcome="withheld" if reason else "ok", details=tuple(details)), reason

    def _answer_check(self, question: str, passages: list[Passage], text: str,
                      warnings: list[AnswerWarning], draft: Draft) -> tuple[StageTrace, bool]:
        """The yes/no answer check's trace, and whether the answer is withheld (warnings appended)."""
        if self.settings.answer_check == "none":
            return StageTrace("answer_check", outcome="skipped", details=("off ([answer] answer_check)",)), False
        if not capable(self.llm, LogitsLLM):
            warnings.append(AnswerWarning(WarningKind.FEATURE_SKIPPED,
                                          f"answer check: {self.llm.name} cannot score yes/no; skipped"))
            return StageTrace("answer_check", outcome="skipped"), False
        t = time.perf_counter()
        folded = self.settings.answer_check == "folded" and bool(draft.messages)
        cached = 0
        if folded:
            scored = folded_margin(self.llm, draft.messages, draft.raw)  # type: ignore[arg-type]
            margin, tokens, cached = scored.margin, scored.tokens, scored.cached_tokens
        else:
            margin, tokens = answers_margin(self.llm, question, passages)  # type: ignore[arg-type]
        withheld = margin < self.settings.answer_check_margin
        if withheld:
            warnings.append(AnswerWarning(WarningKind.WITHHELD_NOT_ANSWERED,
                                          f"yes-no margin {margin:+.2f}; draft: {text!r}"))
        verdict = "do not answer" if withheld else "answer"
        return StageTrace("answer_check", "yes-no after the answer" if folded else "yes-no",
                          seconds=time.perf_counter() - t, prompt_tokens=tokens, calls=1, cached_tokens=cached,
                          outcome="withheld" if withheld else "ok",
                          details=(f"the cited passages {verdict} the question (yes-no margin {margin:+.2f})",
                                   *((f"{cached} of {tokens} prompt tokens reused from the model's cache",)
                                     if cached else ()))), \
            withheld


def check_calculation(question: str, draft: Draft) -> tuple[Checked, Draft]:
    """Compute the figure the draft's calculation block asks for (``generation.compute.calculate``).

    On success the answer is the stated calculation (formula, worked, result; each operand cited) with one
    citation per cited passage, quoting the line that holds its operand; the operand check replaces the
    citation and answer checks. On failure: a warning saying why, nothing computed, and the draft to check
    instead, its block removed (or "The document does not say." when nothing else is left).
    """
    t = time.perf_counter()
    try:
        calc = calculate(question, draft.raw, draft.context)
    except CalcError as e:
        rest = strip_block(draft.raw)
        text, citations, dropped = parse_citations(rest, draft.context) if rest else (NOT_FOUND, [], [])
        fallback = replace(draft, text=text, citations=tuple(citations), dropped=tuple(dropped))
        trace = StageTrace("compute", "formula", seconds=time.perf_counter() - t, outcome="invalid",
                           details=(str(e),))
        return Checked(text, tuple(citations), (AnswerWarning(WarningKind.CALCULATION_FAILED, str(e)),),
                       (trace,)), fallback
    raw = {o.name: o.citation for o in parse_block(draft.raw).operands}
    moved = tuple(f"operand {o.name!r} cited [{raw[n]}] but printed in [{o.citation}]: cited there"
                  for o in calc.operands for n in raw if display_name(n) == o.name and raw[n] != o.citation)
    trace = StageTrace("compute", "formula", seconds=time.perf_counter() - t,
                       details=(f"{calc.label or 'result'} = {calc.text} from {len(calc.operands)} operands, each "
                                "found in the passage it cites", *moved))
    return Checked(statement(calc), operand_citations(calc, draft.context), (), (trace,), calc), draft


class FormulaCalculator:
    """The calculation step: computes the figure a draft's calculation block asks for (:func:`check_calculation`);
    the pipeline runs it before the citation check, which reads the draft it returns when nothing was computed."""

    name = "formula"

    def calculate(self, question: str, draft: Draft) -> tuple[Checked, Draft]:
        return check_calculation(question, draft)


def operand_citations(calc: Calculation, context: Sequence[Passage]) -> tuple[Citation, ...]:
    """One citation per passage the operands cite, in order, quoting the number of the first operand found there
    exactly as printed (a table cell: its row and column come with it, ``Table.cells_in``; the viewer marks that
    cell, not the row's other years), else the line that holds it (the operand check is its verdict)."""
    out: dict[int, Citation] = {}
    for o in calc.operands:
        if o.citation in out:
            continue
        p = context[o.citation - 1]
        if o.span is not None and p.text[o.span[0]:o.span[1]]:
            quote_chars: tuple[int, int] | None = o.span
            quote = p.text[o.span[0]:o.span[1]]
        else:
            at = p.text.find(o.quote) if o.quote else -1
            quote_chars, quote = ((at, at + len(o.quote)) if at >= 0 else None), o.quote
        out[o.citation] = Citation(number=o.citation, passage=p, quote=quote or None, quote_chars=quote_chars,
                                   supported=True)
    return tuple(out.values())
