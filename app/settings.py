"""The settings tree: built once here and handed down, each stage getting its own part.

Settings load from a TOML file (``--config`` / ``DOCQA_CONFIG``) with one table per
stage, then from a few environment variables; unknown keys are errors, not ignored.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.answer import VERIFY_MODES
from generation.context import ORDERS
from generation.llm import LLMSettings
from generation.scoring import SELECTORS
from generation.select import MODES as ANSWER_MODES
from generation.verify import UNSUPPORTED_POLICIES
from ingest.embed import EmbedSettings
from ingest.errors import InputError
from ingest.split import SplitSettings
from rerank.settings import RerankSettings
from retrieval.search import SearchSettings


@dataclass(frozen=True)
class AnswerSettings:
    """What the answering stage reads.

    :param top_k: passages put in the prompt (best first, whole passages only).
    :param rerank: reranker name ("none" keeps first-stage order).
    :param rerank_candidates: first-stage candidates handed to the reranker (and to segment scoring).
    :param mode: "auto" answers over the whole document(s) when they fit ``full_max_tokens`` (else retrieves),
        "full" always reads whole documents (those of the best hits when all do not fit), "retrieve" never does.
    :param full_max_tokens: largest full text "auto" reads (0: whatever fits the LLM's context budget).
    :param select: segment relevance scoring of the candidates: "none", "embedding" (cosine similarity) or
        "llm" (the answering model's likelihood of the question given each passage, XL3M-style); the
        relevant ones (at most ``top_k``) form the key context, in document order.
    :param order: passage order in the prompt: "rank", "edges" (best first and last) or "document".
    :param neighbours: also pull in the passage next to a hit whose best sentence sits at its edge.
    :param verify: citation check after generation: "none", "lexical" or "llm" (lexical, plus a yes/no
        question to the model on borderline cases).
    :param unsupported: with a citation check, an answer that states facts none of which any passage
        supports: "abstain" (default) replaces it with "The document does not say." (the draft stays in the
        notes), "flag" keeps it and notes each unsupported sentence.
    """

    top_k: int = 5
    rerank: str = "none"
    rerank_candidates: int = 20
    mode: str = "retrieve"
    full_max_tokens: int = 0
    select: str = "none"
    order: str = "rank"
    neighbours: bool = False
    verify: str = "lexical"
    unsupported: str = "abstain"

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if self.rerank_candidates < self.top_k:
            raise ValueError(f"rerank_candidates ({self.rerank_candidates}) must be >= top_k ({self.top_k})")
        for name, value, valid in (("mode", self.mode, ANSWER_MODES), ("select", self.select, SELECTORS),
                                   ("order", self.order, ORDERS), ("verify", self.verify, VERIFY_MODES),
                                   ("unsupported", self.unsupported, UNSUPPORTED_POLICIES)):
            if value not in valid:
                raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
        if self.full_max_tokens < 0:
            raise ValueError(f"full_max_tokens must be >= 0, got {self.full_max_tokens}")


def default_cache_dir() -> Path:
    """``$DOCQA_CACHE`` or ``~/.cache/docqa``."""
    return Path(os.environ.get("DOCQA_CACHE") or Path.home() / ".cache" / "docqa")


def index_cache_dir() -> Path:
    """Where ad-hoc indexes (``ask(path, ...)``) are cached: ``$DOCQA_INDEX_CACHE`` or ``<cache>/indexes``."""
    return Path(os.environ.get("DOCQA_INDEX_CACHE") or default_cache_dir() / "indexes")


@dataclass(frozen=True)
class Settings:
    """Everything docqa can be told; each field is one stage's settings."""

    embed: EmbedSettings = field(default_factory=EmbedSettings)
    split: SplitSettings = field(default_factory=SplitSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    rerank: RerankSettings = field(default_factory=RerankSettings)

    def replace(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some fields of some sections changed: ``s.replace(llm={"model": "x.gguf"})``."""
        return from_mapping(sections, base=self)


_SECTIONS = {f.name: f for f in dataclasses.fields(Settings)}
ENV_VARS = {  # environment variable -> (section, key)
    "DOCQA_EMBED_MODEL": ("embed", "model"),
    "DOCQA_LLM_BACKEND": ("llm", "backend"),
    "DOCQA_LLM_MODEL": ("llm", "model"),
    "DOCQA_LLM_CONTEXT": ("llm", "context_tokens"),
    "DOCQA_LLM_THREADS": ("llm", "threads"),
}


def from_mapping(data: dict[str, Any], *, base: Settings | None = None, origin: str = "settings") -> Settings:
    """Settings from ``{"section": {"key": value}}``, on top of ``base``.

    :raises InputError: an unknown section or key, or a bad value (names ``origin``).
    """
    base = base or Settings()
    changes: dict[str, Any] = {}
    for section, values in data.items():
        if section not in _SECTIONS:
            raise InputError(f"{origin}: unknown section [{section}]; valid: {', '.join(_SECTIONS)}")
        current = getattr(base, section)
        known = {f.name: f for f in dataclasses.fields(current)}
        for key in values:
            if key not in known:
                raise InputError(f"{origin}: unknown key {section}.{key}; valid: {', '.join(known)}")
        try:
            changes[section] = dataclasses.replace(current, **values)
        except (TypeError, ValueError) as err:
            raise InputError(f"{origin}: [{section}] {err}") from err
    return dataclasses.replace(base, **changes)


def _coerce(text: str, example: Any) -> Any:
    if isinstance(example, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(example, int) or example is None and text.isdigit():
        return int(text)
    if isinstance(example, float):
        return float(text)
    return text


def load_settings(config: str | os.PathLike[str] | None = None, *, env: dict[str, str] | None = None) -> Settings:
    """Settings from a TOML file (``config`` or ``$DOCQA_CONFIG``), then ``DOCQA_*`` environment variables."""
    env = dict(os.environ if env is None else env)
    settings = Settings()
    path = config or env.get("DOCQA_CONFIG")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError as err:
            raise InputError(f"{path}: config file not found") from err
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"{path}: invalid TOML ({err})") from err
        settings = from_mapping(data, base=settings, origin=str(path))
    overrides: dict[str, dict[str, Any]] = {}
    for var, (section, key) in ENV_VARS.items():
        if var in env:
            example = getattr(getattr(settings, section), key)
            overrides.setdefault(section, {})[key] = _coerce(env[var], example)
    return from_mapping(overrides, base=settings, origin="environment") if overrides else settings
