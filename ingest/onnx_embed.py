"""ONNX Runtime embedder: a sentence-transformers model exported locally to ONNX (optionally int8-quantised).

The export runs here, from the same weights the PyTorch embedder loads (a packaged model, a local directory or
a hub id), never from a downloaded ONNX file. It is cached under ``<cache>/onnx/<key>/`` where the key hashes
the weights, the exporter and the variant; each cached file's sha256 is checked on load and recorded in the
embedder identity, so an index records exactly which file made its vectors. Pooling and normalisation follow
the model's own sentence-transformers modules (mean or CLS pooling, then L2 normalisation).

Backends: ``[embed] backend = "onnx"`` (fp32: the same vectors as PyTorch up to float rounding) or
``"onnx-int8"`` (dynamic int8 quantisation of the weights: faster, slightly different vectors). An index
built with one runtime refuses queries from another (the runtime is part of the identity).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.core.errors import ModelError
from ingest.core.settings import CacheSettings, EmbedSettings
from ingest.embed import TokenizerEmbedder, resolve_model_path

log = logging.getLogger(__name__)

OPSET = 18
EXPORT_VERSION = 2  # bump when the export recipe changes, so cached files are rebuilt


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def weights_key(model_dir: Path, *, quantize: bool) -> str:
    """Cache key of an export: the model's weight and config files, the recipe version and the variant."""
    h = hashlib.sha256(f"v{EXPORT_VERSION}|opset{OPSET}|int8={quantize}".encode())
    for name in sorted(os.listdir(model_dir)):
        if name.endswith((".safetensors", ".bin", "config.json")):
            h.update(name.encode() + _file_sha256(model_dir / name).encode())
    return h.hexdigest()[:16]


def pooling_of(model_dir: Path) -> tuple[str, bool, int, int]:
    """(pooling mode "mean" | "cls", normalise?, dimension, max_seq_length) from the sentence-transformers files.

    :raises ModelError: a pooling this embedder does not implement.
    """
    modules = json.loads((model_dir / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pool_dir = next((m["path"] for m in modules if m["type"].endswith("Pooling")), None)
    if pool_dir is None:
        raise ModelError(f"{model_dir}: no Pooling module; the onnx backend needs a sentence-transformers model")
    cfg = json.loads((model_dir / pool_dir / "config.json").read_text())
    mode = "mean" if cfg.get("pooling_mode_mean_tokens") else "cls" if cfg.get("pooling_mode_cls_token") else None
    if mode is None or sum(bool(v) for k, v in cfg.items() if k.startswith("pooling_mode")) != 1:
        raise ModelError(f"{model_dir}: pooling {cfg} is not mean or CLS; use the sentence-transformers backend")
    if any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
        raise ModelError(f"{model_dir}: modules {kinds} go beyond Transformer/Pooling/Normalize; "
                         "use the sentence-transformers backend")
    bert = json.loads((model_dir / "sentence_bert_config.json").read_text())
    return mode, "Normalize" in kinds, int(cfg["word_embedding_dimension"]), int(bert["max_seq_length"])


def pool(hidden: np.ndarray, mask: np.ndarray, *, mode: str, normalise: bool) -> np.ndarray:
    """Sentence vectors from token states, as sentence-transformers pools them.

    >>> h = np.array([[[1.0, 0.0], [3.0, 4.0], [9.0, 9.0]]], dtype=np.float32)
    >>> pool(h, np.array([[1, 1, 0]]), mode="mean", normalise=False).tolist()
    [[2.0, 2.0]]
    >>> pool(h, np.array([[1, 1, 0]]), mode="cls", normalise=True).tolist()
    [[1.0, 0.0]]
    """
    if mode == "cls":
        vecs = hidden[:, 0]
    else:
        m = mask[..., None].astype(np.float32)
        vecs = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    if normalise:
        vecs = vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)
    return np.ascontiguousarray(vecs, dtype=np.float32)


def export_onnx(model_dir: Path, target: Path, *, input_names: Sequence[str]) -> None:
    """Export the transformer of ``model_dir`` to ``target`` (token states for dynamic batch and length)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(model_dir, local_files_only=True, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    sample = tok(["an example input", "a second, longer example input"], padding=True, return_tensors="pt")

    class TokenStates(torch.nn.Module):  # keyword call: the model's positional order differs across versions
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state

    axes = {name: {0: "batch", 1: "seq"} for name in (*input_names, "token_states")}
    torch.onnx.export(TokenStates(model).eval(), tuple(sample[n] for n in input_names), str(target), dynamo=True,
                      opset_version=OPSET, input_names=list(input_names), output_names=["token_states"],
                      dynamic_axes=axes, external_data=False, verbose=False)  # one self-contained file to hash
    strip_provenance(target)


def strip_provenance(path: Path) -> None:
    """Drop the exporter's per-node provenance (Python stack traces naming this file's path and line numbers),
    so the same weights and library versions give the same bytes, and the same sha256, on every machine."""
    import onnx

    model = onnx.load(str(path))
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        graph.ClearField("doc_string")
        for node in graph.node:
            node.ClearField("metadata_props")
            node.ClearField("doc_string")
            graphs += [a.g for a in node.attribute if a.HasField("g")] + [g for a in node.attribute for g in a.graphs]
    for function in model.functions:
        for node in function.node:
            node.ClearField("metadata_props")
            node.ClearField("doc_string")
    onnx.save(model, str(path))


class OnnxEmbedder(TokenizerEmbedder):
    """Embeds with ONNX Runtime; cheap to construct, exports or loads on first use (:meth:`warm_up`).

    :param settings: the embed settings (``extension`` must be "none": context extension needs PyTorch).
    :param cache: where exports are cached.
    :param quantize: int8 dynamic quantisation of the exported weights.
    """

    def __init__(self, settings: EmbedSettings, cache: CacheSettings | None = None, *, quantize: bool = False) -> None:
        if settings.extension != "none":
            raise ModelError(f"extension {settings.extension!r} needs the sentence-transformers backend, not onnx")
        self.settings, self.cache, self.quantize = settings, cache or CacheSettings(), quantize
        self.runtime = "onnx-int8" if quantize else "onnx"
        self._session: Any = None
        self._tokenizer: Any = None
        self._file_sha256 = ""

    def warm_up(self) -> None:
        """Export (once, cached) and load the model (idempotent)."""
        if self._session is not None:
            return
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ModelError("the onnx embedder needs onnxruntime: pip install onnxruntime") from err
        from transformers import AutoTokenizer

        model_dir = Path(resolve_model_path(self.settings.model))
        if not model_dir.is_dir():
            raise ModelError(f"{self.settings.model}: the onnx backend exports from local weights (a packaged model "
                             "or a directory); download the model first")
        self._mode, self._normalise, self._dim, self._max_len = pooling_of(model_dir)
        self._max_len = min(self._max_len, self.settings.max_length or self._max_len)
        self._tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        path = self._cached_file(model_dir)
        self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        log.info("loaded %s as %s from %s", self.settings.model, self.runtime, path)

    def _cached_file(self, model_dir: Path) -> Path:
        """The verified ONNX file for this model and variant, exported (atomically) when missing or damaged."""
        folder = self.cache.root / "onnx" / weights_key(model_dir, quantize=self.quantize)
        target = folder / ("model-int8.onnx" if self.quantize else "model.onnx")
        stamp = folder / "sha256.json"
        if target.is_file() and stamp.is_file():
            recorded = json.loads(stamp.read_text()).get(target.name)
            digest = _file_sha256(target)
            if digest == recorded:
                self._file_sha256 = digest
                return target
            log.warning("%s: cached export fails its sha256 check; exporting again", target)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{os.getpid()}"
        tmp.mkdir(exist_ok=True)
        try:
            names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
                     if n in self._tokenizer("x", return_tensors="np")]
            export_onnx(model_dir, tmp / "model.onnx", input_names=names)
            made = tmp / "model.onnx"
            if self.quantize:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                # per-channel int8 on the MatMul weights: cosine to fp32 >= 0.98 on MiniLM, where per-tensor
                # quantisation of every op fell to 0.91 (tests/test_onnx_embed.py)
                quantize_dynamic(str(made), str(tmp / "model-int8.onnx"), weight_type=QuantType.QInt8,
                                 per_channel=True, op_types_to_quantize=["MatMul"])
                made = tmp / "model-int8.onnx"
            self._file_sha256 = _file_sha256(made)
            os.replace(made, target)
            stamps = json.loads(stamp.read_text()) if stamp.is_file() else {}
            stamp.write_text(json.dumps({**stamps, target.name: self._file_sha256}))
        except Exception as err:  # noqa: BLE001  (the exporter raises many kinds; one line for the user)
            raise ModelError(f"cannot export {self.settings.model} to ONNX: {str(err).splitlines()[0]}") from err
        finally:
            for leftover in tmp.iterdir():
                leftover.unlink()
            tmp.rmdir()
        return target

    # -- the Embedder protocol ------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Vector dimension."""
        self.warm_up()
        return self._dim

    @property
    def max_length(self) -> int:
        """Tokens per input (longer inputs are truncated, as sentence-transformers does)."""
        self.warm_up()
        return self._max_len

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer."""
        self.warm_up()
        return self._tokenizer

    def identity(self) -> dict[str, object]:
        """What changes the vectors: the settings, the runtime and the exact ONNX file (exported or loaded here)."""
        self.warm_up()
        return {**self.vector_identity(), "runtime": self.runtime, "onnx_sha256": self._file_sha256}

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths batch together
        names = {i.name for i in self._session.get_inputs()}
        for start in range(0, len(order), self.settings.batch_size):
            idx = order[start:start + self.settings.batch_size]
            enc = self._tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=self._max_len,
                                  return_tensors="np")
            feed = {k: v.astype(np.int64) for k, v in enc.items() if k in names}
            (states,) = self._session.run(None, feed)
            out[idx] = pool(states, enc["attention_mask"], mode=self._mode, normalise=self._normalise)
        return out

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for passages, shape (n, dim)."""
        prefix = self.settings.passage_prefix
        return self._encode([prefix + t for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for queries, shape (n, dim)."""
        prefix = self.settings.query_prefix
        return self._encode([prefix + t for t in texts])


def onnx_int8(settings: EmbedSettings, cache: CacheSettings | None = None) -> OnnxEmbedder:
    """The int8-quantised ONNX embedder (registry name ``onnx-int8``)."""
    return OnnxEmbedder(settings, cache, quantize=True)


def auto_runtime(settings: EmbedSettings) -> str:
    """The runtime ``[embed] backend = "auto"`` (the default) picks: ``onnx-int8`` on a CPU for a local
    sentence-transformers model with mean or CLS pooling and no context extension (2.2x PyTorch's speed; hybrid
    hit@5 within a point on SQuAD and code, 3.8 points lower on FinanceBench: bench/RESULTS.md), else
    ``sentence-transformers`` (a GPU, an extension, a hub id not downloaded yet, another pooling, or no
    onnxruntime)."""
    from ingest.embed import device_default

    if settings.extension != "none" or (settings.device or device_default()) != "cpu":
        return "sentence-transformers"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "sentence-transformers"
    model_dir = Path(resolve_model_path(settings.model))
    try:
        if not model_dir.is_dir():
            return "sentence-transformers"
        pooling_of(model_dir)
    except (ModelError, OSError, KeyError, ValueError):
        return "sentence-transformers"
    return "onnx-int8"


def auto_embedder(settings: EmbedSettings, cache: CacheSettings | None = None) -> Any:
    """The embedder :func:`auto_runtime` picks (registry name ``auto``); its identity names the runtime."""
    if auto_runtime(settings) == "onnx-int8":
        return onnx_int8(settings, cache)
    from ingest.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings, cache)
