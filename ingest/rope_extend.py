"""Context extension for rotary (RoPE) embedders: NTK-aware / linear frequency scaling and SelfExtend.

RoPE rotates each query and key by position × frequency, so a model meets unseen angles past
its trained length. Two ways to stay within the angles it knows, both without training:

- ``linear`` divides every frequency by the factor s (Position Interpolation, Chen et al. 2023);
  ``ntk`` raises the base θ to θ·s^(d/(d-2)) instead, which keeps the highest frequencies
  nearly intact (NTK-aware scaling, bloc97 2023). :func:`scale_rope` returns a :class:`RopeScaling`
  that holds the original frequencies, so short inputs can still use them.
- ``selfextend`` (Jin et al. 2024, "LLM Maybe LongLM") keeps exact relative positions within a
  neighbour window w and uses grouped positions (floor division by g) beyond it.
  :func:`patch_self_extend` installs it as a transformers attention function and returns a
  :class:`SelfExtend` that owns that function and its parameters.

LongEmbed (Zhu et al. 2024) evaluates these methods on embedders.
"""

from __future__ import annotations

import contextlib
import math
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ingest.core.errors import ModelError

_MISSING = object()  # a config attribute that did not exist before scaling


# -- frequency scaling (ntk, linear) ----------------------------------------------------------------


def rotary_modules(hf: Any) -> list[Any]:
    """Modules that own a RoPE ``inv_freq`` buffer."""
    return [m for m in hf.modules() if "inv_freq" in dict(m.named_buffers(recurse=False))]


def rope_original_length(config: Any) -> int:
    """Positions a RoPE model was trained on: ``original_max_position_embeddings`` if recorded, else the max."""
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    original = params.get("original_max_position_embeddings") if isinstance(params, dict) else None
    return int(original or getattr(config, "original_max_position_embeddings", None) or config.max_position_embeddings)


def ntk_base_multiplier(factor: float, dim: int) -> float:
    """NTK-aware base multiplier λ = s^(d/(d-2)).

    >>> round(ntk_base_multiplier(8.0, 64), 2)
    8.56
    """
    return float(factor ** (dim / (dim - 2)))


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


@dataclass(frozen=True, slots=True)
class RopeScaling:
    """Scaled RoPE installed by :func:`scale_rope`; the scaled frequencies are the modules' live ``inv_freq``.

    :param rotaries: the rotary modules whose ``inv_freq`` was replaced.
    :param original: their ``inv_freq`` before scaling, in the same order.
    :param config: the model's config, which records the scaling.
    :param original_config: the config attributes that were overwritten, as they were.
    """

    rotaries: tuple[Any, ...]
    original: tuple[Any, ...]
    config: Any
    original_config: dict[str, Any]

    @contextlib.contextmanager
    def original_frequencies(self) -> Iterator[None]:
        """Within this block every rotary module uses its original frequencies."""
        live = [rot.inv_freq for rot in self.rotaries]
        for rot, freq in zip(self.rotaries, self.original, strict=True):
            rot.inv_freq = freq.to(device=rot.inv_freq.device, dtype=rot.inv_freq.dtype)
        try:
            yield
        finally:
            for rot, freq in zip(self.rotaries, live, strict=True):
                rot.inv_freq = freq

    def restore(self) -> None:
        """Put the original frequencies and config attributes back."""
        for rot, freq in zip(self.rotaries, self.original, strict=True):
            rot.inv_freq = freq.to(device=rot.inv_freq.device, dtype=rot.inv_freq.dtype)
        for key, value in self.original_config.items():
            if value is _MISSING:
                delattr(self.config, key)
            else:
                setattr(self.config, key, value)


def scale_rope(hf: Any, method: str, factor: float) -> RopeScaling:
    """Scale every RoPE module's frequencies (``ntk`` or ``linear``) and record the scaling in ``hf.config``.

    :raises ModelError: the model has no RoPE, or its RoPE already scales cos/sin.
    """
    rotaries = rotary_modules(hf)
    if not rotaries:
        raise ModelError(f"{type(hf).__name__} has no rotary position embedding; use pi or chunk")
    for rot in rotaries:
        if float(getattr(rot, "attention_scaling", 1.0)) != 1.0:
            raise ModelError(f"{type(rot).__name__} already uses scaled RoPE (attention_scaling != 1)")
    overrides = apply_rope_scaling(hf.config.to_dict(), method, factor)
    done = RopeScaling(
        rotaries=tuple(rotaries),
        original=tuple(rot.inv_freq.detach().clone() for rot in rotaries),
        config=hf.config,
        original_config={key: getattr(hf.config, key, _MISSING) for key in overrides},
    )
    for rot, original in zip(rotaries, done.original, strict=True):
        rot.inv_freq = scaled_inv_freq(original, method, factor)
    for key, value in overrides.items():
        setattr(hf.config, key, value)
    return done


# -- SelfExtend -------------------------------------------------------------------------------------


def self_extend_params(original: int, target: int) -> tuple[int, int]:
    """(group, window) so SelfExtend reaches ``target``: w = L_o/8, g = ceil((L_t-w)/(L_o-w)).

    With grouped positions, the farthest token a query can see without leaving the trained
    range is (L_o - w)·g + w away; 512 → 4096 gives g=9, w=64.

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

    Neighbours (|i-j| < w) keep their distance; farther pairs use grouped positions, query
    i//g + w - w//g against key j//g (the shift w - w//g makes the two regimes meet at distance w).
    Worked example with w=4, g=2 and the query at position 9:

    >>> [self_extend_distance(9, j, group=2, window=4) for j in range(9, -1, -1)]
    [0, 1, 2, 3, 4, 4, 5, 5, 6, 6]
    """
    if abs(i - j) < window:
        return i - j
    shift = window - window // group
    if i > j:
        return i // group + shift - j // group
    return i // group - (j // group + shift)


@dataclass(frozen=True, slots=True)
class SelfExtendParams:
    """SelfExtend's settings for one attention module.

    :param group: group size g.
    :param window: neighbour window w.
    :param original_length: inputs of at most this many tokens use plain attention.
    :param rotary: the model's rotary module; its live ``inv_freq`` is used.
    """

    group: int
    window: int
    original_length: int
    rotary: Any


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


def self_extend_attention(params: SelfExtendParams | None, module: Any, query: Any, key: Any, value: Any,
                          attention_mask: Any, *, scaling: float | None = None, dropout: float = 0.0
                          ) -> tuple[Any, Any]:
    """Eager attention with SelfExtend's grouped positions beyond the window; plain attention when ``params`` is None.

    ``query`` and ``key`` arrive already rotated by their own positions. RoPE is a rotation, so
    rotating them further by (grouped position − position) gives grouped-position logits
    without copying any modelling code. Returns (output (b, n, h, d), weights), as transformers expects.
    """
    import torch

    reps = query.shape[1] // key.shape[1]
    if reps > 1:
        key = key.repeat_interleave(reps, dim=1)
        value = value.repeat_interleave(reps, dim=1)
    scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
    n = query.shape[-2]
    logits = torch.matmul(query, key.transpose(2, 3)) * scaling
    p = params
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


def _attention_function(params: weakref.WeakKeyDictionary[Any, SelfExtendParams]) -> Callable[..., tuple[Any, Any]]:
    """The attention function transformers calls: looks up each attention module's parameters in ``params``."""

    def attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                  scaling: float | None = None, dropout: float = 0.0, **_kwargs: Any) -> tuple[Any, Any]:
        return self_extend_attention(
            params.get(module), module, query, key, value, attention_mask, scaling=scaling, dropout=dropout
        )

    return attention


def _unregister(name: str) -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    # transformers has no public way to unregister; its registries are plain class-level dicts.
    AttentionInterface._global_mapping.pop(name, None)
    AttentionMaskInterface._global_mapping.pop(name, None)


class SelfExtend:
    """SelfExtend installed on one model by :func:`patch_self_extend`.

    transformers finds attention functions by name in a process-wide registry, so this
    registers a function under a name of its own (:attr:`name`) and points the model's
    ``config._attn_implementation`` at it. The parameters live here, per attention module
    (:attr:`params`, weakly keyed, so the registered function does not keep the model alive);
    the registration is dropped by :meth:`restore` or when the model is garbage-collected.
    """

    def __init__(self, hf: Any, params: Mapping[Any, SelfExtendParams]) -> None:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, eager_mask

        self.hf = hf
        self.name = f"docqa_selfextend_{uuid.uuid4().hex[:12]}"
        self.params: weakref.WeakKeyDictionary[Any, SelfExtendParams] = weakref.WeakKeyDictionary(params)
        self.previous_implementation: str | None = hf.config._attn_implementation
        AttentionInterface.register(self.name, _attention_function(self.params))
        AttentionMaskInterface.register(self.name, eager_mask)
        self._unregister = weakref.finalize(hf, _unregister, self.name)
        hf.set_attn_implementation(self.name)

    def restore(self) -> None:
        """Switch the model back to its previous attention implementation and drop the registration."""
        if self._unregister.alive:
            if self.previous_implementation is not None:
                self.hf.set_attn_implementation(self.previous_implementation)
            self._unregister()


def patch_self_extend(hf: Any, *, group: int, window: int, original_length: int) -> SelfExtend:
    """Switch a RoPE model's attention to SelfExtend (grouped positions beyond ``window``).

    Works on transformers models that use the attention-function interface (Llama, Qwen2,
    Mistral, ...). Inputs of at most ``original_length`` tokens use plain attention.

    :raises ModelError: the model has no RoPE, no pluggable attention, a cos/sin-scaling RoPE,
        or no q_proj/k_proj attention modules.
    """
    import torch

    rotaries = rotary_modules(hf)
    if not rotaries or not hasattr(hf, "set_attn_implementation"):
        raise ModelError(f"{type(hf).__name__} is not a RoPE model with pluggable attention; selfextend needs one")
    if float(getattr(rotaries[0], "attention_scaling", 1.0)) != 1.0:
        raise ModelError(f"{type(rotaries[0]).__name__} scales cos/sin; selfextend needs plain RoPE")
    shared = SelfExtendParams(group=group, window=window, original_length=original_length, rotary=rotaries[0])
    attention = [
        m for m in hf.modules() if isinstance(m, torch.nn.Module) and hasattr(m, "q_proj") and hasattr(m, "k_proj")
    ]
    if not attention:
        raise ModelError(f"{type(hf).__name__}: no q_proj/k_proj attention modules found for selfextend")
    return SelfExtend(hf, dict.fromkeys(attention, shared))
