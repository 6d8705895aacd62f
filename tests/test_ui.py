"""The Streamlit page's logic through Streamlit's in-process AppTest, and `docqa ui` as a server process.

The browser tests (tests/test_ui_browser.py) cover what only a browser shows: clicks on citations, the
highlighted page, two sessions at once, uploads.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

UI = str(Path(__file__).parents[1] / "app" / "ui.py")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cache root (conversations, uploads, collections) and fresh Streamlit caches."""
    import streamlit as st

    root = tmp_path / "cache"
    monkeypatch.setenv("DOCQA_CACHE", str(root))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield root
    st.cache_resource.clear()
    st.cache_data.clear()


def _app(timeout: float = 120) -> object:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(UI, default_timeout=timeout)
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at: object, label: str) -> object:
    return next(b for b in at.button if b.label == label)  # type: ignore[attr-defined]


def test_collections_conversations_and_settings(cache: Path) -> None:
    from app.conversations import ConversationStore

    at = _app()
    assert any("Create a collection" in i.value for i in at.sidebar.info)
    at.text_input(key="new-collection").input("reports").run()
    at.button(key="create-collection").click().run()
    assert not at.exception, at.exception
    directory = cache / "collections" / "reports"
    assert directory.is_dir() and at.selectbox(key="index-pick").value == str(directory)
    assert any("no documents yet" in i.value for i in at.info)
    store = ConversationStore(cache / "conversations.sqlite")
    (first,) = store.conversations(directory)

    # settings for this conversation, validated by the schema and stored with it
    at.number_input[0].set_value(3)
    _button(at, "Apply").click().run()
    assert not at.exception, at.exception
    assert store.overrides(first.id) == {"answer": {"top_k": 3, "rerank_candidates": 20}}
    assert any("Settings applied" in s.value for s in at.success)

    at.text_input(key=f"title-{first.id}").input("Reports chat")
    at.button(key=f"rename-{first.id}").click().run()
    assert store.title(first.id) == "Reports chat"
    at.button(key="new-conversation").click().run()
    assert len(store.conversations(directory)) == 2
    second = store.conversations(directory)[0].id
    at.button(key=f"delete-{second}").click().run()
    assert [c.id for c in store.conversations(directory)] == [first.id]
    at.button(key=f"conversation-{first.id}").click().run()
    assert at.number_input[0].value == 3  # the conversation's own settings are shown again


def test_stored_settings_that_no_longer_validate_fall_back_with_a_warning(cache: Path) -> None:
    from app.conversations import ConversationStore

    directory = cache / "collections" / "x"
    directory.mkdir(parents=True)
    store = ConversationStore(cache / "conversations.sqlite")
    cid = store.create(directory, overrides={"answer": {"top_k": 0}})
    at = _app()
    assert not at.exception, at.exception
    assert any("no longer valid" in w.value and "top" in w.value for w in at.warning), cid


def test_opening_a_missing_index_directory_says_so(cache: Path, tmp_path: Path) -> None:
    at = _app()
    at.text_input(key="open-dir").input(str(tmp_path / "nowhere")).run()
    at.button(key="open-index").click().run()
    assert any("no index at" in e.value for e in at.error)


@pytest.mark.slow
def test_an_opened_index_answers_with_the_configured_model_and_keeps_the_turn(cache: Path, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch
                                                                               ) -> None:
    from app.cli import main
    from app.conversations import ConversationStore
    from generation.models import SMOLLM2_135M

    doc = tmp_path / "facts.txt"
    doc.write_text("The observatory dome is painted white.\n\nThe telescope mirror is 2.4 metres wide.\n")
    monkeypatch.setenv("DOCQA_LLM_MODEL", SMOLLM2_135M.name)
    monkeypatch.setenv("DOCQA_LLM_CONTEXT", "4096")
    monkeypatch.setenv("DOCQA_LLM_MAX_ANSWER_TOKENS", "40")
    assert main(["index", str(doc), "--index", str(tmp_path / "idx"), "--quiet"]) == 0
    at = _app(timeout=300)
    at.text_input(key="open-dir").input(str(tmp_path / "idx")).run()
    at.button(key="open-index").click().run()
    assert not at.exception, at.exception
    from app.sdk import Index

    with Index.open(tmp_path / "idx") as index:
        passages = index.manifest.counts["passages"]
    assert any(c.value.startswith(f"1 documents, {passages} passages") for c in at.sidebar.caption)
    at.chat_input(key="ask").set_value("How wide is the telescope mirror?").run()
    assert not at.exception, at.exception
    store = ConversationStore(cache / "conversations.sqlite")
    (conversation,) = store.conversations(tmp_path / "idx")
    (turn,) = store.turns(conversation.id)
    assert turn.asked == "How wide is the telescope mirror?" and turn.answer.text.strip()
    assert SMOLLM2_135M.name in turn.answer.model  # the environment's model, not the default
    assert turn.details["settings"]["model"] == SMOLLM2_135M.name
    assert [m.name for m in at.chat_message] == ["user", "assistant"]  # shown again after the rerun


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start_ui(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DOCQA_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "ui", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(f"docqa: web UI at http://127.0.0.1:{port}"), line
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "the UI did not start"
        time.sleep(0.3)


def _gone(port: int) -> bool:
    deadline = time.monotonic() + 20
    while _port_open(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def test_docqa_ui_prints_its_url_binds_loopback_and_stops_its_server(tmp_path: Path) -> None:
    proc, port = _start_ui(tmp_path)
    with socket.socket() as s:  # bound to 127.0.0.1 only
        assert s.connect_ex(("127.0.0.1", port)) == 0
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert _gone(port), "the Streamlit server kept running after docqa ui was stopped"


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux-only")
def test_the_streamlit_server_dies_with_a_killed_docqa_ui(tmp_path: Path) -> None:
    proc, port = _start_ui(tmp_path)
    proc.kill()  # no chance to clean up: the child is told by the kernel
    proc.wait(timeout=10)
    assert _gone(port), "the Streamlit server outlived a killed docqa ui"
