"""docqa: ask questions of long documents and codebases; every claim cites its passage.

>>> from app import ask, Index   # doctest: +SKIP
>>> ask("paper.pdf", "What dataset do they use?").text   # doctest: +SKIP

The names below are imported on first use (PEP 562), so ``docqa search`` and the other commands that need no
answering pipeline never import it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.pipeline import AnswerStream
    from app.runtime import Runtime
    from app.sdk import Conversation, Index, ask
    from app.settings import load_settings
    from ingest.core.records import Answer, Citation, Message
    from ingest.core.settings import Settings
    from retrieval.scope import Scope

_EXPORTS = {"AnswerStream": "app.pipeline", "Runtime": "app.runtime", "Conversation": "app.sdk", "Index": "app.sdk",
            "ask": "app.sdk", "load_settings": "app.settings", "Answer": "ingest.core.records",
            "Citation": "ingest.core.records", "Message": "ingest.core.records", "Settings": "ingest.core.settings",
            "Scope": "retrieval.scope"}

__all__ = ["Answer", "AnswerStream", "Citation", "Conversation", "Index", "Message", "Runtime", "Scope", "Settings",
           "ask", "load_settings"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'app' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
