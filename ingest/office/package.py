"""Opening an Office file's zip package safely: decrypted when password-protected (msoffcrypto-tool), refused
when it would expand past a bound (a zip bomb), and a one-line error naming the file when it is not a package.

An Office file is a zip of XML parts; a password-protected one is an OLE compound file that holds the encrypted
zip. The readers (python-docx, python-pptx, openpyxl) read the parts through :mod:`zipfile`, which never reads
more than a member's declared size, so the sum of the declared sizes bounds what reading can expand to.
"""

from __future__ import annotations

import io
import zipfile

from ingest.core.errors import CorruptFileError, FileTooLargeError, PasswordError, UnsupportedFileError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file: an encrypted package, or a legacy .doc/.xls/.ppt
EXPANSION_FACTOR = 16  # a package may expand to this many times the [ingest] max_file_mb bound
OFFICE_KINDS = {".docx": "Word document", ".pptx": "PowerPoint deck", ".xlsx": "Excel workbook",
                ".xlsm": "Excel workbook"}


def unreadable(source: str, what: str, err: BaseException) -> CorruptFileError:
    """The one-line error for a package its library cannot read: the file, what it is, the library's reason.

    >>> str(unreadable("a.docx", "Word document", KeyError("word/document.xml")))
    "a.docx: cannot read Word document (KeyError: 'word/document.xml')"
    """
    return CorruptFileError(f"{source}: cannot read {what} ({type(err).__name__}: {' '.join(str(err).split())[:100]})")


def password_message(source: str, what: str, password: str | None) -> str:
    """The one-line error for a locked Office file (as for a PDF: missing or wrong password).

    >>> password_message("a.docx", "Word document", None)
    'a.docx: Word document is password-protected; give the password with --password'
    """
    return (f"{source}: {what} is password-protected; "
            + ("wrong password" if password else "give the password with --password"))


def decrypt(data: bytes, source: str, what: str, password: str | None) -> bytes:
    """The zip package inside a password-protected Office file.

    :raises PasswordError: no password, or the wrong one.
    :raises UnsupportedFileError: a compound file that is not encrypted (a legacy binary .doc/.xls/.ppt).
    :raises CorruptFileError: the compound file cannot be read.
    """
    import msoffcrypto
    from msoffcrypto.exceptions import DecryptionError, FileFormatError, InvalidKeyError

    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        encrypted = office.is_encrypted()
    except (FileFormatError, OSError, ValueError, KeyError, AssertionError) as err:
        raise CorruptFileError(f"{source}: cannot read {what} (damaged compound file: "
                               f"{' '.join(str(err).split())[:100]})") from err
    if not encrypted:
        raise UnsupportedFileError(f"{source}: a legacy binary Office file, not the {what} its name says "
                                   "(save it as .docx, .pptx or .xlsx)")
    if password is None:
        raise PasswordError(password_message(source, what, None))
    out = io.BytesIO()
    try:
        office.load_key(password=password)
        office.decrypt(out)
    except (InvalidKeyError, DecryptionError) as err:
        raise PasswordError(password_message(source, what, password)) from err
    except (FileFormatError, OSError, ValueError, KeyError, AssertionError) as err:
        raise CorruptFileError(f"{source}: cannot decrypt {what} ({' '.join(str(err).split())[:100]})") from err
    return out.getvalue()


def expanded_size(infos: list[zipfile.ZipInfo]) -> int:
    """Bytes the members of a package declare they expand to (what :mod:`zipfile` reads at most).

    >>> expanded_size([zipfile.ZipInfo("a"), zipfile.ZipInfo("b")])
    0
    """
    return sum(max(0, i.file_size) for i in infos)


def open_package(data: bytes, source: str, what: str, *, password: str | None, max_bytes: int) -> bytes:
    """The zip bytes of an Office file, decrypted when protected, after checking they are a zip package
    whose members expand to at most ``EXPANSION_FACTOR * max_bytes``.

    :raises PasswordError: protected, and no or the wrong password.
    :raises FileTooLargeError: a zip bomb (the package expands past the bound).
    :raises CorruptFileError: not a zip package, or a damaged one.
    """
    if data[:8] == OLE_MAGIC:
        data = decrypt(data, source, what, password)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise CorruptFileError(f"{source}: cannot read {what} (not a zip package: "
                               f"{' '.join(str(err).split())[:80]})") from err
    bound = EXPANSION_FACTOR * max_bytes
    size = expanded_size(infos)
    if size > bound:
        raise FileTooLargeError(f"{source}: refused: its {what} package would expand to {size / 2**20:,.0f} MiB, "
                                f"over {bound / 2**20:,.0f} MiB ({EXPANSION_FACTOR}x the [ingest] max_file_mb bound; "
                                "a zip bomb?)")
    return data
