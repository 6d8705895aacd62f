"""Training-free context extension for sentence-transformers embedders, after LongEmbed (Zhu et al. 2024).

Embedders are trained on short windows (all-MiniLM-L6-v2: 512 position slots). Six ways to
embed a longer input, chosen by ``EmbedSettings.extension``:

- ``none``: truncate at ``max_length`` (the model's own limit by default).
- ``chunk``: chunk-and-pool: embed windows of the model's own length, average, normalise
  (:mod:`ingest.long_inputs`).
- ``pi``: absolute-position models (BERT, MiniLM, MPNet, RoBERTa/XLM-R): grow the position
  table by linear interpolation (:mod:`ingest.position_interpolation`).
- ``ntk`` / ``linear``: RoPE models: NTK-aware base change or linear frequency scaling
  (:mod:`ingest.rope_extend`).
- ``selfextend``: RoPE models: grouped positions beyond a neighbour window, as an attention
  function (:mod:`ingest.rope_extend`).

:func:`extend_model` applies a method and returns an :class:`ExtendedModel` that owns every
change it made: the interpolated table, the original RoPE frequencies, the SelfExtend attention
function and its parameters, the attention-scaling hooks. It adds no attributes or buffers of
its own to the model's modules, and :meth:`ExtendedModel.remove` undoes it all.

Every method keeps inputs that fit the original window exactly as before: PI maps their
positions onto the anchor rows (pid × s, LongEmbed's rule), NTK/linear use the original RoPE
frequencies for them, SelfExtend only engages beyond the window. :meth:`ExtendedModel.encode`
makes that choice per input, never per batch, so a text's vector does not depend on its neighbours.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.core.errors import ModelError
from ingest.core.settings import ROPE_EXTENSIONS, ExtensionMethod, choices
from ingest.long_inputs import LongEmbedder, chunk_and_pool, embed_documents, length_batches, st_encode, token_windows
from ingest.position_interpolation import (
    PositionInterpolation,
    ape_embeddings,
    ape_offset,
    interpolate_ape,
    interpolation_stride,
)
from ingest.rope_extend import (
    RopeScaling,
    SelfExtend,
    patch_self_extend,
    rope_original_length,
    rotary_modules,
    scale_rope,
    self_extend_params,
)

__all__ = [
    "EXTENSIONS",
    "AttentionScaling",
    "ExtendedModel",
    "Extension",
    "LongEmbedder",
    "embed_documents",
    "extend_model",
    "hf_model",
    "log_length_scale",
    "position_capacity",
    "target_length",
    "token_windows",
]

log = logging.getLogger(__name__)

EXTENSIONS = choices(ExtensionMethod)

_QUERY_NAMES = ("query", "q", "q_proj")  # BERT/RoBERTa/XLM-R, MPNet, Llama/Qwen/Mistral


@dataclass(frozen=True, slots=True)
class Extension:
    """What :func:`extend_model` did to a model.

    :param method: one of :data:`EXTENSIONS`.
    :param original_length: tokens the model handles natively: position slots (pi, RoPE
        methods) or the window length (none, chunk).
    :param max_length: tokens per input after extension (chunk: tokens covered by all windows).
    :param stride: PI interpolation factor s = ceil(max_length / original_length).
    :param group: SelfExtend group size g.
    :param window: SelfExtend neighbour window w.
    :param attn_scale: queries scaled by max(1, ln L / ln original_length).
    """

    method: str
    original_length: int
    max_length: int
    stride: int = 1
    group: int = 1
    window: int = 0
    attn_scale: bool = False


# -- inspecting a model ----------------------------------------------------------------------------


def hf_model(st: Any) -> Any:
    """The transformers model inside a SentenceTransformer (or ``st`` itself)."""
    import torch

    first = st[0] if isinstance(st, torch.nn.Sequential) else st
    return getattr(first, "auto_model", first)


def position_capacity(hf: Any) -> int | None:
    """Positions the model was built for: APE table rows minus the RoBERTa offset, or RoPE's trained length."""
    emb = ape_embeddings(hf)
    if emb is not None:
        table = emb.position_embeddings
        return int(table.num_embeddings) - ape_offset(table)
    if rotary_modules(hf):
        return rope_original_length(hf.config)
    return getattr(hf.config, "max_position_embeddings", None)


def target_length(*, original: int, factor: float, max_length: int | None) -> int:
    """``max_length`` when given, else round(factor × original); both given must agree.

    >>> target_length(original=512, factor=8.0, max_length=None)
    4096
    >>> target_length(original=512, factor=1.0, max_length=2048)
    2048
    >>> target_length(original=512, factor=8.0, max_length=4096)
    4096
    """
    by_factor = int(round(factor * original))
    if max_length is None:
        return by_factor
    if factor != 1.0 and by_factor != max_length:
        raise ModelError(f"factor {factor} × {original} tokens = {by_factor} disagrees with max_length {max_length}")
    return int(max_length)


# -- attention scaling -----------------------------------------------------------------------------


def log_length_scale(length: int, original: int) -> float:
    """Attention-logit factor max(1, ln L / ln L_o), as in LongEmbed's ``model_utils.py``.

    Attention spreads thinner as the number of keys grows; scaling the logits by the log of the
    length keeps it about as sharp on long inputs as on trained ones. :class:`AttentionScaling`
    applies this factor per input.

    >>> round(log_length_scale(4096, 512), 3), log_length_scale(300, 512)
    (1.333, 1.0)
    """
    return max(1.0, math.log(length) / math.log(original))


class AttentionScaling:
    """Queries multiplied by :func:`log_length_scale` of each input's own token count L.

    L is read per input from the attention mask, so padding does not change it. A forward
    pre-hook on the input module (``st[0]``) reads it into :attr:`factor`, which holds for the
    batch being embedded and is cleared when that module returns; forward hooks on the query
    projections apply it. (sentence-transformers calls the transformers model's ``forward``
    directly, so hooks on that model itself never fire; its own input module is called normally,
    with the features dict.)
    """

    def __init__(self, st: Any, hf: Any, original_length: int) -> None:
        import torch

        queries = [
            m
            for name, m in hf.named_modules()
            if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in _QUERY_NAMES
        ]
        if not queries:
            raise ModelError(f"{type(hf).__name__}: no query projections found for attention scaling")
        entry = st[0] if isinstance(st, torch.nn.Sequential) else hf
        self.original_length = original_length
        self.factor: Any = None  # float tensor, one factor per input of the current batch
        self.handles = [
            entry.register_forward_pre_hook(self._measure, with_kwargs=True),
            entry.register_forward_hook(self._forget, always_call=True),
            *(q.register_forward_hook(self._scale) for q in queries),
        ]

    def _measure(self, _module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        import torch

        first = args[0] if args else None
        inputs = first if isinstance(first, Mapping) else kwargs  # features dict (st[0]) or keyword arguments
        mask = inputs.get("attention_mask")
        ids = inputs.get("input_ids", None if isinstance(first, Mapping) else first)
        if mask is not None and mask.dim() == 2:
            n = mask.sum(-1)
        elif ids is not None:
            n = torch.full((ids.shape[0],), ids.shape[1])
        else:
            self.factor = None
            return
        self.factor = (n.clamp(min=2).double().log() / math.log(self.original_length)).clamp(min=1.0).float()

    def _forget(self, _module: Any, _args: Any, _output: Any) -> None:
        self.factor = None

    def _scale(self, _module: Any, _inputs: Any, output: Any) -> Any:
        factor = self.factor
        if factor is None or factor.shape[0] != output.shape[0]:
            return output
        return output * factor.to(output.device, output.dtype).view(-1, *([1] * (output.dim() - 1)))

    def remove(self) -> None:
        """Remove the hooks."""
        for handle in self.handles:
            handle.remove()
        self.handles = []
        self.factor = None


# -- the extended model ----------------------------------------------------------------------------


class ExtendedModel:
    """A SentenceTransformer with a context extension applied by :func:`extend_model`.

    Each change lives in one attribute, None when the method does not make it:
    :attr:`positions` (PI table), :attr:`rope` (ntk/linear frequencies), :attr:`self_extend`
    (attention function and its per-module parameters), :attr:`attention` (scaling hooks).
    ``st.max_seq_length`` and ``config.max_position_embeddings`` are set to the new length.
    """

    def __init__(self, st: Any, extension: Extension) -> None:
        self.st = st
        self.hf = hf_model(st)
        self.extension = extension
        self.positions: PositionInterpolation | None = None
        self.rope: RopeScaling | None = None
        self.self_extend: SelfExtend | None = None
        self.attention: AttentionScaling | None = None
        self.removed = False
        self._original_max_seq_length = st.max_seq_length
        self._original_max_positions: int | None = getattr(self.hf.config, "max_position_embeddings", None)

    def _install(self, *, factor: float) -> None:
        ext, hf = self.extension, self.hf
        if ext.method == "pi":
            self.positions = interpolate_ape(hf, ext.max_length)
        elif ext.method in ("ntk", "linear"):
            self.rope = scale_rope(hf, ext.method, factor)
        elif ext.method == "selfextend":
            self.self_extend = patch_self_extend(
                hf, group=ext.group, window=ext.window, original_length=ext.original_length
            )
        if ext.method in ROPE_EXTENSIONS:
            hf.config.max_position_embeddings = max(int(hf.config.max_position_embeddings), ext.max_length)
        if ext.attn_scale:
            self.attention = AttentionScaling(self.st, hf, ext.original_length)
        # chunk feeds windows of the model's own length; every other method reads max_length tokens at once
        self.st.max_seq_length = ext.original_length if ext.method == "chunk" else ext.max_length

    @property
    def max_length(self) -> int:
        """Tokens per input after extension (chunk: tokens covered by all windows)."""
        return self.extension.max_length

    @contextlib.contextmanager
    def original_window(self) -> Iterator[None]:
        """Within this block the model embeds as before extension (for inputs that fit L_o).

        PI tables read their anchor rows (pid × s); scaled RoPE modules use their original
        frequencies. SelfExtend needs nothing: it only engages beyond L_o.
        """
        with contextlib.ExitStack() as stack:
            if self.positions is not None:
                stack.enter_context(self.positions.anchors())
            if self.rope is not None:
                stack.enter_context(self.rope.original_frequencies())
            yield

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        """L2-normalised float32 vectors for ``texts``, shape (n, dim).

        Inputs that fit ``original_length`` are embedded inside :meth:`original_window`, the rest
        with the extended model, each in batches sized by :func:`~ingest.long_inputs.length_batches`.
        """
        if self.removed:
            raise RuntimeError("this extension was removed; extend the model again to encode with it")
        ext, st = self.extension, self.st
        if ext.method == "chunk":
            return chunk_and_pool(
                st, texts, window=ext.original_length, max_length=ext.max_length, batch_size=batch_size
            )
        if ext.method == "none":
            return st_encode(st, texts, batch_size=batch_size, normalize=True)
        lengths = [len(ids) for ids in st.tokenizer(list(texts), add_special_tokens=True, verbose=False)["input_ids"]]
        over = sum(n > ext.max_length for n in lengths)
        if over:
            log.info("%d of %d inputs exceed %d tokens and are truncated", over, len(texts), ext.max_length)
        out: np.ndarray | None = None
        short = [i for i, n in enumerate(lengths) if n <= ext.original_length]
        long = [i for i, n in enumerate(lengths) if n > ext.original_length]
        if short:
            with self.original_window():
                vecs = st_encode(st, [texts[i] for i in short], batch_size=batch_size, normalize=True)
            out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[short] = vecs
        clipped = [min(n, ext.max_length) for n in lengths]
        for batch in length_batches([clipped[i] for i in long], batch_size=batch_size, base_length=ext.original_length):
            idx = [long[b] for b in batch]
            vecs = st_encode(st, [texts[i] for i in idx], batch_size=len(idx), normalize=True)
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)

    def remove(self) -> None:
        """Undo every change, newest first, so the model embeds as before :func:`extend_model` (idempotent)."""
        if self.attention is not None:
            self.attention.remove()
        if self.self_extend is not None:
            self.self_extend.restore()
        if self.rope is not None:
            self.rope.restore()
        if self.positions is not None:
            self.positions.restore()
        if self._original_max_positions is not None:
            self.hf.config.max_position_embeddings = self._original_max_positions
        self.st.max_seq_length = self._original_max_seq_length
        self.attention = self.self_extend = self.rope = self.positions = None
        self.removed = True


def extend_model(
    st: Any, method: str, *, factor: float = 1.0, max_length: int | None = None, attn_scale: bool = False
) -> ExtendedModel:
    """Apply ``method`` to a loaded SentenceTransformer ``st`` (in place); the result owns the changes.

    :param st: the model; it is changed in place until :meth:`ExtendedModel.remove`.
    :param method: one of :data:`EXTENSIONS`.
    :param factor: target = factor × original length when ``max_length`` is None; for ntk/linear
        also the RoPE scale.
    :param max_length: target tokens per input (chunk: tokens covered by all windows).
    :param attn_scale: add log-length attention scaling (pi, ntk, linear, selfextend).
    :raises ModelError: the model cannot take the method (e.g. pi on a RoPE model), or
        ``max_length`` exceeds its positions without an extension. The model is left unchanged.
    """
    extended = ExtendedModel(st, _plan(st, method, factor=factor, max_length=max_length, attn_scale=attn_scale))
    try:
        extended._install(factor=factor)
    except BaseException:
        extended.remove()
        raise
    if method not in ("none", "chunk"):
        log.info("extended %s: %s", type(extended.hf).__name__, extended.extension)
    return extended


def _plan(st: Any, method: str, *, factor: float, max_length: int | None, attn_scale: bool) -> Extension:
    """The :class:`Extension` that ``method`` would make of ``st``; checks it can, changes nothing."""
    if method not in EXTENSIONS:
        raise ValueError(f"unknown extension {method!r}; valid: {EXTENSIONS}")
    hf = hf_model(st)
    capacity = position_capacity(hf)
    native = int(st.max_seq_length) if st.max_seq_length else (capacity or 512)
    native = min(native, capacity) if capacity else native
    if method == "none":
        length = max_length if max_length is not None else native
        if capacity is not None and length > capacity:
            raise ModelError(
                f"max_length {length} exceeds the model's {capacity} positions; "
                f"use extension='pi' (absolute positions) or 'ntk'/'linear'/'selfextend' (RoPE), or 'chunk'"
            )
        return Extension("none", original_length=native, max_length=length)
    if method == "chunk":
        target = target_length(original=native, factor=factor, max_length=max_length)
        return Extension("chunk", original_length=native, max_length=target)
    if capacity is None:
        raise ModelError(f"{type(hf).__name__}: cannot tell how many positions it was trained on")
    if method in ("ntk", "linear"):  # factor is the RoPE scale; max_length may differ from factor × L_o
        target = max_length if max_length is not None else int(round(factor * capacity))
    else:
        target = target_length(original=capacity, factor=factor, max_length=max_length)
    stride, group, window = 1, 1, 0
    if method == "pi":
        stride = interpolation_stride(capacity, target)
    elif method == "selfextend":
        group, window = self_extend_params(capacity, target)
    return Extension(method, capacity, target, stride=stride, group=group, window=window, attn_scale=attn_scale)
