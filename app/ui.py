"""Streamlit web UI: a library of indexes (collections), conversations kept per index, streamed answers whose
citations open the PDF page with the quote highlighted or the code at its real lines.

Run with ``docqa ui [--index DIR]``. The parts: ``app/ui_state.py`` (what sessions share, the answering
queue per model), ``app/ui_chat.py`` (chat and viewer), ``app/ui_viewer.py`` (page rendering and markup,
no Streamlit), ``app/ui_library.py`` (uploads and builds), ``app/conversations.py`` (SQLite store).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import typing
from pathlib import Path
from typing import Any

import streamlit as st

from app.conversations import to_markdown
from app.factory import llm_names, reranker_names
from app.ui_chat import ask, md_escape, render_turn, render_viewer, rich
from app.ui_library import (
    build_files,
    collection_dir,
    collections,
    file_rows,
    index_ready,
    read_failures,
    rebuild,
    record_outcome,
    remove_file,
    safe_name,
    save_upload,
    settings_for,
)
from app.ui_state import base_settings, documents, effective_settings, names, open_index, store, uploads
from app.ui_viewer import text_html
from ingest.core.errors import InputError, QAError
from ingest.core.settings import AnswerModeSetting, UnsupportedPolicy, VerifyMode, choices
from retrieval.store import Manifest

SAMPLE = Path(__file__).with_name("samples") / "harbor-light-report.pdf"


def _cli_index() -> str | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args.index


def _notice(kind: str, text: str, *, where: str = "library") -> None:
    """A message shown once, after the next rerun, in the library or the chat."""
    st.session_state.setdefault(f"notices-{where}", []).append((kind, text))


def _show_notices(where: str) -> None:
    for kind, text in st.session_state.pop(f"notices-{where}", []):
        getattr(st, kind)(md_escape(text))  # names and reasons come from files: shown as plain text


# -- sidebar: index, conversation, settings -----------------------------------------------------------------

def _index_label(directory: str) -> str:
    """"reports (collection)", or "name · /full/path" for an index directory (labels must be unique)."""
    root = base_settings().cache.root / "collections"
    path = Path(directory)
    return f"{path.name} (collection)" if path.parent == root else f"{path.name} · {directory}"


def _picked_index() -> None:
    st.session_state.index_dir = st.session_state["index-pick"]
    st.session_state.pop("conversation", None)
    st.session_state.pop("viewer", None)


def _picked_conversation(conversation_id: int) -> None:
    st.session_state.conversation = conversation_id
    st.session_state.pop("viewer", None)


def _select_index() -> str | None:
    """The index directory this session works on, chosen in the sidebar."""
    state = st.session_state
    options: list[str] = []
    if _cli_index():
        options.append(str(Path(_cli_index() or "").expanduser().resolve()))
    options += [str(p) for p in collections(base_settings().cache.root)]
    options += [d for d in state.setdefault("opened", []) if d not in options]
    options = list(dict.fromkeys(options))
    if state.get("index_dir") not in options:
        state.index_dir = options[0] if options else None
    if options:
        state["index-pick"] = state.index_dir  # the widget shows the session's choice (set before it is drawn)
        st.selectbox("Index", options, key="index-pick", format_func=_index_label, on_change=_picked_index,
                     help="a collection made here, or an index directory built with `docqa index`")
    with st.popover("New collection", width="stretch"):
        name = st.text_input("Name", key="new-collection", placeholder="reports")
        if st.button("Create", key="create-collection", disabled=not name.strip()):
            directory = collection_dir(base_settings().cache.root, name)
            directory.mkdir(parents=True, exist_ok=True)
            state.index_dir = str(directory)
            st.rerun()
    with st.popover("Open an index directory", width="stretch"):
        path = st.text_input("Directory", key="open-dir", placeholder="/path/to/index")
        if st.button("Open", key="open-index", disabled=not path.strip()):
            chosen = str(Path(path.strip()).expanduser().resolve())
            if index_ready(chosen):
                state.opened.append(chosen)
                state.index_dir = chosen
                st.rerun()
            st.error(f"no index at {md_escape(path.strip())} (build one with `docqa index`, or create a collection)")
    if not options and st.button("Try the bundled sample report", key="sample"):
        directory = collection_dir(base_settings().cache.root, "sample")
        saved = save_upload(uploads(str(directory)), SAMPLE.name, SAMPLE.read_bytes())
        with st.spinner("Indexing the sample…"):
            build_files([str(saved)], directory, base_settings(), add=True)
        state.index_dir = str(directory)
        st.rerun()
    return state.index_dir


def _select_conversation(directory: str) -> int:
    """The conversation shown, with new, rename, delete and export."""
    state, conversations = st.session_state, store()
    listed = conversations.conversations(directory)
    ids = [c.id for c in listed]
    if state.get("conversation") not in ids:
        state.conversation = ids[0] if ids else conversations.create(directory)
        state.pop("viewer", None)
        listed = conversations.conversations(directory)
        ids = [c.id for c in listed]
    if st.button("New conversation", key="new-conversation", icon=":material/add:", width="stretch"):
        state.conversation = conversations.create(directory)
        state.pop("viewer", None)
        st.rerun()
    st.caption("Conversations")
    box = st.container(height=320, border=False) if len(listed) > 8 else st.container()
    for c in listed:  # one button per conversation, keyed by its id (titles may repeat, and change)
        box.button(f"{md_escape(c.title)} ({c.turns})", key=f"conversation-{c.id}", width="stretch",
                  type="primary" if c.id == state.conversation else "secondary", on_click=_picked_conversation,
                  args=(c.id,), icon=":material/chat:")
    cid = state.conversation
    title = conversations.title(cid)
    with st.popover("Rename, export or delete", width="stretch"):
        new_title = st.text_input("Title", value=title, key=f"title-{cid}")
        if st.button("Rename", key=f"rename-{cid}"):
            try:
                conversations.rename(cid, new_title)
                st.rerun()
            except ValueError as err:
                st.error(str(err))
        shown = names(directory)
        st.download_button("Export as Markdown", data=to_markdown(title, conversations.turns(cid),
                                                                    label=shown.label, scrub=shown.scrub),
                           file_name=f"{safe_name(title)}.md", mime="text/markdown", key=f"export-{cid}")
        if st.button("Delete this conversation", key=f"delete-{cid}", type="primary"):
            conversations.delete(cid)
            state.pop("conversation", None)
            st.rerun()
    return cid


def _literal_index(options: typing.Sequence[str], value: str) -> int:
    return list(options).index(value) if value in options else 0


def _settings_panel(cid: int) -> dict[str, dict[str, Any]]:
    """The conversation's settings overrides, edited in a form and validated by ``Settings.replace``."""
    conversations = store()
    overrides = conversations.overrides(cid)
    try:
        current = effective_settings(overrides)
    except InputError as err:  # settings stored before the schema changed
        st.warning(f"stored settings no longer valid ({md_escape(str(err))}); using the defaults")
        overrides, current = {}, base_settings()
    with st.expander("Answer settings (this conversation)"), st.form(f"settings-{cid}", border=False):
        backends = llm_names()
        backend = st.selectbox("LLM backend", backends, index=_literal_index(backends, current.llm.backend))
        model = st.text_input("Model", value=current.llm.model, help="packaged model name, .gguf path, hub id")
        modes = choices(AnswerModeSetting)
        mode = st.selectbox("Answer mode", modes, index=_literal_index(modes, current.answer.mode),
                            help="retrieve: passages; full: whole documents; auto: whole documents when they fit")
        rerankers = reranker_names()
        rerank = st.selectbox("Reranker", rerankers, index=_literal_index(rerankers, current.answer.rerank))
        checks = choices(VerifyMode)
        verify = st.selectbox("Citation check", checks, index=_literal_index(checks, current.answer.verify))
        policies = choices(UnsupportedPolicy)
        unsupported = st.selectbox("Unsupported answers", policies,
                                   index=_literal_index(policies, current.answer.unsupported),
                                   help="abstain: withhold an answer no passage supports; flag: keep it, warn")
        top_k = st.number_input("Passages in the prompt (top-k)", min_value=1, max_value=100,
                                value=current.answer.top_k)
        applied = st.form_submit_button("Apply")
    if applied:
        base = base_settings()
        wanted: dict[str, dict[str, Any]] = {"llm": {"backend": backend, "model": model.strip()},
                  "answer": {"mode": mode, "rerank": rerank, "verify": verify, "unsupported": unsupported,
                             "top_k": int(top_k)}}
        changes = {section: {k: v for k, v in values.items() if getattr(getattr(base, section), k) != v}
                   for section, values in wanted.items()}
        changes = {section: values for section, values in changes.items() if values}
        if "top_k" in changes.get("answer", {}):  # as on the command line: a bigger k widens the pool with it
            changes["answer"]["rerank_candidates"] = max(base.answer.rerank_candidates, int(top_k))
        try:
            base.replace(**changes)
        except InputError as err:
            st.error(md_escape(str(err)))
            return overrides
        conversations.set_overrides(cid, changes)
        _notice("success", "Settings applied to this conversation.", where="chat")
        st.rerun()
    return overrides


# -- library --------------------------------------------------------------------------------------------------

def _progress_bar() -> Any:
    bar = st.progress(0.0, text="Reading files…")

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(min(1.0, done / total) if total else 1.0, text=f"{stage}: {done} of {total}")

    return progress


def _report(outcome: Any, shown: Any, what: str) -> None:
    if outcome.error:
        _notice("error", shown.scrub(outcome.error))
    else:
        _notice("success", f"{what}: the index holds {outcome.documents} documents, {outcome.passages} passages.")
    for path, reason in outcome.failed:
        _notice("warning", f"Not indexed: {shown.source(path)}: {shown.scrub(reason)}")
    for path, pages in outcome.empty_pages.items():
        _notice("info", f"{shown.source(path)}: {len(pages)} pages without extractable text: {list(pages)}")
    for path in outcome.kept_missing:
        _notice("info", f"{shown.source(path)} is no longer on disk; kept as it was indexed")


def _library(directory: str) -> None:
    """Add files or a folder, see each file's status, remove a file, rebuild."""
    shown, folder = names(directory), uploads(directory)
    manifest = Manifest.read(Path(directory)) if index_ready(directory) else None
    settings = settings_for(base_settings(), manifest)
    nonce = st.session_state.setdefault("upload-nonce", 0)
    left, right = st.columns(2)
    files = left.file_uploader("Add files", accept_multiple_files=True, key=f"upload-{nonce}")
    tree = right.file_uploader("…or a folder", accept_multiple_files="directory", key=f"upload-dir-{nonce}")
    chosen = list(files or []) + list(tree or [])
    if st.button(f"Add {len(chosen)} file{'s' if len(chosen) != 1 else ''} to the index", key="add-files",
                 type="primary", disabled=not chosen):
        saved = [str(save_upload(folder, f.name, f.getvalue())) for f in chosen]
        try:
            outcome = build_files(saved, directory, settings, add=True, progress=_progress_bar())
        except QAError as err:
            _notice("error", shown.scrub(str(err)))
        else:
            record_outcome(folder, saved, outcome)
            for path, _ in outcome.failed:  # an upload that cannot be indexed is not kept
                Path(path).unlink(missing_ok=True)
            _report(outcome, shown, f"Added {len(saved) - len(outcome.failed)} of {len(saved)} files")
        st.session_state["upload-nonce"] = nonce + 1
        st.rerun()
    with st.expander("Add a folder on this machine"):
        path = st.text_input("Folder", key="add-folder", placeholder="/path/to/docs")
        if st.button("Add the folder", key="add-folder-go", disabled=not path.strip()):
            target = Path(path.strip()).expanduser()
            if not target.is_dir():
                st.error(f"{md_escape(path.strip())}: not a folder")
            else:
                try:
                    outcome = build_files([str(target)], directory, settings, add=True, progress=_progress_bar())
                except QAError as err:
                    _notice("error", shown.scrub(str(err)))
                else:
                    record_outcome(folder, [], outcome)
                    _report(outcome, shown, f"Added {target}")
                st.rerun()
    _show_notices("library")
    if manifest is None:
        st.info("This index has no documents yet: add files or a folder.")
    else:
        _file_table(directory, manifest, settings, shown)
    failures = read_failures(folder)
    if failures:
        st.markdown("**Not indexed**")
        st.markdown("\n".join(f"- {md_escape(shown.source(p))}: {md_escape(shown.scrub(f['reason']))}"
                              for p, f in sorted(failures.items())))


def _file_table(directory: str, manifest: Manifest, settings: Any, shown: Any) -> None:
    rows = file_rows(manifest)
    widths = [3.6, 1.2, 0.8, 0.9, 3, 1.3, 1.3]
    for col, title in zip(st.columns(widths), ["file", "kind", "pages", "passages", "status", "", ""], strict=True):
        col.markdown(f"**{title}**")
    for row in rows:
        key = hashlib.sha256(row.source.encode()).hexdigest()[:12]
        cols = st.columns(widths, vertical_alignment="center")
        cols[0].markdown(md_escape(shown.source(row.source)))
        cols[1].markdown(row.kind)
        cols[2].markdown(str(row.pages or "–"))
        cols[3].markdown(str(row.passages))
        cols[4].markdown(md_escape(row.status))
        cols[5].button("Preview", key=f"preview-{key}", icon=":material/visibility:", type="tertiary",
                       on_click=lambda source=row.source: st.session_state.update(preview=source))
        if cols[6].button("Remove", key=f"remove-{key}", icon=":material/delete:", type="tertiary"):
            try:
                outcome = remove_file(directory, row.source, settings, manifest, progress=_progress_bar())
            except QAError as err:
                outcome = None
                _notice("error", shown.scrub(str(err)))
            if outcome is not None:
                _report(outcome, shown, f"Removed {shown.source(row.source)}")
                if not outcome.error and Path(row.source).is_relative_to(uploads(directory)):
                    Path(row.source).unlink(missing_ok=True)
            st.rerun()
    if st.button("Rebuild (read every file again)", key="rebuild", icon=":material/refresh:"):
        try:
            _report(rebuild(directory, settings, manifest, progress=_progress_bar()), shown, "Rebuilt")
        except QAError as err:
            _notice("error", shown.scrub(str(err)))
        st.rerun()
    preview = next((d for d in documents(directory).values() if d.source == st.session_state.get("preview")), None)
    if preview is not None:
        st.markdown(f"**{md_escape(shown.source(preview.source))}**, as indexed (the start):")
        rich(text_html(preview.text[:4000], (0, 0), None), key="preview-text")


# -- the page -------------------------------------------------------------------------------------------------

def _chat(directory: str, cid: int, overrides: dict[str, dict[str, Any]]) -> None:
    try:
        index = open_index(directory, overrides)
    except QAError as err:
        st.error(md_escape(names(directory).scrub(str(err))))
        return
    if index is None:
        st.info("This index has no documents yet: add some in the Library tab.")
        return
    shown = names(directory)
    turns = store().turns(cid)
    viewing = bool(st.session_state.get("viewer"))
    left, right = st.columns([2, 3] if viewing else [1, 1], gap="large")  # an open source gets the room
    with right:
        render_viewer(turns, directory, shown)
    with left:
        for i, turn in enumerate(turns):
            render_turn(i, turn, shown, prefix=f"c{cid}")
        pending = st.container()
        question = st.chat_input("Ask a question about the documents", key="ask", submit_mode="disable",
                                 max_chars=base_settings().serve.max_question_chars)
        if question and question.strip():
            with pending:
                with st.chat_message("user"):
                    st.markdown(md_escape(question))
                with st.chat_message("assistant"):
                    answered = ask(index, index.settings, turns, question, shown)
            if answered is not None:
                store().add_turn(cid, answered)
                st.rerun()


def main() -> None:
    """The page."""
    st.set_page_config(page_title="docqa", page_icon="📄", layout="wide")
    with st.sidebar:
        st.title("docqa")
        st.caption("Answers cite the passages they rest on: the PDF page, the file and its lines, the slide, the "
                   "Word section or the cell range.")
        directory = _select_index()
        if directory is None:
            st.info("Create a collection, open an index directory, or try the bundled sample.")
            return
        cid = _select_conversation(directory)
        overrides = _settings_panel(cid)
        manifest = Manifest.read(Path(directory)) if index_ready(directory) else None
        if manifest is not None:
            st.caption(f"{manifest.counts['documents']} documents, {manifest.counts['passages']} passages · "
                       f"{manifest.embedder['model']}")
    chat, library = st.tabs(["Chat", "Library"])
    with library:
        _library(directory)
    with chat:
        _show_notices("chat")
        _chat(directory, cid, overrides)


if __name__ == "__main__":
    main()
