"""Encoding inputs longer than a window: token windows, chunk-and-pool, length batches, document vectors.

Chunk-and-pool is the simplest training-free way to embed a long text: cut it into pieces
the model can read, embed each, average. LongEmbed (Zhu et al. 2024) calls it PCW, after
Parallel Context Windows (Ratner et al. 2023), and uses it as the baseline the
position-changing methods (``ingest.extend``) are measured against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


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


def st_encode(st: Any, texts: Sequence[str], *, batch_size: int, normalize: bool) -> np.ndarray:
    """``SentenceTransformer.encode`` as float32, shape (len(texts), dim), without a progress bar."""
    vecs = st.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=normalize, convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)


def chunk_and_pool(
    st: Any, texts: Sequence[str], *, window: int, max_length: int | None, batch_size: int
) -> np.ndarray:
    """Chunk-and-pool: embed ``window``-token pieces, average each text's pieces, normalise.

    Covers the first ``max_length`` tokens of each text (all of it when None).
    """
    pieces = [token_windows(st.tokenizer, t, window=window, max_length=max_length) for t in texts]
    flat = [p for ps in pieces for p in ps]
    vecs = st_encode(st, flat, batch_size=batch_size, normalize=False)
    return pool_windows(vecs, [len(ps) for ps in pieces])


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
