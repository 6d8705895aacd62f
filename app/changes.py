"""What the checks changed in a streamed answer, said in one line (the CLI and the OpenAI-compatible stream)."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\[\d+\]|\w+|[^\w\s]")  # a citation marker, a word or one punctuation mark
_CONTEXT_TOKENS = 4  # words quoted before a change
_MAX_CHANGES = 3  # more changes than this, or less than half the draft kept: the answer is given whole


def checked_note(streamed: str, final: str, *, label: str = "Checked") -> str | None:
    """One line saying what the checks changed in a streamed answer (None: nothing): each change (a citation
    marker removed or added, words replaced) after the words before it, or the final answer whole when little of
    the draft was kept (withheld, computed).

    >>> checked_note("It opened in 1932 [1].", "It opened in 1932 [1]. ") is None
    True
    >>> checked_note("It opened in 1932 [3]. It is red.", "It opened in 1932. It is red [2].")
    'Checked: removed [3] after "It opened in 1932"; added [2] after "It is red"'
    >>> checked_note("The toll is 5 euros [1].", "The document does not say.")
    'Checked: the answer is now: The document does not say.'
    """
    import difflib

    if final.strip() == streamed.strip():
        return None
    old, new = list(_TOKEN.finditer(streamed)), list(_TOKEN.finditer(final))
    matcher = difflib.SequenceMatcher(a=[m.group() for m in old], b=[m.group() for m in new], autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    kept = sum(size for *_, size in matcher.get_matching_blocks())
    if not changes or len(changes) > _MAX_CHANGES or kept * 2 < len(old):
        return f"{label}: the answer is now: {final.strip()}"

    def span(tokens: list[re.Match[str]], text: str, a: int, b: int) -> str:
        return text[tokens[a].start():tokens[b - 1].end()] if b > a else ""

    parts = []
    for op, i1, i2, j1, j2 in changes:
        start = j1  # up to _CONTEXT_TOKENS words before the change, within its sentence
        while start > 0 and j1 - start < _CONTEXT_TOKENS and new[start - 1].group() not in ".!?":
            start -= 1
        before = span(new, final, start, j1)
        where = f' after "{before}"' if before else " at the start"
        removed, added = span(old, streamed, i1, i2), span(new, final, j1, j2)
        parts.append(f"removed {removed}{where}" if op == "delete" else f"added {added}{where}" if op == "insert"
                     else f'"{removed}" became "{added}"{where}')
    return f"{label}: " + "; ".join(parts)
