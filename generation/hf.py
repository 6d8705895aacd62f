"""``transformers`` backend: hub ids or local directories; the GPU path (bf16/fp16 where available)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ingest.core.errors import GenerationError, ModelError
from ingest.core.records import Completion, ContinuationScores, Message, SequenceScore, final_item
from ingest.core.settings import CacheSettings, LLMSettings

log = logging.getLogger(__name__)


def pick_dtype(name: str, device: str) -> Any:
    """torch dtype for a setting: "auto" gives bf16 (or fp16) on CUDA and fp32 on CPU."""
    import torch

    if name != "auto":
        return getattr(torch, name)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class TransformersLLM:
    """Chat completion with a ``transformers`` causal LM; greedy decoding; model loads on first use."""

    def __init__(self, settings: LLMSettings, cache: CacheSettings | None = None) -> None:
        self.settings = settings
        self.name = f"transformers:{settings.model}"
        self._model: Any = None
        self._tok: Any = None

    def warm_up(self) -> None:
        """Load tokenizer and model (idempotent)."""
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
        local = Path(self.settings.model).expanduser().is_dir()
        kwargs = {"trust_remote_code": self.settings.trust_remote_code, "local_files_only": local}
        try:
            self._tok = AutoTokenizer.from_pretrained(self.settings.model, **kwargs)
            self._model = AutoModelForCausalLM.from_pretrained(
                self.settings.model, dtype=pick_dtype(self.settings.dtype, device), **kwargs
            ).to(device).eval()  # type: ignore[arg-type]  # transformers' stubs type .to() as a decorator
        except (OSError, ValueError) as err:
            raise ModelError(f"cannot load {self.settings.model!r}: {str(err).splitlines()[0]}") from err
        if self._tok.chat_template is None:
            raise ModelError(f"{self.settings.model}: tokenizer has no chat template; use an instruct model")
        self._device = device
        log.info("loaded %s on %s", self.settings.model, device)

    @property
    def context_tokens(self) -> int:
        """The smaller of the setting and the model's own window."""
        self.warm_up()
        own = getattr(self._model.config, "max_position_embeddings", None) or self.settings.context_tokens
        return min(self.settings.context_tokens, int(own))

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text``."""
        self.warm_up()
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    def _inputs(self, messages: Sequence[Message]) -> Any:
        ids = self._tok.apply_chat_template([{"role": m.role, "content": m.content} for m in messages],
                                            add_generation_prompt=True, return_tensors="pt", return_dict=True)
        # only what causal LMs take: some tokenizers also return token_type_ids, which generate() rejects
        return {k: v.to(self._device) for k, v in ids.items() if k in ("input_ids", "attention_mask")}

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> Completion:
        """Greedy completion."""
        return final_item(self.stream(messages, max_tokens=max_tokens), Completion)

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        """Yield text pieces from a background ``generate``, then the :class:`Completion`."""
        import torch
        from transformers import TextIteratorStreamer

        self.warm_up()
        inputs = self._inputs(messages)
        n_prompt = int(inputs["input_ids"].shape[1])
        if n_prompt + max_tokens > self.context_tokens:
            raise GenerationError(f"{self.name}: prompt of {n_prompt} tokens + {max_tokens} does not fit "
                                  f"{self.context_tokens}")
        streamer = TextIteratorStreamer(self._tok, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self._model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer,
                                         pad_token_id=self._tok.pad_token_id or self._tok.eos_token_id)
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(err)
                streamer.end()

        start = time.perf_counter()
        first: float | None = None
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        parts = []
        for piece in streamer:
            if piece:
                if first is None:
                    first = time.perf_counter() - start
                parts.append(piece)
                yield piece
        thread.join()
        if errors:
            raise GenerationError(f"{self.name}: generation failed ({errors[0]})") from errors[0]
        text = "".join(parts)
        yield Completion(text=text, prompt_tokens=n_prompt, completion_tokens=self.count_tokens(text),
                         seconds=time.perf_counter() - start, first_token_seconds=first)

    # -- scoring from logits (single-token listwise ranking, pointwise yes/no) ----------------------------
    def continuation_logprobs(self, messages: Sequence[Message], continuations: Sequence[str], *,
                              assistant_prefix: str = "") -> ContinuationScores:
        """log P(continuation | chat prompt + ``assistant_prefix``) for each continuation, from the logits.

        One forward pass over the prompt; a continuation of several tokens adds one short pass per
        distinct proper prefix (a token trie over the continuations) on a copy of the prompt's KV cache.

        :raises GenerationError: the prompt does not fit, or a continuation merges with the prompt's last
            token (choose another ``assistant_prefix``).
        """
        import copy

        import torch

        self.warm_up()
        start = time.perf_counter()
        chat = [{"role": m.role, "content": m.content} for m in messages]
        text = self._tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=False) + assistant_prefix
        base = self._tok(text, add_special_tokens=False)["input_ids"]
        tails: list[list[int]] = []
        for c in continuations:
            full = self._tok(text + c, add_special_tokens=False)["input_ids"]
            if full[: len(base)] != base or len(full) == len(base):
                raise GenerationError(f"{self.name}: continuation {c!r} does not tokenize apart from the prompt")
            tails.append(full[len(base):])
        if len(base) + max((len(t) for t in tails), default=0) > self.context_tokens:
            raise GenerationError(f"{self.name}: prompt of {len(base)} tokens does not fit {self.context_tokens}")
        nodes = sorted({tuple(t[:k]) for t in tails for k in range(1, len(t))}, key=len)
        tables: dict[tuple[int, ...], Any] = {}
        try:
            with torch.inference_mode():
                out = self._model(input_ids=torch.tensor([base], device=self._device), use_cache=bool(nodes))
                tables[()] = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
                for node in nodes:  # a copy keeps the prompt's cache clean for the next node
                    step = self._model(input_ids=torch.tensor([list(node)], device=self._device),
                                       past_key_values=copy.deepcopy(out.past_key_values), use_cache=True)
                    tables[node] = torch.log_softmax(step.logits[0, -1].float(), dim=-1)
        except RuntimeError as err:  # e.g. CUDA out of memory
            raise GenerationError(f"{self.name}: scoring failed ({err})") from err
        scores = tuple(float(sum(float(tables[tuple(t[:k])][t[k]]) for k in range(len(t)))) for t in tails)
        return ContinuationScores(logprobs=scores, prompt_tokens=len(base), extra_tokens=sum(len(n) for n in nodes),
                                  seconds=time.perf_counter() - start)

    # -- teacher-forced scoring of given text (segment relevance, XL3M-style) ---------------------------------
    def sequence_logprobs(self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 8) -> list[SequenceScore]:
        """``log P(continuation | prefix)`` for each ``(prefix, continuation)`` pair, on raw text.

        Pairs run in right-padded batches of ``batch_size``; one forward pass per batch.

        :raises GenerationError: a pair does not fit the model's window, or the forward pass fails.
        """
        import torch

        self.warm_up()
        encoded: list[tuple[list[int], int]] = []  # (ids, continuation length)
        bos = [self._tok.bos_token_id] if self._tok.bos_token_id is not None else []
        for prefix, continuation in pairs:
            head = bos + self._tok(prefix, add_special_tokens=False)["input_ids"]
            tail = self._tok(continuation, add_special_tokens=False)["input_ids"]
            if not head and tail:
                raise GenerationError(f"{self.name}: an empty prefix cannot be scored with this tokenizer (no BOS)")
            if len(head) + len(tail) > self.context_tokens:
                raise GenerationError(f"{self.name}: {len(head) + len(tail)} tokens to score do not fit "
                                      f"{self.context_tokens}")
            encoded.append((head + tail, len(tail)))
        pad = self._tok.pad_token_id if self._tok.pad_token_id is not None else (self._tok.eos_token_id or 0)
        out: list[SequenceScore] = []
        try:
            with torch.inference_mode():
                for i in range(0, len(encoded), batch_size):
                    chunk = encoded[i: i + batch_size]
                    width = max(len(ids) for ids, _ in chunk)
                    ids = torch.tensor([x + [pad] * (width - len(x)) for x, _ in chunk], device=self._device)
                    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in chunk],
                                        device=self._device)
                    logp = torch.log_softmax(self._model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
                    for row, (x, n) in enumerate(chunk):
                        if n == 0:
                            out.append(SequenceScore(logprob=0.0, tokens=0, evaluated_tokens=0))
                            continue
                        positions = torch.arange(len(x) - n - 1, len(x) - 1, device=self._device)
                        targets = torch.tensor(x[len(x) - n:], device=self._device)
                        total = float(logp[row, positions, targets].sum())
                        out.append(SequenceScore(logprob=total, tokens=n, evaluated_tokens=len(x)))
        except RuntimeError as err:  # e.g. CUDA out of memory
            raise GenerationError(f"{self.name}: scoring failed ({err})") from err
        return out

