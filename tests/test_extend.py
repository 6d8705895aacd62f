"""Context extension (ingest/extend.py and the modules it uses) on tiny random BERT, RoBERTa and RoPE models."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from ingest.core.errors import ModelError  # noqa: E402
from ingest.core.settings import EmbedSettings  # noqa: E402
from ingest.embed import SentenceTransformerEmbedder  # noqa: E402
from ingest.extend import extend_model  # noqa: E402
from ingest.long_inputs import embed_documents, token_windows  # noqa: E402
from ingest.position_interpolation import interpolate_ape, interpolate_table  # noqa: E402
from ingest.rope_extend import (  # noqa: E402
    SelfExtendParams,
    apply_rope_scaling,
    scaled_inv_freq,
    self_extend_attention,
    self_extend_distance,
)

L_O = 64  # positions of the tiny models
WORDS = [f"w{i}" for i in range(300)]


def _tokenizer(specials: list[str], template: tuple[str, str], pad: str, unk: str) -> object:
    from tokenizers import Tokenizer, pre_tokenizers, processors
    from tokenizers import models as tm
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(specials + WORDS)}
    tok = Tokenizer(tm.WordLevel(vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    first, last = template
    tok.post_processor = processors.TemplateProcessing(
        single=f"{first} $A {last}", special_tokens=[(first, vocab[first]), (last, vocab[last])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token=unk, pad_token=pad, cls_token=first, sep_token=last, model_max_length=L_O
    )


def _save_st(hf: object, tokenizer: object, root: Path) -> str:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    hf.save_pretrained(root / "hf")  # type: ignore[attr-defined]
    tokenizer.save_pretrained(root / "hf")  # type: ignore[attr-defined]
    dim = hf.config.hidden_size  # type: ignore[attr-defined]
    modules = [Transformer(str(root / "hf"), max_seq_length=L_O), Pooling(dim, "mean")]
    st = SentenceTransformer(modules=modules, device="cpu")
    st.save(str(root / "st"))
    return str(root / "st")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Directories of three random-weight sentence-transformers models (BERT, RoBERTa offset, Llama-style RoPE)."""
    from transformers import BertConfig, BertModel, GraniteConfig, GraniteModel, RobertaConfig, RobertaModel

    torch.manual_seed(0)
    small = dict(vocab_size=305, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    bert_tok = _tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], ("[CLS]", "[SEP]"), "[PAD]", "[UNK]")
    roberta_tok = _tokenizer(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], ("<s>", "</s>"), "<pad>", "<unk>")
    root = tmp_path_factory.mktemp("tiny")
    bert = BertModel(BertConfig(**small, max_position_embeddings=L_O, pad_token_id=0))
    return {
        "bert": _save_st(bert, bert_tok, root / "bert"),
        # RoBERTa numbers positions from padding_idx + 1 = 2, so its table has L_O + 2 rows.
        "roberta": _save_st(
            RobertaModel(RobertaConfig(**small, max_position_embeddings=L_O + 2, pad_token_id=1)),
            roberta_tok,
            root / "roberta",
        ),
        # A Llama-architecture RoPE model (Granite: its tokenizer mapping keeps our tiny tokenizer).
        "rope": _save_st(
            GraniteModel(GraniteConfig(**small, num_key_value_heads=2, max_position_embeddings=L_O, pad_token_id=0)),
            bert_tok,
            root / "qwen",
        ),
    }


def _text(n_words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


SHORT = [_text(n, seed=n) for n in (1, 5, 20, 40, 61)]  # 61 words + 2 specials = 63 tokens < L_O
LONG = [_text(n, seed=100 + n) for n in (120, 200)]


def _embedder(path: str, **kw: object) -> SentenceTransformerEmbedder:
    e = SentenceTransformerEmbedder(EmbedSettings(model=path, device="cpu", batch_size=4, **kw))  # type: ignore[arg-type]
    e.warm_up()
    return e


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# -- pure mechanics ------------------------------------------------------------------------------


def test_interpolate_table_keeps_anchor_rows_and_interpolates_between() -> None:
    old = torch.randn(16, 8)
    new = interpolate_table(old, stride=4, length=64)
    assert new.shape == (64, 8)
    assert torch.equal(new[::4], old)
    assert torch.allclose(new[2], (old[0] + old[1]) / 2)
    assert torch.allclose(new[1], 0.75 * old[0] + 0.25 * old[1])
    assert torch.equal(new[61], old[15])  # past the last anchor: held


@pytest.mark.parametrize("method", ["ntk", "linear"])
def test_scaled_frequencies_match_transformers_config(method: str) -> None:
    from transformers import Qwen2Config
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

    cfg = Qwen2Config(hidden_size=64, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128)
    original = Qwen2RotaryEmbedding(cfg).inv_freq
    cfg_scaled = Qwen2Config(
        hidden_size=64, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
        **apply_rope_scaling(cfg.to_dict(), method, 4.0),
    )
    assert torch.allclose(Qwen2RotaryEmbedding(cfg_scaled).inv_freq, scaled_inv_freq(original, method, 4.0), rtol=1e-5)


def test_self_extend_attention_uses_grouped_distances() -> None:
    """The attention function's logits equal q_i · R(d_ij)-rotated k_j with SelfExtend's distances."""
    from transformers.models.qwen2.modeling_qwen2 import Qwen2Config, Qwen2RotaryEmbedding

    n, d, group, window, original = 20, 8, 2, 4, 8
    cfg = Qwen2Config(hidden_size=d, num_attention_heads=1, num_key_value_heads=1, max_position_embeddings=original)
    rotary = Qwen2RotaryEmbedding(cfg)
    q, k = torch.randn(1, 1, n, d), torch.randn(1, 1, n, d)
    pos = torch.arange(n)[None]
    cos, sin = rotary(q, pos)

    def rot(x: torch.Tensor, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return x * c + torch.cat([-x[..., d // 2 :], x[..., : d // 2]], dim=-1) * s

    params = SelfExtendParams(group=group, window=window, original_length=original, rotary=rotary)
    eye = torch.eye(n)[None, None]  # value = identity, so the output rows are the attention weights
    _, weights = self_extend_attention(
        params, torch.nn.Module(), rot(q, cos, sin), rot(k, cos, sin), eye, None, scaling=1.0
    )
    expected = torch.empty(n, n)
    for i in range(n):
        for j in range(n):
            dist = torch.tensor([[self_extend_distance(i, j, group=group, window=window)]])
            c, s = rotary(q, dist)
            expected[i, j] = (rot(q[0, 0, i], c[0, 0], s[0, 0]) * k[0, 0, j]).sum()
    assert torch.allclose(weights[0, 0], torch.softmax(expected, dim=-1), atol=1e-5)


def test_token_windows_cover_the_text_in_window_sized_pieces(tiny_models: dict[str, str]) -> None:
    e = _embedder(tiny_models["bert"])
    text = _text(150, seed=7)
    pieces = token_windows(e.tokenizer, text, window=L_O)
    assert " ".join(pieces) == text
    assert all(len(e.tokenizer(p)["input_ids"]) <= L_O for p in pieces)
    assert len(pieces) == 3  # 62 content tokens per window
    capped = token_windows(e.tokenizer, text, window=L_O, max_length=100)
    assert " ".join(capped) == " ".join(text.split()[:98])  # 100 tokens minus the two specials
    assert token_windows(e.tokenizer, "", window=L_O) == [""]


# -- absolute positions (PI) ---------------------------------------------------------------------


@pytest.mark.parametrize("kind, offset", [("bert", 0), ("roberta", 2)])
def test_pi_table_keeps_offset_rows_and_anchors(tiny_models: dict[str, str], kind: str, offset: int) -> None:
    e = _embedder(tiny_models[kind])
    hf = e.model[0].auto_model
    old_table = hf.embeddings.position_embeddings
    old = old_table.weight.detach().clone()
    pi = interpolate_ape(hf, 4 * L_O)
    assert pi.stride == 4
    new = hf.embeddings.position_embeddings.weight.detach()
    assert new.shape[0] == offset + 4 * L_O
    assert torch.equal(new[:offset], old[:offset])
    assert torch.equal(new[offset::4], old[offset:])
    assert hf.embeddings.position_ids.shape[-1] == new.shape[0]
    pi.restore()
    assert hf.embeddings.position_embeddings is old_table
    assert hf.embeddings.position_ids.shape[-1] == old.shape[0]
    assert hf.config.max_position_embeddings == old.shape[0]


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_pi_short_inputs_embed_as_before_and_long_inputs_run(tiny_models: dict[str, str], kind: str) -> None:
    base = _embedder(tiny_models[kind])
    pi = _embedder(tiny_models[kind], extension="pi", factor=4.0)
    assert pi.max_length == 4 * L_O
    mixed = SHORT + LONG  # one call, so short and long inputs go through the same encode
    vecs = pi.embed_passages(mixed)
    assert _cos(vecs[: len(SHORT)], base.embed_passages(SHORT)).min() >= 0.9999
    truncated = base.embed_passages(LONG)
    assert np.isfinite(vecs).all()
    assert _cos(vecs[len(SHORT) :], truncated).max() < 0.9999


def test_pi_vectors_do_not_depend_on_batch_neighbours(tiny_models: dict[str, str]) -> None:
    pi = _embedder(tiny_models["bert"], extension="pi", max_length=256)
    together = pi.embed_passages(SHORT + LONG)
    alone = np.vstack([pi.embed_passages([t]) for t in SHORT + LONG])
    assert _cos(together, alone).min() >= 0.9999


def test_attention_scaling_scales_long_queries_only(tiny_models: dict[str, str]) -> None:
    plain = _embedder(tiny_models["bert"], extension="pi", factor=4.0)
    scaled = _embedder(tiny_models["bert"], extension="pi", factor=4.0, attn_scale=True)
    assert _cos(scaled.embed_passages(SHORT), plain.embed_passages(SHORT)).min() >= 0.9999

    def first_query(e: SentenceTransformerEmbedder, text: str) -> torch.Tensor:
        seen: list[torch.Tensor] = []
        layer = e.model[0].auto_model.encoder.layer[0].attention.self.query
        handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out.detach()))
        e.embed_passages([text])
        handle.remove()
        return seen[0]

    n_tokens = len(LONG[0].split()) + 2
    ratio = first_query(scaled, LONG[0]) / first_query(plain, LONG[0])
    assert torch.allclose(ratio, torch.full_like(ratio, np.log(n_tokens) / np.log(L_O)), rtol=1e-3)


# -- RoPE (NTK, linear, SelfExtend) --------------------------------------------------------------


@pytest.mark.parametrize("kw", [
    {"extension": "ntk", "factor": 4.0},
    {"extension": "linear", "factor": 4.0},
    {"extension": "selfextend", "max_length": 4 * L_O},
])
def test_rope_short_inputs_embed_as_before_and_long_inputs_run(tiny_models: dict[str, str], kw: dict) -> None:
    base = _embedder(tiny_models["rope"])
    ext = _embedder(tiny_models["rope"], **kw)
    assert ext.max_length == 4 * L_O
    assert ext.count_tokens(LONG[0]) == 120  # one token per word: the tiny tokenizer is really used
    vecs = ext.embed_passages(SHORT + LONG)
    assert _cos(vecs[: len(SHORT)], base.embed_passages(SHORT)).min() >= 0.9999
    assert np.isfinite(vecs).all()
    assert _cos(vecs[len(SHORT) :], base.embed_passages(LONG)).max() < 0.9999


def test_ntk_records_the_new_base_in_the_config(tiny_models: dict[str, str]) -> None:
    e = _embedder(tiny_models["rope"], extension="ntk", factor=4.0)
    cfg = e.model[0].auto_model.config
    assert cfg.rope_parameters["rope_theta"] > 10000.0 * 4
    assert cfg.max_position_embeddings >= 4 * L_O


def test_methods_refuse_the_wrong_position_scheme(tiny_models: dict[str, str]) -> None:
    with pytest.raises(ModelError, match="no absolute position table"):
        _embedder(tiny_models["rope"], extension="pi", factor=2.0)
    with pytest.raises(ModelError, match="rotary"):
        _embedder(tiny_models["bert"], extension="ntk", factor=2.0)
    with pytest.raises(ModelError, match="selfextend"):
        _embedder(tiny_models["bert"], extension="selfextend", factor=2.0)
    with pytest.raises(ModelError, match="exceeds the model's 64 positions"):
        _embedder(tiny_models["bert"], max_length=200)


# -- the extended model owns its changes ----------------------------------------------------------

EVERY_METHOD = [
    ("bert", {"extension": "none", "max_length": 32}),
    ("bert", {"extension": "chunk", "max_length": 200}),
    ("bert", {"extension": "pi", "factor": 4.0, "attn_scale": True}),
    ("roberta", {"extension": "pi", "max_length": 150, "attn_scale": True}),
    ("rope", {"extension": "ntk", "factor": 4.0, "attn_scale": True}),
    ("rope", {"extension": "linear", "factor": 2.0}),
    ("rope", {"extension": "selfextend", "max_length": 4 * L_O, "attn_scale": True}),
]


def _load_st(path: str) -> object:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu", local_files_only=True)


def _extend(st: object, kw: dict) -> object:
    return extend_model(
        st, kw["extension"], factor=kw.get("factor", 1.0), max_length=kw.get("max_length"),
        attn_scale=kw.get("attn_scale", False),
    )


def _state(st: torch.nn.Module) -> dict[str, object]:
    """What extension bookkeeping could hide in: attribute and buffer names per module, and hooks."""
    return {
        name: (sorted(vars(m)), sorted(n for n, _ in m.named_buffers(recurse=False)), len(m._forward_hooks),
               len(m._forward_pre_hooks))
        for name, m in st.named_modules()
    }


@pytest.mark.parametrize("kind, kw", EVERY_METHOD)
def test_extension_adds_no_attributes_to_the_model(tiny_models: dict[str, str], kind: str, kw: dict) -> None:
    st = _load_st(tiny_models[kind])
    before = _state(st)
    ext = _extend(st, kw)
    after = _state(st)
    hf = st[0].auto_model
    assert "forward" not in vars(hf)  # the model's forward is its own
    assert not [(n, a) for n, m in st.named_modules() for a in vars(m) if a.startswith("docqa")]
    for name, (attrs, buffers, _, _) in after.items():
        if name in before and not name.endswith("position_embeddings"):  # PI swaps in its own table module
            assert (attrs, buffers) == before[name][:2], name
    if kw.get("attn_scale"):
        assert ext.attention is not None and len(ext.attention.handles) > 2


@pytest.mark.parametrize("kind, kw", EVERY_METHOD)
def test_remove_restores_the_model(tiny_models: dict[str, str], kind: str, kw: dict) -> None:
    from transformers import AttentionInterface

    st = _load_st(tiny_models[kind])
    texts = SHORT + LONG
    base = st.encode(texts, convert_to_numpy=True, show_progress_bar=False)
    config, state = st[0].auto_model.config.to_dict(), _state(st)
    ext = _extend(st, kw)
    assert np.isfinite(ext.encode(texts, batch_size=4)).all()
    name = ext.self_extend.name if ext.self_extend is not None else None
    ext.remove()
    ext.remove()  # idempotent
    assert np.array_equal(st.encode(texts, convert_to_numpy=True, show_progress_bar=False), base)
    assert st[0].auto_model.config.to_dict() == config
    assert _state(st) == state
    assert name is None or name not in AttentionInterface._global_mapping
    with pytest.raises(RuntimeError, match="removed"):
        ext.encode(texts, batch_size=4)


def test_failed_extension_leaves_the_model_unchanged(tiny_models: dict[str, str]) -> None:
    st = _load_st(tiny_models["rope"])
    state, length = _state(st), st.max_seq_length
    with pytest.raises(ModelError, match="no absolute position table"):
        extend_model(st, "pi", factor=2.0)
    assert _state(st) == state and st.max_seq_length == length


def test_self_extend_models_keep_their_own_parameters(tiny_models: dict[str, str]) -> None:
    """Two SelfExtend models of one architecture, with different groups, do not share state."""
    four = _embedder(tiny_models["rope"], extension="selfextend", max_length=4 * L_O)
    first = four.embed_passages(LONG)
    eight = _embedder(tiny_models["rope"], extension="selfextend", max_length=8 * L_O)
    assert (four.extended.extension.group, eight.extended.extension.group) == (5, 9)
    assert np.abs(eight.embed_passages(LONG) - first).max() > 1e-5  # random weights: small but real difference
    assert np.array_equal(four.embed_passages(LONG), first)
    assert four.extended.self_extend.name != eight.extended.self_extend.name


# -- chunk-and-pool and document vectors ---------------------------------------------------------


def test_chunk_and_pool_is_the_normalised_mean_of_window_vectors(tiny_models: dict[str, str]) -> None:
    e = _embedder(tiny_models["bert"], extension="chunk", max_length=200)
    assert e.max_length == 200
    text = LONG[1]
    windows = token_windows(e.tokenizer, text, window=L_O, max_length=200)
    assert len(windows) == 4
    raw = e.model.encode(windows, normalize_embeddings=False, convert_to_numpy=True)
    mean = raw.mean(axis=0)
    got = e.embed_passages([text])[0]
    assert np.allclose(got, mean / np.linalg.norm(mean), atol=1e-5)


def test_embed_documents_pools_sections_of_the_extended_length(tiny_models: dict[str, str]) -> None:
    e = _embedder(tiny_models["bert"], extension="pi", factor=2.0)  # 128 tokens per section
    short, long = _text(50, seed=1), _text(300, seed=2)
    docs = embed_documents(e, [short, long])
    assert docs.shape == (2, 32)
    assert np.allclose(docs[0], e.embed_passages([short])[0], atol=1e-5)
    sections = token_windows(e.tokenizer, long, window=128)
    assert len(sections) == 3
    mean = e.embed_passages(sections).mean(axis=0)
    assert np.allclose(docs[1], mean / np.linalg.norm(mean), atol=1e-5)


# -- settings and identity -----------------------------------------------------------------------


@pytest.mark.parametrize("kw, message", [
    ({"extension": "yarn"}, "valid: none, chunk, pi, ntk, linear, selfextend"),
    ({"factor": 2.0}, "needs an extension"),
    ({"extension": "pi"}, "needs max_length"),
    ({"extension": "ntk", "max_length": 1024}, "needs factor > 1"),
    ({"extension": "chunk", "factor": 2.0, "attn_scale": True}, "attn_scale works with"),
    ({"factor": 0.5}, "factor must be >= 1.0"),
])
def test_settings_reject_bad_combinations(kw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmbedSettings(**kw)


@pytest.mark.parametrize("kw", [
    {}, {"max_length": 128}, {"extension": "chunk", "max_length": 2048}, {"extension": "pi", "factor": 8.0},
    {"extension": "ntk", "factor": 8.0, "max_length": 4096}, {"extension": "selfextend", "max_length": 4096},
    {"extension": "linear", "factor": 2.0, "attn_scale": True}, {"extension": "pi", "factor": 8.0, "max_length": 4096},
])
def test_settings_accept_valid_combinations(kw: dict) -> None:
    assert EmbedSettings(**kw).extension == kw.get("extension", "none")


def test_settings_rebuilt_from_identity_give_the_same_identity(tiny_models: dict[str, str]) -> None:
    """app/ rebuilds EmbedSettings from a manifest's identity; that must validate and match."""
    import dataclasses

    for kw in ({}, {"extension": "pi", "factor": 4.0}, {"extension": "chunk", "factor": 2.0},
               {"extension": "ntk", "factor": 2.0}, {"extension": "linear", "factor": 4.0, "max_length": 100}):
        path = tiny_models["rope" if kw.get("extension") in ("ntk", "linear") else "bert"]
        ident = _embedder(path, **kw).identity()
        fields = {f.name for f in dataclasses.fields(EmbedSettings)}
        rebuilt = EmbedSettings(**{k: v for k, v in ident.items() if k in fields and k != "model"}, model=path)
        again = SentenceTransformerEmbedder(rebuilt)
        assert again.identity() == ident
    with pytest.raises(ModelError, match="disagrees with max_length"):
        _embedder(tiny_models["bert"], extension="pi", factor=4.0, max_length=100)


@pytest.mark.parametrize("kw, length", [
    ({}, L_O), ({"extension": "chunk", "max_length": 200}, 200), ({"extension": "pi", "factor": 4.0}, 4 * L_O),
])
def test_identity_reports_method_and_effective_length(tiny_models: dict[str, str], kw: dict, length: int) -> None:
    ident = _embedder(tiny_models["bert"], **kw).identity()
    assert ident["extension"] == kw.get("extension", "none")
    assert ident["factor"] == kw.get("factor", 1.0)
    assert ident["max_length"] == length


# -- real model --------------------------------------------------------------------------------------

FILLER = [
    "The committee met on a grey morning to review the quarterly figures.",
    "Several members asked for more time to read the appendices before voting.",
    "A long discussion followed about the wording of the second paragraph.",
    "Coffee was served at ten, and the meeting resumed shortly afterwards.",
    "The chair reminded everyone that the minutes would be circulated by Friday.",
    "Someone raised the question of travel budgets for the coming year.",
    "It was agreed that the subcommittee would report back in the spring.",
    "The treasurer presented a summary of expenses and outstanding invoices.",
]
FACTS = [
    "The spare key to the lighthouse is hidden under the blue flowerpot.",
    "The museum's oldest violin was built in Cremona in 1698.",
    "The recipe for the festival soup calls for three kinds of lentils.",
    "The observatory telescope was repaired with parts from Finland.",
]


@pytest.mark.slow
def test_minilm_pi_finds_a_fact_beyond_token_256() -> None:
    """A fact placed after token 256 changes the PI vector enough to retrieve its document; truncation cannot see it."""
    rng = random.Random(3)
    filler = " ".join(rng.choice(FILLER) for _ in range(40))  # ~550 tokens
    words = filler.split()
    docs = [" ".join(words[:300] + [fact] + words[300:]) for fact in FACTS]
    query = "Where is the spare key to the lighthouse hidden?"
    for settings, expect_found in ((EmbedSettings(), False), (EmbedSettings(extension="pi", max_length=1024), True)):
        e = SentenceTransformerEmbedder(settings)
        assert e.count_tokens(" ".join(words[:300])) > 256
        scores = e.embed_passages(docs) @ e.embed_queries([query])[0]
        found = scores[0] > scores[1:].max() + 1e-4
        assert found == expect_found, (settings.extension, scores)
