"""What the web UI's sessions share in one Streamlit process: settings, the conversation store, opened
indexes and their documents. The models and their answering queues belong to the process's runtime
(:func:`app.runtime.default_runtime`), which every opened index uses.

Answering is serialized per model: llama.cpp must not run two generations at once (two sessions asking
together crashed the process), so every use of a shared model (the answer, the follow-up rewrite) holds
that model's turn in its :class:`app.jobs.AnswerQueue`; waiting sessions see their place in line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from app.conversations import ConversationStore
from app.jobs import AnswerQueue
from app.sdk import Index
from app.settings import load_settings
from app.ui_library import index_ready, upload_folder
from app.ui_viewer import Names
from ingest.core.records import Document
from ingest.core.settings import Settings


@st.cache_resource(show_spinner=False)
def base_settings() -> Settings:
    """Settings from the config file and environment (``DOCQA_*``), read once per process."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def store() -> ConversationStore:
    """The conversation store of this user: ``<cache root>/conversations.sqlite``."""
    return ConversationStore(base_settings().cache.root / "conversations.sqlite")


def effective_settings(overrides: dict[str, dict[str, Any]]) -> Settings:
    """The base settings with a conversation's overrides (validated: raises InputError)."""
    return base_settings().replace(**overrides) if overrides else base_settings()


def manifest_stamp(directory: str) -> int:
    """Changes whenever the index at ``directory`` is rebuilt (cache key of what is read from it)."""
    try:
        return (Path(directory) / "manifest.json").stat().st_mtime_ns
    except OSError:
        return 0


@st.cache_resource(show_spinner="Opening the index…", max_entries=8)
def _open_index(directory: str, overrides_json: str, stamp: int) -> Index:
    settings = effective_settings(json.loads(overrides_json))
    # the index's own embedder (never the default's); every other setting from the config and environment
    return Index.open(directory, settings=settings, embed_from_index=True)


def open_index(directory: str, overrides: dict[str, dict[str, Any]]) -> Index | None:
    """The index at ``directory`` with a conversation's settings (None while it has no documents)."""
    if not index_ready(directory):
        return None
    return _open_index(directory, json.dumps(overrides, sort_keys=True), manifest_stamp(directory))


@st.cache_resource(show_spinner=False, max_entries=8)
def _documents(directory: str, stamp: int) -> dict[str, Document]:
    index = Index.open(directory, settings=base_settings(), embed_from_index=True)
    try:
        return {d.doc_id: d for d in index.documents()}
    finally:
        index.close()


def documents(directory: str) -> dict[str, Document]:
    """The documents of the index at ``directory`` by id (read once per build)."""
    return _documents(directory, manifest_stamp(directory)) if index_ready(directory) else {}


def uploads(directory: str) -> Path:
    """The upload folder of the index at ``directory``."""
    return upload_folder(directory, base_settings().cache.root)


def names(directory: str) -> Names:
    """How sources of this index are shown (uploaded files by their own names)."""
    return Names((str(uploads(directory)), str(uploads(directory).resolve())))


def answer_queue(index: Index) -> AnswerQueue:
    """The one queue of the model that answers for ``index`` (the runtime's, shared by every session)."""
    return index.runtime.answer_queue(index.llm, capacity=index.settings.serve.queue_size)
