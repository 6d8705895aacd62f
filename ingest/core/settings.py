"""The one configuration schema: every setting's type, default, valid values and help text.

Each stage gets its own frozen section (``Settings.embed``, ``.split``, ...). Modes are ``Literal``
types; :func:`check_section` validates every field against its annotation once, at construction,
and each section adds its own range checks. The TOML file, the environment variables and the CLI
flags are all generated from this schema (``app/settings.py``, ``app/cli.py``):

- TOML: ``[section] key = value``;
- environment: ``DOCQA_<SECTION>_<KEY>`` for every field (and the older short names in ``env``);
- CLI: the fields that carry a ``flag`` in their metadata.

Backend, reranker and embedder names are open sets (third-party plugins register more), so they
are checked against the registry when the pipeline is built, not here.

Neutral layer (see :mod:`ingest.core.records`): imports no stage.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_LLM = "qwen2.5-coder-1.5b-instruct-q4_k_m"
EVIDENCE_TOKENS = 200  # [answer] evidence_tokens: chosen on development questions (bench/RESULTS.md, issue 23)

SearchMode = Literal["dense", "bm25", "hybrid"]
PdfExtractor = Literal["pdfium", "pypdf"]
OcrMode = Literal["auto", "off", "force"]
SearchLevel = Literal["passage", "unit", "file"]
IndexEngine = Literal["local", "ray"]
AnswerModeSetting = Literal["auto", "full", "retrieve"]
Selector = Literal["none", "embedding", "llm"]
Order = Literal["rank", "edges", "document"]
VerifyMode = Literal["none", "lexical", "llm"]
UnsupportedPolicy = Literal["flag", "abstain"]
AnswerCheck = Literal["separate", "folded", "none"]
ExtensionMethod = Literal["none", "chunk", "pi", "ntk", "linear", "selfextend"]
Dtype = Literal["auto", "float32", "float16", "bfloat16"]

APE_EXTENSIONS: tuple[str, ...] = ("pi",)
ROPE_EXTENSIONS: tuple[str, ...] = ("ntk", "linear", "selfextend")
MODEL_EXTENSIONS = APE_EXTENSIONS + ROPE_EXTENSIONS  # extensions that change the model (attention scaling works)


def choices(literal: Any) -> tuple[str, ...]:
    """The values of a ``Literal`` type.

    >>> choices(SearchMode)
    ('dense', 'bm25', 'hybrid')
    """
    return typing.get_args(literal)


def setting(default: Any = dataclasses.MISSING, *, help: str, flag: str | None = None,  # noqa: A002
            env: str | None = None, low: float | None = None, high: float | None = None,
            factory: Any = dataclasses.MISSING) -> Any:
    """A settings field with its help text, optional CLI flag, extra environment variable name and
    inclusive bounds (``low``/``high``, checked by :func:`check_section` when the value is not None)."""
    meta = {"help": help, "flag": flag, "env": env, "low": low, "high": high}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations of a settings section."""
    return typing.get_type_hints(cls)


def _type_error(name: str, value: Any, kind: Any) -> str | None:
    """Why ``value`` is not a ``kind`` (None when it is)."""
    origin = typing.get_origin(kind)
    if origin is Literal:
        valid = typing.get_args(kind)
        return None if value in valid else f"unknown {name} {value!r}; valid: {', '.join(map(str, valid))}"
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if any(_type_error(name, value, k) is None for k in options):
            return None
        return f"{name} must be {' or '.join(getattr(k, '__name__', str(k)) for k in options)}, got {value!r}"
    if kind is type(None):
        return None if value is None else f"{name} must be None, got {value!r}"
    if origin is tuple:  # tuple[str, ...]: a list of strings (TOML arrays, comma-separated text)
        ok = isinstance(value, tuple) and all(isinstance(v, str) for v in value)
        return None if ok else f"{name} must be a list of strings, got {value!r}"
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    return None if ok else f"{name} must be {kind.__name__}, got {value!r}"


def check_section(section: Any) -> None:
    """Check every field of a settings section against its annotation.

    :raises ValueError: the first field whose value does not fit (one line, lists valid values).
    """
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        error = _type_error(f.name, value, field_types(section.__class__)[f.name])
        if error:
            raise ValueError(error)
        low, high = f.metadata.get("low"), f.metadata.get("high")
        if value is not None and low is not None and value < low:
            raise ValueError(f"{f.name} must be >= {low}, got {value}")
        if value is not None and high is not None and value > high:
            raise ValueError(f"{f.name} must be <= {high}, got {value}")


@dataclass(frozen=True)
class EmbedSettings:
    """How passages and queries are embedded (``[embed]``)."""

    model: str = setting(DEFAULT_EMBEDDER, flag="--embedder", env="DOCQA_EMBED_MODEL",
                         help="embedding model: hub id, local directory, or a packaged model's alias")
    backend: str = setting("auto", env="DOCQA_EMBED_BACKEND",
                           help="embedder runtime (registry name): auto (OpenVINO on a CPU where it applies, "
                                "else PyTorch), sentence-transformers (PyTorch), openvino, onnx, onnx-int8")
    max_length: int | None = setting(None, low=8, help="tokens per input; None keeps the model's own limit. With an "
                                                "extension the target length (chunk: tokens covered by all windows)")
    batch_size: int = setting(32, low=1, help="inputs per forward pass (sorted by length first)")
    device: str | None = setting(None, help='"cpu", "cuda", ...; None picks CUDA when available')
    extension: ExtensionMethod = setting("none", help="context extension: none truncates; chunk averages windows; "
                                                      "pi interpolates absolute positions; ntk/linear scale RoPE; "
                                                      "selfextend groups far RoPE positions")
    factor: float = setting(1.0, low=1.0, help="extension factor (chunk/pi/selfextend: target = factor x window, an "
                                      "alternative to max_length; ntk/linear: the RoPE scale)")
    trust_remote_code: bool = setting(False, help="allow model code from the hub (off unless asked for)")
    query_prefix: str = setting("", help='text put before queries (e.g. "query: " for E5)')
    passage_prefix: str = setting("", help="text put before passages")
    attn_scale: bool = setting(False, help="also scale attention logits by max(1, ln L / ln L_o) (pi, ntk, linear, "
                                           "selfextend)")

    RUNTIME = ("batch_size", "device", "backend")  # fields that do not change the vectors

    def __post_init__(self) -> None:
        check_section(self)
        if self.extension == "none" and self.factor != 1.0:
            valid = ", ".join(choices(ExtensionMethod)[1:])
            raise ValueError(f"factor {self.factor} needs an extension; valid: {valid}")
        if self.attn_scale and self.extension not in MODEL_EXTENSIONS:
            raise ValueError(f"attn_scale works with extension {', '.join(MODEL_EXTENSIONS)}, not {self.extension!r}")
        # Both max_length and factor may be given (the manifest records both); the extension checks they agree.
        if self.extension in ("chunk", "pi", "selfextend") and self.max_length is None and self.factor == 1.0:
            raise ValueError(f"extension {self.extension!r} needs max_length (target tokens) or factor > 1")
        if self.extension in ("ntk", "linear") and self.factor <= 1.0:
            raise ValueError(f"extension {self.extension!r} needs factor > 1 (the RoPE scale), got {self.factor}")


@dataclass(frozen=True)
class IngestSettings:
    """How files are read (``[ingest]``): each file is parsed and split under a time and memory bound."""

    isolate: bool = setting(True, help="parse and split each file in a worker process that is killed when it "
                                       "exceeds the bounds (off: in-process, no bounds; for debugging)")
    timeout_seconds: float = setting(60.0, low=0.1, help="CPU seconds one file may take to parse and split (a "
                                                          "reader with no progress at all, neither running nor "
                                                          "waiting for a core: 3x this; a file that timed out "
                                                          "among others is read once more alone)")
    memory_mb: int = setting(2048, low=64, help="most memory (MiB) the worker may use for one file")
    max_file_mb: int = setting(50, low=1, help="files larger than this are skipped (in a walk) or refused (named)")
    pdf_extractor: PdfExtractor = setting("pdfium", help="PDF text: pdfium (PDFium via pypdfium2; pypdf for a file "
                                                          "PDFium rejects) or pypdf")
    ocr: OcrMode = setting("auto", flag="--ocr", help="OCR of PDF pages (Tesseract, offline): auto (only pages with no "
                                        "extractable text, i.e. scanned ones), off (such pages stay empty), force "
                                        "(every page, its text layer ignored); each page under the file's bounds")
    ocr_languages: str = setting("eng", help="the languages OCR reads, as Tesseract names them, joined by '+' "
                                             "(\"eng+deu\"); each needs its model (Debian: tesseract-ocr-deu)")

    def __post_init__(self) -> None:
        check_section(self)
        if not re.fullmatch(r"[A-Za-z_]+(\+[A-Za-z_]+)*", self.ocr_languages):
            raise ValueError(f"ocr_languages: Tesseract language names joined by '+' (\"eng+deu\"), got "
                             f"{self.ocr_languages!r}")


@dataclass(frozen=True)
class SplitSettings:
    """How documents are cut into passages (``[split]``)."""

    chunk_tokens: int = setting(200, low=16, help="most tokens per passage, counted by the embedder's tokenizer")
    overlap_tokens: int = setting(32, low=0, help="tokens shared by neighbouring passages")
    code_lines: int = setting(60, low=2, help="most lines per passage for line-split code")
    code_overlap_lines: int = setting(5, low=0, help="lines shared by neighbouring line-split code passages")
    headers: bool = setting(True, help="embed and keyword-index each passage with a header naming its document "
                                       "(title, issuer, form, period) and section path")
    tables: bool = setting(True, help="keep PDF tables whole in table passages (long ones split by row groups)")

    def __post_init__(self) -> None:
        check_section(self)
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError(f"need 0 <= overlap_tokens < chunk_tokens, got {self.overlap_tokens}, {self.chunk_tokens}")
        if self.code_overlap_lines >= self.code_lines:
            raise ValueError(f"need code_lines >= 2 and 0 <= code_overlap_lines < code_lines, got "
                             f"{self.code_lines}, {self.code_overlap_lines}")


@dataclass(frozen=True)
class SearchSettings:
    """First-stage retrieval (``[search]``)."""

    mode: SearchMode = setting("hybrid", flag="--mode", help="first-stage retrieval: dense, bm25, or hybrid "
                                                             "(reciprocal-rank fusion of both)")
    candidates: int = setting(50, low=1, help="how many each retriever contributes before fusion")
    rrf_k: int = setting(60, low=0, help="the fusion constant (Cormack et al. 2009)")
    bm25_weight: float = setting(2.0, low=0, help="the keyword ranking's weight in the fusion, the dense one's being 1 "
                                                  "(2: rare terms of reports' questions count; bench/RESULTS.md)")
    coarse_docs: int = setting(0, flag="--coarse", low=0,
                               help="coarse-to-fine: search passages only inside the N documents "
                                                        "whose file vectors match best (0: off)")
    route: bool = setting(True, help="questions naming an issuer and period search the matching documents first "
                                     "(the whole corpus when routing is unsure)")
    documents: tuple[str, ...] = setting((), help="default scope: only these documents (source paths, globs such "
                                                   "as 'reports/*2019*.pdf', or doc ids; empty: all); a scope given "
                                                   "with a question (--doc, scope=) replaces it")
    kinds: tuple[str, ...] = setting((), help="default scope: only passages of these kinds (prose, code, table)")
    pages: str = setting("", help='default scope: only passages starting on these pages, "A-B" (PDFs)')
    approximate_above: int = setting(200_000, low=0, help="builds of more passages than this get an approximate "
                                                           "dense index (FAISS IVF, trained and tuned during the "
                                                           "build, its recall@10 recorded in the manifest); 0: "
                                                           "always exact")
    indexes: tuple[str, ...] = setting((), help="the indexes ask, search, serve and mcp open when no --index (and "
                                               "no path) is given: [NAME=]DIR each, several searched as one "
                                               "(relative directories from the current directory, as --index's)")
    approximate_recall: float = setting(0.95, low=0.01, high=1.0, help="the recall@10 against exact search an "
                                                                        "approximate index is tuned for (on a "
                                                                        "sample of its own vectors)")

    def __post_init__(self) -> None:
        check_section(self)
        import re

        from ingest.core.records import PassageKind

        unknown = [k for k in self.kinds if k not in choices(PassageKind)]
        if unknown:
            raise ValueError(f"unknown kinds {', '.join(unknown)}; valid: {', '.join(choices(PassageKind))}")
        if self.pages and not re.fullmatch(r"\s*\d+\s*(-\s*\d+\s*)?", self.pages):
            raise ValueError(f'pages must be "A-B" or "A" (1-based), got {self.pages!r}')


@dataclass(frozen=True)
class LLMSettings:
    """Which model answers and how (``[llm]``)."""

    backend: str = setting("llama-cpp", flag="--backend", env="DOCQA_LLM_BACKEND",
                           help="LLM backend: llama-cpp (GGUF, default), transformers (hub id or local dir), "
                                "or openai (any OpenAI-compatible server at base_url)")
    model: str = setting(DEFAULT_LLM, flag="--model", env="DOCQA_LLM_MODEL",
                         help="packaged model name, .gguf path, hub id or local directory")
    context_tokens: int = setting(8192, flag="--context", env="DOCQA_LLM_CONTEXT", low=512,
                                  help="context window to allocate (prompt + answer)")
    max_answer_tokens: int = setting(384, low=1, help="most tokens generated per answer")
    threads: int | None = setting(None, env="DOCQA_LLM_THREADS", low=1,
                                  help="CPU threads for llama.cpp (None: all cores)")
    gpu_layers: int = setting(0, help="layers llama.cpp offloads to a GPU (-1 all, 0 none)")
    keep_system_prompt: bool = setting(True, help="llama.cpp: keep the system prompt's KV state (a few MB), so its "
                                                  "rules are read once per loaded model, not once per question")
    device: str | None = setting(None, help='transformers device ("cuda", "cpu"; None: CUDA when available)')
    dtype: Dtype = setting("auto", help="transformers dtype (auto: bf16/fp16 on GPU, fp32 on CPU)")
    trust_remote_code: bool = setting(False, help="allow model code from the hub (off unless asked for)")
    base_url: str | None = setting(None, env="DOCQA_LLM_BASE_URL", help="openai backend: the server's base URL, e.g. "
                                                                       "http://127.0.0.1:8080/v1")
    api_key_env: str = setting("DOCQA_LLM_API_KEY", help="openai backend: the environment variable holding the API "
                                                         "key (the key itself is never stored in settings or indexes)")
    timeout_seconds: float = setting(120.0, low=1.0, help="openai backend: seconds to wait for a server response")
    max_retries: int = setting(2, low=0, high=10, help="openai backend: retries of a failed request (connection "
                                                       "errors, 429, 5xx), with backoff")

    def __post_init__(self) -> None:
        check_section(self)
        if self.max_answer_tokens >= self.context_tokens:
            raise ValueError(f"need 1 <= max_answer_tokens < context_tokens, got {self.max_answer_tokens}")


@dataclass(frozen=True)
class RerankSettings:
    """How the LLM rerankers build prompts and treat failures (``[rerank]``; which one runs is ``answer.rerank``)."""

    passage_words: int = setting(100, low=1, help="words kept per passage in a prompt (RankGPT's 100); shrunk per call "
                                           "if the prompt would not fit the model's context")
    window: int = setting(20, low=2, help="passages per call of the sliding-window baseline")
    stride: int = setting(10, help="step between windows, back to front")
    max_missing_fraction: float = setting(0.2, low=0.0, high=1.0,
                                          help="above this share of ids missing from a generated ranking, the "
                                                    "call is flagged (missing ids still follow in first-stage order)")
    raise_on_failure: bool = setting(False, help="re-raise backend errors instead of keeping first-stage order")

    def __post_init__(self) -> None:
        check_section(self)
        if not 0 < self.stride <= self.window:
            raise ValueError(f"need 0 < stride <= window, got stride={self.stride}, window={self.window}")


@dataclass(frozen=True)
class AnswerSettings:
    """What the answering stage reads and how its answer is checked (``[answer]``)."""

    top_k: int = setting(5, flag="-k", low=1, help="passages put in the prompt (best first, whole passages only)")
    rerank: str = setting("none", flag="--rerank", help="reranker: none (default), full, full-logits, window, "
                                                        "pointwise")
    rerank_candidates: int = setting(20, help="first-stage candidates handed to the reranker and to segment scoring")
    mode: AnswerModeSetting = setting("retrieve", flag="--answer-mode",
                                      help="auto reads whole documents when they fit full_max_tokens (else "
                                           "retrieves); full always reads whole documents; retrieve never does")
    full_max_tokens: int = setting(0, low=0, help="largest full text auto reads (0: whatever fits the context budget)")
    select: Selector = setting("none", flag="--select", help="segment relevance scoring of the candidates: none, "
                                                             "embedding (cosine) or llm (question likelihood)")
    order: Order = setting("rank", flag="--order", help="passage order in the prompt: rank, edges (best first and "
                                                        "last) or document")
    neighbours: bool = setting(False, help="also pull in the passage next to a hit whose best sentence sits at its "
                                           "edge")
    verify: VerifyMode = setting("lexical", flag="--verify", help="citation check after generation: none, lexical, "
                                                                  "or llm (lexical plus yes/no on borderline cases)")
    unsupported: UnsupportedPolicy = setting("abstain", flag="--unsupported",
                                             help="an answer no passage supports: abstain (say the document does "
                                                  "not say; the draft is kept) or flag (keep it, warn)")
    support_threshold: float = setting(0.6, low=0.0, high=1.0,
                                       help="share of a sentence's content words found in a passage that "
                                                 "counts as support")
    borderline_threshold: float = setting(0.3, low=0.0, high=1.0,
                                          help="below this share a citation is removed without asking the "
                                                    "model (verify = llm)")
    answer_check: AnswerCheck = setting("folded", flag="--answer-check",
                                        help="the yes/no answer check: separate (a prompt of the cited passages "
                                             "and the question), folded (asked after the answer, reusing the "
                                             "answer's prompt in the model's cache) or none")
    answer_check_margin: float = setting(0.0, help="withhold an answer when log P(Yes) - log P(No) of 'do the cited "
                                                   "passages answer the question' falls below this")
    number_check: bool = setting(True, help="withhold an answer sentence whose number its cited passage prints in "
                                            "another row, another year's column or as a count of something else")
    compute: bool = setting(True, help="figures derived from reported numbers (ratios, margins, growth, sums) are "
                                       "computed by docqa from the operands the model cites, not by the model")
    evidence_tokens: int = setting(EVIDENCE_TOKENS, low=0, flag="--evidence-tokens",
                                   help="passage tokens the model reads: the sentences and table rows that bear on "
                                        "the question, with their neighbours (0: whole passages)")

    def __post_init__(self) -> None:
        check_section(self)
        if self.rerank_candidates < self.top_k:
            raise ValueError(f"rerank_candidates ({self.rerank_candidates}) must be >= top_k ({self.top_k})")
        if not 0.0 <= self.borderline_threshold <= self.support_threshold <= 1.0:
            raise ValueError(f"need 0 <= borderline_threshold <= support_threshold <= 1, got "
                             f"{self.borderline_threshold}, {self.support_threshold}")


@dataclass(frozen=True)
class IndexSettings:
    """Where a build reads and embeds (``[index]``): this machine, or a Ray cluster (``pip install "docqa[ray]"``)."""

    engine: IndexEngine = setting("local", flag="--engine", help="local (this machine's worker pool) or ray (Ray "
                                                                  "tasks read and split, an actor pool embeds; the "
                                                                  "same index either way)")
    ray_address: str | None = setting(None, flag="--ray-address", env="DOCQA_RAY_ADDRESS",
                                      help="the Ray cluster to join (e.g. 10.0.0.5:6379 or auto; None: start one on "
                                           "this machine)")
    embed_actors: int = setting(1, low=1, help="ray: embedding actors (each loads the embedder once)")
    num_gpus: float = setting(0.0, low=0.0, help="ray: GPUs per embedding actor (0: CPU)")
    files_per_task: int = setting(32, low=1, help="ray: files one read task parses and splits, at the most (fewer "
                                                  "when the cluster would get less than two tasks per CPU)")
    pdf_pages_per_task: int = setting(100, low=0, help="ray: a PDF with more pages of text than this is split by "
                                                       "tasks of this many pages each (0: one task per file)")

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class ProfileSettings:
    """Domain knowledge (``[profile]``): what a profile knows of its documents (``app/profiles.py``)."""

    name: str = setting("auto", flag="--profile",
                        help="auto (each registered profile for the documents it recognises: filings get the "
                             "filings profile, novels none), general (no domain knowledge), filings, or the "
                             "name of a registered profile")

    def __post_init__(self) -> None:
        check_section(self)
        if not self.name.strip():
            raise ValueError("name must name a profile (auto, general, filings, ...)")


@dataclass(frozen=True)
class ServeSettings:
    """The HTTP and MCP servers (``[serve]``)."""

    host: str = setting("127.0.0.1", help="interface to listen on; any other than loopback needs an API key")
    port: int = setting(8000, low=0, high=65535, help="port to listen on (0: any free port)")
    api_key_env: str = setting("DOCQA_SERVE_API_KEY", help="the environment variable holding the bearer token "
                                                           "clients must send (unset: no auth, loopback only)")
    max_question_chars: int = setting(4000, low=1, help="longest question accepted")
    max_k: int = setting(100, low=1, help="most passages a search may ask for")
    max_body_bytes: int = setting(1 << 20, low=1024, help="largest request body accepted")
    queue_size: int = setting(8, low=0, help="answering jobs that may wait for the model (more: 429 with Retry-After)")

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class CacheSettings:
    """Where docqa keeps what it can rebuild (``[cache]``)."""

    dir: str | None = setting(None, env="DOCQA_CACHE", help="cache root: assembled models, ad-hoc indexes "
                                                            "(None: ~/.cache/docqa)")
    indexes: str | None = setting(None, env="DOCQA_INDEX_CACHE", help="ad-hoc indexes for `ask PATH` "
                                                                      "(None: <cache>/indexes)")

    def __post_init__(self) -> None:
        check_section(self)

    @property
    def root(self) -> Path:
        """The cache root."""
        return Path(self.dir).expanduser() if self.dir else Path.home() / ".cache" / "docqa"

    @property
    def index_dir(self) -> Path:
        """Where ad-hoc indexes are cached."""
        return Path(self.indexes).expanduser() if self.indexes else self.root / "indexes"

    @property
    def model_dir(self) -> Path:
        """Where packaged GGUF models are assembled."""
        return self.root / "models"


@dataclass(frozen=True)
class Settings:
    """Everything docqa can be told; each field is one stage's section."""

    ingest: IngestSettings = field(default_factory=IngestSettings)
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    split: SplitSettings = field(default_factory=SplitSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    rerank: RerankSettings = field(default_factory=RerankSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    profile: ProfileSettings = field(default_factory=ProfileSettings)
    index: IndexSettings = field(default_factory=IndexSettings)

    def replace(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some fields of some sections changed: ``s.replace(llm={"model": "x.gguf"})``.

        :raises InputError: an unknown key or a bad value.
        """
        return from_mapping(sections, base=self)


SECTIONS: dict[str, type] = {f.name: field_types(Settings)[f.name] for f in dataclasses.fields(Settings)}


def from_mapping(data: dict[str, Any], *, base: Settings | None = None, origin: str = "settings") -> Settings:
    """Settings from ``{"section": {"key": value}}`` on top of ``base``, validated once.

    :raises InputError: an unknown section or key, or a bad value (one line naming ``origin``).
    """
    from ingest.core.errors import InputError

    base = base or Settings()
    changes: dict[str, Any] = {}
    for section, values in data.items():
        if section not in SECTIONS:
            raise InputError(f"{origin}: unknown section [{section}]; valid: {', '.join(SECTIONS)}")
        if not isinstance(values, dict):
            raise InputError(f"{origin}: [{section}] must be a table of settings, got {values!r}")
        current = getattr(base, section)
        known = {f.name for f in dataclasses.fields(current)}
        for key in values:
            if key not in known:
                raise InputError(f"{origin}: unknown key {section}.{key}; valid: {', '.join(sorted(known))}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}  # TOML arrays
        try:
            changes[section] = dataclasses.replace(current, **values)
        except (TypeError, ValueError) as err:
            raise InputError(f"{origin}: [{section}] {err}") from err
    return dataclasses.replace(base, **changes)
