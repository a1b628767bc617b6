"""The one error type for failures a user can act on."""

from __future__ import annotations


class ApepyError(Exception):
    """A failure caused by the user's input or machine, with a hint for the fix.

    The CLI prints ``message`` and ``hint`` and exits non-zero; it never shows a
    traceback for this type.
    """

    def __init__(self, message: str, hint: str | None, *, details: str | None = None):
        # hint is required (None only where a subclass supplies its own): every failure a
        # user sees says what to do about it.
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return self.message


class InternalError(ApepyError):
    """A state apepy's own code should never reach: the hint asks for a report."""

    def __init__(self, message: str, *, details: str | None = None):
        super().__init__(
            message,
            "this is a bug in apepy: please report it, with the log if one is named",
            details=details,
        )
