"""Errors the archive raises; each message names the file, field or object at fault."""


class ArchiveError(Exception):
    """Base class for archive errors. The message is the API's and the log's (English); a `code`
    with its `params`, where given, says the same for the portal to put in the page's language.
    A subclass may fix its code as a class attribute instead of passing one."""

    code: str | None = None

    def __init__(self, message: str = "", /, *, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.params: dict[str, object] = params


class Refused(ArchiveError):
    """A request the archive will not carry out as given; nothing has been written."""


class DepositRefused(Refused):
    """A deposit folder that cannot be accepted; nothing has been stored."""


class StoreUnavailable(ArchiveError):
    """The object store cannot be reached (or answers with its own failure); the caller may retry
    later. The message is for the log: it may name the store and the key."""


class ObjectExists(ArchiveError):
    """A write-once key that already holds an object."""


class ObjectMissing(ArchiveError):
    """A key (or version) that the store does not hold while the store itself answers: the bundle
    that references it is damaged. The message names the key, so it is for the log only."""


class UnknownBundle(Refused):
    """A bundle id that is not archived."""


class RetentionLocked(Refused):
    """An object under retention: it cannot be removed or rewritten, nor its retention shortened."""


class StoreMismatch(Refused):
    """The store holds sealed objects the database does not know: the database is likely the
    wrong one (a mistyped URL, an empty or restored copy), so nothing may be removed."""


class AlreadySealed(Refused):
    """A deposit of a case that is already sealed, made without asking for a supplement: the
    version it would make and the one that stands are named, and nothing has been stored."""


class TooLarge(Refused):
    """A deposit or upload beyond the configured maximum size; nothing has been stored."""
