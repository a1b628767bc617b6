"""The network edge: fetch one URL into a file, with progress, verified by sha256."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from apepy import ui
from apepy.errors import ApepyError
from apepy.hashing import sha256_file

TIMEOUT = 30


class NetworkError(Exception):
    """The download could not reach its server; callers turn this into advice."""


def fetch(url: str, dest: Path, sha256: str) -> None:
    """Download ``url`` to ``dest``; ``dest`` exists afterwards only if its hash matched.

    A partial download is kept as ``dest.part`` and resumed with a Range request.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "apepy"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # The partial file is already complete (or bogus); start over.
            part.unlink()
            return fetch(url, dest, sha256)
        raise NetworkError(f"HTTP {exc.code} from {url}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise NetworkError(f"{url}: {getattr(exc, 'reason', exc)}") from exc

    with response:
        resumed = offset and response.status == 206
        if not resumed:
            offset = 0
        total = response.headers.get("Content-Length")
        size = int(total) + offset if total and total.isdigit() else None
        mode = "ab" if resumed else "wb"
        try:
            with open(part, mode) as out, _progress() as progress:
                task = progress.add_task(dest.name, total=size, completed=offset)
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    progress.advance(task, len(chunk))
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise NetworkError(f"download of {url} broke off: {exc}") from exc

    actual = sha256_file(part)
    if actual != sha256:
        part.unlink()
        raise ApepyError(
            f"checksum mismatch for {url}: got sha256 {actual}, expected {sha256}",
            hint="the download is corrupt or was tampered with; nothing was kept, run again",
        )
    os.replace(part, dest)
    return None


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]downloading[/] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=ui.console,
        transient=True,
    )
