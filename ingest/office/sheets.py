"""Excel workbooks (openpyxl) and CSV files: each sheet's used range as rows of cells, one block per row.

A workbook is opened read-only with ``data_only``: a formula cell gives the value Excel cached when the file was
last saved, and nothing is ever evaluated (a file saved by a program that caches no values gives an empty cell).
A sheet's used range runs from its first to its last non-empty row and column; each non-empty row becomes a line,
cells parted by `` | ``, and a block whose place is its cell range (``Sheet1!C5:F5``). The first non-empty row
is the header row: every passage cut from the sheet repeats it in its header (:mod:`ingest.office.passages`).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import PurePath

from ingest.core.errors import CorruptFileError, EmptyDocumentError, UnsupportedFileError
from ingest.core.records import Document, Place, Section
from ingest.loaders import decode_text, looks_binary
from ingest.office.layout import TextBuilder, cell_text, header_row, row_line
from ingest.office.package import unreadable

Row = tuple[int, list[str]]  # 1-based row number, the cells' texts from column 1


def used_rows(rows: Iterable[tuple[int, Sequence[object]]]) -> tuple[list[Row], tuple[int, int]]:
    """The non-empty rows (cells as text) and the used columns ``(first, last)``, 1-based; ``(0, 0)`` when none.

    >>> used_rows([(1, [None, None]), (2, [None, "a", 3.0]), (4, [None, None, None, "x"])])
    ([(2, ['', 'a', '3']), (4, ['', '', '', 'x'])], (2, 4))
    """
    out: list[Row] = []
    first, last = 0, 0
    for number, values in rows:
        cells = [cell_text(v) for v in values]
        filled = [i for i, c in enumerate(cells, 1) if c]
        if not filled:
            continue
        first = min(first or filled[0], filled[0])
        last = max(last, filled[-1])
        out.append((number, cells))
    return out, (first, last)


def add_sheet(builder: TextBuilder, sections: list[Section], name: str, rows: list[Row], columns: tuple[int, int],
              *, group: int) -> None:
    """One sheet's rows as blocks (header row first), under a section named after the sheet (CSV: none)."""
    if not rows:
        return
    a, b = columns
    header = header_row(row_line(rows[0][1][a - 1:b]))
    start = -1
    for number, cells in rows:
        at = builder.add(row_line(cells[a - 1:b]), Place("cells", number, number, name, columns), group=group,
                         kind="table", header=header)
        start = at if start < 0 else start
    if name and start >= 0:
        sections.append(Section(1, name, start))


def _worksheet_rows(sheet: object) -> Iterable[tuple[int, Sequence[object]]]:
    reset = getattr(sheet, "reset_dimensions", None)
    if reset is not None:  # a stated dimension (A1:XFD1048576) would pad every row to it
        reset()
    for number, row in enumerate(sheet.iter_rows(), 1):  # type: ignore[attr-defined]
        yield getattr(next((c for c in row if hasattr(c, "row")), None), "row", number), [c.value for c in row]


def read_xlsx(package: bytes, source: str, doc_id: str) -> Document:
    """An Excel workbook's sheets as table rows (cached values of formulas, never evaluated).

    :raises CorruptFileError: openpyxl cannot read the workbook.
    :raises EmptyDocumentError: no sheet holds a value.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    builder, sections = TextBuilder(), list[Section]()
    try:
        book = openpyxl.load_workbook(io.BytesIO(package), read_only=True, data_only=True, keep_links=False)
        try:
            title = book.properties.title or ""
            for group, sheet in enumerate(book.worksheets, 1):
                rows, columns = used_rows(_worksheet_rows(sheet))
                add_sheet(builder, sections, sheet.title, rows, columns, group=group)
        finally:
            book.close()
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError, AttributeError,
            SyntaxError, OSError, EOFError) as err:  # SyntaxError: xml.etree's ParseError
        raise unreadable(source, "Excel workbook", err) from err
    if not builder.blocks:
        raise EmptyDocumentError(f"{source}: no values in any sheet")
    return Document(doc_id=doc_id, source=source, text=builder.text(), kind="xlsx", blocks=tuple(builder.blocks),
                    sections=tuple(sections), meta={"title": title or PurePath(source).stem})


def sniff_delimiter(sample: str, suffix: str) -> str:
    """The delimiter of a CSV: tab for ``.tsv``, else what :class:`csv.Sniffer` finds among ``,;\\t|``, else ``,``.

    >>> sniff_delimiter("a;b;c\\n1;2;3\\n", ".csv"), sniff_delimiter("a b\\n", ".csv"), sniff_delimiter("", ".tsv")
    (';', ',', '\\t')
    """
    if suffix == ".tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_csv(data: bytes, source: str, doc_id: str, *, suffix: str) -> Document:
    """A CSV (or TSV) file as one sheet of rows, cited ``data.csv A2:D40``.

    :raises UnsupportedFileError: binary bytes under a CSV name.
    :raises CorruptFileError: the csv module cannot parse it (a field over its size limit, a NUL).
    :raises EmptyDocumentError: no values.
    """
    if looks_binary(data):
        raise UnsupportedFileError(f"{source}: binary file, not text, code or PDF")
    text = decode_text(data)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text[:8192], suffix))
        rows, columns = used_rows((n, r) for n, r in enumerate(reader, 1))
    except csv.Error as err:
        raise CorruptFileError(f"{source}: cannot read CSV ({' '.join(str(err).split())[:100]})") from err
    builder, sections = TextBuilder(), list[Section]()
    add_sheet(builder, sections, "", rows, columns, group=1)
    if not builder.blocks:
        raise EmptyDocumentError(f"{source}: no values in the CSV")
    return Document(doc_id=doc_id, source=source, text=builder.text(), kind="csv", blocks=tuple(builder.blocks),
                    meta={"title": PurePath(source).stem})  # its first row is a header, not a title
