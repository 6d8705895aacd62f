"""Errors docqa raises on purpose.

Every stage raises subclasses of :class:`QAError`; only ``app/`` turns them into
exit codes or UI messages. Messages are one line and name the file or index and
the problem, so the CLI can print them as they are.
"""

from __future__ import annotations


class QAError(Exception):
    """Base for everything docqa raises on purpose."""


class InputError(QAError):
    """A file or question the user gave cannot be used."""


class FileMissingError(InputError):
    """A path does not exist."""


class EmptyDocumentError(InputError):
    """A file holds no text to index."""


class UnsupportedFileError(InputError):
    """A file is binary or of a kind docqa does not read."""


class CorruptFileError(InputError):
    """A file could not be parsed (e.g. a damaged PDF)."""


class PasswordError(InputError):
    """A PDF is encrypted and no (or the wrong) password was given."""


class FileTooLargeError(InputError):
    """A file is larger than ``[ingest] max_file_mb``."""


class ReadLimitError(InputError):
    """Reading and splitting a file went over ``[ingest] timeout_seconds`` or ``memory_mb``; it was stopped."""


class ReaderCrashError(InputError):
    """The reader failed on a file in a way no check anticipated (the worker died or raised unexpectedly)."""


class IndexStoreError(QAError):
    """Base for problems with an index directory."""


class IndexMissingError(IndexStoreError):
    """No index exists at the given directory."""


class IndexMismatchError(IndexStoreError):
    """The index was built with settings that differ from the ones asked for."""


class IndexLockedError(IndexStoreError):
    """Another process is writing the index."""


class ModelError(QAError):
    """A model is missing, fails verification, or cannot be loaded."""


class UnknownBackendError(QAError, KeyError):
    """A backend name is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class GenerationError(QAError):
    """The LLM backend failed to produce an answer."""
