"""The network edge: fetch one URL into a file, with progress, verified by sha256."""

from __future__ import annotations

import http.client
import os
import re
import time
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

from apepy import cache, ui
from apepy.errors import ApepyError
from apepy.hashing import sha256_file

TIMEOUT = 30
# A transfer that breaks off is resumed from where it stopped, this many times in one run.
ATTEMPTS = 4
_RETRY_PAUSE = 0.5


class NetworkError(ApepyError):
    """The download could not reach its server.

    Callers turn it into advice of their own (another way to get the file); an
    ApepyError all the same, so one that does not still ends in one message and a hint.
    """

    def __init__(
        self, message: str, hint: str = "check the network connection and run again"
    ) -> None:
        super().__init__(message, hint)


class BrokenOff(NetworkError):
    """The server answered but the transfer stopped early; ``.part`` keeps what arrived,
    and the next attempt resumes from there."""

    def __init__(
        self,
        message: str,
        hint: str = "run the same command again: the download resumes where it stopped",
    ) -> None:
        super().__init__(message, hint)


def fetch(url: str, dest: Path, sha256: str) -> None:
    """Download ``url`` to ``dest``; ``dest`` exists afterwards only if its hash matched.

    A partial download is kept as ``dest.part`` and resumed with a Range request,
    both within this call (a connection that drops is retried) and by a later run.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _transfer(url, part)
            break
        except BrokenOff:
            if attempt == ATTEMPTS:
                raise
            ui.warn(f"the download of {dest.name} broke off; resuming it")
            time.sleep(_RETRY_PAUSE)

    actual = sha256_file(part)
    if actual != sha256:
        part.unlink()
        raise ApepyError(
            f"checksum mismatch for {url}: got sha256 {actual}, expected {sha256}",
            hint="the download is corrupt or was tampered with; nothing was kept, run again",
        )
    os.replace(part, dest)


def _transfer(url: str, part: Path) -> None:
    """Bring ``part`` up to the whole of ``url``, resuming from its current size."""
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
            return _transfer(url, part)
        raise NetworkError(f"HTTP {exc.code} from {url}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise NetworkError(f"{url}: {getattr(exc, 'reason', exc)}") from exc

    with response:
        resumed = offset and response.status == 206 and _range_start(response) == offset
        if not resumed:
            offset = 0
        total = response.headers.get("Content-Length")
        expected = int(total) if total and total.isdigit() else None
        size = expected + offset if expected is not None else None
        received = 0
        try:
            with open(part, "ab" if resumed else "wb") as out, _progress() as progress:
                task = progress.add_task(part.name[: -len(".part")], total=size, completed=offset)
                while chunk := _read(response, url):
                    out.write(chunk)
                    received += len(chunk)
                    progress.advance(task, len(chunk))
        except OSError as exc:
            raise cache.describe_os_error(exc, str(part)) from exc
    # http.client ends a body cut short by the server without an error: count the bytes.
    if expected is not None and received < expected:
        raise BrokenOff(f"download of {url} broke off after {offset + received} of {size} bytes")
    return None


def _read(response: http.client.HTTPResponse, url: str) -> bytes:
    try:
        return response.read(1 << 16)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise BrokenOff(f"download of {url} broke off: {exc}") from exc


def _range_start(response: http.client.HTTPResponse) -> int | None:
    found = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(found.group(1)) if found else None


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
