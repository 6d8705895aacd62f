"""Instant start (issue 23): the commands load only what they use, library warnings stay off a normal run's
terminal, the answer is printed once, and the ONNX embedders start from their caches (tokenizer without
transformers, OpenVINO's compiled model verified by hash)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from app import cli
from app.changes import checked_note
from app.cli import main
from ingest.core.records import Completion, Message
from ingest.core.settings import CacheSettings, EmbedSettings, LLMSettings, Settings
from tests.fakes import FakeEmbedder, ScriptedLLM

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "sentence_transformers", "langchain_text_splitters")
MODEL_FREE = (*HEAVY, "openvino", "onnxruntime", "tokenizers")
# Runs one command as `docqa` would, then reports the modules it imported and whether an embedder loaded its
# model (argv[1]: the modules asked about; the rest: the command line).
DRIVER = """
import json, sys
from app.cli import main
code = main(sys.argv[2:])
imported = [name for name in json.loads(sys.argv[1]) if name in sys.modules]
from app.runtime import default_runtime
loaded = [getattr(e, "_engine", None) is not None for e in default_runtime()._embedders.values()]
print("\\nDRIVER " + json.dumps({"code": code, "imported": imported, "loaded": loaded}))
"""
NOTES = "The spare key is hidden under the blue flowerpot.\n\nCall the plumber on Monday.\n"


def _docqa(modules: Sequence[str], *argv: str, prelude: str = "") -> tuple[dict, str, str]:
    """(the driver's report, stdout before it, stderr) of ``docqa ARGV`` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", prelude + DRIVER, json.dumps(list(modules)), *argv], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    out, _, report = run.stdout.rpartition("\nDRIVER ")
    assert report, f"the driver did not finish (rc {run.returncode}): {run.stderr[-2000:]}"
    return json.loads(report), out, run.stderr


@pytest.fixture(scope="module")
def notes_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a folder of two notes, its index built with the default embedder)."""
    folder = tmp_path_factory.mktemp("notes")
    (folder / "notes.txt").write_text(NOTES)
    (folder / "garden.md").write_text("# Garden\n\nTomatoes need full sun.\n\nWater the beans every morning.\n")
    index = folder.parent / (folder.name + "-idx")
    assert main(["index", str(folder), "--index", str(index), "--quiet"]) == 0
    return folder, index


@pytest.mark.parametrize("command", ["search", "index", "status", "info"])
def test_commands_import_only_what_they_use(notes_index: tuple[Path, Path], command: str) -> None:
    folder, index = notes_index
    argv = {"search": ["search", "--index", str(index), "where is the key hidden", "-k", "1"],
            "index": ["index", str(folder), "--index", str(index), "--quiet"],
            "status": ["status", "--index", str(index)], "info": ["info", "--index", str(index)]}[command]
    report, out, err = _docqa(MODEL_FREE, *argv)
    assert report["code"] == 0, err
    heavy = [m for m in report["imported"] if m in HEAVY]
    assert heavy == [], f"docqa {command} imported {heavy}"
    if command == "search":  # the query embedder, and nothing more
        assert "blue flowerpot" in out and report["loaded"] == [True]
    elif command == "index":  # up to date, decided from the ledger and the manifest: no model loaded
        assert "is up to date" in out and report["loaded"] == [False]
    else:  # the manifest and the ledger only
        assert report["imported"] == [] and report["loaded"] == []
    assert err == "", err


def test_search_results_do_not_depend_on_how_the_embedder_started(notes_index: tuple[Path, Path]) -> None:
    """The cached compiled model (second run) gives the hits and scores of the first run."""
    _, index = notes_index
    runs = [_docqa((), "search", "--index", str(index), "water the beans", "-k", "3", "--json") for _ in range(2)]
    assert runs[0][0]["code"] == runs[1][0]["code"] == 0
    assert json.loads(runs[0][1]) == json.loads(runs[1][1])


class NoisyLLM(ScriptedLLM):
    """A scripted model that, like a library, warns and logs a warning while it answers."""

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        warnings.warn("noisy library: this feature is deprecated", FutureWarning, stacklevel=1)
        logging.getLogger("transformers.noisy").warning("noisy library: a log warning")
        logging.getLogger("openvino.noisy").warning("noisy library: another log warning")
        self.replies = [self.replies[0]] * 2  # the same reply for every call
        yield from super().stream(messages, max_tokens=max_tokens)


def noisy_llm(settings: LLMSettings, cache: CacheSettings | None = None) -> NoisyLLM:
    """Registry factory of :class:`NoisyLLM` (the subprocess registers it as the ``noisy`` backend)."""
    return NoisyLLM("The spare key is hidden under the blue flowerpot [1].")


def test_library_warnings_reach_the_log_only_with_verbose(notes_index: tuple[Path, Path]) -> None:
    _, index = notes_index
    prelude = ("from ingest.core.registry import LLMS\nfrom app.factory import register_builtins\n"
               "register_builtins()\nLLMS.register('noisy', 'tests.test_cold_start:noisy_llm')\n")
    ask = ["ask", "--index", str(index), "where is the key hidden?", "--backend", "noisy"]
    report, out, err = _docqa(HEAVY, *ask, prelude=prelude)
    assert report["code"] == 0, err
    assert out.count("The spare key is hidden under the blue flowerpot") == 1, out
    assert "noisy library" not in err and "Warning" not in err, err
    assert report["imported"] == [], "a question over an ONNX index imported " + ", ".join(report["imported"])
    report, out, err = _docqa((), "-v", *ask, prelude=prelude)
    assert report["code"] == 0, err
    for line in ("FutureWarning: noisy library: this feature is deprecated", "noisy library: a log warning",
                 "noisy library: another log warning"):
        assert line in err, err


@pytest.fixture
def scripted_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``cli._open`` gives an index of the notes answered by a scripted model; append its reply to the list."""
    from app.sdk import Index
    from retrieval.store import IndexReader

    (tmp_path / "notes.txt").write_text(NOTES)
    Index.build([tmp_path / "notes.txt"], tmp_path / "idx", settings=Settings(), embedder=FakeEmbedder()).close()
    replies: list[str] = []
    monkeypatch.setattr(cli, "_open", lambda args, settings, explicit_settings: Index(
        IndexReader(tmp_path / "idx"), settings, embedder=FakeEmbedder(), llm=ScriptedLLM(*replies)))
    yield replies


def test_the_answer_is_printed_once(capsys: pytest.CaptureFixture[str], scripted_cli: list[str]) -> None:
    scripted_cli.append("The spare key is hidden under the blue flowerpot [1].")
    assert main(["ask", "--index", "x", "Where is the spare key?"]) == 0
    out = capsys.readouterr().out
    assert out.count("The spare key is hidden under the blue flowerpot") == 1, out
    assert "Checked" not in out and "Sources:\n  [1] " in out


def test_a_check_that_changes_the_answer_prints_the_change_only(capsys: pytest.CaptureFixture[str],
                                                               scripted_cli: list[str]) -> None:
    scripted_cli.append("The spare key is hidden under the blue flowerpot [1]. Tuesday is bin day [1].")
    assert main(["ask", "--index", "x", "Where is the spare key?", "--unsupported", "flag"]) == 0
    out = capsys.readouterr().out
    assert out.count("The spare key is hidden under the blue flowerpot") == 1, out
    assert '\nChecked: removed [1] after "Tuesday is bin day"\n' in out, out  # the change, not the answer again


def test_checked_note_names_each_change_or_the_new_answer() -> None:
    assert checked_note("Paris [1].", "Paris [1].\n") is None
    assert checked_note("The bridge is red [1, 2].", "The bridge is red [1][2].") == \
        'Checked: "[1, 2]" became "[1][2]" after "The bridge is red"'
    assert checked_note("[4] Opened in 1932.", "Opened in 1932.") == "Checked: removed [4] at the start"
    assert checked_note("A [1]. B [2]. C [3]. D [4].", "A. B. C. D.").startswith("Checked: the answer is now: A. B.")
    assert checked_note("Net margin was 12% [1].", "Net margin was 12.4% [1].", label="Computed") == \
        'Computed: added .4 after "Net margin was 12"'


def test_fast_tokenizer_matches_the_hugging_face_tokenizer(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from ingest.embed import resolve_model_path
    from ingest.onnx_embed import FastTokenizer

    model_dir = Path(resolve_model_path(EmbedSettings().model))
    fast, hf = FastTokenizer.of(model_dir), AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    assert fast is not None and fast.pad_token_id == hf.pad_token_id
    assert fast.num_special_tokens_to_add(pair=False) == hf.num_special_tokens_to_add(pair=False)
    texts = [NOTES, "Café naïve RÉSUMÉ 中文 😀 ﬁ", "def toll(n):\n    return 3 * n", "", "word " * 700]
    for text in texts:
        a = fast(text, add_special_tokens=False, return_offsets_mapping=True)
        b = hf(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        assert a["input_ids"] == b["input_ids"] and [tuple(o) for o in b["offset_mapping"]] == a["offset_mapping"]
    assert fast(texts, truncation=True, max_length=32)["input_ids"] == \
        hf(texts, truncation=True, max_length=32)["input_ids"]
    assert len(fast(texts[-1])["input_ids"]) == 702  # truncation is per call: none asked, none made
    with pytest.raises(TypeError):  # as from Hugging Face: lone surrogates
        fast("a\ud800b")
    (tmp_path / "tokenizer.json").write_text("{}")
    assert FastTokenizer.of(tmp_path / "missing") is None


def test_openvino_compiled_model_cache_is_verified(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The compiled model is cached beside the export, imported (same vectors) when its sha256 matches, and
    compiled again when it does not."""
    from app.factory import make_embedder
    from ingest.onnx_embed import open_openvino

    embedder = make_embedder(EmbedSettings(backend="openvino"))
    source = Path(embedder._describe())  # the export in the user's cache (made once, as docqa index makes it)
    shutil.copy(source, tmp_path / "model.onnx")
    feed = {"input_ids": np.array([[101, 2023, 2003, 102]], dtype=np.int64),
            "attention_mask": np.ones((1, 4), dtype=np.int64), "token_type_ids": np.zeros((1, 4), dtype=np.int64)}

    def states() -> np.ndarray:
        engine = open_openvino(tmp_path / "model.onnx")
        return engine.run({k: v for k, v in feed.items() if k in engine.inputs})

    compiled = states()
    (blob,) = tmp_path.glob("openvino-*.blob")
    stamps = json.loads((tmp_path / "sha256.json").read_text())
    assert set(stamps) == {blob.name}
    assert np.array_equal(states(), compiled)  # imported from the cache
    damaged = blob.read_bytes()[:-16] + b"0123456789abcdef"
    blob.write_bytes(damaged)
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(states(), compiled)  # damaged: compiled again, never imported
    assert "compiled model has no recorded sha256 or fails its check" in caplog.text
    rewritten = blob.read_bytes()
    assert rewritten != damaged
    assert json.loads((tmp_path / "sha256.json").read_text())[blob.name] == hashlib.sha256(rewritten).hexdigest()


def test_weights_key_is_remembered_until_a_weight_file_changes(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import onnx_embed

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "config.json").write_text("{}")
    memo = tmp_path / "cache" / "weights-keys.json"
    key = onnx_embed.known_weights_key(model, quantize=False, memo=memo)
    assert key == onnx_embed.weights_key(model, quantize=False) and memo.is_file()
    hashed: list[Path] = []
    monkeypatch.setattr(onnx_embed, "_file_sha256", lambda path: hashed.append(path) or "x" * 64)
    assert onnx_embed.known_weights_key(model, quantize=False, memo=memo) == key and hashed == []  # remembered
    assert onnx_embed.known_weights_key(model, quantize=True, memo=memo) != key  # the int8 variant: its own key
    hashed.clear()
    (model / "model.safetensors").write_bytes(b"other weights")  # changed: hashed again
    assert onnx_embed.known_weights_key(model, quantize=False, memo=memo) != key and hashed
