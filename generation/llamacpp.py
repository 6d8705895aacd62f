"""llama.cpp backend (``llama-cpp-python``): GGUF models on CPU, or GPU with offloaded layers.

Uses llama-cpp-python's public API, and its internals only through :mod:`generation.llama_adapter`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from generation.llama_adapter import LlamaAdapter, common_length, load_llama
from generation.models import PACKAGED_LLMS, packaged_model_path
from ingest.core.errors import GenerationError, ModelError
from ingest.core.records import Completion, ContinuationScores, Message, SequenceScore, final_item
from ingest.core.settings import CacheSettings, LLMSettings

log = logging.getLogger(__name__)

MAX_SAVED_PREFIXES = 8  # system prompts whose KV state is kept per loaded model (a few MB each)


def resolve_gguf(model: str, *, model_dir: Path | None = None) -> Path:
    """A packaged model name or a path to a ``.gguf`` file.

    :raises ModelError: neither.
    """
    if model in PACKAGED_LLMS:
        return packaged_model_path(model, model_dir=model_dir)
    path = Path(model).expanduser()
    if path.is_file():
        return path
    raise ModelError(f"{model}: not a GGUF file or packaged model (known: {', '.join(sorted(PACKAGED_LLMS))}); "
                     "use --backend transformers for hub ids")


class LlamaCppLLM:
    """Chat completion through llama.cpp; greedy decoding.

    Construction is cheap; the model loads on first use.
    """

    def __init__(self, settings: LLMSettings, cache: CacheSettings | None = None) -> None:
        self.settings = settings
        self.model_dir = (cache or CacheSettings()).model_dir
        self.name = f"llama-cpp:{Path(settings.model).name}"
        self._adapter: LlamaAdapter | None = None
        self._chat_formatter: Any = None  # compiled once per loaded model
        self._prefixes: dict[str, tuple[list[int], Any]] = {}  # system prompt -> its tokens and saved KV state

    def warm_up(self) -> None:
        """Load the GGUF (idempotent).

        :raises ModelError: no such model, llama-cpp-python missing or of an unsupported version, or the
            file does not load.
        """
        if self._adapter is not None:
            return
        path = resolve_gguf(self.settings.model, model_dir=self.model_dir)
        threads = self.settings.threads or os.cpu_count() or 2
        try:
            self._adapter = load_llama(path, n_ctx=self.settings.context_tokens, n_threads=threads,
                                     n_gpu_layers=self.settings.gpu_layers)
        except (ValueError, RuntimeError) as err:
            raise ModelError(f"{path}: cannot load GGUF ({err})") from err
        log.info("loaded %s (n_ctx=%d, threads=%d)", path.name, self.settings.context_tokens, threads)

    def close(self) -> None:
        """Free the model now rather than at interpreter exit (where llama.cpp's finaliser can fail noisily)."""
        if self._adapter is not None:
            self._adapter.close()
            self._adapter = None
            self._chat_formatter = None
            self._prefixes.clear()

    @property
    def adapter(self) -> LlamaAdapter:
        """The loaded model, behind the adapter over llama-cpp-python's internals."""
        self.warm_up()
        assert self._adapter is not None
        return self._adapter

    @property
    def llama(self) -> Any:
        """The loaded ``llama_cpp.Llama`` (use its public API only)."""
        return self.adapter.llm

    @property
    def context_tokens(self) -> int:
        """Allocated context (prompt + answer)."""
        return self.settings.context_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's vocabulary."""
        return len(self.adapter.tokenize(text, add_bos=False, special=False))

    def _chat(self, messages: Sequence[Message], max_tokens: int, stream: bool) -> Any:
        return self.llama.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            max_tokens=max_tokens, temperature=0.0, top_k=1, seed=0, stream=stream)

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> Completion:
        """Greedy completion."""
        return final_item(self.stream(messages, max_tokens=max_tokens), Completion)

    def prime(self, messages: Sequence[Message], prompt: Sequence[int] | None = None) -> int:
        """Put the system prompt's KV state in the cache when the cache does not already start with it, so the
        fixed rules and format are read once per loaded model, not once per question (or again after a check
        or a reranker used the cache for another prompt). Returns how many prompt tokens the cache now holds.

        The first time a system prompt is seen its tokens are decoded and the state saved; later it is copied
        back (milliseconds). A GGUF without a chat template, or a prompt without a system message, is left
        to llama.cpp's own prefix reuse.

        :param prompt: the prompt's tokens when the caller has them (else the messages are rendered here).
        """
        if not messages or messages[0].role != "system":
            return 0
        if prompt is None:
            try:
                prompt = self._tokens(self.chat_prompt_text(messages))
            except GenerationError:
                return 0
        prompt = list(prompt)
        adapter = self.adapter
        cached = adapter.common_prefix(prompt)
        if not self.settings.keep_system_prompt:
            return cached
        saved = self._prefixes.get(messages[0].content)
        if saved is None:
            head = common_length(self._tokens(self.chat_prompt_text(messages[:1])), prompt)
            if head == 0:
                return cached
            adapter.eval_prefix(prompt[:head], keep=min(cached, head))
            if len(self._prefixes) >= MAX_SAVED_PREFIXES:
                self._prefixes.pop(next(iter(self._prefixes)))
            self._prefixes[messages[0].content] = (prompt[:head], adapter.save_state())
            return head
        tokens, state = saved
        if cached < len(tokens) and prompt[: len(tokens)] == tokens:
            adapter.load_state(state)
            return len(tokens)
        return cached

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        """Yield text pieces, then the :class:`Completion` (its ``cached_tokens``: prompt tokens not read
        again: the system prompt's saved state, or the prefix the last call left)."""
        start = time.perf_counter()
        reused = self.prime(messages)
        first: float | None = None
        parts: list[str] = []
        finish = "stop"
        try:
            for chunk in self._chat(messages, max_tokens, stream=True):
                choice = chunk["choices"][0]
                piece = choice.get("delta", {}).get("content") or ""
                if piece:
                    if first is None:
                        first = time.perf_counter() - start
                    parts.append(piece)
                    yield piece
                finish = choice.get("finish_reason") or finish
        except ValueError as err:  # e.g. prompt longer than the context
            raise GenerationError(f"{self.name}: {err}") from err
        text = "".join(parts)
        completion_tokens = self.count_tokens(text) if text else 0
        prompt_tokens = max(0, self.adapter.cached_tokens - completion_tokens)
        yield Completion(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                         seconds=time.perf_counter() - start, first_token_seconds=first, finish_reason=finish,
                         cached_tokens=min(reused, prompt_tokens))

    # -- scoring from logits (single-token listwise ranking, pointwise yes/no) ----------------------------
    def chat_prompt_text(self, messages: Sequence[Message]) -> str:
        """The chat prompt as text, rendered with the GGUF's own template (``tokenizer.chat_template``).

        :raises GenerationError: the GGUF carries no chat template.
        """
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        adapter = self.adapter
        formatter = self._chat_formatter
        if formatter is None:
            template = adapter.llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise GenerationError(f"{self.name}: the GGUF has no tokenizer.chat_template; cannot score from logits")
            formatter = Jinja2ChatFormatter(template=template,
                                            eos_token=adapter.token_text(adapter.llm.token_eos()),
                                            bos_token=adapter.token_text(adapter.llm.token_bos()))
            self._chat_formatter = formatter
        return formatter(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt

    def _tokens(self, text: str) -> list[int]:
        # as llama_cpp's chat handler does for Jinja templates: specials parsed, no extra BOS
        return self.adapter.tokenize(text, add_bos=False, special=True)

    def continuation_logprobs(self, messages: Sequence[Message], continuations: Sequence[str], *,
                              assistant_prefix: str = "") -> ContinuationScores:
        """log P(continuation | chat prompt + ``assistant_prefix``) for each continuation, from the logits.

        The prompt is decoded once (``logits_all=False``: only the last position's logits are read);
        a continuation of several tokens adds one single-token step per distinct proper prefix
        (a token trie over the continuations), reusing the prompt's KV cache.

        :raises GenerationError: the prompt does not fit the context, or a continuation merges with the
            prompt's last token (choose another ``assistant_prefix``).
        """
        start = time.perf_counter()
        text = self.chat_prompt_text(messages) + assistant_prefix
        base = self._tokens(text)
        tails: list[list[int]] = []
        for c in continuations:
            full = self._tokens(text + c)
            if full[: len(base)] != base or len(full) == len(base):
                raise GenerationError(f"{self.name}: continuation {c!r} does not tokenize apart from the prompt")
            tails.append(full[len(base):])
        longest = max((len(t) for t in tails), default=0)
        if len(base) + longest > self.adapter.n_ctx:
            raise GenerationError(f"{self.name}: prompt of {len(base)} tokens does not fit the context "
                                  f"of {self.adapter.n_ctx}")
        cached = min(self.prime(messages, base) if messages and messages[0].role == "system"
                     else self.adapter.common_prefix(base), len(base) - 1)
        tables: dict[tuple[int, ...], Any] = {}
        extra = 0
        try:
            for tail in tails:
                for k in range(len(tail)):
                    key = tuple(tail[:k])
                    if key not in tables:
                        tables[key], _ = self.adapter.next_token_logprobs(base + list(key))
                        extra += k
        except (ValueError, RuntimeError) as err:
            raise GenerationError(f"{self.name}: {err}") from err
        scores = tuple(float(sum(tables[tuple(t[:k])][t[k]] for k in range(len(t)))) for t in tails)
        return ContinuationScores(logprobs=scores, prompt_tokens=len(base), extra_tokens=extra,
                                  seconds=time.perf_counter() - start, cached_tokens=max(0, cached))

    # -- teacher-forced scoring of given text (segment relevance, XL3M-style) ---------------------------------
    def sequence_logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[SequenceScore]:
        """``log P(continuation | prefix)`` for each ``(prefix, continuation)`` pair, on raw text.

        Works on the one loaded model (``logits_all=False``, so no n_ctx x n_vocab score table): the
        prefix is decoded reusing the longest cached prefix, then the continuation is decoded in one
        batch that asks llama.cpp for logits at every position. The cache afterwards holds the last
        pair, and the next chat completion re-decodes its own prompt as usual.

        :raises GenerationError: a pair does not fit the context.
        """
        return [self._sequence_logprob(prefix, continuation) for prefix, continuation in pairs]

    def _sequence_logprob(self, prefix: str, continuation: str) -> SequenceScore:
        adapter = self.adapter
        base = adapter.tokenize(prefix, add_bos=True, special=False)
        if not base:
            raise GenerationError(f"{self.name}: an empty prefix cannot be scored with this model (no BOS token)")
        tail = adapter.tokenize(continuation, add_bos=False, special=False)
        if not tail:
            return SequenceScore(logprob=0.0, tokens=0, evaluated_tokens=0)
        tokens = base + tail
        if len(tokens) > adapter.n_ctx:
            raise GenerationError(f"{self.name}: {len(tokens)} tokens to score do not fit the context "
                                  f"of {adapter.n_ctx}")
        try:
            common = adapter.eval_prefix(tokens[: len(base) - 1])
            # positions len(base)-1 .. len(tokens)-2 predict the continuation's tokens
            logprob = 0.0
            done = 0
            for rows in adapter.decode_with_logits(tokens[len(base) - 1: -1]):
                peak = rows.max(axis=1, keepdims=True)
                lse = (peak + np.log(np.exp(rows - peak).sum(axis=1, keepdims=True)))[:, 0]
                targets = tail[done: done + len(rows)]
                logprob += float((rows[np.arange(len(rows)), targets] - lse).sum())
                done += len(rows)
        except (ValueError, RuntimeError) as err:
            adapter.reset()
            raise GenerationError(f"{self.name}: scoring failed ({err})") from err
        return SequenceScore(logprob=logprob, tokens=len(tail), evaluated_tokens=len(tokens) - common)
