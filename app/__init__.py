"""docqa: ask questions of long documents and codebases; every claim cites its passage.

>>> from app import ask, Index   # doctest: +SKIP
>>> ask("paper.pdf", "What dataset do they use?").text   # doctest: +SKIP
"""

from app.sdk import Index, ask
from app.settings import load_settings
from ingest.core.records import Answer, Citation
from ingest.core.settings import Settings
from retrieval.scope import Scope

__all__ = ["Answer", "Citation", "Index", "Scope", "Settings", "ask", "load_settings"]
