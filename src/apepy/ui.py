"""What the user sees while apepy works: phases, progress, and errors."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape

from apepy.errors import ApepyError

# Everything apepy says goes to stderr; stdout stays clean for data (`apepy ls`, `apepy cat`).
console = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)


def info(message: str, *, mark: str = "") -> None:
    """A line of plain text (paths, names: never read as markup), after an optional styled mark."""
    console.print(f"{mark} {escape(message)}" if mark else escape(message), soft_wrap=True)


def done(message: str) -> None:
    info(message, mark="[green]✓[/]")


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


@contextlib.contextmanager
def phase(name: str, description: str) -> Iterator[PhaseStatus]:
    """Show a spinner for one phase of a long job and report its duration."""
    started = time.monotonic()
    with console.status(f"[bold]{name}[/] {escape(description)}") as status:
        tracker = PhaseStatus(name, description, status)
        yield tracker
    elapsed = time.monotonic() - started
    console.print(
        f"[green]✓[/] [bold]{name}[/] {escape(tracker.done_text or description)} ({elapsed:.1f} s)"
    )


class PhaseStatus:
    def __init__(self, name: str, description: str, status: object) -> None:
        self.name = name
        self.description = description
        self._status = status
        self.done_text: str | None = None

    def update(self, detail: str) -> None:
        update = getattr(self._status, "update", None)
        if update is not None:
            # Details are tool output (configure's lines, file names): plain text.
            update(f"[bold]{self.name}[/] {escape(self.description)} [dim]{escape(detail)}[/]")


def report_error(error: ApepyError) -> None:
    # Messages quote user input ("[tool.apepy]", paths): never read them as markup.
    # Not wrapped by rich either: a path or command broken over lines cannot be copied.
    console.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
    if error.details:
        console.print(error.details, markup=False, soft_wrap=True)
    if error.hint:
        console.print(f"[bold]hint:[/] {escape(error.hint)}", soft_wrap=True)
