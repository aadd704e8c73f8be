"""Exception types raised by the qa library; the CLI and UI turn them into one readable line."""

from __future__ import annotations

from dataclasses import dataclass, field


class BulletinQAError(Exception):
    """Base class for every error the library raises on purpose."""


class InputFileError(BulletinQAError):
    """A bulletin file that cannot be ingested: names the file and the reason.

    `reason` is the English sentence (CLI, logs); `code` and `params` name the reason for a translation
    (`qa.messages.refusal_zh` gives the chat's Chinese sentence), so no one has to parse the English.
    """

    def __init__(self, file: str, reason: str, code: str = "unreadable", **params: object) -> None:
        self.file = file
        self.reason = reason
        self.code = code
        self.params = params
        super().__init__(f"{file}: {reason}")

    @property
    def refusal(self) -> "Refusal":
        """The reason as a record (what `UpdateReport.refusals` keeps)."""
        return Refusal(self.code, self.reason, self.params)


@dataclass(frozen=True)
class Refusal:
    """Why a file was not indexed: a code from `qa.messages.REFUSALS`, the English reason, the code's params."""

    code: str
    reason: str
    params: dict = field(default_factory=dict)


class FilterError(BulletinQAError):
    """A filter value that cannot be used, e.g. a date that is not YYYY-MM-DD.

    `field` is the Filters field (date_from, date_to), `code` is not_a_date or date_order.
    """

    def __init__(self, field_name: str, value: str, code: str, message: str) -> None:
        self.field = field_name
        self.value = value
        self.code = code
        super().__init__(message)


class IndexMismatchError(BulletinQAError):
    """An index on disk built with another model, chunker or format version."""


class BackendMismatchError(IndexMismatchError):
    """An index embedded by one backend, queried by a backend whose vectors are not interchangeable with it.

    `built` and `used` are the backends (`qa.embed.BACKENDS`), `index` the index's place; `qa.messages.
    backend_mismatch_zh` gives the chat's Chinese sentence."""

    def __init__(self, index: str, built: str, used: str, message: str) -> None:
        self.index = index
        self.built = built
        self.used = used
        super().__init__(message)


class IndexMissingError(BulletinQAError):
    """No index where one was expected."""


class CorpusMismatchError(BulletinQAError):
    """A corpus folder other than the one the index records it was built from."""


class ModelError(BulletinQAError):
    """The embedding model cannot be found, converted or loaded."""
