"""ONNX embedders: a sentence-transformers model exported locally to ONNX, run by OpenVINO or ONNX Runtime.

The export runs here, from the same weights the PyTorch embedder loads (a packaged model, a local directory or
a hub id), never from a downloaded ONNX file. It is cached under ``<cache>/onnx/<key>/`` where the key hashes
the weights, the exporter and the variant; each cached file's sha256 is checked on load and recorded in the
embedder identity, so an index records exactly which file made its vectors. Pooling and normalisation follow
the model's own sentence-transformers modules (mean or CLS pooling, then L2 normalisation).

Runtimes (``[embed] backend``), each running the same locally exported file:

- ``"openvino"``: OpenVINO on the fp32 export, at the precision the CPU runs fastest (bfloat16 where the CPU
  has it, else fp32; recorded in the identity). On the 2-core build machine it is the fastest runtime and
  stays within 1e-4 cosine of PyTorch (bench/RESULTS.md, session 7).
- ``"onnx"``: ONNX Runtime fp32 (PyTorch's vectors up to float rounding).
- ``"onnx-int8"``: ONNX Runtime with dynamic int8 quantisation of the weights (slightly different vectors).

Inputs are tokenised once and batched by token count, longest first, so a batch pads to nearly its own length
(sorting by characters left 27% of a PDF corpus's tokens as padding). An index built with one runtime refuses
queries from another (the runtime is part of the identity).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of ``batch_size``, longest first, so each batch pads to its first length.

    >>> length_batches([3, 9, 1, 7], 2)
    [[1, 3], [0, 2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(token ids padded with ``pad_id`` to the longest row, attention mask), both int64.

    >>> ids, mask = pad_batch([[5, 6, 7], [8]], 0)
    >>> ids.tolist(), mask.tolist()
    ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]])
    """
    width = max((len(r) for r in rows), default=0)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = row
        mask[i, :len(row)] = 1
    return ids, mask


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


@dataclass(frozen=True)
class Engine:
    """A loaded model: ``run`` maps named int64 inputs to token states (batch, tokens, dim)."""

    run: Callable[[dict[str, np.ndarray]], np.ndarray]
    inputs: frozenset[str]
    precision: str = "f32"  # what the weights are computed in: "f32", "bf16" or "int8"


def open_onnxruntime(path: Path) -> Engine:
    """ONNX Runtime on the CPU (its sessions are safe to call from several threads)."""
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ModelError("the onnx embedder needs onnxruntime: pip install onnxruntime") from err
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return Engine(lambda feed: session.run(None, feed)[0], frozenset(i.name for i in session.get_inputs()))


def open_openvino(path: Path) -> Engine:
    """OpenVINO on the CPU, tuned for one caller at a time (one stream on every core); the precision is the
    one OpenVINO picks for this CPU (bf16 where the CPU has bfloat16 instructions, else f32)."""
    try:
        import openvino as ov
    except ImportError as err:
        raise ModelError("the openvino embedder needs OpenVINO: pip install openvino") from err
    try:
        core = ov.Core()
        compiled = core.compile_model(core.read_model(str(path)), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
        precision = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
    except RuntimeError as err:
        raise ModelError(f"{path}: OpenVINO cannot load it: {str(err).strip().splitlines()[0]}") from err
    request, lock = compiled.create_infer_request(), threading.Lock()

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        with lock:  # an infer request serves one call at a time
            request.infer(feed)
            return request.get_output_tensor(0).data.copy()

    return Engine(run, frozenset(i.get_any_name() for i in compiled.inputs), precision)


RUNTIMES = {"onnx": ("onnxruntime", False), "onnx-int8": ("onnxruntime", True), "openvino": ("openvino", False)}
ENGINES = {"onnxruntime": open_onnxruntime, "openvino": open_openvino}


class OnnxEmbedder(TokenizerEmbedder):
    """Embeds with a locally exported ONNX file; cheap to construct, exports or loads on first use (:meth:`warm_up`).

    :param settings: the embed settings (``extension`` must be "none": context extension needs PyTorch).
    :param cache: where exports are cached.
    :param runtime: "onnx" (ONNX Runtime fp32), "onnx-int8" (int8 weights) or "openvino".
    """

    def __init__(self, settings: EmbedSettings, cache: CacheSettings | None = None, *, runtime: str = "onnx") -> None:
        if settings.extension != "none":
            raise ModelError(f"extension {settings.extension!r} needs the sentence-transformers backend, not {runtime}")
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown onnx runtime {runtime!r}; one of {sorted(RUNTIMES)}")
        self.settings, self.cache, self.runtime = settings, cache or CacheSettings(), runtime
        self._engine_name, self.quantize = RUNTIMES[runtime]
        self._engine: Engine | None = None
        self._tokenizer: Any = None
        self._file_sha256 = ""

    def warm_up(self) -> None:
        """Export (once, cached) and load the model (idempotent)."""
        if self._engine is not None:
            return
        from transformers import AutoTokenizer

        model_dir = Path(resolve_model_path(self.settings.model))
        if not model_dir.is_dir():
            raise ModelError(f"{self.settings.model}: the {self.runtime} backend exports from local weights (a "
                             "packaged model or a directory); download the model first")
        self._mode, self._normalise, self._dim, self._max_len = pooling_of(model_dir)
        self._max_len = min(self._max_len, self.settings.max_length or self._max_len)
        self._tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self._pad_id = self._tokenizer.pad_token_id or 0
        path = self._cached_file(model_dir)
        engine = ENGINES[self._engine_name](path)
        self._engine = replace(engine, precision="int8") if self.quantize else engine
        log.info("loaded %s as %s (%s) from %s", self.settings.model, self.runtime, self._engine.precision, path)

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
        """What changes the vectors: the settings, the runtime (with OpenVINO, its precision) and the exact ONNX
        file (exported or loaded here)."""
        self.warm_up()
        extra = {"precision": self._engine.precision} if self.runtime == "openvino" else {}  # type: ignore[union-attr]
        return {**self.vector_identity(), "runtime": self.runtime, "onnx_sha256": self._file_sha256, **extra}

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        ids = self._tokenizer(list(texts), truncation=True, max_length=self._max_len, verbose=False)["input_ids"]
        engine: Engine = self._engine  # type: ignore[assignment]
        for idx in length_batches([len(row) for row in ids], self.settings.batch_size):
            input_ids, mask = pad_batch([ids[i] for i in idx], self._pad_id)
            feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
            states = engine.run({k: v for k, v in feed.items() if k in engine.inputs})
            out[idx] = pool(states, mask, mode=self._mode, normalise=self._normalise)
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
    """The int8-quantised ONNX Runtime embedder (registry name ``onnx-int8``)."""
    return OnnxEmbedder(settings, cache, runtime="onnx-int8")


def openvino(settings: EmbedSettings, cache: CacheSettings | None = None) -> OnnxEmbedder:
    """The OpenVINO embedder (registry name ``openvino``)."""
    return OnnxEmbedder(settings, cache, runtime="openvino")


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def auto_runtime(settings: EmbedSettings) -> str:
    """The runtime ``[embed] backend = "auto"`` (the default) picks.

    On a CPU, for a local sentence-transformers model with mean or CLS pooling and no context extension:
    ``openvino`` (on the build machine 2.4x PyTorch's speed at 1e-4 cosine from its vectors), else ``onnx-int8``
    when only ONNX Runtime is installed. Otherwise (a GPU, an extension, a hub id not downloaded yet, another
    pooling) ``sentence-transformers``. Measurements: bench/RESULTS.md, sessions 6 and 7.
    """
    from ingest.embed import device_default

    if settings.extension != "none" or (settings.device or device_default()) != "cpu":
        return "sentence-transformers"
    model_dir = Path(resolve_model_path(settings.model))
    try:
        if not model_dir.is_dir():
            return "sentence-transformers"
        pooling_of(model_dir)
    except (ModelError, OSError, KeyError, ValueError):
        return "sentence-transformers"
    for runtime, module in (("openvino", "openvino"), ("onnx-int8", "onnxruntime")):
        if _importable(module):
            return runtime
    return "sentence-transformers"


def auto_embedder(settings: EmbedSettings, cache: CacheSettings | None = None) -> Any:
    """The embedder :func:`auto_runtime` picks (registry name ``auto``); its identity names the runtime."""
    runtime = auto_runtime(settings)
    if runtime in RUNTIMES:
        return OnnxEmbedder(settings, cache, runtime=runtime)
    from ingest.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings, cache)
