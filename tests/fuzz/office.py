"""Office inputs: well-formed Word, PowerPoint and Excel files from python-docx, python-pptx and openpyxl, byte
mutations and truncations of them, parts replaced by hostile XML, password-protected copies (msoffcrypto-tool) and
zip bombs. Every generator takes a seeded ``random.Random`` and returns the file's bytes."""

from __future__ import annotations

import functools
import io
import random
import struct
import zipfile

from tests.fuzz.pdfs import WORDS, sentence

KINDS = (".docx", ".pptx", ".xlsx")
MAIN_PART = {".docx": "word/document.xml", ".pptx": "ppt/slides/slide1.xml", ".xlsx": "xl/worksheets/sheet1.xml"}


def docx_bytes(rng: random.Random, paragraphs: int) -> bytes:
    """A Word document: headings, paragraphs and a table."""
    import docx

    d = docx.Document()
    for i in range(paragraphs):
        if i % 6 == 0:
            d.add_heading(f"{i // 6 + 1} {rng.choice(WORDS).title()}", 1)
        d.add_paragraph(" ".join(sentence(rng) for _ in range(rng.randint(1, 4))))
    table = d.add_table(rows=3, cols=3)
    for r in range(3):
        for c in range(3):
            table.cell(r, c).text = rng.choice(WORDS) if r == 0 else str(rng.randrange(1000))
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def pptx_bytes(rng: random.Random, slides: int) -> bytes:
    """A deck of title-and-content slides with notes."""
    import pptx

    deck = pptx.Presentation()
    for i in range(slides):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"{rng.choice(WORDS).title()} {i + 1}"
        slide.placeholders[1].text = "\n".join(sentence(rng) for _ in range(rng.randint(1, 4)))
        slide.notes_slide.notes_text_frame.text = sentence(rng)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def xlsx_bytes(rng: random.Random, rows: int) -> bytes:
    """A workbook with a header row, numbers, text and formulas (no cached values: openpyxl writes none)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["name", "count", "price", "total"])
    for i in range(2, rows + 2):
        sheet.append([rng.choice(WORDS), rng.randrange(100), round(rng.random() * 50, 2), f"=B{i}*C{i}"])
    book.create_sheet("notes")["A1"] = sentence(rng)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def office_bytes(rng: random.Random, kind: str, size: int) -> bytes:
    """A well-formed file of ``kind`` (".docx", ".pptx", ".xlsx") with about ``size`` characters of text."""
    if kind == ".docx":
        return docx_bytes(rng, max(2, size // 200))
    if kind == ".pptx":
        return pptx_bytes(rng, max(1, min(60, size // 300)))
    return xlsx_bytes(rng, max(2, size // 40))


@functools.lru_cache(maxsize=8)
def base_office(kind: str, variant: int) -> bytes:
    """A small well-formed file to damage (cached: writing one costs tens of milliseconds)."""
    return office_bytes(random.Random(f"{kind}:{variant}"), kind, 2000)


def mutated(rng: random.Random, kind: str) -> bytes:
    """A well-formed file with random byte edits (headers, compressed data, the central directory)."""
    data = bytearray(base_office(kind, rng.randrange(3)))
    for _ in range(rng.randint(1, 40)):
        at = rng.randrange(len(data))
        data[at:at + rng.randint(1, 8)] = rng.randbytes(rng.randint(0, 8))
    return bytes(data)


def truncated(rng: random.Random, kind: str) -> bytes:
    """A well-formed file cut short (the central directory at its end is lost)."""
    data = base_office(kind, rng.randrange(3))
    return data[: rng.randrange(1, len(data) - 30)]


HOSTILE_XML = {
    "garbage": lambda rng: rng.randbytes(rng.randint(10, 5000)),
    "cut": lambda rng: b'<?xml version="1.0"?><w:document xmlns:w="urn:x"><w:body><w:p><w:r><w:t>half',
    "deep": lambda rng: b"<a>" * 100_000 + b"</a>" * 100_000,
    "entities": lambda rng: (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
                             + b"".join(b'<!ENTITY %c "%s">' % (98 + i, (b"&%c;" % (97 + i)) * 10) for i in range(8))
                             + b']><d>&i;</d>'),
    "external": lambda rng: (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                             b"<d>&x;</d>"),
}


def hostile_part(rng: random.Random, kind: str) -> tuple[str, bytes]:
    """A well-formed package whose main part is replaced by hostile XML: (variant, bytes)."""
    variant = rng.choice(sorted(HOSTILE_XML))
    with zipfile.ZipFile(io.BytesIO(base_office(kind, 0))) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    parts[MAIN_PART[kind]] = HOSTILE_XML[variant](rng)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return variant, out.getvalue()


def encrypted(rng: random.Random, kind: str) -> bytes:
    """A password-protected copy (ECMA-376 agile encryption, as Office writes it)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(base_office(kind, rng.randrange(3)))).encrypt(rng.choice(WORDS), out)
    return out.getvalue()


def zip_bomb(rng: random.Random, kind: str) -> bytes:
    """A package whose members declare more than any bound allows (gigabytes, several members or one), written
    small: the declared sizes are what a reader would expand, and what docqa checks before reading."""
    with zipfile.ZipFile(io.BytesIO(base_office(kind, 0))) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
        for i in range(rng.randint(1, 4)):
            zf.writestr(f"docqaBomb/part{i}.bin", b"\0" * 65536)
    data = bytearray(out.getvalue())
    declared = rng.choice([2**31, 2**32 - 2, 900 * 2**20])
    # every member named docqaBomb/... declares ``declared`` bytes, in its local header and the central directory
    for sig, size_at, name_len_at, head in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        at = data.find(sig)
        while at >= 0:
            (n,) = struct.unpack_from("<H", data, at + name_len_at)
            if data[at + head:at + head + n].startswith(b"docqaBomb/"):
                struct.pack_into("<I", data, at + size_at, declared)
            at = data.find(sig, at + 4)
    return bytes(data)
