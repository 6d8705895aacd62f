"""The one place that touches llama-cpp-python's internals.

:class:`LlamaAdapter` wraps a loaded ``llama_cpp.Llama`` and offers what docqa's llama.cpp backend needs
beyond the public API: the token cache (which prefix is decoded), decoding a batch with logits at every
position, and the logits of the last position. Everything else (loading, chat completion, tokenizing)
is public API.

Written against llama-cpp-python 0.3.36 and tested with it. The private members used are the same (names,
signatures, meaning) in the source of every release from 0.3.0 to 0.3.35:

- ``Llama.input_ids`` / ``Llama.n_tokens``: the tokens whose keys and values are in the KV cache;
  ``Llama.eval`` first drops the cache past ``n_tokens``, then decodes and appends.
- ``Llama._ctx`` (``_internals.LlamaContext``): ``kv_cache_seq_rm``, ``decode``, ``get_logits``,
  ``get_logits_ith``.
- ``Llama._batch`` (``_internals.LlamaBatch``): ``set_batch(batch, n_past, logits_all)``.
- ``Llama._model`` (``_internals.LlamaModel``): ``token_get_text``.

:func:`load_llama` refuses other versions (:data:`SUPPORTED`) with a :class:`ModelError`; the pin in
``pyproject.toml`` is the same range. To support a new release, check the members above in its
``llama_cpp/llama.py`` and ``llama_cpp/_internals.py``, run ``tests/test_context.py`` and
``tests/test_rerank.py``, then widen both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ingest.core.errors import ModelError

if TYPE_CHECKING:
    from llama_cpp import Llama

SUPPORTED: tuple[tuple[int, int, int], tuple[int, int, int]] = ((0, 3, 0), (0, 4, 0))
"""llama-cpp-python versions this adapter works with: ``SUPPORTED[0] <= version < SUPPORTED[1]``."""


def check_version(version: str) -> None:
    """Refuse a llama-cpp-python version outside :data:`SUPPORTED`.

    >>> check_version("0.3.36")
    >>> check_version("0.4.0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ingest.core.errors.ModelError: llama-cpp-python 0.4.0 is not supported by docqa (need >=0.3.0,<0.4.0; run ...

    :raises ModelError: outside the range, or not a version number.
    """
    need = ">={},<{}".format(*(".".join(map(str, v)) for v in SUPPORTED))
    hint = f'need {need}; run `pip install "llama-cpp-python{need}"`'
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if match is None:
        raise ModelError(f"llama-cpp-python {version!r}: not a version number docqa understands ({hint})")
    if not SUPPORTED[0] <= tuple(int(part) for part in match.groups()) < SUPPORTED[1]:
        raise ModelError(f"llama-cpp-python {version} is not supported by docqa ({hint})")


def load_llama(path: Path, *, n_ctx: int, n_threads: int, n_gpu_layers: int) -> LlamaAdapter:
    """Load a GGUF after checking that the installed llama-cpp-python is a supported version.

    Only the last position's logits are kept (``logits_all=False``); :meth:`LlamaAdapter.decode_with_logits`
    asks for the other positions per batch.

    :raises ModelError: llama-cpp-python is missing or of an unsupported version.
    :raises ValueError: llama.cpp cannot load the file (as ``llama_cpp.Llama`` raises it).
    """
    try:
        import llama_cpp
    except ImportError as err:
        raise ModelError("llama-cpp-python is not installed; run `pip install llama-cpp-python`") from err
    check_version(llama_cpp.__version__)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_batch=512,
                          n_gpu_layers=n_gpu_layers, seed=0, verbose=False)
    return LlamaAdapter(llm)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-softmax of one row of logits, in float64 (stable: the maximum is subtracted first).

    >>> np.round(np.exp(log_softmax(np.array([0.0, 0.0]))), 3).tolist()
    [0.5, 0.5]
    """
    logits = logits.astype(np.float64)
    peak = logits.max()
    return logits - peak - np.log(np.exp(logits - peak).sum())


def common_length(a: Iterable[int], b: Iterable[int]) -> int:
    """How many leading items ``a`` and ``b`` share.

    >>> common_length([1, 2, 3], [1, 2, 4, 5]), common_length([], [1])
    (2, 0)
    """
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class LlamaAdapter:
    """A loaded ``llama_cpp.Llama`` with a small, version-checked API over its token cache and logits.

    The cache is the model's own: chat completion (public API) reuses whatever prefix the methods here
    leave decoded, and they reuse what a completion left.
    """

    def __init__(self, llm: Llama) -> None:
        self.llm = llm

    @property
    def cached_tokens(self) -> int:
        """How many tokens the KV cache holds (after a completion: its prompt and answer, less the last token)."""
        return int(self.llm.n_tokens)

    @property
    def n_vocab(self) -> int:
        """Vocabulary size (the length of a logits row)."""
        return int(self.llm.n_vocab())

    @property
    def n_ctx(self) -> int:
        """Allocated context in tokens."""
        return int(self.llm.n_ctx())

    def tokenize(self, text: str, *, add_bos: bool, special: bool) -> list[int]:
        """Token ids of ``text``; ``special``: parse special-token texts such as ``<|im_end|>``."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special))

    def token_text(self, token: int) -> str:
        """The vocabulary text of a token id; ``""`` for -1 (no such token)."""
        return self.llm._model.token_get_text(token) if token != -1 else ""  # noqa: SLF001

    def common_prefix(self, tokens: Sequence[int]) -> int:
        """How many leading ``tokens`` the cache already holds."""
        return common_length(self.llm.input_ids[: self.llm.n_tokens], tokens)

    def eval_prefix(self, tokens: Sequence[int], *, keep: int | None = None) -> int:
        """Make the cache hold exactly ``tokens``, decoding only what follows the cached prefix.

        :param keep: reuse at most this many cached tokens (default: as many as match).
        :returns: the number of cached tokens reused.
        :raises RuntimeError: llama.cpp failed to decode.
        """
        common = self.common_prefix(tokens)
        if keep is not None:
            common = min(common, keep)
        self.llm.n_tokens = common  # eval() drops the KV cache past this point
        if len(tokens) > common:
            self.llm.eval(tokens[common:])
        return common

    def next_token_logprobs(self, tokens: Sequence[int]) -> tuple[np.ndarray, int]:
        """Log-softmax (float64) of the next-token logits after ``tokens``, and how many tokens were decoded.

        Reuses the longest cached prefix but always decodes at least the last token, for fresh logits.

        :raises RuntimeError: llama.cpp failed to decode.
        """
        common = self.eval_prefix(tokens, keep=len(tokens) - 1)
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(-1), shape=(self.n_vocab,))  # noqa: SLF001
        return log_softmax(logits), len(tokens) - common

    def decode_with_logits(self, tokens: Sequence[int]) -> Iterator[np.ndarray]:
        """Append ``tokens`` to the cache, one ``n_batch`` chunk at a time, yielding each chunk's logits.

        Row ``i`` of a chunk (float64, shape ``(len(chunk), n_vocab)``) holds the logits after the chunk's
        ``i``-th token. A chunk is in the cache by the time it is yielded.

        :raises RuntimeError: llama.cpp failed to decode (the cache then ends at the last whole chunk).
        """
        llm = self.llm
        done = 0
        while done < len(tokens):
            chunk = list(tokens[done: done + llm.n_batch])
            n_past = llm.n_tokens
            llm._ctx.kv_cache_seq_rm(-1, n_past, -1)  # noqa: SLF001
            llm._batch.set_batch(batch=chunk, n_past=n_past, logits_all=True)  # noqa: SLF001
            llm._ctx.decode(llm._batch)  # noqa: SLF001
            rows = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(chunk), self.n_vocab))  # noqa: SLF001
            rows = rows.astype(np.float64)  # a copy: the next decode overwrites llama.cpp's buffer
            llm.input_ids[n_past: n_past + len(chunk)] = chunk
            llm.n_tokens = n_past + len(chunk)
            done += len(chunk)
            yield rows

    def save_state(self) -> Any:
        """A copy of the cache as it is now (its tokens and their KV state; a few MB for a short prompt)."""
        return self.llm.save_state()

    def load_state(self, state: Any) -> None:
        """Make the cache what :meth:`save_state` copied."""
        self.llm.load_state(state)

    def reset(self) -> None:
        """Forget the cache: the next decode or completion starts from scratch."""
        self.llm.reset()

    def close(self) -> None:
        """Free the model."""
        self.llm.close()
