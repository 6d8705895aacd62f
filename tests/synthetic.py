"""Generated indexes for scale tests and bench/scale.py: topic-clustered unit vectors and passages written
straight through :class:`retrieval.store.IndexWriter` (no parsing, no model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ingest.core.records import Document, Passage, passage_id
from retrieval.dense import DenseConfig
from retrieval.store import IndexReader, IndexWriter, Manifest

WORDS = ("ledger", "revenue", "turbine", "harbour", "glacier", "cipher", "lantern", "orchard", "quarry", "meadow",
         "falcon", "copper", "violet", "saddle", "beacon", "thistle", "marble", "canyon", "ember", "willow")
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "du", "fe", "gi", "ho", "ju", "be", "co",
              "da", "el", "fu", "ga", "hi", "ir", "ja", "ke", "lu", "mo", "na", "or", "pe")
VOCABULARY = WORDS + tuple(a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES)  # 27,020 words


def passage_words(seed: int, count: int = 12) -> list[str]:
    """``count`` words drawn from :data:`VOCABULARY` by a Zipf-Mandelbrot law, p(rank r) ~ 1/(r + 100): the
    content words of real text once its stopwords are gone (the most common word is in about 2% of passages,
    most words are rare), so keyword search meets both common and rare terms.

    >>> passage_words(1) == passage_words(1) != passage_words(2)
    True
    """
    u = np.random.default_rng(seed).random(count)
    n, q = len(VOCABULARY), 100.0
    ranks = np.minimum((q * ((n + q) / q) ** u - q).astype(np.int64), n - 1)  # the inverse of its CDF
    return [VOCABULARY[int(r)] for r in ranks]


def topic_chunks(n: int, dim: int, *, topics: int = 256, noise: float = 0.35, seed: int = 0,
                 chunk: int = 65_536) -> Iterator[np.ndarray]:
    """``n`` unit vectors in chunks, each a mix of two of ``topics`` random directions plus noise: clustered like
    sentence embeddings, with neighbours that are not trivially separated."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        a, b = rng.integers(0, topics, m), rng.integers(0, topics, m)
        w = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        x = w * centres[a] + (1 - w) * centres[b]
        x += rng.standard_normal((m, dim)).astype(np.float32) * (noise / np.sqrt(dim))
        yield x / np.linalg.norm(x, axis=1, keepdims=True)


def topic_vectors(n: int, dim: int, *, seed: int = 0) -> np.ndarray:
    """All of :func:`topic_chunks` at once."""
    return np.concatenate(list(topic_chunks(n, dim, seed=seed))) if n else np.zeros((0, dim), np.float32)


def _document(d: int, per_doc: int, pages: int) -> tuple[Document, list[Passage]]:
    source = f"gen/doc-{d:06d}.pdf"
    texts = [f"Passage {i} of document {d}: {' '.join(passage_words(d * per_doc + i))}." for i in range(per_doc)]
    text = "\n".join(texts)
    passages, start = [], 0
    for i, t in enumerate(texts):
        chars = (start, start + len(t))
        passages.append(Passage(passage_id(source, chars, t), f"d-{d:06d}", source, t, chars,
                                page=1 + i * pages // per_doc, kind="table" if i % 10 == 9 else "prose"))
        start += len(t) + 1
    doc = Document(f"d-{d:06d}", source, text, "pdf", page_count=pages)
    return doc, passages


def generated_documents(n: int, *, per_doc: int = 20, pages: int = 10) -> Iterator[tuple[Document, list[Passage]]]:
    """Documents of ``per_doc`` short passages each (the last document shorter), ``n`` passages in all."""
    for d in range((n + per_doc - 1) // per_doc):
        doc, passages = _document(d, per_doc, pages)
        yield doc, passages[: n - d * per_doc]


def write_generated(directory: Path, n: int, dim: int, *, dense: DenseConfig | None = None,
                    previous: IndexReader | None = None, seed: int = 0, per_doc: int = 20) -> Manifest:
    """A generated index of ``n`` passages with ``dim``-dimensional topic vectors, built by the real writer."""
    directory.mkdir(parents=True, exist_ok=True)
    chunks = topic_chunks(n, dim, seed=seed)
    buffer = np.zeros((0, dim), dtype=np.float32)
    writer = IndexWriter(directory, dim, dense=dense, previous=previous)
    for doc, passages in generated_documents(n, per_doc=per_doc):
        if len(buffer) < len(passages):
            buffer = np.concatenate([buffer, next(chunks)])
        writer.add_document(doc)
        writer.add_passages(passages, buffer[:len(passages)])
        buffer = buffer[len(passages):]
    return writer.commit(embedder={"model": "generated", "dim": dim}, splitter={"name": "generated"})
