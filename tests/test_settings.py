"""Settings load from TOML and environment; unknown keys and bad values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import load_settings
from ingest.core.errors import InputError
from ingest.core.settings import Settings


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
    ('[search]\nmode = "magic"\n', r"\[search\] unknown mode 'magic'; valid: dense, bm25, hybrid"),
    ('[answer]\ntop_k = "many"\n', r"\[answer\] top_k must be int, got 'many'"),
    ("[llm]\nthreads = 2.5\n", r"threads must be int or NoneType"),
    ("[answer]\nsupport_threshold = 0.2\n", "borderline_threshold <= support_threshold"),
    ("[split]\nchunk_tokens = 10\noverlap_tokens = 20\n", "chunk_tokens"),
    ("not toml ===", "invalid TOML"),
])
def test_bad_settings_are_refused_with_the_file_name(tmp_path: Path, text: str, message: str):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(InputError, match=rf"bad\.toml: .*{message}"):
        load_settings(cfg, env={})


def test_every_setting_has_an_environment_variable():
    s = load_settings(env={"DOCQA_ANSWER_TOP_K": "8", "DOCQA_ANSWER_RERANK_CANDIDATES": "30",
                           "DOCQA_ANSWER_NEIGHBOURS": "yes", "DOCQA_LLM_THREADS": "none", "DOCQA_CACHE": "/tmp/c",
                           "DOCQA_SEARCH_MODE": "", "DOCQA_EMBED_MAX_LENGTH": "1024", "DOCQA_EMBED_EXTENSION": "pi"})
    assert (s.answer.top_k, s.answer.rerank_candidates, s.answer.neighbours, s.llm.threads) == (8, 30, True, None)
    assert s.cache.dir == "/tmp/c" and str(s.cache.index_dir) == "/tmp/c/indexes" and s.search.mode == "hybrid"
    assert (s.embed.max_length, s.embed.extension) == (1024, "pi")
    with pytest.raises(InputError, match=r"environment: \[answer\] top_k must be int, got 'lots'"):
        load_settings(env={"DOCQA_ANSWER_TOP_K": "lots"})


def test_cli_flags_come_from_the_schema():
    """Every flag's choices, type and help are the schema's; a flag sets its setting."""
    import argparse

    from app.cli import _settings, build_parser

    parser = build_parser()
    ask = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["ask"]
    by_flag = {opt: a for a in ask._actions for opt in a.option_strings}
    assert by_flag["--verify"].choices == ("none", "lexical", "llm") and by_flag["-k"].type is int
    help_text = by_flag["--verify"].help
    assert "citation check after generation" in help_text and "[answer] verify" in help_text
    args = parser.parse_args(["ask", "doc.txt", "q?", "--verify", "none", "-k", "30", "--mode", "bm25",
                              "--coarse", "2"])
    args.config = None
    s = _settings(args)
    assert (s.answer.verify, s.answer.top_k, s.answer.rerank_candidates, s.search.mode, s.search.coarse_docs) == (
        "none", 30, 30, "bm25", 2)
