"""Reading one Office file or CSV into a :class:`~ingest.core.records.Document` with blocks, by its suffix."""

from __future__ import annotations

from ingest.core.records import Document
from ingest.office import OFFICE_SUFFIXES
from ingest.office.package import OFFICE_KINDS, open_package


def is_office(suffix: str) -> bool:
    """Whether a file of this suffix is read here (.docx, .pptx, .xlsx, .xlsm, .csv, .tsv).

    >>> is_office(".DOCX".lower()), is_office(".doc")
    (True, False)
    """
    return suffix in OFFICE_SUFFIXES


def load_office(data: bytes, source: str, doc_id: str, *, suffix: str, password: str | None,
                max_bytes: int) -> Document:
    """The document of an Office file (``suffix`` .docx, .pptx, .xlsx or .xlsm) or a CSV (.csv, .tsv).

    :raises InputError: protected without the right password, a zip bomb, corrupt, or empty (one line each).
    """
    if suffix in (".csv", ".tsv"):
        from ingest.office.sheets import read_csv

        return read_csv(data, source, doc_id, suffix=suffix)
    package = open_package(data, source, OFFICE_KINDS[suffix], password=password, max_bytes=max_bytes)
    if suffix == ".docx":
        from ingest.office.docx_reader import read_docx

        return read_docx(package, source, doc_id)
    if suffix == ".pptx":
        from ingest.office.pptx_reader import read_pptx

        return read_pptx(package, source, doc_id)
    from ingest.office.sheets import read_xlsx

    return read_xlsx(package, source, doc_id)
