"""Syntax-aware code ingestion: tree-sitter splitting with symbol paths and line spans, unit grouping.

``CodeSplitter`` is what :func:`app.factory.make_splitter` plugs into the document splitter;
``code_units`` tells the index builder which passages make up one function, class or module run.
"""

from ingest.code.languages import SPECS, module_path
from ingest.code.rows import greedy_blocks
from ingest.code.splitter import CodeSplitter
from ingest.code.units import code_units

__all__ = ["SPECS", "CodeSplitter", "code_units", "greedy_blocks", "module_path"]
