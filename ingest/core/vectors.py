"""Pure vector helpers shared by several stages.

Neutral layer (see :mod:`ingest.core.records`): imports no stage.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mean_unit_vectors(vectors: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Per group of row indices: the mean of those rows of ``vectors``, L2-normalised, as float32.

    A group that is empty, or whose mean is the zero vector, gives a zero row. An index's unit and file
    vectors are such means of their passages' vectors; chunk-and-pool embedding takes the same mean of a
    long text's window vectors.

    >>> v = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]], dtype=np.float32)
    >>> mean_unit_vectors(v, [[0, 1], [2], []]).astype(float).round(4).tolist()
    [[0.7071, 0.7071], [0.6, 0.8], [0.0, 0.0]]
    """
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    out = np.zeros((len(groups), dim), dtype=np.float32)
    for i, rows in enumerate(groups):
        if len(rows):
            out[i] = vectors[list(rows)].mean(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
