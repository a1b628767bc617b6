"""The one error type for failures a user can act on."""

from __future__ import annotations


class ApepyError(Exception):
    """A failure caused by the user's input or machine, with a hint for the fix.

    The CLI prints ``message`` and ``hint`` and exits non-zero; it never shows a
    traceback for this type.
    """

    def __init__(self, message: str, hint: str | None = None, *, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return self.message
