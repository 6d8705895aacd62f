"""Settings load from TOML and environment; unknown keys and bad values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings, load_settings
from ingest.errors import InputError


def test_toml_and_environment(tmp_path: Path):
    cfg = tmp_path / "docqa.toml"
    cfg.write_text('[llm]\nbackend = "transformers"\nmodel = "Qwen/Qwen2.5-7B-Instruct"\n[answer]\ntop_k = 8\n'
                   "rerank_candidates = 30\n")
    s = load_settings(cfg, env={"DOCQA_LLM_CONTEXT": "16384"})
    assert (s.llm.backend, s.llm.model, s.llm.context_tokens, s.answer.top_k) == (
        "transformers", "Qwen/Qwen2.5-7B-Instruct", 16384, 8)
    assert s.embed == Settings().embed


@pytest.mark.parametrize("text, message", [
    ("[llm]\ncolour = 1\n", "unknown key llm.colour"),
    ("[nope]\n", r"unknown section \[nope\]"),
    ('[search]\nmode = "magic"\n', "unknown search mode 'magic'"),
    ("[split]\nchunk_tokens = 10\noverlap_tokens = 20\n", "chunk_tokens"),
    ("not toml ===", "invalid TOML"),
])
def test_bad_settings_are_refused_with_the_file_name(tmp_path: Path, text: str, message: str):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(InputError, match=rf"bad\.toml: .*{message}"):
        load_settings(cfg, env={})
