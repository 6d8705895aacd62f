"""The sliding-window listwise baseline (RankGPT / rank_llm): windows of 20, stride 10, back to front."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from ingest.core.errors import GenerationError
from ingest.core.records import Ranked, StageTrace
from rerank.listwise import LLMReranker, fallback, keep_order, rank_generative


def windows(n: int, size: int, stride: int) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` windows over ``n`` ranked items, from the back to the front.

    The last window starts at 0; each earlier one moves ``stride`` towards the end, so the best
    items found in a window are carried forward into the next one.

    >>> windows(25, 20, 10)
    [(5, 25), (0, 15)]
    >>> len(windows(100, 20, 10)), windows(100, 20, 10)[-1]
    (9, (0, 20))
    >>> windows(20, 20, 10), windows(0, 20, 10)
    ([(0, 20)], [])
    """
    out: list[tuple[int, int]] = []
    end = n
    while end > 0:
        start = max(0, end - size)
        out.append((start, end))
        if start == 0:
            break
        end -= stride
    return out


def worst_outcome(outcomes: Sequence[str]) -> str:
    """One outcome for several calls: the first that is not ``ok``, else ``ok``.

    >>> worst_outcome(["ok", "missing", "repetition"]), worst_outcome([])
    ('missing', 'ok')
    """
    return next((o for o in outcomes if o != "ok"), "ok")


class SlidingWindowReranker(LLMReranker):
    """Generative listwise ranking over overlapping windows, back to front (``window``)."""

    name = "window"

    def _rank(self, query: str, candidates: Sequence[Ranked], top_k: int, start: float
              ) -> tuple[list[Ranked], StageTrace]:
        """Rerank ``candidates`` with one call per window; return the best ``top_k`` and the summed cost."""
        order = list(range(len(candidates)))  # current ranking, as indexes into candidates
        calls = tokens_in = tokens_out = 0
        outcomes: list[str] = []
        notes: list[str] = []
        try:
            llm = self._llm_factory()
            for lo, hi in windows(len(candidates), self.settings.window, self.settings.stride):
                if hi - lo < 2:
                    continue
                local, cost = rank_generative(llm, query, [candidates[i].passage.text for i in order[lo:hi]],
                                              self.settings)
                order[lo:hi] = [order[lo + j] for j in local]
                calls += 1
                tokens_in += cost.prompt_tokens
                tokens_out += cost.completion_tokens
                outcomes.append(cost.outcome)
                notes.extend(f"window {lo}-{hi}: {note}" for note in cost.details)
        except GenerationError as err:
            return fallback(self.name, candidates, top_k, err, start, self.settings)
        if outcomes:
            notes.insert(0, "outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(Counter(outcomes).items())))
        return keep_order(candidates, order)[:top_k], StageTrace("rerank", 
            self.name, calls=calls, prompt_tokens=tokens_in, completion_tokens=tokens_out,
            seconds=time.perf_counter() - start, outcome=worst_outcome(outcomes), details=tuple(notes))
