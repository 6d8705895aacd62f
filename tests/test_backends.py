"""Model loading from local paths: a tiny random-weight transformers LLM and sentence-transformers embedder;
the llama.cpp backend's guard on llama-cpp-python's version and internals."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from app.factory import llm_names, make_llm
from ingest.core.errors import ModelError, UnknownBackendError
from ingest.core.records import Completion, Message
from ingest.core.settings import EmbedSettings, LLMSettings
from ingest.embed import SentenceTransformerEmbedder, resolve_model_path

CHAT_TEMPLATE = ("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}[assistant] {% endif %}")


@pytest.fixture(scope="module")
def tiny_llm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama with the MiniLM WordPiece tokenizer and a chat template, saved to disk."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llm")
    tok = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         eos_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id)
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_transformers_backend_streams_from_a_local_path(tiny_llm_dir: Path):
    llm = make_llm(LLMSettings(backend="transformers", model=str(tiny_llm_dir), device="cpu", context_tokens=1024,
                               max_answer_tokens=8))
    messages = [Message("system", "Be brief."), Message("user", "Say something.")]
    pieces = list(llm.stream(messages, max_tokens=8))
    final = pieces[-1]
    assert isinstance(final, Completion)
    assert "".join(p for p in pieces[:-1] if isinstance(p, str)) == final.text
    assert final.prompt_tokens > 5 and 0 < final.completion_tokens <= 12
    assert llm.context_tokens == 1024
    again = llm.complete(messages, max_tokens=8)
    assert again.text == final.text  # greedy decoding is deterministic
    assert llm.count_tokens("hello world") == 2


def test_transformers_backend_refuses_prompt_over_context(tiny_llm_dir: Path):
    from ingest.core.errors import GenerationError

    llm = make_llm(LLMSettings(backend="transformers", model=str(tiny_llm_dir), device="cpu", context_tokens=600,
                               max_answer_tokens=8))
    with pytest.raises(GenerationError, match="does not fit"):
        list(llm.stream([Message("user", "word " * 700)], max_tokens=8))


def test_unknown_backend_and_missing_models():
    assert {"llama-cpp", "transformers"} <= set(llm_names())
    with pytest.raises(UnknownBackendError, match="unknown LLM backend 'vllm'; known: llama-cpp, openai, transformers"):
        make_llm(LLMSettings(backend="vllm"))
    llm = make_llm(LLMSettings(model="/nonexistent/model.gguf"))
    with pytest.raises(ModelError, match="not a GGUF file or packaged model"):
        llm.count_tokens("x")


def test_embedder_from_a_local_directory(tmp_path: Path):
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    tok = BertTokenizerFast.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))
    bert_dir = tmp_path / "bert"
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(bert_dir)
    tok.save_pretrained(bert_dir)
    word = models.Transformer(str(bert_dir), max_seq_length=64)
    st_dir = tmp_path / "st"
    SentenceTransformer(modules=[word, models.Pooling(32)]).save(str(st_dir))

    embedder = SentenceTransformerEmbedder(EmbedSettings(model=str(st_dir), device="cpu"))
    vecs = embedder.embed_passages(["short", "a much longer text " * 10, "mid length text"])
    assert vecs.shape == (3, 32) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    single = embedder.embed_passages(["mid length text"])[0]
    assert np.allclose(single, vecs[2], atol=1e-5)  # batching/sorting does not change vectors or their order
    ident = embedder.identity()
    assert ident["model"] == str(st_dir) and ident["dim"] == 32 and ident["max_length"] == 64


def test_embedder_from_unreachable_hub_id_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder(EmbedSettings(model="no-such-org/no-such-model", device="cpu"))
    with pytest.raises(ModelError, match="cannot load embedder 'no-such-org/no-such-model'"):
        embedder.warm_up()


def test_llamacpp_refuses_an_unsupported_llama_cpp_python(monkeypatch: pytest.MonkeyPatch):
    llama_cpp = pytest.importorskip("llama_cpp")
    from generation.llama_adapter import SUPPORTED, check_version

    check_version(llama_cpp.__version__)  # the installed one is supported (else the pin in pyproject.toml is wrong)
    high = ".".join(map(str, SUPPORTED[1]))
    monkeypatch.setattr(llama_cpp, "__version__", high)
    llm = make_llm(LLMSettings(model="smollm2-135m-instruct-q4_1"))
    with pytest.raises(ModelError, match=rf"llama-cpp-python {high} is not supported by docqa \(need >=0\.3"):
        llm.warm_up()
    with pytest.raises(ModelError, match="not a version number"):
        check_version("dev")


def test_only_the_adapter_touches_llama_cpp_internals():
    """Every private member of llama-cpp-python that docqa uses is behind generation/llama_adapter.py."""
    internals = {"_ctx", "_batch", "_model", "input_ids", "n_tokens", "kv_cache_seq_rm", "get_logits",
                 "get_logits_ith", "set_batch", "decode", "token_get_text", "eval"}
    root = Path(__file__).resolve().parents[1]
    tree = ast.parse((root / "generation" / "llamacpp.py").read_text(encoding="utf-8"))
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)} & internals
    assert not used, f"generation/llamacpp.py reaches into llama-cpp-python: {sorted(used)}"
