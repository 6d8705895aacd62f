"""Input families for the ingest fuzz suite: each a seeded generator of one test case (a few files).

A :class:`Case` is a set of directory entries (files, links, named pipes) written under its own
folder. Each entry says which outcomes it may have ("indexed", "skipped") and, for a skip, a word
the reason must contain; every family may end only in those: never a crash, a hang or a memory
blow-up. ``scale`` shrinks the big inputs (CI runs at 0.05-0.1, the benchmark at 1.0).
"""

from __future__ import annotations

import base64
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fuzz import office as office_files
from tests.fuzz.pdfs import WORDS, broken_pdf, encrypted_pdf, fpdf_bytes, mutated_pdf, sentence

ANY = frozenset({"indexed", "skipped"})
INDEXED = frozenset({"indexed"})
SKIPPED = frozenset({"skipped"})
TEXT_SUFFIXES = (".txt", ".md", ".py", ".html", ".csv", "", ".js", ".c", ".rst", ".log")


@dataclass
class Entry:
    """One directory entry of a case.

    :param path: relative path as bytes (any name a POSIX file system holds).
    :param data: file content (None for links and pipes).
    :param link: symbolic link target, relative to the entry's folder.
    :param fifo: a named pipe (reading one would block).
    :param mode: permissions to set after writing (e.g. 0o000).
    :param expect: outcomes this entry may have.
    :param reason: for a skip, a substring its reason must contain.
    :param query: words a search should find in this file once indexed (end-to-end checks).
    """

    path: bytes
    data: bytes | None = None
    link: bytes | None = None
    fifo: bool = False
    mode: int | None = None
    expect: frozenset[str] = ANY
    reason: str | None = None
    query: str | None = None


@dataclass
class Case:
    """A few entries from one family; ``baseline`` names the normal input its cost is compared with."""

    family: str
    variant: str
    entries: list[Entry] = field(default_factory=list)
    baseline: str = "text"


def prose(rng: random.Random, chars: int) -> str:
    """Paragraphs of dictionary words, about ``chars`` long."""
    paras: list[str] = []
    n = 0
    while n < chars:
        para = " ".join(sentence(rng, rng.randint(5, 20)) for _ in range(rng.randint(1, 6)))
        paras.append(para)
        n += len(para) + 2
    return "\n\n".join(paras)


def python_source(rng: random.Random, chars: int) -> str:
    """Plausible Python: functions and a class with docstrings."""
    out: list[str] = ['"""Module docstring."""', "import os", ""]
    n = 0
    while n < chars:
        name = rng.choice(WORDS)
        body = "\n".join(f"    {rng.choice(WORDS)}_{i} = len({rng.choice(WORDS)!r}) + {i}" for i in range(
            rng.randint(1, 12)))
        unit = f'def {name}_{n}(x):\n    """{sentence(rng)}"""\n{body}\n    return x\n'
        if rng.random() < 0.2:
            unit = f"class {name.capitalize()}{n}:\n" + "\n".join("    " + line for line in unit.splitlines()) + "\n"
        out.append(unit)
        n += len(unit)
    return "\n".join(out)


def _size(rng: random.Random, scale: float, sizes: tuple[int, ...]) -> int:
    return max(64, int(rng.choice(sizes) * scale))


# -- families ---------------------------------------------------------------------------------------------

def normal(rng: random.Random, scale: float) -> Case:
    """Ordinary files of every kind, at sizes from 1 KB to 1 MB: the cost baseline."""
    kind = rng.choice(["text", "code", "html", "pdf"])
    size = _size(rng, scale, (1_000, 10_000, 100_000, 1_000_000))
    words = prose(rng, size)
    if kind == "code":
        entry = Entry(b"module.py", python_source(rng, size).encode(), expect=INDEXED)
    elif kind == "html":
        body = "".join(f"<p>{p}</p>\n" for p in words.split("\n\n"))
        entry = Entry(b"page.html", f"<html><head><title>t</title></head><body>{body}</body></html>".encode(),
                      expect=INDEXED)
    elif kind == "pdf":
        pages = [words[i:i + 3000] for i in range(0, min(len(words), 150_000), 3000)]
        entry = Entry(b"report.pdf", fpdf_bytes(pages, compress=rng.random() < 0.5), expect=INDEXED)
    else:
        entry = Entry(b"notes.txt", words.encode(), expect=INDEXED)
    return Case("normal", kind, [entry], baseline=kind)


def pdf_mutated(rng: random.Random, scale: float) -> Case:
    """Well-formed PDFs with random byte edits."""
    return Case("pdf-mutated", "bytes", [Entry(b"mutated.pdf", mutated_pdf(rng))], baseline="pdf")


def pdf_broken(rng: random.Random, scale: float) -> Case:
    """Hand-written structural damage: cyclic references, bombs, deep nesting, bad filters, ..."""
    name, data = broken_pdf(rng, scale)
    return Case("pdf-broken", name, [Entry(f"broken-{name}.pdf".encode(), data)], baseline="pdf")


def pdf_encrypted(rng: random.Random, scale: float) -> Case:
    """Encrypted PDFs (RC4, AES-128, AES-256); some open with an empty user password."""
    opens, data = encrypted_pdf(rng)
    entry = Entry(b"locked.pdf", data, expect=INDEXED) if opens else Entry(b"locked.pdf", data, expect=SKIPPED,
                                                                              reason="password")
    return Case("pdf-encrypted", "owner-only" if opens else "user-password", [entry], baseline="pdf")


def binary_as_text(rng: random.Random, scale: float) -> Case:
    """Binary content under text and code names: random bytes, high bytes only, known binary headers."""
    size = _size(rng, scale, (500, 5_000, 50_000, 500_000))
    variant = rng.choice(["random", "high-bytes", "header", "utf16"])
    if variant == "random":
        data = rng.randbytes(size)
    elif variant == "high-bytes":  # no control bytes: passes as Windows-1252 text
        data = bytes(rng.randrange(0x80, 0x100) if rng.random() < 0.8 else rng.randrange(0x20, 0x7f)
                     for _ in range(size))
    elif variant == "header":
        head = rng.choice([b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"\x7fELF\x02\x01\x01", b"GIF89a", b"\x1f\x8b\x08"])
        data = head + rng.randbytes(size)
    else:
        data = prose(rng, size // 2).encode("utf-16")
    name = "blob" + rng.choice(TEXT_SUFFIXES)
    return Case("binary-as-text", variant, [Entry(name.encode(), data)])


def encodings(rng: random.Random, scale: float) -> Case:
    """Text in many encodings, mixed in one file, with invalid sequences."""
    size = _size(rng, scale, (500, 5_000, 50_000))
    text = prose(rng, size) + " naïve café Ærø straße ёжик 東京 ελληνικά"
    variant = rng.choice(["mixed", "legacy", "invalid-utf8", "bom"])
    if variant == "mixed":
        parts = [p.encode(rng.choice(["utf-8", "cp1252", "latin-1"]), errors="replace") for p in text.split("\n\n")]
        data = b"\n\n".join(parts)
    elif variant == "legacy":
        data = text.encode(rng.choice(["shift_jis", "gb18030", "koi8-r", "cp1251", "euc-kr", "cp437"]),
                           errors="replace")
    elif variant == "invalid-utf8":
        raw = bytearray(text.encode())
        for _ in range(rng.randint(1, 50)):
            raw[rng.randrange(len(raw)):0] = rng.choice([b"\xc0\xaf", b"\xe2\x82", b"\xf8\x88\x80\x80\x80", b"\xff",
                                                         b"\x81\x8d\x8f\x90\x9d"])
        data = bytes(raw)
    else:
        data = rng.choice([b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xfe\xff"]) + text.encode()
    name = "text" + rng.choice([".txt", ".md", ".py", ".html"])
    return Case("encodings", variant, [Entry(name.encode(), data)])


def surrogates(rng: random.Random, scale: float) -> Case:
    """Lone and paired UTF-16 surrogates: as CESU-8 bytes, as HTML character references, in code."""
    text = prose(rng, _size(rng, scale, (500, 5_000)))
    variant = rng.choice(["cesu8", "html-entity", "code-string"])
    pieces = ["\ud83d\ude00", "\ud800", "\udfff", "\udcff"]
    if variant == "cesu8":
        data = text.encode() + "".join(rng.choice(pieces) for _ in range(20)).encode("utf-8", "surrogatepass")
        return Case("surrogates", variant, [Entry(b"cesu.txt", data)])
    if variant == "html-entity":
        refs = "".join(rng.choice(["&#xD800;", "&#xDFFF;", "&#55357;", "&#x10FFFF;", "&#x110000;", "&#0;"])
                       for _ in range(20))
        return Case("surrogates", variant, [Entry(b"refs.html", f"<p>{text}</p><p>{refs}</p>".encode())],
                    baseline="html")
    src = f's = "{text[:200]}"\n' + "x = '" + "".join(rng.choice(pieces) for _ in range(10)) + "'\n"
    return Case("surrogates", variant, [Entry(b"strings.py", src.encode("utf-8", "surrogatepass"))], baseline="code")


def nul_bytes(rng: random.Random, scale: float) -> Case:
    """NUL bytes at the start (binary), after the first 8 KiB (text with NULs), spread through code."""
    text = prose(rng, 12_000).encode()
    variant = rng.choice(["head", "late", "spread-code"])
    if variant == "head":
        return Case("nul-bytes", variant, [Entry(b"nul.txt", b"\x00" + text, expect=SKIPPED, reason="binary")])
    if variant == "late":
        cut = 9000 + rng.randrange(len(text) - 9000)
        return Case("nul-bytes", variant, [Entry(b"late.txt", text[:cut] + b"\x00" * rng.randint(1, 100) + text[cut:],
                                                 expect=INDEXED)])
    src = bytearray(python_source(rng, 12_000).encode())
    for _ in range(rng.randint(1, 30)):
        src.insert(rng.randrange(8200, len(src)), 0)
    return Case("nul-bytes", variant, [Entry(b"nul.py", bytes(src), expect=INDEXED)], baseline="code")


def _one_line(rng: random.Random, size: int) -> tuple[str, bytes, bytes]:
    """A single-line file of about ``size`` bytes: (variant, name, bytes)."""
    variant = rng.choice(["letters", "words", "base64", "minified-js", "csv-row"])
    if variant == "letters":
        return variant, b"line.txt", (string.ascii_lowercase * (size // 26 + 1))[:size].encode()
    if variant == "words":
        return variant, b"words.md", " ".join(rng.choice(WORDS) + str(rng.randrange(50))
                                                for _ in range(size // 8)).encode()
    if variant == "base64":
        return variant, b"blob.txt", base64.b64encode(rng.randbytes(size * 3 // 4))
    if variant == "minified-js":
        unit = "function a{0}(b,c){{return b+c*{0}}};var x{0}=[1,2,{0}];".format
        return variant, b"bundle.min.js", "".join(unit(i) for i in range(size // 50)).encode()
    return variant, b"row.csv", ",".join(str(rng.randrange(10**6)) for _ in range(size // 7)).encode()


def long_lines(rng: random.Random, scale: float) -> Case:
    """Single-line files of 20 KB to 1 MB: letters, words without punctuation, base64, minified JS, CSV rows."""
    variant, name, data = _one_line(rng, _size(rng, scale, (20_000, 100_000, 300_000, 1_000_000)))
    return Case("long-lines", variant, [Entry(name, data, expect=INDEXED)],
                baseline="code" if name.endswith(b".js") else "text")


def huge_lines(rng: random.Random, scale: float) -> Case:
    """Single-line files of 2 to 20 MB (the benchmark runs a few; each costs seconds)."""
    variant, name, data = _one_line(rng, _size(rng, scale, (2_000_000, 5_000_000, 10_000_000, 20_000_000)))
    return Case("huge-lines", variant, [Entry(name, data, expect=INDEXED)],
                baseline="code" if name.endswith(b".js") else "text")


def nested_html(rng: random.Random, scale: float) -> Case:
    """Deeply nested or never-closed tags, nested tables, comment and script soup."""
    depth = max(50, int(rng.choice([500, 5_000, 50_000]) * scale))
    variant = rng.choice(["divs", "unclosed", "tables", "soup"])
    word = rng.choice(WORDS)
    if variant == "divs":
        markup = "<div>" * depth + word + "</div>" * depth
    elif variant == "unclosed":
        markup = "".join(f"<{rng.choice(['b', 'i', 'span', 'p', 'li'])}>{word} " for _ in range(depth))
    elif variant == "tables":
        markup = "<table><tr><td>" * (depth // 3) + word + "</td></tr></table>" * (depth // 3)
    else:
        markup = "".join(rng.choice(["<!--", "-->", "<script>", "</script>", "<style>", "<", ">", "&amp", word, "<p",
                                     "</", "<![CDATA[", "]]>"]) for _ in range(depth))
    return Case("nested-html", variant, [Entry(b"page.html", f"<html><body>{markup}</body></html>".encode())],
                baseline="html")


def nested_code(rng: random.Random, scale: float) -> Case:
    """Deep nesting in several languages: classes, blocks, namespaces, literals, callbacks."""
    depth = max(20, int(rng.choice([100, 500, 2_000, 10_000]) * scale))
    variant = rng.choice(["py-classes", "py-ifs", "c-braces", "cpp-namespaces", "js-callbacks", "py-lists", "rb"])
    indent = min(depth, 2_000)  # indentation makes Python's size quadratic in the depth
    if variant == "py-classes":
        src = "".join(" " * i + f"class A{i}:\n" for i in range(indent)) + " " * indent + "pass\n"
        name = b"deep.py"
    elif variant == "py-ifs":
        src = "def f(x):\n" + "".join(" " * (i + 1) + "if x:\n" for i in range(indent)) + " " * (indent + 1) + "pass\n"
        name = b"ifs.py"
    elif variant == "c-braces":
        src, name = "int f(void) {\n" + "{\n" * depth + "x;\n" + "}\n" * depth + "}\n", b"deep.c"
    elif variant == "cpp-namespaces":
        src, name = "namespace a {\n" * depth + "int x;\n" + "}\n" * depth, b"deep.cpp"
    elif variant == "js-callbacks":
        src, name = "f(function(){\n" * depth + "g();\n" + "});\n" * depth, b"deep.js"
    elif variant == "py-lists":
        src, name = "x = " + "[" * depth + "1" + "]" * depth + "\n", b"lists.py"
    else:
        src, name = "module A\n" * depth + "def f; end\n" + "end\n" * depth, b"deep.rb"
    return Case("nested-code", variant, [Entry(name, src.encode(), expect=INDEXED)], baseline="code")


def pathological_code(rng: random.Random, scale: float) -> Case:
    """Source that is valid but odd: thousands of tiny functions, giant literals, unbalanced braces, mixed
    languages, syntax soup."""
    size = _size(rng, scale, (10_000, 100_000, 1_000_000))
    variant = rng.choice(["many-functions", "giant-string", "unbalanced", "soup", "long-function"])
    if variant == "many-functions":
        src, name = "".join(f"def f{i}(): return {i}\n" for i in range(size // 25)), b"many.py"
    elif variant == "giant-string":
        src, name = 'DATA = """' + prose(rng, size) + '"""\n', b"data.py"
    elif variant == "unbalanced":
        src, name = "".join(rng.choice(["{", "}", "(", ")", "[", "]", "x;\n", "if (a) "]) for _ in range(size // 3)), \
            b"broken.c"
    elif variant == "soup":
        src = "".join(rng.choice(["def ", "class ", ":", "\n", "    ", "(", ")", "'", '"""', "#", "\\", "lambda", "x"])
                      for _ in range(size // 3))
        name = b"soup.py"
    else:
        src = "def long():\n" + "".join(f"    v{i} = {i} * 2  # {rng.choice(WORDS)}\n" for i in range(size // 30))
        name = b"long.py"
    return Case("pathological-code", variant, [Entry(name, src.encode(), expect=INDEXED)], baseline="code")


def random_unicode(rng: random.Random, scale: float) -> Case:
    """Random code points from every plane: combining marks, RTL, ZWJ, private use, noncharacters."""
    size = _size(rng, scale, (1_000, 10_000, 100_000, 300_000))
    variant = rng.choice(["all-planes", "combining", "bmp-no-space", "spaced"])
    if variant == "all-planes":
        chars = (chr(rng.randrange(0x20, 0x110000)) for _ in range(size))
    elif variant == "combining":
        chars = ("a" + "".join(chr(rng.randrange(0x300, 0x370)) for _ in range(rng.randint(1, 50)))
                 for _ in range(size // 20))
    elif variant == "bmp-no-space":
        chars = (chr(rng.randrange(0x4E00, 0xA000)) for _ in range(size))
    else:
        chars = (chr(rng.randrange(0x20, 0x3000)) if rng.random() < 0.85 else " " for _ in range(size))
    text = re.sub("[\ud800-\udfff]", "", "".join(chars))  # lone surrogates have a family of their own
    name = "unicode" + rng.choice([".txt", ".md", ".py", ".html"])
    return Case("random-unicode", variant, [Entry(name.encode(), text.encode())])


_ODD_NAMES = [b"caf\xe9.txt", b"\xff\xfe.md", b"na\xefve\x80.py", b"new\nline.txt", b"tab\there.txt",
              b"-rf.txt", b"colon: name.txt", b"back\\slash.txt", b"caf\\xe9.txt", b" spaced .txt",
              "ünïcödé.txt".encode(), "cafe\u0301.txt".encode(), "e\u200dmoji\U0001f600.txt".encode(),
              b"x" * 251 + b".txt", b"semi;colon$(x).txt", b"quote'\"s.txt", "日本語.md".encode()]


def odd_names(rng: random.Random, scale: float) -> Case:
    """Files whose names are not UTF-8, hold control characters, escapes, shell metacharacters, or are long."""
    picks = rng.sample(_ODD_NAMES, rng.randint(1, 3))
    entries = []
    for i, name in enumerate(picks):
        word = f"{rng.choice(WORDS)}{rng.randrange(10**6)}"
        entries.append(Entry(name, f"{sentence(rng)} The marker word is {word}.\n".encode(), expect=INDEXED,
                             query=word))
        if i == 0 and rng.random() < 0.5:  # a folder with an odd name too
            entries[-1].path = b"dir\xe9/" + name
    return Case("odd-names", "names", entries)


def duplicates(rng: random.Random, scale: float) -> Case:
    """The same bytes under several paths (and through a link): each copy is a document of its own."""
    word = f"{rng.choice(WORDS)}{rng.randrange(10**6)}"
    data = (prose(rng, rng.choice([300, 3_000])) + f"\n\nThe marker word is {word}.\n").encode()
    if rng.random() < 0.3:
        data = fpdf_bytes([data.decode()])
        names = [b"report.pdf", b"copy/report.pdf", b"report (1).pdf"]
    else:
        names = [b"a.txt", b"copy/a.txt", b"b.md", b"deep/er/a.txt"][: rng.randint(2, 4)]
    entries = [Entry(n, data, expect=INDEXED, query=word) for n in names]
    if rng.random() < 0.5:
        entries.append(Entry(b"link-to-a", link=names[0], expect=INDEXED, query=word))
    return Case("duplicates", "copies", entries)


def empty(rng: random.Random, scale: float) -> Case:
    """Empty or blank files of every kind."""
    variant, name, data = rng.choice([
        ("empty", b"__init__.py", b""), ("blank", b"blank.txt", b" \n\t\n  "), ("bom", b"bom.md", b"\xef\xbb\xbf"),
        ("crlf", b"crlf.txt", b"\r\n" * 50), ("html-no-text", b"empty.html", b"<html><head><title>x</title></head>"
                                                                             b"<body><script>1</script></body></html>"),
        ("pdf-no-text", b"blank.pdf", b""), ("zero-pages", b"zero.pdf", b""),
    ])
    if variant == "pdf-no-text":
        data = fpdf_bytes(["", ""])
    elif variant == "zero-pages":
        from tests.fuzz.pdfs import raw_pdf

        data = raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
    return Case("empty", variant, [Entry(name, data, expect=SKIPPED)])


def symlink_loops(rng: random.Random, scale: float) -> Case:
    """Links that loop, dangle, or point at folders (including their own parent)."""
    variant = rng.choice(["pair", "self", "dangling", "dir-loop", "chain"])
    keep = Entry(b"real.txt", f"{sentence(rng)}\n".encode(), expect=INDEXED)
    if variant == "pair":
        entries = [Entry(b"a", link=b"b", expect=SKIPPED, reason="loop"), Entry(b"b", link=b"a", expect=SKIPPED,
                                                                                 reason="loop")]
    elif variant == "self":
        entries = [Entry(b"self.txt", link=b"self.txt", expect=SKIPPED, reason="loop")]
    elif variant == "dangling":
        entries = [Entry(b"gone.txt", link=b"nowhere/missing.txt", expect=SKIPPED, reason="broken")]
    elif variant == "dir-loop":
        entries = [Entry(b"sub/up", link=b"..", expect=SKIPPED, reason="directory"),
                   Entry(b"sub/here", link=b".", expect=SKIPPED, reason="directory")]
    else:
        entries = [Entry(b"l1", link=b"l2", expect=INDEXED), Entry(b"l2", link=b"l3", expect=INDEXED),
                   Entry(b"l3", link=b"real.txt", expect=INDEXED)]
    return Case("symlink-loops", variant, [keep, *entries])


def unreadable(rng: random.Random, scale: float) -> Case:
    """Files without read permission, folders that cannot be listed, and named pipes.

    Tests often run as root, whom permissions do not stop: then the chmod-000 file is simply indexed
    (both outcomes are allowed here; ``tests/test_fuzz.py`` checks the refusal as an ordinary user).
    """
    variant = rng.choice(["chmod-file", "chmod-dir", "fifo"])
    keep = Entry(b"fine.txt", f"{sentence(rng)}\n".encode(), expect=INDEXED)
    if variant == "chmod-file":
        return Case("unreadable", variant, [keep, Entry(b"secret.txt", b"top secret\n", mode=0o000)])
    if variant == "chmod-dir":
        return Case("unreadable", variant, [keep, Entry(b"locked/inside.txt", b"hidden\n"),
                                            Entry(b"locked", mode=0o000)])
    return Case("unreadable", variant, [keep, Entry(b"pipe.txt", fifo=True, expect=SKIPPED, reason="pipe")])


def office(rng: random.Random, scale: float) -> Case:
    """Well-formed Word, PowerPoint and Excel files of 1 KB to 1 MB of text, and CSVs: all indexed."""
    kind = rng.choice([*office_files.KINDS, ".csv"])
    size = _size(rng, scale, (1_000, 10_000, 100_000, 1_000_000))
    if kind == ".csv":
        data = "".join(f"{rng.choice(WORDS)},{rng.randrange(10**6)},{sentence(rng, 4)}\n"
                       for _ in range(size // 40)).encode()
    else:
        data = office_files.office_bytes(rng, kind, size)
    return Case("office", kind, [Entry(f"file{kind}".encode(), data, expect=INDEXED)])


def office_damaged(rng: random.Random, scale: float) -> Case:
    """Office files with random byte edits, cut short, or with a part replaced by hostile XML (deep nesting,
    entity expansion, an external entity, garbage): each read or skipped, never a crash or a blow-up."""
    kind = rng.choice(office_files.KINDS)
    variant = rng.choice(["mutated", "truncated", "hostile-xml"])
    if variant == "mutated":
        return Case("office-damaged", variant, [Entry(f"mutated{kind}".encode(), office_files.mutated(rng, kind))])
    if variant == "truncated":
        return Case("office-damaged", variant, [Entry(f"cut{kind}".encode(), office_files.truncated(rng, kind),
                                                      expect=SKIPPED, reason="cannot read")])
    xml, data = office_files.hostile_part(rng, kind)
    return Case("office-damaged", f"{variant}-{xml}", [Entry(f"hostile{kind}".encode(), data)])


def office_locked(rng: random.Random, scale: float) -> Case:
    """Password-protected Office files and zip bombs (members declaring gigabytes): skipped, one line each."""
    kind = rng.choice(office_files.KINDS)
    if rng.random() < 0.5:
        return Case("office-locked", "encrypted", [Entry(f"locked{kind}".encode(), office_files.encrypted(rng, kind),
                                                         expect=SKIPPED, reason="password-protected")])
    return Case("office-locked", "zip-bomb", [Entry(f"bomb{kind}".encode(), office_files.zip_bomb(rng, kind),
                                                    expect=SKIPPED, reason="zip bomb")])


FAMILIES: dict[str, Callable[[random.Random, float], Case]] = {
    "normal": normal, "pdf-mutated": pdf_mutated, "pdf-broken": pdf_broken, "pdf-encrypted": pdf_encrypted,
    "binary-as-text": binary_as_text, "encodings": encodings, "surrogates": surrogates, "nul-bytes": nul_bytes,
    "long-lines": long_lines, "huge-lines": huge_lines, "nested-html": nested_html, "nested-code": nested_code,
    "pathological-code": pathological_code, "random-unicode": random_unicode, "odd-names": odd_names,
    "duplicates": duplicates, "empty": empty, "symlink-loops": symlink_loops, "unreadable": unreadable,
    "office": office, "office-damaged": office_damaged, "office-locked": office_locked,
}


def generate(family: str, seed: int, scale: float = 1.0) -> Case:
    """Case number ``seed`` of ``family`` (the same seed always gives the same case)."""
    return FAMILIES[family](random.Random(f"{family}:{seed}"), scale)
