"""LLM settings and the backend registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from generation.models import DEFAULT_LLM
from generation.types import LLM
from ingest.errors import UnknownBackendError


@dataclass(frozen=True)
class LLMSettings:
    """Which model answers and how.

    :param backend: "llama-cpp" (GGUF, default) or "transformers" (hub id or local dir; the GPU path).
    :param model: a packaged model name, a ``.gguf`` path, a hub id or a local directory.
    :param context_tokens: context window to allocate (prompt + answer).
    :param max_answer_tokens: most tokens generated per answer.
    :param threads: CPU threads for llama.cpp (None: all cores).
    :param gpu_layers: layers llama.cpp offloads to a GPU (-1 all, 0 none).
    :param device: transformers device ("cuda", "cpu"; None: CUDA when available).
    :param dtype: transformers dtype ("auto": bf16/fp16 on GPU, fp32 on CPU).
    :param trust_remote_code: allow model code from the hub (off unless asked for).
    """

    backend: str = "llama-cpp"
    model: str = DEFAULT_LLM
    context_tokens: int = 8192
    max_answer_tokens: int = 384
    threads: int | None = None
    gpu_layers: int = 0
    device: str | None = None
    dtype: str = "auto"
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if self.context_tokens < 512:
            raise ValueError(f"context_tokens must be >= 512, got {self.context_tokens}")
        if not 1 <= self.max_answer_tokens < self.context_tokens:
            raise ValueError(f"need 1 <= max_answer_tokens < context_tokens, got {self.max_answer_tokens}")
        if self.dtype not in ("auto", "float32", "float16", "bfloat16"):
            raise ValueError(f"unknown dtype {self.dtype!r}; valid: auto, float32, float16, bfloat16")


F = TypeVar("F", bound=Callable[[LLMSettings], LLM])
_BACKENDS: dict[str, Callable[[LLMSettings], LLM]] = {}


def register_backend(name: str) -> Callable[[F], F]:
    """Register a factory ``LLMSettings -> LLM`` under ``name``."""

    def deco(factory: F) -> F:
        if name in _BACKENDS:
            raise ValueError(f"duplicate LLM backend {name!r}")
        _BACKENDS[name] = factory
        return factory

    return deco


def _load_builtin() -> None:
    import generation.hf
    import generation.llamacpp  # noqa: F401  (registers on import)


def backend_names() -> list[str]:
    """Registered backend names."""
    _load_builtin()
    return sorted(_BACKENDS)


def make_llm(settings: LLMSettings) -> LLM:
    """Build (but do not load) the backend the settings name.

    :raises UnknownBackendError: lists the known names.
    """
    _load_builtin()
    if settings.backend not in _BACKENDS:
        raise UnknownBackendError(f"unknown LLM backend {settings.backend!r}; known: {', '.join(sorted(_BACKENDS))}")
    return _BACKENDS[settings.backend](settings)
