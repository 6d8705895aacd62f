"""Position interpolation (PI) for embedders with a learned absolute position table.

BERT, MiniLM, MPNet and RoBERTa/XLM-R look up one learned row per position, so they have no
row for position 512 and beyond. LongEmbed (Zhu et al. 2024) extends them without training by
growing the table: with stride s = ceil(L_t / L_o), new row p is old row p / s, linearly
interpolated between its two neighbours (Position Interpolation, Chen et al. 2023, applied to
a table instead of to RoPE angles). The old rows land exactly on the anchor rows p = i·s.

:func:`interpolate_ape` does the surgery and returns a :class:`PositionInterpolation` that holds
every module and buffer it replaced, so the change can be switched (:meth:`~PositionInterpolation.anchors`)
and undone (:meth:`~PositionInterpolation.restore`).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ingest.core.errors import ModelError


def interpolation_stride(original: int, target: int) -> int:
    """LongEmbed's stride s = ceil(L_t / L_o), at least 1.

    >>> interpolation_stride(512, 4096), interpolation_stride(512, 1000), interpolation_stride(512, 256)
    (8, 2, 1)
    """
    return max(1, math.ceil(target / original))


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


def ape_embeddings(hf: Any) -> Any | None:
    """The embeddings module holding an absolute position table (``position_embeddings``), or None."""
    import torch

    for module in hf.modules():
        table = getattr(module, "position_embeddings", None)
        if isinstance(table, torch.nn.Embedding) and hasattr(module, "position_ids"):
            return module
    return None


def ape_offset(table: Any) -> int:
    """Rows before position 0: RoBERTa/XLM-R/MPNet number positions from padding_idx + 1 (a 514-row table)."""
    return int(table.padding_idx) + 1 if table.padding_idx is not None else 0


@functools.cache
def _positions_class() -> type:
    # Built on first use so that importing this module does not import torch.
    import torch

    class InterpolatedPositions(torch.nn.Embedding):
        """Position table grown by PI. In anchor mode, id p reads row offset + (p - offset)·stride."""

        def __init__(self, weight: torch.Tensor, *, offset: int, stride: int, padding_idx: int | None) -> None:
            super().__init__(weight.shape[0], weight.shape[1], padding_idx=padding_idx, _weight=weight)
            self.offset, self.stride, self.anchor_mode = offset, stride, False

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            if self.anchor_mode and self.stride > 1:
                ids = torch.where(ids >= self.offset, self.offset + (ids - self.offset) * self.stride, ids)
            return super().forward(ids)

    return InterpolatedPositions


@dataclass(frozen=True, slots=True)
class PositionInterpolation:
    """An interpolated position table installed by :func:`interpolate_ape`, with what it replaced.

    :param embeddings: the module that owns ``position_embeddings`` and ``position_ids``.
    :param table: the installed :class:`nn.Embedding` of offset + L_o·s rows.
    :param stride: the interpolation stride s.
    :param original_table: the table it replaced.
    :param original_buffers: ``position_ids`` (and ``token_type_ids`` when present) as they were.
    :param config: the model's config; ``max_position_embeddings`` now counts the new rows.
    :param original_max_positions: ``config.max_position_embeddings`` before.
    """

    embeddings: Any
    table: Any
    stride: int
    original_table: Any
    original_buffers: dict[str, Any]
    config: Any
    original_max_positions: int

    @contextlib.contextmanager
    def anchors(self) -> Iterator[None]:
        """Within this block position p reads anchor row p·s: inputs that fit L_o embed exactly as before."""
        self.table.anchor_mode = True
        try:
            yield
        finally:
            self.table.anchor_mode = False

    def restore(self) -> None:
        """Put the original table, buffers and config value back."""
        self.embeddings.position_embeddings = self.original_table
        for name, buffer in self.original_buffers.items():
            setattr(self.embeddings, name, buffer)  # an existing buffer: keeps its registration
        self.config.max_position_embeddings = self.original_max_positions


def interpolate_ape(hf: Any, target_len: int) -> PositionInterpolation:
    """Grow an absolute position table to ``target_len`` positions by linear PI.

    The new table has L_o·s rows (so every anchor row fits) after the RoBERTa offset rows,
    which are kept as they are. The ``position_ids`` / ``token_type_ids`` buffers and
    ``config.max_position_embeddings`` follow.

    :raises ModelError: the model has no absolute position table (RoPE models: use ntk, linear or selfextend).
    """
    import torch

    emb = ape_embeddings(hf)
    if emb is None:
        raise ModelError(f"{type(hf).__name__} has no absolute position table; use ntk, linear or selfextend")
    table = emb.position_embeddings
    offset = ape_offset(table)
    original = int(table.num_embeddings) - offset
    stride = interpolation_stride(original, target_len)
    weight = table.weight.detach()
    grown = interpolate_table(weight[offset:], stride=stride, length=original * stride)
    new_weight = torch.cat([weight[:offset], grown]).contiguous()
    new_table = _positions_class()(new_weight, offset=offset, stride=stride, padding_idx=table.padding_idx)
    new_table = new_table.to(device=weight.device)
    saved = {name: getattr(emb, name) for name in ("position_ids", "token_type_ids") if hasattr(emb, name)}
    done = PositionInterpolation(
        embeddings=emb,
        table=new_table,
        stride=stride,
        original_table=table,
        original_buffers=saved,
        config=hf.config,
        original_max_positions=hf.config.max_position_embeddings,
    )
    emb.position_embeddings = new_table
    rows = new_weight.shape[0]
    device = emb.position_ids.device
    emb.register_buffer("position_ids", torch.arange(rows, device=device).expand((1, -1)), persistent=False)
    if "token_type_ids" in saved:
        emb.register_buffer("token_type_ids", torch.zeros((1, rows), dtype=torch.long, device=device), persistent=False)
    hf.config.max_position_embeddings = rows
    return done
