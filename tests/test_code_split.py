"""AST-aware code splitting: units and symbols per language, SEA blocks, fallbacks, and the coverage property."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.code import CodeSplitter, code_units, greedy_blocks, module_path
from ingest.code.languages import get_parser
from ingest.core.records import Document, Passage, line_span
from ingest.core.settings import SplitSettings
from ingest.loaders import load_file
from tests.fakes import FakeEmbedder

COUNT = FakeEmbedder().count_tokens
TOKENISH = re.compile(r"string|comment|heredoc|nowdoc|template_literal")


def doc_of(text: str, language: str | None, source: str = "mod.py") -> Document:
    return Document(doc_id="d", source=source, text=text, kind="code", language=language)


def split(text: str, language: str | None, source: str = "mod.py", *, chunk: int = 200, overlap: int = 32,
          **kw: object) -> list[Passage]:
    splitter = CodeSplitter(SplitSettings(chunk_tokens=chunk, overlap_tokens=overlap), COUNT, **kw)
    return splitter.split(doc_of(text, language, source))


def node_starts(text: str, language: str) -> tuple[set[tuple[int, int]], set[int]]:
    """Every node's start point, and the rows that lie strictly inside a multi-row string or comment."""
    root = get_parser(language).parse(text.encode()).root_node
    starts: set[tuple[int, int]] = set()
    inside: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        starts.add(tuple(node.start_point))
        last = node.end_point[0] - (1 if node.end_point[1] == 0 else 0)  # a token ending at column 0 (Rust ///)
        if TOKENISH.search(node.type) and last > node.start_point[0]:
            inside.update(range(node.start_point[0] + 1, last + 1))
        stack.extend(node.children)
    return starts, inside


def check_invariants(doc: Document, passages: Sequence[Passage], *, budget: int) -> None:
    """Exact provenance, every non-blank line covered, AST passages aligned to nodes and within budget."""
    lines = doc.text.split("\n")
    covered: set[int] = set()
    parsed = doc.language is not None and get_parser(doc.language) is not None
    starts, inside = node_starts(doc.text, doc.language) if parsed else (set(), set())
    for p in passages:
        a, b = p.chars
        assert doc.text[a:b] == p.text and p.text.strip()
        assert p.lines == line_span(doc.text, a, b)
        assert p.kind == "code"
        covered.update(range(p.lines[0], p.lines[1] + 1))
        if p.splitter == "ast":
            assert p.symbol
            row = p.lines[0] - 1
            col = len(lines[row]) - len(lines[row].lstrip())
            assert a == sum(len(x) + 1 for x in lines[:row]), "AST passages start at a line start"
            assert (row, len(lines[row][:col].encode())) in starts, f"{p.label} does not start at a node"
            assert row not in inside, f"{p.label} starts inside a string or comment"
            assert COUNT(p.text) <= budget or p.lines[0] == p.lines[1], f"{p.label} over budget"
        else:
            assert p.splitter.startswith("fallback:")
    missing = [i + 1 for i, line in enumerate(lines) if line.strip() and i + 1 not in covered]
    assert not missing, f"lines not in any passage: {missing[:10]}"


def spans(passages: Sequence[Passage]) -> list[tuple[str | None, tuple[int, int] | None]]:
    return [(p.symbol, p.lines) for p in passages]


# -- Python ---------------------------------------------------------------------------------------------------------
PYTHON = '''"""Retry helpers."""
import os
import time

MAX_TRIES = 3


# Decides whether to try again.
@functools.cache
@trace(level=2)
def should_retry(error, attempt):
    """True while attempts remain."""
    return attempt < MAX_TRIES


class RetryPolicy(Base):
    """How often and how long to wait."""

    backoff: float = 1.5

    class Jitter:
        # random spread
        def spread(self, delay):
            return delay * 0.1

    @property
    def delay(self):
        return self.backoff ** 2


if __name__ == "__main__":
    print(should_retry(None, 1))
'''


def test_python_units_symbols_decorators_and_nested_classes() -> None:
    passages = split(PYTHON, "python", "retry.py")
    assert spans(passages) == [
        ("retry", (1, 5)),  # module docstring, imports, constant: grouped
        ("retry.should_retry", (8, 13)),  # leading comment and both decorators stay with the function
        ("retry.RetryPolicy", (16, 19)),  # class header, docstring and field
        ("retry.RetryPolicy.Jitter.spread", (21, 24)),  # the short nested-class header opens its method
        ("retry.RetryPolicy.delay", (26, 28)),
        ("retry", (31, 32)),
    ]
    assert all(p.splitter == "ast" and p.kind == "code" for p in passages)
    assert passages[1].label == "retry.py:8-13"
    assert passages[1].text.startswith("# Decides whether to try again.\n@functools.cache")
    check_invariants(doc_of(PYTHON, "python", "retry.py"), passages, budget=200)


def test_file_with_only_imports_is_one_passage() -> None:
    text = "import os\nimport sys\nfrom collections import OrderedDict\n"
    assert spans(split(text, "python", "deps.py")) == [("deps", (1, 3))]


def test_small_neighbours_are_grouped_up_to_the_budget() -> None:
    text = "\n".join(f"CONSTANT_{i} = {i}" for i in range(40)) + "\n"
    passages = split(text, "python", "consts.py", chunk=40, overlap=0)
    assert len(passages) > 1 and all(p.symbol == "consts" for p in passages)
    assert all(COUNT(p.text) <= 40 for p in passages)
    check_invariants(doc_of(text, "python", "consts.py"), passages, budget=40)


def huge_function(n: int) -> str:
    body = []
    for i in range(n):
        if i % 7 == 3:
            body.append(f"    if total > {i}:\n        total -= {i}\n    else:\n        total += helper({i}, total)")
        else:
            body.append(f"    total = total * {i} + {i}")
    return "def crunch(values):\n    total = 0\n" + "\n".join(body) + "\n    return total  # the tail\n"


def test_huge_function_is_split_into_overlapping_sea_blocks_that_keep_the_tail() -> None:
    text = "import math\n\n" + huge_function(120) + "\n\ndef after():\n    return 1\n"
    doc = doc_of(text, "python", "big.py")
    passages = split(text, "python", "big.py", chunk=64, overlap=16)
    crunch = [p for p in passages if p.symbol == "big.crunch"]
    assert len(crunch) > 5
    assert crunch[0].text.startswith("def crunch(values):")
    assert crunch[-1].text.endswith("return total  # the tail")  # kept, unlike in SEA's reference code
    assert all(b.lines[0] <= a.lines[1] + 1 for a, b in zip(crunch, crunch[1:], strict=False))  # contiguous
    assert any(b.lines[0] <= a.lines[1] for a, b in zip(crunch, crunch[1:], strict=False))  # some overlap
    assert [p.symbol for p in passages][-1] == "big.after"
    check_invariants(doc, passages, budget=64)


def test_long_docstring_is_cut_into_marked_line_windows() -> None:
    doc_lines = "\n".join(f"    line {i} of a very long explanation about retries" for i in range(60))
    text = f'def documented():\n    """\n{doc_lines}\n    """\n    return 1\n'
    passages = split(text, "python", "doc.py", chunk=64, overlap=0)
    assert {p.symbol for p in passages} == {"doc.documented"}
    assert passages[0].splitter == "ast"
    assert any(p.splitter == "fallback:long-node" for p in passages)
    check_invariants(doc_of(text, "python", "doc.py"), passages, budget=64)


# -- other languages ------------------------------------------------------------------------------------------------
LANGUAGES: dict[str, tuple[str, str, list[tuple[str, tuple[int, int]]]]] = {
    "javascript": ("app.js", """'use strict';
const http = require('http');

// Decides the retry policy.
function retryPolicy(err) {
  return err.code === 'ETIMEDOUT';
}

const backoff = (n) => 2 ** n;

class Client {
  constructor(url) {
    this.url = url;
  }

  fetch() {
    return http.get(this.url);
  }
}

module.exports = { retryPolicy, Client };
""", [("app", (1, 2)), ("app.retryPolicy", (4, 7)), ("app.backoff", (9, 9)), ("app.Client.constructor", (11, 14)),
      ("app.Client.fetch", (16, 19)), ("app", (21, 21))]),
    "typescript": ("policy.ts", """import { Err } from "./err";

export interface Policy {
  tries: number;
}

/** Retries with backoff. */
export class Backoff implements Policy {
  tries = 3;

  @logged
  decide(err: Err): boolean {
    return err.transient;
  }
}

export type Decision = "retry" | "stop";
""", [("policy", (1, 1)), ("policy.Policy", (3, 5)), ("policy.Backoff", (7, 9)), ("policy.Backoff.decide", (11, 15)),
      ("policy.Decision", (17, 17))]),
    "tsx": ("view.tsx", """import React from "react";

export function RetryButton({ onRetry }: { onRetry: () => void }) {
  return <button onClick={onRetry}>Retry</button>;
}
""", [("view", (1, 1)), ("view.RetryButton", (3, 5))]),
    "java": ("Retry.java", """package net.retry;

import java.time.Duration;

/** Retry policy. */
@Immutable
public class Retry {
  private final int tries;

  /** Whether to retry. */
  @Override
  public boolean decide(int attempt) {
    return attempt < tries;
  }

  static class Jitter {
    double spread() { return 0.1; }
  }
}
""", [("Retry", (1, 3)), ("Retry.Retry", (5, 8)), ("Retry.Retry.decide", (10, 14)),
      ("Retry.Retry.Jitter.spread", (16, 19))]),
    "go": ("retry.go", """package retry

import "time"

// Policy decides retries.
type Policy struct {
	Tries int
}

// Decide reports whether to retry.
func (p *Policy) Decide(attempt int) bool {
	return attempt < p.Tries
}

func Wait(n int) time.Duration { return time.Second }
""", [("retry", (1, 3)), ("retry.Policy", (5, 8)), ("retry.Policy.Decide", (10, 13)), ("retry.Wait", (15, 15))]),
    "rust": ("retry.rs", """use std::time::Duration;

/// A retry policy.
#[derive(Debug, Clone)]
pub struct Policy {
    tries: u32,
}

impl Policy {
    /// Whether to retry.
    pub fn decide(&self, attempt: u32) -> bool {
        attempt < self.tries
    }
}

fn wait() -> Duration { Duration::from_secs(1) }
""", [("retry", (1, 1)), ("retry.Policy", (3, 7)), ("retry.Policy.decide", (9, 14)), ("retry.wait", (16, 16))]),
    "c": ("retry.c", """#include <stdbool.h>
#ifndef RETRY_H
#define RETRY_H

struct policy { int tries; };

/* Decides whether to retry. */
static bool decide(const struct policy *p, int attempt) {
    return attempt < p->tries;
}
#endif
""", [("retry", (1, 3)), ("retry.policy", (5, 5)), ("retry.decide", (7, 11))]),
    "cpp": ("retry.cpp", """#include <vector>

namespace net {
template <typename T>
class Retry {
 public:
  bool decide(int attempt) const {
    return attempt < tries_;
  }
 private:
  int tries_ = 3;
};
}

void net::Retry::reset() { tries_ = 0; }
""", [("retry", (1, 1)), ("retry.net.Retry", (3, 6)), ("retry.net.Retry.decide", (7, 9)), ("retry.net.Retry", (10, 13)),
      ("retry.net.Retry.reset", (15, 15))]),
    "csharp": ("Retry.cs", """using System;

namespace Net.Retry
{
    /// <summary>Retry policy.</summary>
    public class Policy
    {
        public int Tries { get; set; }

        /// <summary>Whether to retry.</summary>
        public bool Decide(int attempt)
        {
            return attempt < Tries;
        }
    }
}
""", [("Retry", (1, 1)), ("Retry.Net.Retry.Policy", (3, 8)), ("Retry.Net.Retry.Policy.Decide", (10, 16))]),
    "ruby": ("retry.rb", """require 'time'

module Net
  # Decides retries.
  class Retry
    def decide(attempt)
      attempt < 3
    end

    def self.build
      new
    end
  end
end
""", [("retry", (1, 1)), ("retry.Net.Retry.decide", (3, 8)), ("retry.Net.Retry.build", (10, 14))]),
    "php": ("Retry.php", """<?php
namespace Net;

/** Retry policy. */
class Retry {
    /** Whether to retry. */
    public function decide(int $attempt): bool {
        return $attempt < 3;
    }
}

function wait_for(int $n) { return $n; }
""", [("Retry", (1, 2)), ("Retry.Net.Retry.decide", (4, 10)), ("Retry.Net.wait_for", (12, 12))]),
}


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_language_units_symbols_and_spans(language: str) -> None:
    source, text, expected = LANGUAGES[language]
    passages = split(text, language, source)
    assert spans(passages) == expected
    assert all(p.splitter == "ast" for p in passages)
    check_invariants(doc_of(text, language, source), passages, budget=200)


def test_unknown_grammar_language_uses_generic_roles() -> None:
    text = 'package a\n\nclass Greeter(val name: String) {\n    fun greet(): String {\n        return "Hi"\n    }\n}\n'
    assert spans(split(text, "kotlin", "Main.kt")) == [("Main", (1, 1)), ("Main.Greeter.greet", (3, 7))]


# -- fallbacks ------------------------------------------------------------------------------------------------------
def test_badly_broken_file_falls_back_to_line_windows() -> None:
    text = "def ok(:\n    x = = 2\n    return (\n]]] }}} def\nclass :\n    pass pass\n"
    passages = split(text, "python", "broken.py")
    assert passages and {p.splitter for p in passages} == {"fallback:syntax-error"}
    assert all(p.symbol is None for p in passages)
    check_invariants(doc_of(text, "python", "broken.py"), passages, budget=200)


def test_small_syntax_error_keeps_ast_splitting() -> None:
    good = "\n\n".join(f"def f{i}(x):\n    return x + {i}" for i in range(20))
    text = good + "\n\nx = (\n"
    passages = split(text, "python", "almost.py")
    assert {p.splitter for p in passages} == {"ast"}
    assert "almost.f7" in {p.symbol for p in passages}
    check_invariants(doc_of(text, "python", "almost.py"), passages, budget=200)


@pytest.mark.parametrize("language", [None, "no-such-language"])
def test_no_grammar_falls_back(language: str | None) -> None:
    text = "SELECT 1;\n" * 5
    passages = split(text, language, "q.xyz")
    assert {p.splitter for p in passages} == {"fallback:no-grammar"}
    check_invariants(doc_of(text, language, "q.xyz"), passages, budget=200)


def test_minified_file_falls_back_to_character_windows() -> None:
    text = "var a=function(b){return b+1};" * 400 + "\n"
    doc = doc_of(text, "javascript", "app.min.js")
    passages = split(text, "javascript", "app.min.js", chunk=64, overlap=8)
    assert len(passages) > 10 and {p.splitter for p in passages} == {"fallback:minified"}
    assert all(COUNT(p.text) <= 64 for p in passages)
    covered = set()
    for p in passages:
        assert doc.text[p.chars[0]:p.chars[1]] == p.text and p.lines == (1, 1)
        covered.update(range(*p.chars))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_file_above_size_cap_falls_back() -> None:
    text = "\n\n".join(f"def f{i}():\n    return {i}" for i in range(50)) + "\n"
    passages = split(text, "python", "generated_pb2.py", max_bytes=200)
    assert {p.splitter for p in passages} == {"fallback:too-large"}
    check_invariants(doc_of(text, "python", "generated_pb2.py"), passages, budget=200)


def test_blank_file_gives_no_passages() -> None:
    assert split("\n   \n", "python") == []


def test_non_utf8_source_is_decoded_as_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "legacy.py"
    path.write_bytes('def greet():\n    return "café"  # naïve\n'.encode("cp1252"))
    doc = load_file(path)
    assert doc.kind == "code" and doc.language == "python"
    passages = CodeSplitter(SplitSettings(), COUNT).split(doc)
    assert [p.symbol for p in passages] == ["legacy.greet"] and "café" in passages[0].text


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        CodeSplitter(SplitSettings(), COUNT, max_depth=0)
    with pytest.raises(ValueError, match="max_error_share"):
        CodeSplitter(SplitSettings(), COUNT, max_error_share=2.0)


# -- symbols and units ----------------------------------------------------------------------------------------------
def test_module_path_climbs_python_packages(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("def f():\n    pass\n")
    assert module_path(str(pkg / "mod.py")) == "pkg.sub.mod"
    assert module_path(str(pkg / "__init__.py")) == "pkg.sub"
    doc = load_file(pkg / "mod.py")
    assert [p.symbol for p in CodeSplitter(SplitSettings(), COUNT).split(doc)] == ["pkg.sub.mod.f"]


def test_code_units_group_functions_classes_and_runs() -> None:
    passages = split(PYTHON, "python", "retry.py")
    units = {symbol: [passages[i].lines for i in members] for symbol, members in code_units(passages)}
    assert units["retry.RetryPolicy"] == [(16, 19), (21, 24), (26, 28)]  # the class holds its members
    assert units["retry.RetryPolicy.delay"] == [(26, 28)]
    assert units["retry.should_retry"] == [(8, 13)]
    assert [s for s, _ in code_units(passages)].count("retry") == 2  # two module-level runs
    big = split(huge_function(80), "python", "big.py", chunk=64, overlap=16)
    assert code_units(big) == [("big.crunch", tuple(range(len(big))))]


def test_make_splitter_plugs_the_ast_splitter_in() -> None:
    from app.factory import make_splitter

    splitter = make_splitter(SplitSettings(), FakeEmbedder())  # type: ignore[arg-type]
    assert splitter.identity()["code"] == "ast"
    assert {p.splitter for p in splitter.split(doc_of(PYTHON, "python", "retry.py"))} == {"ast"}


# -- the coverage property ------------------------------------------------------------------------------------------
PY_FRAGMENTS = [
    "import os",
    "from a.b import (\n    c,\n    d,\n)",
    "X = {\n    'a': 1,\n    'b': [1, 2,\n          3],\n}",
    "# a comment\n# more",
    "@decorator\ndef f(a, b):\n    '''Doc\n    string.'''\n    return a + b",
    "def g():\n    for i in range(3):\n        if i:\n            yield i\n        else:\n            pass\n    return",
    "class A(B):\n    x = 1\n\n    def m(self):\n        return self.x\n\n    class C:\n        def n(self): pass",
    "async def h():\n    async with lock:\n        await go()\n    s = f'''multi\n{line} text\n'''\n    return s",
    "try:\n    import ujson as json\nexcept ImportError:\n    import json",
    "if __name__ == '__main__':\n    main()",
    "def broken(:\n    pass",
    "def big():\n" + "\n".join(f"    v{i} = compute({i}, 'text {i}')" for i in range(30)) + "\n    return v0",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.sampled_from(PY_FRAGMENTS), min_size=1, max_size=12),
       gaps=st.lists(st.sampled_from(["\n", "\n\n", "\n\n\n"]), min_size=12, max_size=12),
       budget=st.sampled_from([24, 48, 200]))
def test_property_python_every_line_covered_and_aligned(parts: list[str], gaps: list[str], budget: int) -> None:
    text = "".join(part + gap for part, gap in zip(parts, gaps, strict=False))
    doc = doc_of(text, "python", "gen.py")
    passages = CodeSplitter(SplitSettings(chunk_tokens=budget, overlap_tokens=budget // 4), COUNT).split(doc)
    check_invariants(doc, passages, budget=budget)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(language=st.sampled_from(sorted(LANGUAGES)), data=st.data(), budget=st.sampled_from([16, 32, 200]))
def test_property_languages_every_line_covered_and_aligned(language: str, data: st.DataObject, budget: int) -> None:
    source, text, _ = LANGUAGES[language]
    lines = text.split("\n")
    # repeat and truncate the fixture: truncation makes partial (erroneous) syntax too
    copies = data.draw(st.integers(1, 3))
    cut = data.draw(st.integers(1, len(lines) * copies))
    text = "\n".join((lines * copies)[:cut]) + "\n"
    doc = doc_of(text, language, source)
    passages = CodeSplitter(SplitSettings(chunk_tokens=budget, overlap_tokens=budget // 4), COUNT).split(doc)
    check_invariants(doc, passages, budget=budget)


def test_sweep_over_standard_library_modules() -> None:
    """Real code: the interpreter's own json/ and http/ packages, at two budgets."""
    root = Path(json.__file__).parent.parent
    files = sorted((root / "json").glob("*.py")) + sorted((root / "http").glob("*.py"))
    assert len(files) >= 8
    for budget in (48, 200):
        splitter = CodeSplitter(SplitSettings(chunk_tokens=budget, overlap_tokens=budget // 4), COUNT)
        for path in files:
            doc = load_file(path)
            passages = splitter.split(doc)
            assert {p.splitter for p in passages} <= {"ast", "fallback:long-node"}, path
            check_invariants(doc, passages, budget=budget)


@settings(max_examples=300, deadline=None)
@given(tokens=st.lists(st.integers(1, 40), min_size=1, max_size=60), budget=st.integers(1, 80),
       overlap=st.integers(0, 40), max_items=st.integers(1, 12), overlap_items=st.integers(0, 6))
def test_greedy_blocks_cover_in_order_and_always_move_on(tokens, budget, overlap, max_items, overlap_items):
    blocks = greedy_blocks(tokens, budget, overlap, max_items=max_items, overlap_items=overlap_items)
    assert blocks[0][0] == 0 and blocks[-1][1] == len(tokens) - 1
    for (a, b), (c, d) in zip(blocks, blocks[1:], strict=False):
        assert a < c <= b + 1 and d > b  # each block starts later and adds a piece the previous lacked
    for a, b in blocks:
        assert b - a + 1 <= max_items
        assert a == b or sum(tokens[a:b + 1]) <= budget


@pytest.mark.parametrize("language, text", [
    ("python", "".join(" " * i + f"class A{i}:\n" for i in range(300)) + " " * 300 + "pass\n"),
    ("cpp", "namespace a {\n" * 2000 + "int x;\n" + "}\n" * 2000),
    ("javascript", "f(function(){\n" * 5000 + "g();\n" + "});\n" * 5000),
    ("c", "int f(void) {\n" + "{\n" * 5000 + "x;\n" + "}\n" * 5000 + "}\n"),
])
def test_deep_nesting_falls_back_without_recursion_errors_or_quadratic_time(language: str, text: str) -> None:
    import time

    start = time.process_time()  # CPU seconds: a busy machine does not make this slower
    passages = split(text, language)
    assert time.process_time() - start < 10
    assert {p.splitter for p in passages} == {"fallback:too-deep"}
    check_invariants(doc_of(text, language), passages, budget=200)


def test_moderate_nesting_keeps_ast_splitting() -> None:
    text = "".join(" " * (4 * i) + f"class A{i}:\n" for i in range(20)) + " " * 80 + "x = 1\n"
    passages = split(text, "python")
    assert {p.splitter for p in passages} == {"ast"}
