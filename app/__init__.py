"""docqa: ask questions of long documents and codebases; every claim cites its passage.

>>> from app import ask, Index   # doctest: +SKIP
>>> ask("paper.pdf", "What dataset do they use?").text   # doctest: +SKIP
"""

from app.pipeline import AnswerStream
from app.runtime import Runtime
from app.sdk import Conversation, Index, ask
from app.settings import load_settings
from ingest.core.records import Answer, Citation, Message
from ingest.core.settings import Settings
from retrieval.scope import Scope

__all__ = ["Answer", "AnswerStream", "Citation", "Conversation", "Index", "Message", "Runtime", "Scope", "Settings",
           "ask", "load_settings"]
