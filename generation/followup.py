"""Follow-up questions: rewrite the last question of a conversation into one that stands on its own.

"And who funded it?" only makes sense after the earlier turns; retrieval and the answering prompt
see one question, so the answering model is asked first to rewrite it ("Who funded the Harbor Light
survey?"). The prompt building and the reply parsing are pure functions; :func:`rewrite_question`
makes the one model call. A reply that is empty, rambling or drops the question's own content words
is not used: the question is then asked as written, and the reason is kept so the user sees it.

Imports only ``ingest.core`` (the neutral layer).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.core.protocols import LLM
from ingest.core.records import Message
from ingest.core.text import STOPWORDS, defang, strip_markers

SYSTEM = (
    "You rewrite the user's last question so that it can be understood without the conversation. "
    "Replace words like it, they, this, that and there with what they refer to in the conversation. "
    "Keep the meaning and the words of the question; do not answer it. Reply with the rewritten question only.\n\n"
    "Example:\nConversation:\nUser: Who built the bridge?\nAssistant: The bridge was built by Ada Works.\n"
    "Last question: When did they finish it?\nStandalone question: When did Ada Works finish the bridge?"
)
MAX_TURNS = 3  # the most recent turns the rewrite sees; older ones rarely hold what a pronoun refers to
MAX_ANSWER_CHARS = 300  # an earlier answer is cut to this in the prompt (the start holds the facts)
MAX_REWRITE_TOKENS = 64
_PREFIX = re.compile(r"^\s*(?:[-*>]\s*)?(?:(?:standalone|rewritten|new|last)\s+)?question\s*:\s*", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_ANAPHORA = frozenset({"it", "its", "they", "them", "their", "theirs", "this", "that", "these", "those", "he",
                       "him", "his", "she", "her", "there", "then", "one", "ones", "same", "such", "former", "latter"})
_FOLLOWUP_WORDS = frozenset({"also", "and", "he", "her", "him", "his", "more", "one", "ones", "same", "so", "such",
                             "tell", "what's", "about", "else", "other", "others"})


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What the follow-up step decided.

    :param asked: the question as the user wrote it.
    :param standalone: the question that is searched and answered (``asked`` when the rewrite was not used).
    :param rewritten: whether ``standalone`` came from the model.
    :param note: why the model's reply was not used ("" when it was, or when no rewrite was needed); the
        question is then asked as written, or with the previous question added when it refers back to it.
    :param seconds: time the model call took (0 without one).
    :param tokens: prompt plus completion tokens of the call.
    """

    asked: str
    standalone: str
    rewritten: bool = False
    note: str = ""
    seconds: float = 0.0
    tokens: int = 0


def content_words(text: str) -> list[str]:
    """Lower-case words of ``text`` that carry meaning (no stop words, pronouns or one-letter words).

    >>> content_words("And who funded it in 2019?")
    ['funded', '2019']
    """
    skip = STOPWORDS | _FOLLOWUP_WORDS
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if len(w) > 1 and w not in skip]


def refers_back(question: str) -> bool:
    """Whether a question leans on an earlier turn (a pronoun such as "it" or "they").

    >>> refers_back("When was it funded?"), refers_back("Who funded the survey?")
    (True, False)
    """
    return any(m.group(0).lower() in _ANAPHORA for m in _WORD.finditer(question))


def with_previous(question: str, previous: str) -> str:
    """The fallback when the model's rewrite is not usable: the question with the previous one beside it, so
    retrieval and the answering model still see what "it" refers to.

    >>> with_previous("When was it funded?", "Who funded the Harbor survey?")
    'When was it funded? (follow-up to: Who funded the Harbor survey?)'
    """
    return f"{question} (follow-up to: {' '.join(previous.split())})"


def history_pairs(history: Sequence[Message]) -> list[tuple[str, str]]:
    """A conversation's messages as ``(question, answer)`` pairs, oldest first: each user message with the
    assistant replies that follow it (joined; "" when none did); system messages are skipped.

    >>> history_pairs([Message("system", "Be brief."), Message("user", "Who built it?"),
    ...                Message("assistant", "Ada Works."), Message("user", "When?")])
    [('Who built it?', 'Ada Works.'), ('When?', '')]
    """
    pairs: list[tuple[str, str]] = []
    for m in history:
        if m.role == "user" and m.content.strip():
            pairs.append((m.content.strip(), ""))
        elif m.role == "assistant" and pairs and m.content.strip():
            asked, answer = pairs[-1]
            pairs[-1] = (asked, f"{answer}\n{m.content.strip()}".strip())
    return pairs


def rewrite_messages(history: Sequence[tuple[str, str]], question: str, *, max_turns: int = MAX_TURNS
                     ) -> list[Message]:
    """The chat that asks the model for a standalone version of ``question``.

    :param history: earlier ``(question, answer)`` pairs, oldest first; only the last ``max_turns`` are shown,
        answers without their citation markers and cut to :data:`MAX_ANSWER_CHARS`.

    >>> msgs = rewrite_messages([("Who built the dam?", "Ada Works built it [1].")], "When?")
    >>> print(msgs[1].content)
    Conversation:
    User: Who built the dam?
    Assistant: Ada Works built it.
    Last question: When?
    Standalone question:
    """
    lines = ["Conversation:"]
    for asked, answer in list(history)[-max_turns:]:
        reply = " ".join(strip_markers(answer).split())
        if len(reply) > MAX_ANSWER_CHARS:
            reply = reply[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
        lines += [f"User: {defang(' '.join(asked.split()))}", f"Assistant: {defang(reply)}"]
    lines += [f"Last question: {' '.join(question.split())}", "Standalone question:"]
    return [Message("system", SYSTEM), Message("user", "\n".join(lines))]


def parse_rewrite(reply: str, question: str) -> tuple[str | None, str]:
    """The standalone question in the model's ``reply``, or None with the reason it is not usable.

    The first non-empty line is taken, without a "Standalone question:" prefix, quotes or citation markers.
    It is refused when it is empty, far longer than a question, not a question while the user asked one
    (the model answered it), or keeps fewer than half of the question's own content words (it wandered off).

    >>> parse_rewrite('Standalone question: "Who funded the Harbor Light survey?"\\nThanks', "And who funded it?")
    ('Who funded the Harbor Light survey?', '')
    >>> parse_rewrite("Who paid for the survey?", "Who funded it?")
    (None, 'the rewrite dropped words of the question (funded)')
    >>> parse_rewrite("The survey was funded by a trust.", "Who funded it?")
    (None, 'the model answered instead of rewriting the question')
    """
    line = next((s.strip() for s in reply.splitlines() if s.strip()), "")
    line = _PREFIX.sub("", line)
    line = strip_markers(line).strip().strip("\"'`“”‘’").strip()
    if not line:
        return None, "the model gave no rewrite"
    if len(line) > max(300, 4 * len(question)):
        return None, "the rewrite was far longer than a question"
    if question.rstrip().endswith("?") and not line.endswith("?"):
        return None, "the model answered instead of rewriting the question"
    wanted = content_words(question)
    have = " ".join(content_words(line))
    missing = [w for w in wanted if _stem(w) not in have]
    if wanted and len(missing) * 2 > len(wanted):
        return None, f"the rewrite dropped words of the question ({', '.join(missing)})"
    return line, ""


def _stem(word: str) -> str:
    """A crude prefix stem, so "funded" matches "funding" (5 characters; shorter words whole).

    >>> _stem("funded"), _stem("dam")
    ('funde', 'dam')
    """
    return word[:5]


def rewrite_question(llm: LLM, history: Sequence[tuple[str, str]], question: str, *,
                     max_tokens: int = MAX_REWRITE_TOKENS) -> Rewrite:
    """Ask ``llm`` for a standalone version of ``question`` (no call without ``history``).

    The caller owns the model: with a model shared between threads, call this where answering is
    serialized (llama.cpp must not run two generations at once).
    """
    question = question.strip()
    if not history:
        return Rewrite(asked=question, standalone=question)
    t = time.perf_counter()
    completion = llm.complete(rewrite_messages(history, question), max_tokens=max_tokens)
    seconds = time.perf_counter() - t
    tokens = completion.prompt_tokens + completion.completion_tokens
    standalone, note = parse_rewrite(completion.text, question)
    if standalone is None:
        fallback = with_previous(question, history[-1][0]) if refers_back(question) else question
        return Rewrite(asked=question, standalone=fallback, note=note, seconds=seconds, tokens=tokens)
    return Rewrite(asked=question, standalone=standalone, rewritten=standalone != question, seconds=seconds,
                   tokens=tokens)
