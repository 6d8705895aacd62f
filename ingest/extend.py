"""Training-free context extension for embedders (METHODS §2, after LongEmbed).

Embedders are trained on short windows (all-MiniLM-L6-v2: 512 position slots). Six ways to
embed a longer input, chosen by ``EmbedSettings.extension``:

- ``none``: truncate at ``max_length`` (the model's own limit by default).
- ``chunk``: chunk-and-pool (PCW): embed windows of the model's own length, average, normalise.
- ``pi``: absolute-position models (BERT, MiniLM, MPNet, RoBERTa/XLM-R): grow the position
  table by linear interpolation (:func:`interpolate_ape`).
- ``ntk`` / ``linear``: RoPE models: NTK-aware base change or linear frequency scaling
  (:func:`apply_rope_scaling`, :func:`extend_rope`).
- ``selfextend``: RoPE models: grouped positions beyond a neighbour window, as an attention
  function (:func:`patch_self_extend`).

Every method keeps inputs that fit the original window exactly as before: PI maps their
positions onto the anchor rows (pid × s, LongEmbed's rule), NTK/linear use the original RoPE
frequencies for them, SelfExtend only engages beyond the window. :func:`encode_texts` makes
that choice per input, never per batch, so a text's vector does not depend on its neighbours.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ingest.errors import ModelError

log = logging.getLogger(__name__)

EXTENSIONS = ("none", "chunk", "pi", "ntk", "linear", "selfextend")
APE_EXTENSIONS = ("pi",)
ROPE_EXTENSIONS = ("ntk", "linear", "selfextend")
# Extensions that change the model (and so can add attention-logit scaling).
MODEL_EXTENSIONS = APE_EXTENSIONS + ROPE_EXTENSIONS

_SELF_EXTEND = "docqa_selfextend"  # name registered in transformers' attention interfaces
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


# -- pure helpers --------------------------------------------------------------------------------


def interpolation_stride(original: int, target: int) -> int:
    """LongEmbed's s = ceil(L_t / L_o), at least 1.

    >>> interpolation_stride(512, 4096), interpolation_stride(512, 1000), interpolation_stride(512, 256)
    (8, 2, 1)
    """
    return max(1, math.ceil(target / original))


def self_extend_params(original: int, target: int) -> tuple[int, int]:
    """(group, window) so SelfExtend reaches ``target``: w = L_o/8, g = ceil((L_t-w)/(L_o-w)).

    Reach is (L_o - w)·g + w (METHODS §2.2; 512 → 4096 gives g=9, w=64).

    >>> self_extend_params(512, 4096)
    (9, 64)
    >>> self_extend_params(512, 256)
    (1, 64)
    """
    window = max(1, original // 8)
    group = max(1, math.ceil((target - window) / (original - window)))
    return group, window


def self_extend_distance(i: int, j: int, *, group: int, window: int) -> int:
    """Relative position SelfExtend gives query ``i`` and key ``j`` (symmetric for encoders).

    Neighbours (|i-j| < w) keep their distance; farther pairs use grouped positions,
    query i//g + w - w//g against key j//g. METHODS' worked example (w=4, g=2, query 9):

    >>> [self_extend_distance(9, j, group=2, window=4) for j in range(9, -1, -1)]
    [0, 1, 2, 3, 4, 4, 5, 5, 6, 6]
    """
    if abs(i - j) < window:
        return i - j
    shift = window - window // group
    if i > j:
        return i // group + shift - j // group
    return i // group - (j // group + shift)


def log_length_scale(length: int, original: int) -> float:
    """Attention-logit factor max(1, ln L / ln L_o) (LongEmbed ``model_utils.py``).

    >>> round(log_length_scale(4096, 512), 3), log_length_scale(300, 512)
    (1.333, 1.0)
    """
    return max(1.0, math.log(length) / math.log(original))


def apply_rope_scaling(config: Mapping[str, Any], method: str, factor: float) -> dict[str, Any]:
    """Config overrides that extend a RoPE model by ``factor``, in the config's own format.

    ``linear`` divides every frequency by ``factor`` (``rope_type="linear"``). ``ntk`` raises the
    base: θ' = θ·factor^(d/(d-2)) (NTK-aware, fixed), d the rotary dimension. Configs with
    ``rope_parameters`` (transformers ≥ 5) get that dict; older ones ``rope_theta`` / ``rope_scaling``.

    >>> cfg = {"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
    ...        "hidden_size": 64, "num_attention_heads": 4}
    >>> apply_rope_scaling(cfg, "linear", 4.0)
    {'rope_parameters': {'rope_type': 'linear', 'rope_theta': 10000.0, 'factor': 4.0}}
    >>> round(apply_rope_scaling(cfg, "ntk", 4.0)["rope_parameters"]["rope_theta"])
    48761
    >>> apply_rope_scaling({"rope_theta": 10000.0, "hidden_size": 64, "num_attention_heads": 4}, "linear", 2.0)
    {'rope_scaling': {'rope_type': 'linear', 'factor': 2.0}}
    """
    if method not in ("ntk", "linear"):
        raise ValueError(f"RoPE config scaling is 'ntk' or 'linear', got {method!r}")
    if factor < 1.0:
        raise ValueError(f"factor must be >= 1.0, got {factor}")
    params = dict(config.get("rope_parameters") or {})
    theta = float(params.get("rope_theta", config.get("rope_theta", 10000.0)))
    if method == "linear":
        if params:
            return {"rope_parameters": {**params, "rope_type": "linear", "factor": float(factor)}}
        return {"rope_scaling": {"rope_type": "linear", "factor": float(factor)}}
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    partial = float(params.get("partial_rotary_factor", config.get("partial_rotary_factor", 1.0)))
    theta_new = theta * ntk_base_multiplier(factor, int(head_dim * partial))
    if params:
        return {"rope_parameters": {**params, "rope_theta": theta_new}}
    return {"rope_theta": theta_new}


def ntk_base_multiplier(factor: float, dim: int) -> float:
    """NTK-aware base multiplier λ = s^(d/(d-2)).

    >>> round(ntk_base_multiplier(8.0, 64), 2)
    8.56
    """
    return float(factor ** (dim / (dim - 2)))


def scaled_inv_freq(inv_freq: Any, method: str, factor: float) -> Any:
    """RoPE inverse frequencies after ``linear`` or ``ntk`` scaling (same maths as :func:`apply_rope_scaling`).

    >>> import torch
    >>> scaled_inv_freq(torch.tensor([1.0, 0.1]), "linear", 2.0).tolist()
    [0.5, 0.05000000074505806]
    >>> scaled_inv_freq(torch.tensor([1.0, 0.1]), "ntk", 2.0)[0].item()   # highest frequency kept
    1.0
    """
    import torch

    if method == "linear":
        return inv_freq / factor
    if method == "ntk":
        dim = 2 * inv_freq.shape[-1]
        lam = ntk_base_multiplier(factor, dim)
        j = torch.arange(inv_freq.shape[-1], dtype=torch.float64, device=inv_freq.device)
        return (inv_freq.double() * lam ** (-2.0 * j / dim)).to(inv_freq.dtype)
    raise ValueError(f"RoPE frequency scaling is 'ntk' or 'linear', got {method!r}")


def interpolate_table(weight: Any, *, stride: int, length: int) -> Any:
    """Position table of ``length`` rows by linear interpolation: row p is old row p/stride.

    Anchor rows are exact, E_t[i·s] = E_o[i]; rows past the last anchor repeat it.

    >>> import torch
    >>> interpolate_table(torch.tensor([[0.0], [2.0], [4.0]]), stride=2, length=6).flatten().tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    """
    import torch

    old = weight.shape[0]
    pos = torch.arange(length, dtype=torch.float64) / stride
    lo = pos.floor().long().clamp(max=old - 1)
    hi = (lo + 1).clamp(max=old - 1)
    frac = (pos - lo.double()).clamp(0.0, 1.0).to(weight.dtype).unsqueeze(-1)
    w = weight.detach()
    return torch.where(frac == 0, w[lo], (1 - frac) * w[lo] + frac * w[hi])


def token_windows(tokenizer: Any, text: str, *, window: int, max_length: int | None = None) -> list[str]:
    """Consecutive pieces of ``text`` that each fit ``window`` tokens with the special tokens.

    Covers the first ``max_length`` tokens (special tokens counted once), or all of the text
    when ``max_length`` is None. Pieces are cut at token offsets, so each is a substring of
    ``text``. An empty text gives one empty piece.
    """
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    step = window - specials
    if step < 1:
        raise ValueError(f"window {window} leaves no room beside {specials} special tokens")
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)["offset_mapping"]
    if max_length is not None:
        offsets = offsets[: max(1, max_length - specials)]
    if not offsets:
        return [text[:0]]
    return [text[offsets[a][0] : offsets[min(a + step, len(offsets)) - 1][1]] for a in range(0, len(offsets), step)]


def pool_windows(vectors: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """Mean of each document's window vectors, L2-normalised; ``counts`` windows per document.

    >>> pool_windows(np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]]), [2, 1]).astype(float).round(4).tolist()
    [[0.7071, 0.7071], [0.6, 0.8]]
    """
    out = np.zeros((len(counts), vectors.shape[1]), dtype=np.float32)
    start = 0
    for i, n in enumerate(counts):
        mean = vectors[start : start + n].mean(axis=0)
        norm = float(np.linalg.norm(mean))
        out[i] = mean / norm if norm > 0 else mean
        start += n
    return out


# -- model surgery -------------------------------------------------------------------------------


def hf_model(st: Any) -> Any:
    """The transformers model inside a SentenceTransformer (or ``st`` itself)."""
    import torch

    first = st[0] if isinstance(st, torch.nn.Sequential) else st
    return getattr(first, "auto_model", first)


def _ape_embeddings(hf: Any) -> Any | None:
    import torch

    for module in hf.modules():
        table = getattr(module, "position_embeddings", None)
        if isinstance(table, torch.nn.Embedding) and hasattr(module, "position_ids"):
            return module
    return None


def _rotary_modules(hf: Any) -> list[Any]:
    return [m for m in hf.modules() if "inv_freq" in dict(m.named_buffers(recurse=False))]


def position_capacity(hf: Any) -> int | None:
    """Positions the model was built for: APE table rows minus the RoBERTa offset, or RoPE's max length."""
    emb = _ape_embeddings(hf)
    if emb is not None:
        table = emb.position_embeddings
        return int(table.num_embeddings) - _ape_offset(table)
    if _rotary_modules(hf):
        return _rope_original_length(hf.config)
    return getattr(hf.config, "max_position_embeddings", None)


def _ape_offset(table: Any) -> int:
    # RoBERTa/XLM-R/MPNet number positions from padding_idx + 1 (their table has 514 rows).
    return int(table.padding_idx) + 1 if table.padding_idx is not None else 0


def _rope_original_length(config: Any) -> int:
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    original = params.get("original_max_position_embeddings") if isinstance(params, dict) else None
    return int(original or getattr(config, "original_max_position_embeddings", None) or config.max_position_embeddings)


def _positions_class() -> type:
    import torch

    class _InterpolatedPositions(torch.nn.Embedding):
        """Position table grown by PI. In anchor mode, id p maps to row offset + (p - offset)·stride."""

        def __init__(self, weight: torch.Tensor, *, offset: int, stride: int, padding_idx: int | None) -> None:
            super().__init__(weight.shape[0], weight.shape[1], padding_idx=padding_idx, _weight=weight)
            self.offset, self.stride, self.anchor_mode = offset, stride, False

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            if self.anchor_mode and self.stride > 1:
                ids = torch.where(ids >= self.offset, self.offset + (ids - self.offset) * self.stride, ids)
            return super().forward(ids)

    return _InterpolatedPositions


def interpolate_ape(hf: Any, target_len: int) -> int:
    """Grow an absolute position table to ``target_len`` positions by linear PI; returns the stride s.

    The new table has L_o·s rows (so every anchor row fits) after the RoBERTa offset rows,
    which are kept as they are. The ``position_ids`` / ``token_type_ids`` buffers and
    ``config.max_position_embeddings`` follow. Raises :class:`ModelError` for models without
    an absolute position table.
    """
    import torch

    emb = _ape_embeddings(hf)
    if emb is None:
        raise ModelError(f"{type(hf).__name__} has no absolute position table; use ntk, linear or selfextend")
    table = emb.position_embeddings
    offset = _ape_offset(table)
    original = int(table.num_embeddings) - offset
    stride = interpolation_stride(original, target_len)
    weight = table.weight.detach()
    grown = interpolate_table(weight[offset:], stride=stride, length=original * stride)
    new_weight = torch.cat([weight[:offset], grown]).contiguous()
    emb.position_embeddings = _positions_class()(
        new_weight, offset=offset, stride=stride, padding_idx=table.padding_idx
    ).to(device=weight.device)
    rows = new_weight.shape[0]
    device = emb.position_ids.device
    emb.register_buffer("position_ids", torch.arange(rows, device=device).expand((1, -1)), persistent=False)
    if hasattr(emb, "token_type_ids"):
        emb.register_buffer("token_type_ids", torch.zeros((1, rows), dtype=torch.long, device=device), persistent=False)
    hf.config.max_position_embeddings = rows
    return stride


def extend_rope(hf: Any, method: str, factor: float) -> None:
    """Scale every RoPE module's frequencies (``ntk`` or ``linear``) and record it in ``hf.config``.

    The original frequencies are kept, so :func:`original_window` can restore them for inputs
    that fit the trained window.
    """
    rotaries = _rotary_modules(hf)
    if not rotaries:
        raise ModelError(f"{type(hf).__name__} has no rotary position embedding; use pi or chunk")
    for rot in rotaries:
        if float(getattr(rot, "attention_scaling", 1.0)) != 1.0:
            raise ModelError(f"{type(rot).__name__} already uses scaled RoPE (attention_scaling != 1)")
        original = rot.inv_freq.detach().clone()
        rot.register_buffer("docqa_inv_freq_original", original, persistent=False)
        rot.register_buffer("docqa_inv_freq_scaled", scaled_inv_freq(original, method, factor), persistent=False)
        rot.inv_freq = rot.docqa_inv_freq_scaled
    for key, value in apply_rope_scaling(hf.config.to_dict(), method, factor).items():
        setattr(hf.config, key, value)


@dataclass(frozen=True, slots=True)
class _SelfExtendParams:
    group: int
    window: int
    original_length: int
    rotary: Any  # the model's rotary module; its live inv_freq is used


def patch_self_extend(hf: Any, *, group: int, window: int, original_length: int) -> None:
    """Switch a RoPE model's attention to SelfExtend (grouped positions beyond ``window``).

    Works on transformers models that use the attention-function interface (Llama, Qwen2,
    Mistral, ...). RoPE is a rotation, so the attention function re-rotates the already
    rotated queries and keys by (grouped position − position); no modelling code is copied.
    Inputs of at most ``original_length`` tokens use plain attention.
    """
    import torch

    rotaries = _rotary_modules(hf)
    if not rotaries or not hasattr(hf, "set_attn_implementation"):
        raise ModelError(f"{type(hf).__name__} is not a RoPE model with pluggable attention; selfextend needs one")
    if float(getattr(rotaries[0], "attention_scaling", 1.0)) != 1.0:
        raise ModelError(f"{type(rotaries[0]).__name__} scales cos/sin; selfextend needs plain RoPE")
    _register_self_extend()
    params = _SelfExtendParams(group=group, window=window, original_length=original_length, rotary=rotaries[0])
    patched = 0
    for module in hf.modules():
        if isinstance(module, torch.nn.Module) and hasattr(module, "q_proj") and hasattr(module, "k_proj"):
            module.docqa_self_extend = params
            patched += 1
    if not patched:
        raise ModelError(f"{type(hf).__name__}: no q_proj/k_proj attention modules found for selfextend")
    hf.set_attn_implementation(_SELF_EXTEND)


def _register_self_extend() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, eager_mask

    if _SELF_EXTEND not in ALL_MASK_ATTENTION_FUNCTIONS._global_mapping:
        AttentionInterface.register(_SELF_EXTEND, _self_extend_attention)
        AttentionMaskInterface.register(_SELF_EXTEND, eager_mask)


def _rerotate(x: Any, delta: Any, inv_freq: Any) -> Any:
    """Rotate RoPE-rotated ``x`` (b, h, n, d) by ``delta`` more positions per token (half-split layout)."""
    import torch

    rot = 2 * inv_freq.shape[-1]
    angles = delta.to(torch.float32)[:, None] * inv_freq.to(torch.float32)[None, :]
    emb = torch.cat([angles, angles], dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    xr = x[..., :rot]
    half = rot // 2
    rotated = xr * cos + torch.cat([-xr[..., half:], xr[..., :half]], dim=-1) * sin
    return torch.cat([rotated, x[..., rot:]], dim=-1) if rot < x.shape[-1] else rotated


def _self_extend_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Any, Any]:
    import torch

    p: _SelfExtendParams | None = getattr(module, "docqa_self_extend", None)
    reps = query.shape[1] // key.shape[1]
    if reps > 1:
        key = key.repeat_interleave(reps, dim=1)
        value = value.repeat_interleave(reps, dim=1)
    scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
    n = query.shape[-2]
    logits = torch.matmul(query, key.transpose(2, 3)) * scaling
    if p is not None and n > p.original_length and key.shape[-2] == n:
        # Inputs are embedded in one pass from position 0, so token i sits at position i.
        inv_freq = p.rotary.inv_freq
        pos = torch.arange(n, device=query.device)
        shift = p.window - p.window // p.group
        grouped = pos // p.group
        low = torch.matmul(
            _rerotate(query, grouped + shift - pos, inv_freq), _rerotate(key, grouped - pos, inv_freq).transpose(2, 3)
        )
        high = torch.matmul(
            _rerotate(query, grouped - pos, inv_freq), _rerotate(key, grouped + shift - pos, inv_freq).transpose(2, 3)
        )
        rel = pos[:, None] - pos[None, :]
        logits = torch.where(rel >= p.window, low * scaling, torch.where(-rel >= p.window, high * scaling, logits))
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            logits = logits.masked_fill(~attention_mask, torch.finfo(logits.dtype).min)
        else:
            logits = logits + attention_mask
    weights = torch.softmax(logits, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def scale_attention(hf: Any, original_length: int) -> list[Any]:
    """Multiply queries by max(1, ln L / ln L_o), L each input's own token count; returns hook handles.

    The factor is taken per input from the attention mask, so padding does not change it.
    sentence-transformers calls ``hf.forward`` directly (module hooks on ``hf`` never fire), so
    the mask is read by wrapping ``forward``; the query projections get forward hooks.
    """
    import functools

    import torch

    state: dict[str, torch.Tensor] = {}
    inner = hf.forward

    @functools.wraps(inner)
    def forward(*args: Any, **kwargs: Any) -> Any:
        mask = kwargs.get("attention_mask")
        ids = kwargs.get("input_ids", args[0] if args else None)
        if mask is not None and mask.dim() == 2:
            n = mask.sum(-1)
        else:
            n = torch.full((ids.shape[0],), ids.shape[1])
        state["factor"] = (n.clamp(min=2).double().log() / math.log(original_length)).clamp(min=1.0).float()
        try:
            return inner(*args, **kwargs)
        finally:
            state.pop("factor", None)

    def scale(_module: Any, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        factor = state.get("factor")
        if factor is None or factor.shape[0] != output.shape[0]:
            return output
        return output * factor.to(output.device, output.dtype).view(-1, *([1] * (output.dim() - 1)))

    queries = [
        m
        for name, m in hf.named_modules()
        if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in _QUERY_NAMES
    ]
    if not queries:
        raise ModelError(f"{type(hf).__name__}: no query projections found for attention scaling")
    hf.forward = forward
    return [m.register_forward_hook(scale) for m in queries]


@contextlib.contextmanager
def original_window(hf: Any) -> Iterator[None]:
    """Within this block the model embeds as before extension (for inputs that fit L_o).

    PI tables read their anchor rows (pid × s); scaled RoPE modules use their original
    frequencies. SelfExtend needs nothing: it only engages beyond L_o.
    """
    positions = [m for m in hf.modules() if hasattr(m, "anchor_mode")]
    rotaries = [m for m in hf.modules() if hasattr(m, "docqa_inv_freq_original")]
    for m in positions:
        m.anchor_mode = True
    for m in rotaries:
        m.inv_freq = m.docqa_inv_freq_original
    try:
        yield
    finally:
        for m in positions:
            m.anchor_mode = False
        for m in rotaries:
            m.inv_freq = m.docqa_inv_freq_scaled


def target_length(*, original: int, factor: float, max_length: int | None) -> int:
    """``max_length`` when given, else round(factor × original); both given must agree.

    >>> target_length(original=512, factor=8.0, max_length=None), target_length(original=512, factor=1.0, max_length=2048)
    (4096, 2048)
    >>> target_length(original=512, factor=8.0, max_length=4096)
    4096
    """
    by_factor = int(round(factor * original))
    if max_length is None:
        return by_factor
    if factor != 1.0 and by_factor != max_length:
        raise ModelError(f"factor {factor} × {original} tokens = {by_factor} disagrees with max_length {max_length}")
    return int(max_length)


def extend_model(
    st: Any, method: str, *, factor: float = 1.0, max_length: int | None = None, attn_scale: bool = False
) -> Extension:
    """Apply ``method`` to a loaded SentenceTransformer ``st`` (in place) and say what was done.

    :param method: one of :data:`EXTENSIONS`.
    :param factor: target = factor × original length when ``max_length`` is None; for ntk/linear
        also the RoPE scale.
    :param max_length: target tokens per input (chunk: tokens covered by all windows).
    :param attn_scale: add log-length attention scaling (pi, ntk, linear, selfextend).
    :raises ModelError: the model cannot take the method (e.g. pi on a RoPE model), or
        ``max_length`` exceeds its positions without an extension.
    """
    if method not in EXTENSIONS:
        raise ValueError(f"unknown extension {method!r}; valid: {EXTENSIONS}")
    hf = hf_model(st)
    capacity = position_capacity(hf)
    native = int(st.max_seq_length) if st.max_seq_length else (capacity or 512)
    native = min(native, capacity) if capacity else native
    if method in ("none", "chunk"):
        if method == "none":
            length = max_length if max_length is not None else native
            if capacity is not None and length > capacity:
                raise ModelError(
                    f"max_length {length} exceeds the model's {capacity} positions; "
                    f"use extension='pi' (absolute positions) or 'ntk'/'linear'/'selfextend' (RoPE), or 'chunk'"
                )
            st.max_seq_length = length
            return Extension("none", original_length=native, max_length=length)
        st.max_seq_length = native
        return Extension("chunk", original_length=native, max_length=target_length(
            original=native, factor=factor, max_length=max_length))
    if capacity is None:
        raise ModelError(f"{type(hf).__name__}: cannot tell how many positions it was trained on")
    if method in ("ntk", "linear"):  # factor is the RoPE scale; max_length may differ from factor × L_o
        target = max_length if max_length is not None else int(round(factor * capacity))
    else:
        target = target_length(original=capacity, factor=factor, max_length=max_length)
    stride, group, window = 1, 1, 0
    if method == "pi":
        stride = interpolate_ape(hf, target)
    elif method in ("ntk", "linear"):
        extend_rope(hf, method, factor)
    else:
        group, window = self_extend_params(capacity, target)
        patch_self_extend(hf, group=group, window=window, original_length=capacity)
    if method != "pi":
        hf.config.max_position_embeddings = max(int(hf.config.max_position_embeddings), target)
    if attn_scale:
        scale_attention(hf, capacity)
    st.max_seq_length = target
    ext = Extension(method, capacity, target, stride=stride, group=group, window=window, attn_scale=attn_scale)
    log.info("extended %s: %s", type(hf).__name__, ext)
    return ext


# -- encoding ------------------------------------------------------------------------------------


def _st_encode(st: Any, texts: Sequence[str], *, batch_size: int, normalize: bool) -> np.ndarray:
    vecs = st.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=normalize, convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)


def length_batches(lengths: Sequence[int], *, batch_size: int, base_length: int) -> list[list[int]]:
    """Indices grouped longest first so that count × longest² ≤ batch_size × base_length².

    Attention memory grows with the square of the length, so long inputs go in small batches.

    >>> length_batches([100, 4000, 900, 1000], batch_size=8, base_length=512)
    [[1], [3, 2], [0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    budget = batch_size * base_length**2
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * max(lengths[batches[-1][0]], 1) ** 2 <= budget:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def encode_texts(st: Any, texts: Sequence[str], ext: Extension, *, batch_size: int) -> np.ndarray:
    """L2-normalised float32 vectors for ``texts`` under extension ``ext``, shape (n, dim).

    Inputs that fit ``ext.original_length`` are embedded inside :func:`original_window`, the rest
    with the extended model, each in batches sized by :func:`length_batches`.
    """
    if ext.method == "chunk":
        return chunk_and_pool(st, texts, window=ext.original_length, max_length=ext.max_length, batch_size=batch_size)
    if ext.method == "none":
        return _st_encode(st, texts, batch_size=batch_size, normalize=True)
    lengths = [len(ids) for ids in st.tokenizer(list(texts), add_special_tokens=True, verbose=False)["input_ids"]]
    over = sum(n > ext.max_length for n in lengths)
    if over:
        log.info("%d of %d inputs exceed %d tokens and are truncated", over, len(texts), ext.max_length)
    out: np.ndarray | None = None
    hf = hf_model(st)
    short = [i for i, n in enumerate(lengths) if n <= ext.original_length]
    long = [i for i, n in enumerate(lengths) if n > ext.original_length]
    if short:
        with original_window(hf):
            vecs = _st_encode(st, [texts[i] for i in short], batch_size=batch_size, normalize=True)
        out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        out[short] = vecs
    clipped = [min(n, ext.max_length) for n in lengths]
    for batch in length_batches([clipped[i] for i in long], batch_size=batch_size, base_length=ext.original_length):
        idx = [long[b] for b in batch]
        vecs = _st_encode(st, [texts[i] for i in idx], batch_size=len(idx), normalize=True)
        if out is None:
            out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
    assert out is not None or not texts
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def chunk_and_pool(st: Any, texts: Sequence[str], *, window: int, max_length: int | None, batch_size: int) -> np.ndarray:
    """Chunk-and-pool (PCW): embed ``window``-token pieces, average each text's pieces, normalise.

    Covers the first ``max_length`` tokens of each text (all of it when None).
    """
    pieces = [token_windows(st.tokenizer, t, window=window, max_length=max_length) for t in texts]
    flat = [p for ps in pieces for p in ps]
    vecs = _st_encode(st, flat, batch_size=batch_size, normalize=False)
    return pool_windows(vecs, [len(ps) for ps in pieces])


# -- document-level vectors ------------------------------------------------------------------------


class LongEmbedder(Protocol):
    """What :func:`embed_documents` needs (``ingest.embed.SentenceTransformerEmbedder`` fits)."""

    @property
    def max_length(self) -> int: ...  # noqa: D102

    @property
    def tokenizer(self) -> Any: ...  # noqa: D102

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...  # noqa: D102


def embed_documents(embedder: LongEmbedder, texts: Sequence[str], *, section_tokens: int | None = None) -> np.ndarray:
    """One unit vector per document, for coarse-to-fine search.

    A document that fits ``section_tokens`` (default: the embedder's effective, extended
    ``max_length``) is embedded whole; a longer one is cut into consecutive sections of
    that size, which are embedded and mean-pooled. Returns shape (len(texts), dim).
    """
    size = section_tokens or embedder.max_length
    sections = [token_windows(embedder.tokenizer, t, window=size) for t in texts]
    flat = [s for secs in sections for s in secs]
    if not flat:
        return np.zeros((0, 0), dtype=np.float32)
    return pool_windows(embedder.embed_passages(flat), [len(secs) for secs in sections])
