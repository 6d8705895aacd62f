"""The chat of the web UI: answers with clickable citations, answering in the model's queue, follow-up
questions rewritten with the conversation, and the viewer a citation opens.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import streamlit as st

from app.conversations import Turn
from app.jobs import QueueFull
from app.sdk import Index
from app.ui_library import source_path
from app.ui_state import answer_queue, documents
from app.ui_viewer import (
    Box,
    Names,
    PageView,
    answer_html,
    code_html,
    file_matches,
    highlight_range,
    page_caption,
    page_html,
    page_pieces,
    quote_boxes,
    quote_lines,
    render_page,
    sheet_html,
    text_html,
)
from generation.followup import Rewrite
from ingest.core.errors import QAError
from ingest.core.records import Answer, Citation, Document, Message, line_span
from ingest.core.settings import Settings

# The one custom component: trusted markup built by app/ui_viewer.py (document text escaped there), links
# [n] that report the citation clicked, and a scroll box brought to its target line.
_JS = """
export default function(component) {
  const { data, setTriggerValue, parentElement } = component;
  let root = parentElement.querySelector(':scope > .docqa-root');
  if (!root) {
    root = document.createElement('div');
    root.className = 'docqa-root';
    parentElement.appendChild(root);
  }
  root.innerHTML = data.html;
  root.querySelectorAll('a[data-cite]').forEach((a) => {
    a.addEventListener('click', (event) => { event.preventDefault(); setTriggerValue('cite', a.dataset.cite); });
  });
  const box = root.querySelector('.docqa-scroll');
  const target = root.querySelector('.docqa-target');
  if (box && target) { box.scrollTop = Math.max(0, target.offsetTop - box.offsetTop - 32); }
}
"""
_CSS = """
.docqa-answer { white-space: pre-wrap; line-height: 1.6; }
a.docqa-cite { text-decoration: none; font-weight: 600; color: #c2410c; padding: 0 2px; border-radius: 3px; }
a.docqa-cite:hover { background: #fde68a; }
.docqa-scroll { max-height: 540px; overflow: auto; border: 1px solid #e5e7eb; border-radius: 6px; }
.docqa-code-head { font-size: 0.85rem; color: #4b5563; margin-bottom: 0.3rem; }
.docqa-line { display: flex; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.8rem;
  line-height: 1.45; white-space: pre; }
.docqa-ln { flex: none; width: 3.4em; padding-right: 0.8em; text-align: right; color: #9ca3af; user-select: none; }
.docqa-src { flex: 1; }
.docqa-line.docqa-cited { background: #fef3c7; }
.docqa-line.docqa-cited .docqa-ln { color: #b45309; font-weight: 600; }
.docqa-line.docqa-quote { background: #fde68a; }
.docqa-text .docqa-scroll { white-space: pre-wrap; padding: 0.6rem 0.8rem; font-size: 0.9rem; line-height: 1.5; }
span.docqa-passage { background: #fef3c7; }
span.docqa-quote { background: #fcd34d; }
.docqa-sheet table { border-collapse: collapse; font-size: 0.85rem; }
.docqa-sheet th, .docqa-sheet td { border: 1px solid #e5e7eb; padding: 2px 8px; white-space: nowrap; }
.docqa-sheet th { background: #f3f4f6; color: #6b7280; font-weight: 500; }
.docqa-sheet tr.docqa-head-row td { font-weight: 600; background: #f9fafb; }
.docqa-sheet tr.docqa-cited td { background: #fef3c7; }
.docqa-sheet td.docqa-quote { background: #fcd34d; outline: 2px solid #d97706; }
"""
_RICH = st.components.v2.component("docqa_rich", js=_JS, css=_CSS, isolate_styles=False)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$])")


def md_escape(text: str) -> str:
    """``text`` shown literally by ``st.markdown`` (no formatting, links, images or HTML).

    >>> md_escape("**x** [1](http://e)")
    '\\\\*\\\\*x\\\\*\\\\* \\\\[1\\\\]\\\\(http://e\\\\)'
    """
    return _MD_SPECIAL.sub(r"\\\1", text)


def _noop() -> None:
    return None


def rich(markup: str, *, key: str, on_cite: Any = None) -> Any:
    """Mount trusted ``markup`` (escaped document text inside); ``on_cite`` runs when a ``[n]`` is clicked."""
    return _RICH(key=key, data={"html": markup}, on_cite_change=on_cite or _noop)


def open_citation(turn: int, number: int) -> None:
    """Show citation ``number`` of turn ``turn`` in the viewer."""
    st.session_state.viewer = {"turn": turn, "number": number, "page": None}


def _clicked(key: str) -> None:
    value = (st.session_state.get(key) or {}).get("cite")
    if value:
        turn, number = str(value).split(":")
        open_citation(int(turn), int(number))


# -- turns ----------------------------------------------------------------------------------------------------

def run_details(answer: Answer, details: dict[str, Any], names: Names) -> dict[str, Any]:
    """What the run details expander shows: model, mode, reranker, check, timings, tokens, queue wait."""
    rerank = answer.stage("rerank")
    verify = answer.stage("verify")
    return {
        "model": answer.model,
        "answer mode": answer.mode,
        "reranker": rerank.method if rerank else "not run (whole documents)",
        "citation check": f"{verify.method} ({verify.outcome})" if verify else "none",
        "timings (s)": {k: round(v, 3) for k, v in answer.timings.items()},
        "tokens": answer.tokens,
        **{k: v for k, v in details.items() if k != "rewrite"},
        **({"follow-up rewrite": details["rewrite"]} if details.get("rewrite") else {}),
        "notes": [names.scrub(n) for n in answer.notes],
    }


def citation_label(citation: Citation, names: Names) -> str:
    """``[2] report.pdf p.3`` or ``[1] tide.py:12-18 · tide.Keeper.lamp_hours``."""
    p = citation.passage
    return f"[{citation.number}] {names.label(p)}" + (f" · {p.symbol}" if p.symbol else "")


def render_turn(i: int, turn: Turn, names: Names, *, prefix: str) -> None:
    """One question and its answer (text with clickable [n], warnings, draft, sources, run details)."""
    with st.chat_message("user"):
        st.markdown(md_escape(turn.asked))
    with st.chat_message("assistant"):
        a = turn.answer
        if turn.standalone != turn.asked:
            st.caption(f"Follow-up answered as: {md_escape(turn.standalone)}")
        note = (turn.details.get("rewrite") or {}).get("note")
        if note:
            st.caption(f"The model's rewrite was not used: {md_escape(note)}")
        key = f"{prefix}-text-{i}"
        rich(answer_html(names.scrub(a.text), [c.number for c in a.citations], turn=i), key=key,
             on_cite=functools.partial(_clicked, key))
        for w in a.warnings:
            st.warning(md_escape(names.scrub(str(w))), icon="⚠️")
        if a.warnings and a.draft.strip() and a.draft.strip() != a.text.strip():
            with st.expander("Draft before the citation check"):
                st.text(names.scrub(a.draft))
        if a.citations:
            st.caption("Sources (click to open)")
            for c in a.citations:
                st.button(md_escape(citation_label(c, names)), key=f"{prefix}-src-{i}-{c.number}", type="tertiary",
                          on_click=open_citation, args=(i, c.number))
        with st.expander("Run details"):
            st.json(run_details(a, turn.details, names), expanded=True)


def history_messages(turns: list[Turn]) -> list[Message]:
    """A conversation's turns as the pipeline's history: each standalone question and its answer."""
    return [m for t in turns for m in (Message("user", t.standalone), Message("assistant", t.answer.text))]


def ask(index: Index, settings: Settings, history: list[Turn], question: str, names: Names) -> Turn | None:
    """Answer ``question`` in the model's turn, streaming into the page; None when it could not be answered.

    A follow-up (``history`` not empty) is first rewritten into a standalone question by the pipeline with the
    same model, in the same turn: every use of the shared model is serialized.
    """
    queue = answer_queue(index)
    status = st.empty()
    try:
        ticket = queue.enter()
    except QueueFull as err:
        status.error(md_escape(str(err)))
        return None
    try:
        while not queue.wait(ticket, timeout=0.4):
            ahead = queue.position(ticket)
            if ahead < 0:
                status.error("The question was cancelled.")
                return None
            status.info(f"Waiting for the model: {ahead} question{'s' if ahead != 1 else ''} ahead of yours "
                        f"(place {ahead + 1} in line).", icon="⏳")
        waited = round(ticket.waited, 2)
        status.caption("Rewriting the follow-up question with the conversation, then searching and answering…"
                       if history else "Searching and answering…")
        box = st.empty()
        streamed = ""
        answering = index.ask_stream(question, history=history_messages(history))
        for piece in answering:
            streamed += piece
            box.markdown(md_escape(names.scrub(streamed)) + "▌")
        final = answering.answer
        status.empty()
    except QAError as err:
        status.error(md_escape(names.scrub(str(err))))
        return None
    finally:
        queue.release(ticket)
    rewrite = answering.rewrite or Rewrite(asked=question.strip(), standalone=final.question)
    s = settings
    details: dict[str, Any] = {
        "queue wait (s)": waited,
        "settings": {"backend": s.llm.backend, "model": s.llm.model, "answer mode": s.answer.mode,
                     "rerank": s.answer.rerank, "verify": s.answer.verify, "unsupported": s.answer.unsupported,
                     "top_k": s.answer.top_k},
    }
    if history:
        details["rewrite"] = {"rewritten": rewrite.rewritten, "standalone": rewrite.standalone,
                              "note": rewrite.note, "seconds": round(rewrite.seconds, 3), "tokens": rewrite.tokens}
    return Turn(asked=question.strip(), standalone=rewrite.standalone, answer=final, details=details)


# -- the viewer ---------------------------------------------------------------------------------------------

@st.cache_data(show_spinner="Rendering the page…", max_entries=64)
def _page_view(path: str, stamp: float, doc_id: str, page: int, quote: tuple[int, int] | None, note: str,
               _doc: Document) -> PageView:
    boxes: list[Box] = []
    if quote is not None and not note:
        boxes, note = quote_boxes(Path(path), _doc, page, *quote)
    return render_page(Path(path), page, boxes, note=note)


def _go_to_page(page: int) -> None:
    st.session_state.viewer = {**st.session_state.viewer, "page": page}


def _pdf(doc: Document, citation: Citation, names: Names) -> None:
    quote = highlight_range(citation)
    quote_pages = [s.number for s, _, _ in page_pieces(doc.pages, *quote)] if quote else []
    cited_page = (quote_pages[0] if quote_pages else None) or citation.passage.page or 1
    page = st.session_state.viewer.get("page") or cited_page
    path = source_path(doc.source)
    if not path.is_file():
        st.warning(f"{md_escape(names.source(doc.source))} is no longer on disk; its indexed text is shown instead.")
        span = next((s for s in doc.pages if s.number == page), None)
        if span is not None:
            rich(text_html(doc.text, citation.passage.chars, quote), key="viewer-text")
        return
    note = ""
    if not file_matches(path, doc.doc_id):
        note = "the file changed since it was indexed"
    elif quote is None:
        note = "the citation check located no supporting quote in this passage"
    elif page not in quote_pages:
        note = "the quote is on another page"
    view = _page_view(str(path), path.stat().st_mtime, doc.doc_id, page, quote if page in quote_pages else None,
                      note if page in quote_pages or quote is None else "", doc)
    prev, middle, nxt = st.columns([1, 6, 1], vertical_alignment="center")
    prev.button("", key="viewer-prev", icon=":material/chevron_left:", help="previous page", disabled=page <= 1,
                on_click=_go_to_page, args=(page - 1,))
    nxt.button("", key="viewer-next", icon=":material/chevron_right:", help="next page",
               disabled=page >= view.page_count, on_click=_go_to_page, args=(page + 1,))
    middle.caption(page_caption(view, cited_page=cited_page,
                                ocr=next((p for p in doc.ocr_pages if p.number == page), None)))
    if page != cited_page:
        st.button(f"Back to the cited page {cited_page}", key="viewer-back", on_click=_go_to_page,
                  args=(cited_page,))
    if view.note or (page in quote_pages and not view.boxes):
        st.info(f"No highlight drawn: {view.note or note}.", icon="ℹ️")
    st.html(page_html(view))


def render_viewer(turns: list[Turn], directory: str, names: Names) -> None:
    """The source the selected citation points at: PDF page, code file or surrounding text."""
    v = st.session_state.get("viewer")
    turn = turns[v["turn"]] if v and 0 <= v["turn"] < len(turns) else None
    citation = next((c for c in turn.answer.citations if c.number == v["number"]), None) if turn and v else None
    if citation is None:
        st.caption("Click a citation [n] in an answer, or a source below it, to open it here.")
        return
    p = citation.passage
    head, close = st.columns([8, 1], vertical_alignment="center")
    head.markdown(f"**{md_escape(citation_label(citation, names))}**")
    close.button("", key="viewer-close", icon=":material/close:", help="close the viewer",
                 on_click=lambda: st.session_state.pop("viewer", None))
    if citation.quote:
        st.caption(f"Quote: “{md_escape(' '.join(citation.quote.split()))}”")
    doc = documents(directory).get(p.doc_id)
    if doc is None:
        st.info("This document is no longer in the index; the passage as it was cited:")
        rich(text_html(p.text, (0, len(p.text)), citation.quote_chars), key="viewer-text")
    elif doc.kind == "pdf":
        _pdf(doc, citation, names)
    elif doc.kind == "code":
        quote = highlight_range(citation)
        rich(code_html(doc.text, language=doc.language, filename=names.source(doc.source),
                       cited=p.lines or line_span(doc.text, *p.chars), quote=quote_lines(doc.text, quote),
                       symbol=p.symbol), key="viewer-code")
    elif p.kind == "table" and p.place is not None:  # a sheet's cell range, a CSV's rows, a Word table
        quote = highlight_range(citation)
        rich(sheet_html(p, (quote[0] - p.chars[0], quote[1] - p.chars[0]) if quote else None), key="viewer-sheet")
    else:  # prose: a slide, a Word section, text and Markdown, in the surrounding text
        rich(text_html(doc.text, p.chars, highlight_range(citation)), key="viewer-text")

