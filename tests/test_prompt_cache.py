"""The system prompt is read once per loaded model: its KV state is kept and copied back when another prompt
(an answer check, a reranker) used the cache in between; the answers are the same as without it."""

from __future__ import annotations

import pytest

from generation.llamacpp import common_length
from generation.prompt import build_messages
from generation.verify import answers_messages
from ingest.core.records import Passage

pytestmark = pytest.mark.slow

PASSAGES = [Passage(id="a", doc_id="d", source="harbour.txt", text="Ann Lee keeps the Harbor Light. The bell rings at "
                    "noon. Gulls nest on the rocks.", chars=(0, 81), lines=(1, 1))]
QUESTIONS = ["Who keeps the Harbor Light?", "When does the bell ring?", "Where do gulls nest?"]


def small_llm(keep: bool):
    from generation.llamacpp import LlamaCppLLM
    from generation.models import SMOLLM2_135M
    from ingest.core.settings import LLMSettings

    return LlamaCppLLM(LLMSettings(model=SMOLLM2_135M.name, context_tokens=2048, max_answer_tokens=24,
                                   keep_system_prompt=keep))


def test_the_system_prompt_is_read_once_and_answers_do_not_change():
    kept, plain = small_llm(True), small_llm(False)
    try:
        first = build_messages(QUESTIONS[0], PASSAGES, offer_not_found=False)
        tokens = [kept._tokens(kept.chat_prompt_text(m)) for m in (first[:1], first)]
        system = common_length(*tokens)
        assert system > 50  # the rules and format
        for q in QUESTIONS:
            messages = build_messages(q, PASSAGES, offer_not_found=False)
            a, b = kept.complete(messages, max_tokens=24), plain.complete(messages, max_tokens=24)
            assert a.text == b.text  # the restored state is the state decoding would have built
            assert a.cached_tokens >= system  # the rules were not read again
            # another prompt uses the cache in between (the yes/no check has its own system prompt)
            kept.continuation_logprobs(answers_messages(q, PASSAGES), ("Yes", "No"))
            plain.continuation_logprobs(answers_messages(q, PASSAGES), ("Yes", "No"))
        # without the kept state, the answer prompt after the check shares only the template's first tokens
        last = plain.complete(build_messages(QUESTIONS[0], PASSAGES, offer_not_found=False), max_tokens=24)
        assert last.cached_tokens < system
    finally:
        kept.close()
        plain.close()


def test_the_folded_answer_check_reads_only_what_follows_the_answer():
    from generation.verify import folded_margin

    llm = small_llm(True)
    try:
        messages = build_messages(QUESTIONS[0], PASSAGES, offer_not_found=False)
        answer = llm.complete(messages, max_tokens=24)
        scored = folded_margin(llm, messages, answer.text)
        assert scored.cached_tokens >= answer.prompt_tokens  # the prompt is not read again
        assert scored.tokens - scored.cached_tokens < 40 + answer.completion_tokens  # the check's own turn
    finally:
        llm.close()
