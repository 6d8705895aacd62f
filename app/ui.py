"""Streamlit web UI: open an index or upload files, chat, streamed answers, citations that open their passage.

Run with ``docqa ui [--index DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import sys
import tempfile
from pathlib import Path

import streamlit as st

from app.sdk import Index, open_adhoc
from app.settings import load_settings
from ingest.core.errors import QAError
from ingest.core.records import Answer, Citation

SAMPLE = Path(__file__).with_name("samples") / "harbor-light-report.pdf"


def _cli_index() -> str | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args.index


@st.cache_resource(show_spinner="Opening index…")
def _open_index(directory: str) -> Index:
    return Index.open(directory)


@st.cache_resource(show_spinner="Indexing…")
def _index_files(key: str, paths: tuple[str, ...]) -> Index:
    return open_adhoc(list(paths), settings=load_settings())


def _save_uploads(files: list) -> tuple[str, tuple[str, ...]]:
    digest = hashlib.sha256()
    root = Path(tempfile.gettempdir()) / "docqa-uploads"
    paths = []
    for f in files:
        data = f.getvalue()
        digest.update(f.name.encode() + data)
        target = root / hashlib.sha256(data).hexdigest()[:12] / Path(f.name).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        paths.append(str(target))
    return digest.hexdigest()[:16], tuple(paths)


def _page_text(index: Index, citation: Citation) -> str | None:
    p = citation.passage
    for doc in index.documents():
        if doc.doc_id == p.doc_id:
            for span in doc.pages:
                if span.number == p.page:
                    return doc.text[span.start:span.end]
    return None


def highlighted(text: str, span: tuple[int, int] | None) -> str:
    """HTML for a passage with its supporting quote marked; the document text is escaped (it is data).

    >>> highlighted("a <b> c. The quote.", (9, 19))
    'a &lt;b&gt; c. <mark>The quote.</mark>'
    """
    if span is None:
        return html.escape(text)
    a, b = span
    return html.escape(text[:a]) + "<mark>" + html.escape(text[a:b]) + "</mark>" + html.escape(text[b:])


def show_citations(index: Index, answer: Answer) -> None:
    """One expander per citation, holding the passage (code with its line numbers, prose with the supporting
    quote marked) and, for PDFs, the page."""
    for w in answer.warnings:
        st.warning(str(w))
    for c in answer.citations:
        p = c.passage
        with st.expander(f"[{c.number}] {c.label}" + (f" — {p.symbol}" if p.symbol else "")):
            if p.kind == "code":
                st.code(p.text, line_numbers=True)
                if p.lines:
                    st.caption(f"lines {p.lines[0]}–{p.lines[1]}")
            else:
                st.markdown(f"<blockquote style='white-space: pre-wrap'>{highlighted(p.text, c.quote_chars)}"
                            "</blockquote>", unsafe_allow_html=True)
            if p.page is not None:
                page = _page_text(index, c)
                if page and st.toggle("Show the whole page", key=f"page-{id(answer)}-{c.number}"):
                    st.text(page)
    if answer.dropped_citations:
        st.caption(f"Removed citations to passages that do not exist: {list(answer.dropped_citations)}")
    with st.expander("Run details"):
        st.json({"mode": answer.mode, "timings (s)": answer.timings, "tokens": answer.tokens, "model": answer.model,
                 "trace": answer.to_dict()["trace"], "notes": list(answer.notes)})


def main() -> None:
    """The page."""
    st.set_page_config(page_title="docqa", page_icon="📄", layout="wide")
    st.title("docqa")
    st.caption("Answers cite the passages they rest on: PDF page, or file and lines.")
    with st.sidebar:
        st.header("Documents")
        default_dir = _cli_index() or ""
        directory = st.text_input("Index directory", value=default_dir, help="built with `docqa index`")
        uploads = st.file_uploader("…or upload files", accept_multiple_files=True)
        use_sample = st.checkbox("Use the bundled sample report", value=not directory and not uploads)
    index: Index | None = None
    try:
        if uploads:
            key, paths = _save_uploads(uploads)
            index = _index_files(key, paths)
        elif directory:
            index = _open_index(directory)
        elif use_sample:
            index = _index_files("sample", (str(SAMPLE),))
    except QAError as err:
        st.error(str(err))
        return
    if index is None:
        st.info("Pick an index, upload files, or use the sample to start.")
        return
    with st.sidebar:
        m = index.manifest
        st.caption(f"{m.counts['documents']} documents, {m.counts['passages']} passages · {m.embedder['model']}")
    history = st.session_state.setdefault("history", [])
    for question, answer in history:
        st.chat_message("user").write(question)
        with st.chat_message("assistant"):
            st.markdown(answer.text)
            show_citations(index, answer)
    question = st.chat_input("Ask a question about the documents")
    if not question:
        return
    st.chat_message("user").write(question)
    with st.chat_message("assistant"):
        box = st.empty()
        streamed = ""
        final: Answer | None = None
        try:
            for piece in index.ask_stream(question):
                if isinstance(piece, Answer):
                    final = piece
                else:
                    streamed += piece
                    box.markdown(streamed + "▌")
        except QAError as err:
            st.error(str(err))
            return
        assert final is not None
        box.markdown(final.text)
        show_citations(index, final)
    history.append((question, final))


main()
