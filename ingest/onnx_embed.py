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

Starting is cheap (``docqa search`` from a fresh process): the tokenizer is the model's ``tokenizer.json`` run by
the ``tokenizers`` library (:class:`FastTokenizer`, the same ids as the Hugging Face tokenizer; ``transformers``
and PyTorch are imported only to export), the identity needs no loaded model (an up-to-date ``docqa index`` loads
none), and OpenVINO's compiled model is cached beside the export (``openvino-<key>.blob``, sha256-verified like
the export, imported instead of compiled again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
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


def known_weights_key(model_dir: Path, *, quantize: bool, memo: Path) -> str:
    """:func:`weights_key`, remembered in ``memo`` (JSON) with each hashed file's size and modification time, as
    a build remembers a document's: the weights (90 MB for MiniLM) are hashed again only when one of them
    changed. A memo that cannot be written costs the next start the hashing, nothing else."""
    names = sorted(n for n in os.listdir(model_dir) if n.endswith((".safetensors", ".bin", "config.json")))
    files = [[name, st.st_size, st.st_mtime_ns] for name in names for st in [os.stat(model_dir / name)]]
    entry = f"{model_dir.resolve()}|v{EXPORT_VERSION}|opset{OPSET}|int8={quantize}"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    hit = known.get(entry)
    if isinstance(hit, dict) and hit.get("files") == files and isinstance(hit.get("key"), str):
        return str(hit["key"])
    key = weights_key(model_dir, quantize=quantize)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(memo, json.dumps({**known, entry: {"files": files, "key": key}}).encode())
    except OSError as err:
        log.info("%s: weights key not remembered: %s", memo, err)
    return key


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


@contextlib.contextmanager
def _library_logs_propagate(*packages: str) -> Iterator[None]:
    """While the exporter runs, the loggers of ``packages`` that print through handlers of their own (PyTorch's
    ``torch.*``, ``transformers``) send their records up to the application's log instead, as every other
    library's do: the CLI shows them with ``-v`` and keeps them off a normal run's terminal."""
    saved = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (isinstance(logger, logging.Logger) and logger.handlers
                and any(name == p or name.startswith(p + ".") for p in packages)):
            saved.append((logger, logger.handlers[:], logger.propagate))
            for handler in logger.handlers[:]:
                logger.removeHandler(handler)
            logger.propagate = True
    try:
        yield
    finally:
        for logger, handlers, propagate in saved:
            logger.propagate = propagate
            for handler in handlers:
                logger.addHandler(handler)


def export_onnx(model_dir: Path, target: Path, *, input_names: Sequence[str]) -> None:
    """Export the transformer of ``model_dir`` to ``target`` (token states for dynamic batch and length)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    class TokenStates(torch.nn.Module):  # keyword call: the model's positional order differs across versions
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state

    axes = {name: {0: "batch", 1: "seq"} for name in (*input_names, "token_states")}
    with _library_logs_propagate("torch", "transformers"):
        model = AutoModel.from_pretrained(model_dir, local_files_only=True, attn_implementation="eager").eval()
        tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        sample = tok(["an example input", "a second, longer example input"], padding=True, return_tensors="pt")
        torch.onnx.export(TokenStates(model).eval(), tuple(sample[n] for n in input_names), str(target),
                          dynamo=True, opset_version=OPSET, input_names=list(input_names),
                          output_names=["token_states"], dynamic_axes=axes, external_data=False,
                          verbose=False)  # one self-contained file to hash
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


class FastTokenizer:
    """A model's ``tokenizer.json`` run by the ``tokenizers`` library, called as docqa calls a Hugging Face fast
    tokenizer (which runs the same file: the same ids and offsets), without importing ``transformers``.

    The truncation and padding stored in the file are cleared; each call asks for what it needs, as the Hugging
    Face tokenizer does, under a lock (one call's truncation never reaches another's).

    :param path: the ``tokenizer.json``.
    :param pad_token: the padding token (its id is :attr:`pad_token_id`).
    """

    def __init__(self, path: Path, *, pad_token: str | None = None) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        stored_pad = (self._tokenizer.padding or {}).get("pad_token")
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._lock = threading.Lock()
        pad = pad_token or stored_pad
        self.pad_token_id: int | None = self._tokenizer.token_to_id(pad) if pad else None

    @classmethod
    def of(cls, model_dir: Path) -> FastTokenizer | None:
        """The tokenizer of a model directory (None: it has no ``tokenizer.json``); the padding token from its
        ``tokenizer_config.json`` or ``special_tokens_map.json``."""
        path = model_dir / "tokenizer.json"
        if not path.is_file():
            return None
        pad: Any = None
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            if pad is None and (model_dir / name).is_file():
                pad = json.loads((model_dir / name).read_text()).get("pad_token")
        if isinstance(pad, dict):  # an AddedToken written out
            pad = pad.get("content")
        return cls(path, pad_token=pad if isinstance(pad, str) else None)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """Special tokens added to one text (or a pair)."""
        return int(self._tokenizer.num_special_tokens_to_add(pair))

    def __call__(self, text: str | Sequence[str], *, add_special_tokens: bool = True, truncation: bool = False,
                 max_length: int | None = None, return_offsets_mapping: bool = False,
                 verbose: bool = True) -> dict[str, Any]:
        """``input_ids`` and ``attention_mask`` (with ``offset_mapping`` when asked) of one text (lists) or of
        several (lists of lists), cut to ``max_length`` tokens with ``truncation``.

        ``verbose`` is accepted for the Hugging Face signature; nothing is logged.

        :raises ValueError: ``truncation`` without ``max_length``.
        :raises TypeError: a text the tokenizer cannot take (lone surrogates), as from Hugging Face.
        """
        if truncation and max_length is None:
            raise ValueError("truncation needs max_length")
        single = isinstance(text, str)
        texts = [text] if isinstance(text, str) else list(text)
        with self._lock:
            if max_length is not None and truncation:
                self._tokenizer.enable_truncation(max_length)
            try:
                encodings = self._tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)
            finally:
                self._tokenizer.no_truncation()
        out: dict[str, Any] = {"input_ids": [e.ids for e in encodings],
                               "attention_mask": [e.attention_mask for e in encodings]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encodings]
        return {key: value[0] for key, value in out.items()} if single else out


def _hf_tokenizer(model_dir: Path) -> Any:
    """The Hugging Face tokenizer of a model without a ``tokenizer.json`` (imports ``transformers``)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir, local_files_only=True)


@dataclass(frozen=True)
class Engine:
    """A loaded model: ``run`` maps named int64 inputs to token states (batch, tokens, dim)."""

    run: Callable[[dict[str, np.ndarray]], np.ndarray]
    inputs: frozenset[str]
    precision: str = "f32"  # what the weights are computed in: "f32", "bf16" or "int8"


def open_onnxruntime(path: Path, *, precision: str = "f32") -> Engine:
    """ONNX Runtime on the CPU (its sessions are safe to call from several threads). ``precision`` is the
    ``openvino`` signature's; ONNX Runtime computes in the file's own types. (Its optimised-model file is not
    cached: reading one back was no faster than building the session, bench/RESULTS.md session 9.)"""
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ModelError("the onnx embedder needs onnxruntime: pip install onnxruntime") from err
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return Engine(lambda feed: session.run(None, feed)[0], frozenset(i.name for i in session.get_inputs()))


def _openvino() -> Any:
    try:
        import openvino as ov
    except ImportError as err:
        raise ModelError("the openvino embedder needs OpenVINO: pip install openvino") from err
    return ov


_OV: dict[str, Any] = {}  # the process's OpenVINO Core (its CPU plugin loads once) and this CPU's precision
_OV_LOCK = threading.Lock()


def _openvino_core() -> Any:
    with _OV_LOCK:
        if "core" not in _OV:
            _OV["core"] = _openvino().Core()
        return _OV["core"]


def openvino_precision() -> str:
    """The precision OpenVINO computes in on this CPU when asked for none ("bf16" where the CPU has bfloat16
    instructions, else "f32"): a property of the device, read without compiling a model (once per process)."""
    if "precision" not in _OV:
        try:
            _OV["precision"] = _openvino_core().get_property("CPU", "INFERENCE_PRECISION_HINT").to_string()
        except RuntimeError as err:
            raise ModelError(f"OpenVINO cannot use the CPU: {str(err).strip().splitlines()[0]}") from err
    return str(_OV["precision"])


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _stamps(folder: Path) -> dict[str, str]:
    """The sha256 recorded for each file of an export folder (``sha256.json``; unreadable: none)."""
    try:
        stamps = json.loads((folder / "sha256.json").read_text())
    except (OSError, ValueError):
        return {}
    return stamps if isinstance(stamps, dict) else {}


def _stamp(folder: Path, name: str, digest: str) -> None:
    """Record ``name``'s sha256 in the folder's ``sha256.json`` (replaced whole, never half-written)."""
    _write_atomically(folder / "sha256.json", json.dumps({**_stamps(folder), name: digest}).encode())


def open_openvino(path: Path, *, precision: str | None = None) -> Engine:
    """OpenVINO on the CPU, tuned for one caller at a time (one stream on every core), computing in
    ``precision`` (default: :func:`openvino_precision`, the one OpenVINO picks for this CPU).

    The compiled model is cached beside ``path`` (``openvino-<key>.blob``, the key naming the file's sha256
    as recorded in ``sha256.json``, the OpenVINO version, the CPU and the settings) and imported on the next
    start when its own recorded sha256 matches; else (missing, damaged, refused by this OpenVINO) it is compiled
    from ``path`` again and the cache rewritten.
    """
    ov = _openvino()
    precision = precision or openvino_precision()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
    try:
        core = _openvino_core()
        device = core.get_property("CPU", "FULL_DEVICE_NAME")
        source = _stamps(path.parent).get(path.name) or _file_sha256(path)
        key = hashlib.sha256(json.dumps([source, ov.get_version(), device, config]).encode()).hexdigest()[:16]
        blob = path.with_name(f"openvino-{key}.blob")
        compiled, keep = _import_blob(core, blob, config), None
        if compiled is not None:
            compiled, keep = compiled
        else:
            compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
            _export_blob(compiled, blob)
        actual = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
    except RuntimeError as err:
        raise ModelError(f"{path}: OpenVINO cannot load it: {str(err).strip().splitlines()[0]}") from err
    request, lock = compiled.create_infer_request(), threading.Lock()

    def run(feed: dict[str, np.ndarray], _keep: object = keep) -> np.ndarray:  # _keep: the blob's memory map
        with lock:  # an infer request serves one call at a time
            request.infer(feed)
            return request.get_output_tensor(0).data.copy()

    return Engine(run, frozenset(i.get_any_name() for i in compiled.inputs), actual)


def _import_blob(core: Any, blob: Path, config: dict[str, str]) -> tuple[Any, object] | None:
    """(the compiled model, the memory map it was read from) from a cached blob whose sha256 is the one recorded;
    None when there is none or it cannot be used (the caller compiles)."""
    recorded = _stamps(blob.parent).get(blob.name)
    try:
        f = open(blob, "rb")  # noqa: SIM115  (hashed and mapped through the one descriptor: the same bytes)
    except OSError:
        return None
    with f:
        if recorded is None or hashlib.file_digest(f, "sha256").hexdigest() != recorded:
            log.warning("%s: cached compiled model has no recorded sha256 or fails its check; compiling again", blob)
            return None
        import openvino as ov

        try:  # a private copy-on-write map: nothing is written back, and the file is never read into a copy
            data = np.memmap(f, dtype=np.uint8, mode="c")
            return core.import_model(ov.Tensor(data, shared_memory=True), "CPU", config), data
        except (RuntimeError, ValueError, OSError) as err:  # another OpenVINO or CPU: compile instead
            log.info("%s: cannot import (%s); compiling again", blob, str(err).strip().splitlines()[0] or err)
            return None


def _export_blob(compiled: Any, blob: Path) -> None:
    """Write the compiled model's blob and record its sha256; a failure only costs the next start a compile."""
    try:
        data = compiled.export_model()
        data = data.getvalue() if hasattr(data, "getvalue") else bytes(data)
        _write_atomically(blob, data)
        _stamp(blob.parent, blob.name, hashlib.sha256(data).hexdigest())
    except (RuntimeError, OSError) as err:
        log.info("%s: compiled model not cached: %s", blob, err)


RUNTIMES = {"onnx": ("onnxruntime", False), "onnx-int8": ("onnxruntime", True), "openvino": ("openvino", False)}
ENGINES = {"onnxruntime": open_onnxruntime, "openvino": open_openvino}


class OnnxEmbedder(TokenizerEmbedder):
    """Embeds with a locally exported ONNX file; cheap to construct, exports or loads on first use (:meth:`warm_up`).

    Its :meth:`identity`, :attr:`dim`, :attr:`max_length`, :attr:`tokenizer` and token counts need no loaded
    model: only embedding loads one.

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
        self._lock = threading.RLock()  # one export and one load, whichever thread asks first
        self._engine: Engine | None = None
        self._tokenizer: Any = None
        self._model_dir: Path | None = None
        self._onnx_file: Path | None = None
        self._file_sha256 = ""
        self._precision = "int8" if self.quantize else "f32"

    def _model_path(self) -> Path:
        """The local model directory (the onnx backends export from local weights only)."""
        if self._model_dir is None:
            model_dir = Path(resolve_model_path(self.settings.model))
            if not model_dir.is_dir():
                raise ModelError(f"{self.settings.model}: the {self.runtime} backend exports from local weights (a "
                                 "packaged model or a directory); download the model first")
            self._model_dir = model_dir
        return self._model_dir

    def _describe(self) -> Path:
        """What the identity needs, without loading the model: pooling, length and dimension from the model's
        files, the verified ONNX file (exported once: when missing or damaged) and, for OpenVINO, the precision
        it computes in on this CPU. Returns the ONNX file (idempotent)."""
        with self._lock:
            if self._onnx_file is not None:
                return self._onnx_file
            model_dir = self._model_path()
            self._mode, self._normalise, self._dim, self._max_len = pooling_of(model_dir)
            self._max_len = min(self._max_len, self.settings.max_length or self._max_len)
            path = self._cached_file(model_dir)
            if self._engine_name == "openvino":
                self._precision = openvino_precision()
            self._onnx_file = path
            return path

    def warm_up(self) -> None:
        """Export (once, cached) and load the model (idempotent)."""
        with self._lock:
            if self._engine is not None:
                return
            path = self._describe()
            self._pad_id = self.tokenizer.pad_token_id or 0
            engine = ENGINES[self._engine_name](path, precision=self._precision)
            if engine.precision != self._precision and not self.quantize:
                raise ModelError(f"{path}: {self.runtime} computes in {engine.precision}, not the {self._precision} "
                                 "its identity names")
            self._engine = replace(engine, precision="int8") if self.quantize else engine
            log.info("loaded %s as %s (%s) from %s", self.settings.model, self.runtime, self._engine.precision, path)

    def _cached_file(self, model_dir: Path) -> Path:
        """The verified ONNX file for this model and variant, exported (atomically) when missing or damaged."""
        root = self.cache.root / "onnx"
        folder = root / known_weights_key(model_dir, quantize=self.quantize, memo=root / "weights-keys.json")
        target = folder / ("model-int8.onnx" if self.quantize else "model.onnx")
        if target.is_file():
            recorded = _stamps(folder).get(target.name)
            digest = _file_sha256(target)
            if digest == recorded:
                self._file_sha256 = digest
                return target
            log.warning("%s: cached export fails its sha256 check; exporting again", target)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{os.getpid()}"
        tmp.mkdir(exist_ok=True)
        try:
            hf = _hf_tokenizer(model_dir)  # the exporter's sample inputs: transformers is imported to export anyway
            names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in hf("x", return_tensors="np")]
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
            _stamp(folder, target.name, self._file_sha256)
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
        self._describe()
        return self._dim

    @property
    def max_length(self) -> int:
        """Tokens per input (longer inputs are truncated, as sentence-transformers does)."""
        self._describe()
        return self._max_len

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (:class:`FastTokenizer` on its ``tokenizer.json``; loads no model)."""
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    model_dir = self._model_path()
                    self._tokenizer = FastTokenizer.of(model_dir) or _hf_tokenizer(model_dir)
        return self._tokenizer

    def identity(self) -> dict[str, object]:
        """What changes the vectors: the settings, the runtime (with OpenVINO, its precision) and the exact ONNX
        file (exported or verified here; no model is loaded)."""
        self._describe()
        extra = {"precision": self._precision} if self.runtime == "openvino" else {}
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
