"""Literal edits of an unpacked source tree: CPython's (interpreter/patches.py), a C
library's (deps), a toolchain's.

Each edit names a file, an anchor that must occur exactly once (or exactly
``count`` times: every occurrence is replaced), and the text that replaces it; an
empty anchor creates a new file. Anchors are exact, so a release
that moved the code fails loudly with the edit's name and file instead of building
something subtly wrong, and every anchor is checked before any file is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from apepy.errors import ApepyError


@dataclass(frozen=True)
class Edit:
    name: str
    path: str
    anchor: str
    replacement: str
    # How many times the anchor occurs, each counted for a release: a construct
    # rewritten wherever it stands (a case label) fails loudly when a release has
    # one more or one less. Several counts: one per release the edit serves.
    count: int | tuple[int, ...] = 1


def apply(tree: Path, edits: tuple[Edit, ...], *, subject: str, hint: str) -> list[str]:
    """Apply ``edits`` to ``tree`` or none of them; return the names applied.

    ``subject`` names the source in an error ("CPython 3.13.15"); ``hint`` says what a
    failure means for it.
    """
    planned: dict[Path, str] = {}
    for edit in edits:
        target = tree / edit.path
        if edit.anchor == "":
            if target.exists() or target in planned:
                raise _failed(subject, edit, f"{edit.path} already exists", hint)
            planned[target] = edit.replacement
            continue
        text = planned.get(target)
        if text is None:
            try:
                text = target.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise _failed(subject, edit, f"{edit.path} does not exist", hint) from None
        count = text.count(edit.anchor)
        expected = (edit.count,) if isinstance(edit.count, int) else edit.count
        if count not in expected:
            where = "is missing" if count == 0 else f"occurs {count} times"
            wanted = " or ".join(str(n) for n in expected)
            raise _failed(
                subject, edit, f"its anchor in {edit.path} {where} (expected {wanted})", hint
            )
        planned[target] = text.replace(edit.anchor, edit.replacement)
    for target, text in planned.items():
        target.write_text(text, encoding="utf-8")
    return [edit.name for edit in edits]


def _failed(subject: str, edit: Edit, why: str, hint: str) -> ApepyError:
    first_line = edit.anchor.strip().splitlines()[0] if edit.anchor.strip() else edit.anchor
    return ApepyError(
        f"edit '{edit.name}' does not apply to {subject}: {why}",
        hint=f"the edit expects the line {first_line!r}; {hint}",
    )
