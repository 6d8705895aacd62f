"""The ONNX embedders (ONNX Runtime, OpenVINO): exported locally from the packaged weights, verified by hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.factory import make_embedder
from ingest import onnx_embed
from ingest.core.errors import IndexMismatchError, ModelError
from ingest.core.settings import CacheSettings, EmbedSettings, Settings
from ingest.onnx_embed import OnnxEmbedder, auto_runtime, length_batches, pad_batch, pool

pytestmark = pytest.mark.slow

TEXTS = ["The ferry Kittiwake carries 210 passengers.", "def toll(n):\n    return 3 * n",
         "Ticket prices will rise by three percent next year to pay for new engines. " * 12, "x"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> CacheSettings:
    return CacheSettings(dir=str(tmp_path_factory.mktemp("onnx-cache")))


def test_fp32_export_gives_the_pytorch_vectors(minilm, cache: CacheSettings) -> None:
    onnx = make_embedder(EmbedSettings(backend="onnx"), cache)
    assert isinstance(onnx, OnnxEmbedder)
    a, b = onnx.embed_passages(TEXTS), minilm.embed_passages(TEXTS)
    assert a.shape == b.shape == (4, 384) and np.abs(a - b).max() < 1e-4
    assert onnx.count_tokens(TEXTS[0]) == minilm.count_tokens(TEXTS[0]) and onnx.max_length == minilm.max_length
    identity = onnx.identity()
    assert identity["runtime"] == "onnx" and len(identity["onnx_sha256"]) == 64
    assert {k: v for k, v in identity.items() if k not in ("runtime", "onnx_sha256")} == minilm.identity()


def test_int8_is_close_and_the_cache_is_verified(minilm, cache: CacheSettings) -> None:
    int8 = make_embedder(EmbedSettings(backend="onnx-int8"), cache)
    a, b = int8.embed_queries(TEXTS), minilm.embed_queries(TEXTS)
    assert (a * b).sum(axis=1).min() > 0.97  # cosine to the fp32 PyTorch vectors
    files = sorted((cache.root / "onnx").glob("*/model-int8.onnx"))
    assert len(files) == 1
    # no exporter provenance (stack traces naming this checkout's paths and line numbers): the same weights
    # and library versions give the same file, and the same sha256 in the index identity, on every machine
    assert b"onnx_embed.py" not in files[0].read_bytes() and b"stack_trace" not in files[0].read_bytes()
    sha = int8.identity()["onnx_sha256"]
    again = OnnxEmbedder(EmbedSettings(), cache, runtime="onnx-int8")  # from the cache: same file, same vectors
    assert again.identity()["onnx_sha256"] == sha and np.array_equal(again.embed_queries(TEXTS), a)
    files[0].write_bytes(files[0].read_bytes()[:-10] + b"0123456789")  # damaged: re-exported, never trusted
    fresh = OnnxEmbedder(EmbedSettings(), cache, runtime="onnx-int8")
    assert fresh.identity()["onnx_sha256"] == sha


def test_openvino_runs_the_fp32_export_within_bfloat16_rounding_of_pytorch(minilm, cache: CacheSettings) -> None:
    ov = make_embedder(EmbedSettings(backend="openvino"), cache)
    assert isinstance(ov, OnnxEmbedder)
    a, b = ov.embed_passages(TEXTS), minilm.embed_passages(TEXTS)
    assert (a * b).sum(axis=1).min() > 0.999  # bf16 compute on a CPU with bfloat16 instructions, else fp32
    identity = ov.identity()
    assert identity["runtime"] == "openvino" and identity["precision"] in ("bf16", "f32", "f16")
    fp32_file = sorted((cache.root / "onnx").glob("*/model.onnx"))
    assert identity["onnx_sha256"] == make_embedder(EmbedSettings(backend="onnx"), cache).identity()["onnx_sha256"]
    assert len(fp32_file) == 1  # one export serves ONNX Runtime fp32 and OpenVINO
    # batched or one at a time, longest first or not: each text gets its own vector
    one_by_one = np.vstack([ov.embed_passages([t]) for t in TEXTS])
    assert (one_by_one * a).sum(axis=1).min() > 0.9999
    assert ov.embed_passages([]).shape == (0, 384)


def test_length_batches_and_padding() -> None:
    assert length_batches([2, 5, 5, 1, 3], 2) == [[1, 2], [4, 0], [3]]
    assert length_batches([], 4) == []
    ids, mask = pad_batch([[101, 7, 102], [101, 102]], pad_id=0)
    assert ids.tolist() == [[101, 7, 102], [101, 102, 0]] and mask.sum() == 5 and ids.dtype == np.int64


@pytest.mark.parametrize(("built_with", "queried_with"), [("onnx", "auto"), ("openvino", "onnx")])
def test_an_index_refuses_queries_from_another_runtime(tmp_path: Path, cache: CacheSettings, built_with: str,
                                                       queried_with: str) -> None:
    from app.sdk import Index

    doc = tmp_path / "ferry.txt"
    doc.write_text("The ferry Kittiwake carries 210 passengers.\n\nIts captain is Ida Marsh.\n")
    settings = Settings().replace(embed={"backend": built_with}, cache={"dir": str(cache.root)})
    with Index.build([doc], tmp_path / "idx", settings=settings) as index:
        assert index.manifest.embedder["runtime"] == built_with
        assert "Ida Marsh" in index.search("who is the captain?", 1)[0].passage.text
    with Index.open(tmp_path / "idx", settings=Settings().replace(cache={"dir": str(cache.root)}),
                    embed_from_index=True) as reopened:  # as the CLI opens an index: with the runtime it was built with
        assert reopened.embedder.identity()["runtime"] == built_with
    with pytest.raises(IndexMismatchError, match="runtime"):
        Index.open(tmp_path / "idx", settings=Settings().replace(embed={"backend": queried_with},
                                                                 cache={"dir": str(cache.root)}))


def test_auto_takes_openvino_on_a_cpu_and_pytorch_where_onnx_does_not_apply(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert auto_runtime(EmbedSettings(device="cpu")) == "openvino"  # the packaged MiniLM
    monkeypatch.setattr(onnx_embed, "_importable", lambda module: module == "onnxruntime")
    assert auto_runtime(EmbedSettings(device="cpu")) == "onnx-int8"  # no OpenVINO installed
    monkeypatch.setattr(onnx_embed, "_importable", lambda module: False)
    assert auto_runtime(EmbedSettings(device="cpu")) == "sentence-transformers"
    monkeypatch.undo()
    assert auto_runtime(EmbedSettings(device="cuda")) == "sentence-transformers"
    assert auto_runtime(EmbedSettings(device="cpu", extension="pi", max_length=1024)) == "sentence-transformers"
    assert auto_runtime(EmbedSettings(device="cpu", model="someone/not-downloaded")) == "sentence-transformers"
    (tmp_path / "modules.json").write_text('[{"type": "sentence_transformers.models.Transformer", "path": ""}]')
    assert auto_runtime(EmbedSettings(device="cpu", model=str(tmp_path))) == "sentence-transformers"  # no pooling


def test_pooling_and_refusals() -> None:
    h = np.ones((1, 2, 3), dtype=np.float32)
    assert pool(h, np.array([[1, 0]]), mode="mean", normalise=True).shape == (1, 3)
    with pytest.raises(ModelError, match="needs the sentence-transformers backend"):
        OnnxEmbedder(EmbedSettings(extension="pi", max_length=1024))
    with pytest.raises(ValueError, match="unknown onnx runtime"):
        OnnxEmbedder(EmbedSettings(), runtime="tensorrt")
