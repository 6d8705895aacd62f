"""Full-ranking listwise rerankers: all N candidates in one LLM prompt (``docs/METHODS.md``, "LLM reranking").

Two ways to read the ranking from the same RANK_GPT prompt:

- :class:`FullListwiseReranker` (``full``) generates ``[3] > [1] > ...`` greedily, then repairs it
  (:func:`rerank.parse.parse_ranking`) and records the call's outcome.
- :class:`SinglePassListwiseReranker` (``full-logits``) generates nothing: after the prompt and the
  assistant prefix ``[`` it reads the model's log-probability of each identifier and sorts by it
  (single-token listwise ranking, as in FIRST). No parse failures are possible.

Identifiers in the single pass. The prompt keeps numeric ids ``[1]..[N]`` (the same prompt as the
generative variant). Qwen2.5 and SmolLM2 split numbers into digits, so "1" is also the first token of
"10".."19" and first-token logits alone cannot tell them apart. Each id is therefore scored by its
full log-probability, log P("1" "5" | prompt, "["), and an id that is the prefix of others keeps its
closing bracket (P("1]")), see :func:`rerank.prompts.identifier_continuations`. This costs one
prompt pass plus one single-token step per id that is a prefix of others (2 for N=20, 10 for N=100
on digit-splitting tokenizers), all through the prompt's KV cache. Limits: the scores say how likely
each id is to be named *first*; below the top few they are weakly informative (ties keep first-stage
order), and the score of a multi-digit id depends on the model's digit-by-digit calibration.
Letters would give single tokens but cannot cover more than 26 passages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from ingest.core.errors import GenerationError
from ingest.core.protocols import LLM, LogitsLLM, capable
from ingest.core.records import Message, Ranked, StageTrace
from ingest.core.settings import RerankSettings
from rerank.parse import parse_ranking
from rerank.prompts import ASSISTANT_PREFIX, identifier_continuations, listwise_messages, ranking_example

log = logging.getLogger(__name__)

LLMFactory = Callable[[], LLM]
# tokens a chat template adds around each message (role markers, newlines); a safe over-estimate
TEMPLATE_TOKENS_PER_MESSAGE = 16


def keep_order(candidates: Sequence[Ranked], order: Sequence[int], scores: Sequence[float] | None = None
               ) -> list[Ranked]:
    """Candidates in ``order`` (0-based); scores given, or descending ranks ``n, n-1, ...``.

    >>> from ingest.core.records import Passage
    >>> ps = [Ranked(Passage(id=f"p{i}", doc_id="d", source="s", text="t", chars=(0, 1)), 0.0) for i in range(3)]
    >>> [(r.passage.id, r.score) for r in keep_order(ps, [2, 0, 1])]
    [('p2', 3.0), ('p0', 2.0), ('p1', 1.0)]
    """
    n = len(order)
    return [Ranked(candidates[i].passage, float(scores[i]) if scores is not None else float(n - pos))
            for pos, i in enumerate(order)]


def shrink_words(words: int, overflow_tokens: int, n: int) -> int:
    """The next, smaller word budget when a prompt is ``overflow_tokens`` too long (fullrank's rule).

    >>> shrink_words(100, 4000, 20), shrink_words(100, 10, 20)
    (50, 99)
    """
    return words - max(1, overflow_tokens // (n * 4))


def fit_prompt(llm: LLM, build: Callable[[int], list[Message]], *, n: int, words: int, reserve: int
               ) -> tuple[list[Message], int, int]:
    """Messages from ``build(words)`` with the largest word budget ``<= words`` that fit the context.

    :param reserve: tokens to leave for the answer.
    :returns: the messages, the word budget used and the estimated prompt tokens.
    :raises GenerationError: even one word per passage does not fit.
    """
    limit = llm.context_tokens - reserve
    while True:
        messages = build(words)
        tokens = sum(llm.count_tokens(m.content) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages)
        if tokens <= limit:
            return messages, words, tokens
        if words <= 1:
            raise GenerationError(f"{n} passages do not fit a context of {llm.context_tokens} tokens "
                                  "even at one word each; rerank fewer candidates")
        words = max(1, shrink_words(words, tokens - limit, n))
        log.info("listwise prompt of %d tokens over the %d budget: passages cut to %d words", tokens, limit, words)


def fallback(name: str, candidates: Sequence[Ranked], top_k: int, err: Exception, start: float,
             settings: RerankSettings) -> tuple[list[Ranked], StageTrace]:
    """First-stage order after a backend failure (or re-raise when ``raise_on_failure``)."""
    if settings.raise_on_failure:
        raise err
    log.warning("%s rerank failed, keeping first-stage order: %s", name, err)
    return list(candidates[:top_k]), StageTrace("rerank", name, seconds=time.perf_counter() - start,
                                                outcome="fallback", details=(str(err),))


class LLMReranker:
    """What the LLM rerankers share: an LLM factory (the model loads on first use) and settings; a list
    of fewer than two candidates needs no model. Subclasses implement :meth:`_rank`."""

    name = "llm"

    def __init__(self, llm_factory: LLMFactory, settings: RerankSettings) -> None:
        self._llm_factory = llm_factory
        self.settings = settings

    def rank(self, query: str, candidates: Sequence[Ranked], *, top_k: int) -> tuple[list[Ranked], StageTrace]:
        """Rerank ``candidates``; return the best ``top_k`` and what the call cost."""
        if len(candidates) < 2:
            return list(candidates[:top_k]), StageTrace("rerank", self.name)
        start = time.perf_counter()
        try:
            return self._rank(query, candidates, top_k, start)
        except GenerationError as err:  # e.g. a backend without logits for a logit ranker: first-stage order
            return fallback(self.name, candidates, top_k, err, start, self.settings)

    def _rank(self, query: str, candidates: Sequence[Ranked], top_k: int, start: float
              ) -> tuple[list[Ranked], StageTrace]:
        raise NotImplementedError


class FullListwiseReranker(LLMReranker):
    """All candidates in one prompt; the model generates the permutation (``full``).

    >>> # FullListwiseReranker(lambda: llm, RerankSettings()).rank("query", candidates, top_k=5)
    """

    name = "full"

    def _rank(self, query: str, candidates: Sequence[Ranked], top_k: int, start: float
              ) -> tuple[list[Ranked], StageTrace]:
        """Rerank all ``candidates``; return the best ``top_k`` and the call's cost and outcome."""
        try:
            order, cost = rank_generative(self._llm_factory(), query, [c.passage.text for c in candidates],
                                          self.settings)
        except GenerationError as err:
            return fallback(self.name, candidates, top_k, err, start, self.settings)
        ranked = keep_order(candidates, order)[:top_k]
        return ranked, StageTrace("rerank", self.name, calls=1, prompt_tokens=cost.prompt_tokens,
                                  completion_tokens=cost.completion_tokens, seconds=time.perf_counter() - start,
                                  outcome=cost.outcome, details=cost.details)


def rank_generative(llm: LLM, query: str, texts: Sequence[str], settings: RerankSettings
                    ) -> tuple[list[int], StageTrace]:
    """One generative listwise call over ``texts``: the repaired 0-based order and the call's cost.

    :raises GenerationError: from the backend, or when the prompt cannot fit.
    """
    n = len(texts)
    max_tokens = llm.count_tokens(ranking_example(n)) + 4  # room for a stray space or newline
    messages, words, _ = fit_prompt(llm, lambda w: listwise_messages(query, texts, words=w), n=n,
                                    words=settings.passage_words, reserve=max_tokens)
    completion = llm.complete(messages, max_tokens=max_tokens)
    parsed = parse_ranking(completion.text, n)
    notes = [f"passage words: {words}"] if words < settings.passage_words else []
    if parsed.outcome == "ok" and parsed.order == tuple(range(n)):
        notes.append("the reply repeats the input order")  # a common failure of small models; still "ok"
    if parsed.missing > settings.max_missing_fraction * n:
        log.warning("listwise reply named only %d of %d passages; the rest keep first-stage order",
                    n - parsed.missing, n)
        notes.append(f"alert: {parsed.missing} of {n} ids missing from the reply, appended in first-stage order")
    return list(parsed.order), StageTrace("rerank", "full", calls=1, prompt_tokens=completion.prompt_tokens,
                                          completion_tokens=completion.completion_tokens, seconds=completion.seconds,
                                          outcome=parsed.outcome, details=tuple(notes))


def require_logits(llm: LLM) -> LogitsLLM:
    """The backend as a :class:`LogitsLLM`.

    :raises GenerationError: the backend cannot score from logits (use a generative reranker).
    """
    if not capable(llm, LogitsLLM):
        raise GenerationError(f"{llm.name} cannot score continuations from logits; "
                              "use --rerank full or window with this backend")
    return llm  # type: ignore[return-value]


class SinglePassListwiseReranker(LLMReranker):
    """All candidates in one prompt; ranked by the log-probability of each identifier (``full-logits``)."""

    name = "full-logits"

    def _rank(self, query: str, candidates: Sequence[Ranked], top_k: int, start: float
              ) -> tuple[list[Ranked], StageTrace]:
        """Rerank all ``candidates`` with one forward pass; return the best ``top_k`` and the cost."""
        n = len(candidates)
        llm = self._llm_factory()
        scorer = require_logits(llm)
        texts = [c.passage.text for c in candidates]
        try:
            messages, words, _ = fit_prompt(llm, lambda w: listwise_messages(query, texts, words=w), n=n,
                                            words=self.settings.passage_words, reserve=8)
            scored = scorer.continuation_logprobs(messages, identifier_continuations(n),
                                                  assistant_prefix=ASSISTANT_PREFIX)
        except GenerationError as err:
            return fallback(self.name, candidates, top_k, err, start, self.settings)
        order = sorted(range(n), key=lambda i: -scored.logprobs[i])  # stable: ties keep first-stage order
        notes = [f"passage words: {words}"] if words < self.settings.passage_words else []
        notes.append(f"identifier steps beyond the prompt: {scored.extra_tokens}")
        return keep_order(candidates, order, scored.logprobs)[:top_k], StageTrace("rerank", 
            self.name, calls=1, prompt_tokens=scored.prompt_tokens + scored.extra_tokens,
            completion_tokens=0, seconds=time.perf_counter() - start, details=tuple(notes))
