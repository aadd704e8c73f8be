"""Exception types raised by the qa library; the CLI and UI turn them into one readable line."""

from __future__ import annotations


class BulletinQAError(Exception):
    """Base class for every error the library raises on purpose."""


class InputFileError(BulletinQAError):
    """A bulletin file that cannot be ingested: names the file and the reason."""

    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {reason}")


class IndexMismatchError(BulletinQAError):
    """An index on disk built with another model, chunker or format version."""


class IndexMissingError(BulletinQAError):
    """No index where one was expected."""


class CorpusMismatchError(BulletinQAError):
    """A corpus folder other than the one the index records it was built from."""


class ModelError(BulletinQAError):
    """The embedding model cannot be found, converted or loaded."""
