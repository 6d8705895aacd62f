"""PDF inputs: well-formed ones from fpdf2, byte-level mutations of them, hand-written broken structures,
and encrypted files. Every generator takes a seeded ``random.Random`` and returns the file's bytes."""

from __future__ import annotations

import functools
import random
import zlib
from collections.abc import Callable, Sequence

WORDS = ["river", "harbour", "lantern", "quartz", "meadow", "signal", "copper", "orbit", "velvet", "ledger", "tundra",
         "falcon", "cipher", "marble", "pylon", "delta", "ember", "glacier", "kernel", "saddle"]


def sentence(rng: random.Random, n: int = 12) -> str:
    """A few dictionary words with a full stop."""
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def fpdf_bytes(pages: Sequence[str], *, compress: bool = True, password: str | None = None,
               owner_only: bool = False, method: int = 2) -> bytes:
    """A PDF written by fpdf2, one page per string (Latin-1 text), optionally encrypted."""
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    if password is not None:
        user = "" if owner_only else password
        pdf.set_encryption(owner_password="owner-" + password, user_password=user,
                           encryption_method=EncryptionMethod(method))
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


@functools.lru_cache(maxsize=8)
def base_pdf(variant: int) -> bytes:
    """A few well-formed PDFs to mutate (cached: fpdf2 takes tens of milliseconds per file)."""
    rng = random.Random(variant)
    pages = [" ".join(sentence(rng) for _ in range(rng.randint(2, 30))) for _ in range(1 + variant % 3)]
    return fpdf_bytes(pages, compress=variant % 2 == 0)


def stream(content: bytes, extra: bytes = b"", length: int | None = None) -> bytes:
    """A PDF stream object body."""
    n = len(content) if length is None else length
    return b"<< /Length %d %s>>\nstream\n" % (n, extra) + content + b"\nendstream"


def raw_pdf(objects: Sequence[bytes], *, root: int = 1, trailer: bytes = b"", xref: bool = True,
            header: bytes = b"%PDF-1.7\n") -> bytes:
    """A PDF from object bodies (object ``i`` is ``objects[i - 1]``), with a correct cross-reference table."""
    out = bytearray(header)
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    start = len(out)
    if xref:
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, trailer,
                                                                                   start)
    return bytes(out)


def page_objects(content: bytes, *, font: bytes = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
                 contents_ref: bytes = b"5 0 R", pages: bytes = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 resources: bytes = b"<< /Font << /F1 4 0 R >> >>") -> list[bytes]:
    """Catalog, page tree, one page, a font and the content stream (objects 1-5)."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        pages,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s /Contents %s >>"
        % (resources, contents_ref),
        font,
        stream(content),
    ]


def _text_ops(rng: random.Random, lines: int = 5) -> bytes:
    return b"BT /F1 12 Tf 72 720 Td " + b"".join(
        b"(%s) Tj 0 -14 Td " % sentence(rng).encode() for _ in range(lines)) + b"ET"


# -- structurally broken PDFs (each: rng, scale -> bytes) --------------------------------------------------

def _cyclic_refs(rng: random.Random, scale: float) -> bytes:
    objs = page_objects(_text_ops(rng), contents_ref=b"6 0 R")
    return raw_pdf(objs + [b"7 0 R", b"6 0 R"])


def _kids_loop(rng: random.Random, scale: float) -> bytes:
    return raw_pdf(page_objects(_text_ops(rng), pages=b"<< /Type /Pages /Kids [2 0 R 3 0 R 2 0 R] /Count 3 >>"))


def _huge_count(rng: random.Random, scale: float) -> bytes:
    count = rng.choice([10**9, 2**31, 2**63, -1])
    return raw_pdf(page_objects(_text_ops(rng), pages=b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count))


def _bad_length(rng: random.Random, scale: float) -> bytes:
    content = _text_ops(rng)
    objs = page_objects(content)
    objs[4] = stream(content, length=rng.choice([999_999_999, -5, 0, len(content) * 3]))
    return raw_pdf(objs)


@functools.lru_cache(maxsize=4)
def _deflated(kind: str, megabytes: int) -> bytes:
    """``megabytes`` of zeros or of text operators, deflated (cached: compressing takes a while)."""
    unit = b"\0" * 65536 if kind == "zeros" else b"BT /F1 12 Tf 72 720 Td (bomb bomb bomb) Tj ET\n" * 1400
    comp = zlib.compressobj(9)
    out = [comp.compress(unit) for _ in range(megabytes * 2**20 // len(unit))]
    return b"".join(out) + comp.flush()


def _flate_bomb(rng: random.Random, scale: float) -> bytes:
    size = max(1, int(rng.choice([8, 64, 200]) * scale))
    body = _deflated(rng.choice(["zeros", "text"]), size)
    objs = page_objects(b"")
    objs[4] = stream(body, b"/Filter /FlateDecode ")
    return raw_pdf(objs)


def _predictor_columns(rng: random.Random, scale: float) -> bytes:
    body = zlib.compress(_text_ops(rng))
    cols = rng.choice([10**8, 2**31, 0, -3])
    objs = page_objects(b"")
    objs[4] = stream(body, b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns %d >> " % cols)
    return raw_pdf(objs)


def _tounicode_huge(rng: random.Random, scale: float) -> bytes:
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <0000> <FFFF> "
            b"endcodespacerange %d beginbfrange " % 1 + b"<0000> <FFFF> <%s> " % (b"41" * rng.choice([2, 5000]))
            + b"endbfrange endcmap CMapName currentdict /CMap defineresource pop end end")
    font = (b"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /ToUnicode 6 0 R "
            b"/DescendantFonts [] >>")
    content = b"BT /F1 12 Tf 72 720 Td <" + bytes(rng.randrange(256) for _ in range(400)).hex().encode() + b"> Tj ET"
    return raw_pdf(page_objects(content, font=font) + [stream(cmap)])


def _deep_nesting(rng: random.Random, scale: float) -> bytes:
    depth = max(100, int(rng.choice([1000, 20_000, 100_000]) * scale))
    opener, closer = rng.choice([(b"[", b"]"), (b"<< /A ", b" >>")])
    where = rng.choice(["object", "content"])
    nested = opener * depth + b"1" + closer * depth
    if where == "content":
        return raw_pdf(page_objects(b"BT /F1 12 Tf " + nested + b" TJ ET"))
    objs = page_objects(_text_ops(rng))
    objs[2] = objs[2].replace(b"/Contents", b"/Junk " + nested + b" /Contents")
    return raw_pdf(objs)


def _jbig2(rng: random.Random, scale: float) -> bytes:
    image = stream(bytes(rng.randrange(256) for _ in range(300)),
                   b"/Type /XObject /Subtype /Image /Width 64 /Height 64 /BitsPerComponent 1 /Filter /JBIG2Decode ")
    objs = page_objects(_text_ops(rng) + b" q 64 0 0 64 0 0 cm /Im1 Do Q",
                        resources=b"<< /Font << /F1 4 0 R >> /XObject << /Im1 6 0 R >> >>")
    return raw_pdf(objs + [image])


def _inline_image(rng: random.Random, scale: float) -> bytes:
    junk = bytes(rng.randrange(256) for _ in range(rng.choice([10, 5000, 200_000])))
    end = rng.choice([b" EI Q", b"", b" E", b"EI"])
    return raw_pdf(page_objects(_text_ops(rng) + b" q BI /W 8 /H 8 /BPC 8 /CS /G ID " + junk + end))


def _no_xref(rng: random.Random, scale: float) -> bytes:
    return raw_pdf(page_objects(_text_ops(rng)), xref=False)


def _bad_xref(rng: random.Random, scale: float) -> bytes:
    data = bytearray(raw_pdf(page_objects(_text_ops(rng))))
    at = data.rfind(b"xref")
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(at, len(data))
        if data[pos:pos + 1].isdigit():
            data[pos] = ord(str(rng.randrange(10)))
    return bytes(data)


def _object_stream(rng: random.Random, scale: float) -> bytes:
    body = b"1 0 2 20 << /Type /Catalog >> << /Type /Pages /Kids [] /Count 0 >>"
    n = rng.choice([2, 10**6, -1])
    objstm = stream(body, b"/Type /ObjStm /N %d /First %d " % (n, rng.choice([9, 0, 10**7])))
    return raw_pdf(page_objects(_text_ops(rng)) + [objstm])


def _wrong_types(rng: random.Random, scale: float) -> bytes:
    objs = page_objects(_text_ops(rng))
    choice = rng.randrange(4)
    if choice == 0:
        objs[0] = b"<< /Type /Catalog /Pages 42 >>"
    elif choice == 1:
        objs[1] = b"<< /Type /Pages /Kids (not an array) /Count 1 >>"
    elif choice == 2:
        objs[2] = objs[2].replace(b"/Contents 5 0 R", b"/Contents 3.14")
    else:
        objs[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Widths 9 /FirstChar -5 /Encoding " \
                  b"<< /Differences [1 /a 2 3 [4]] >> >>"
    return raw_pdf(objs)


def _bad_filter(rng: random.Random, scale: float) -> bytes:
    objs = page_objects(b"")
    name, body = rng.choice([(b"/ASCIIHexDecode", b"zz-not-hex"), (b"/ASCII85Decode", b"~~~bad85"),
                             (b"/LZWDecode", bytes(rng.randrange(256) for _ in range(300))),
                             (b"/RunLengthDecode", bytes([129] * 300)), (b"/DCTDecode", b"\xff\xd8junk"),
                             (b"[/FlateDecode /FlateDecode]", zlib.compress(b"not deflated twice")),
                             (b"/NoSuchFilter", b"data")])
    objs[4] = stream(body, b"/Filter %s " % name)
    return raw_pdf(objs)


def _broken_encrypt(rng: random.Random, scale: float) -> bytes:
    encrypt = b"<< /Filter /Standard /V %d /R %d /O <%s> /U <%s> /P -4 /Length %d >>" % (
        rng.choice([1, 2, 4, 5, 99]), rng.choice([2, 3, 4, 6, 99]), b"00" * rng.choice([32, 3]), b"11" * 32,
        rng.choice([40, 128, 7]))
    return raw_pdf(page_objects(_text_ops(rng)) + [encrypt], trailer=b"/Encrypt 6 0 R /ID [<00> <00>] ")


def _many_ops(rng: random.Random, scale: float) -> bytes:
    n = max(10, int(rng.choice([1000, 20_000, 100_000]) * scale))
    return raw_pdf(page_objects(b"BT /F1 12 Tf " + b"(w) Tj 1 0 Td " * n + b"ET"))


def _truncated(rng: random.Random, scale: float) -> bytes:
    data = base_pdf(rng.randrange(4))
    return data[:rng.randrange(5, len(data))]


BROKEN: dict[str, Callable[[random.Random, float], bytes]] = {
    "cyclic-refs": _cyclic_refs, "kids-loop": _kids_loop, "huge-count": _huge_count, "bad-length": _bad_length,
    "flate-bomb": _flate_bomb, "predictor-columns": _predictor_columns, "tounicode": _tounicode_huge,
    "deep-nesting": _deep_nesting, "jbig2": _jbig2, "inline-image": _inline_image, "no-xref": _no_xref,
    "bad-xref": _bad_xref, "object-stream": _object_stream, "wrong-types": _wrong_types,
    "bad-filter": _bad_filter, "broken-encrypt": _broken_encrypt, "many-ops": _many_ops, "truncated": _truncated,
}


def broken_pdf(rng: random.Random, scale: float = 1.0) -> tuple[str, bytes]:
    """One structurally broken PDF: (which breakage, bytes)."""
    name = rng.choice(sorted(BROKEN))
    return name, BROKEN[name](rng, scale)


def mutated_pdf(rng: random.Random) -> bytes:
    """A well-formed PDF with a few random byte-level edits (flips, deletions, repeats, big numbers)."""
    data = bytearray(base_pdf(rng.randrange(6)))
    for _ in range(rng.randint(1, 12)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data))
        if op == 0:
            data[pos] = rng.randrange(256)
        elif op == 1:
            del data[pos:pos + rng.randint(1, 64)]
        elif op == 2:
            chunk = data[pos:pos + rng.randint(1, 256)]
            data[pos:pos] = chunk * rng.randint(1, 8)
        elif op == 3:
            data[pos:pos] = str(rng.choice([0, -1, 2**31, 10**12, 99999])).encode()
        else:
            data[pos:pos] = rng.choice([b" R ", b"<<", b">>", b"[", b"]", b"endobj", b"stream", b"%%EOF", b"obj"])
    return bytes(data)


def encrypted_pdf(rng: random.Random) -> tuple[bool, bytes]:
    """An encrypted PDF: (whether it opens without a password, bytes)."""
    owner_only = rng.random() < 0.25
    text = [" ".join(sentence(rng) for _ in range(rng.randint(1, 6)))]
    password = "".join(rng.choice("abcdefgh0123") for _ in range(rng.randint(1, 12)))
    return owner_only, fpdf_bytes(text, password=password, owner_only=owner_only, method=rng.choice([1, 2, 3]))
