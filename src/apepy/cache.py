"""Where apepy keeps what it downloads and builds, and how it writes files safely."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs

from apepy.errors import ApepyError

CACHE_ENV = "APEPY_CACHE_DIR"


def cache_root() -> Path:
    """The cache directory: ``$APEPY_CACHE_DIR`` or the platform's user cache dir."""
    override = os.environ.get(CACHE_ENV)
    root = Path(override) if override else platformdirs.user_cache_path("apepy")
    return root.expanduser().resolve()


def cache_dir(*parts: str) -> Path:
    path = cache_root().joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ApepyError(
            f"cannot create the cache directory {path}: {exc.strerror}",
            hint=f"set {CACHE_ENV} to a writable directory",
        ) from exc
    return path


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock, so concurrent apepy runs share one cache safely."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_output_path(dest: Path) -> None:
    """Fail before any long work if ``dest`` cannot be written."""
    if dest.is_dir():
        raise ApepyError(
            f"output path {dest} is a directory", hint="name a file, e.g. -o dist/python"
        )
    parent = dest.parent
    if not parent.is_dir():
        raise ApepyError(
            f"output directory {parent} does not exist",
            hint=f"create it first: mkdir -p {parent}",
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ApepyError(
            f"output directory {parent} {_unwritable(parent)}",
            hint="choose another -o path or fix the directory's permissions",
        )


def _unwritable(directory: Path) -> str:
    """Why ``directory`` cannot be written: its filesystem, or its permissions."""
    try:
        read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return "is not writable: it is on a read-only filesystem" if read_only else "is not writable"


def check_rewrite(path: Path) -> None:
    """Fail early if ``path`` cannot be replaced by a new copy written beside it."""
    parent = path.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ApepyError(
            f"cannot change {path}: its directory {_unwritable(parent)} "
            "(apepy writes a new copy beside the file and renames it into place)",
            hint="copy the file to a writable directory and change the copy there, "
            "or fix the directory's permissions",
        )


def ensure_free_space(path: Path, needed: int, what: str) -> None:
    """Fail before a long step if ``path``'s filesystem clearly cannot hold its output."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return
    if free < needed:
        raise ApepyError(
            f"not enough free space for {what} in {path}: {free / 1e6:.0f} MB free, about {needed / 1e6:.0f} MB needed",
            hint=f"free some space, or point {CACHE_ENV} at a larger filesystem",
        )


def describe_os_error(exc: OSError, what: str) -> ApepyError:
    """Turn an OSError met while writing into a user-facing error."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return ApepyError(
            f"no space left while writing {what}",
            hint="free some disk space (or choose an output on another filesystem) and run again",
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ApepyError(
            f"cannot write {what}: {exc.strerror}",
            hint="choose a writable output location",
        )
    return ApepyError(
        f"cannot write {what}: {exc.strerror or exc}",
        hint="check the permissions and free space of that location",
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(directory: Path, pattern: re.Pattern[str]) -> None:
    """Delete what killed apepy runs left in ``directory``: names that match ``pattern``,
    whose ``pid`` group names a process that no longer runs."""
    try:
        children = list(directory.iterdir())
    except OSError:
        return
    for child in children:
        found = pattern.fullmatch(child.name)
        if found is None or _alive(int(found.group("pid"))):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                child.unlink()


def _temp_pattern(dest: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(dest.name)}\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.part")


@contextlib.contextmanager
def atomic_output(dest: Path, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it into place only on success.

    A failure, Ctrl-C or full disk leaves ``dest`` as it was (absent or the old file).
    A run killed outright leaves only its ``.NAME.PID.*.part`` file, which the next
    write to ``dest`` removes.
    """
    check_output_path(dest)
    sweep_stale(dest.parent, _temp_pattern(dest))
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=dest.parent, prefix=f".{dest.name}.{os.getpid()}.", suffix=".part"
        )
    except OSError as exc:
        raise describe_os_error(exc, str(dest)) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        raise describe_os_error(exc, str(dest)) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# Everything `entry` has under way is named ``.NAME.tmp-*`` beside the entry NAME: a
# temporary directory or file, or (an entry made in place) a sentinel file. No
# reader trusts such a name, the next run under the entry's lock removes what a
# killed run left, and `unfinished` finds them all.
WORK_INFIX = ".tmp-"

Layout = Literal["dir", "in-place", "file"]


@dataclass
class Entry:
    """One cache entry as `entry` found it, or the place where the caller makes it."""

    path: Path
    layout: Layout
    marker: str
    # A complete entry is there: use ``path`` and make nothing.
    ready: bool
    # The marker's text of the complete entry ("" for a file entry).
    text: str
    # Where to make the entry: a temporary directory or (not yet created) file beside
    # ``path``, or ``path`` itself for an entry made in place. ``path`` when ready.
    work: Path
    published: bool = False

    def publish(self, text: str | None = None) -> None:
        """Make the entry complete now: its marker holding ``text`` is written last.

        A directory entry needs ``text``; a file entry writes ``text`` into the file,
        or, given None, keeps what the caller wrote to ``work``.
        """
        if self.ready or self.published:
            raise RuntimeError(f"cache entry {self.path} is already complete")
        if self.layout == "file":
            if text is not None:
                self.work.write_text(text, encoding="utf-8")
            os.replace(self.work, self.path)
        elif text is None:
            raise TypeError(f"cache entry {self.path}: a directory entry's marker needs its text")
        elif self.layout == "dir":
            (self.work / self.marker).write_text(text, encoding="utf-8")
            if self.path.exists() or self.path.is_symlink():
                _remove(self.path)
            os.replace(self.work, self.path)
        else:
            # In place the marker appears where readers look, so it is renamed into place whole.
            marker = self.path / self.marker
            part = marker.with_name(f".{marker.name}{WORK_INFIX}{os.getpid()}")
            part.write_text(text, encoding="utf-8")
            os.replace(part, marker)
            _sentinel(self.path).unlink(missing_ok=True)
        self.published = True


@contextlib.contextmanager
def entry(
    path: Path,
    *,
    layout: Layout = "dir",
    marker: str = "",
    check: Callable[[Path, str], bool] | None = None,
    rebuild: bool = False,
    lock: Path | Literal[False] | None = None,
    on_damaged: Callable[[Path], None] | None = None,
) -> Iterator[Entry]:
    """Hold the lock of the cache entry ``path`` and yield it: complete, or to be made.

    - ``layout``: "dir", a directory filled in a temporary directory beside it and
      renamed into place; "in-place", a directory made at ``path`` itself (for trees
      whose own absolute paths end up in what they build); "file", one file written
      beside it and renamed into place.
    - ``marker``: a directory entry's marker file, written last by `Entry.publish`;
      an entry is complete only with it. A file entry has none (the file is whole
      once it is there).
    - ``check(path, text)``: is the entry found with that marker text whole? False:
      it is damaged, so it is removed and made again. It may raise instead
      (an ApepyError that tells the user what to do), which leaves the entry as it is.
    - ``rebuild``: make it again even if complete; the old one stays until the new
      one replaces it (an entry made in place is removed first).
    - ``lock``: the lock file; by default ``NAME.lock`` beside the entry. False: the
      caller already holds a lock that covers the entry.
    - ``on_damaged(path)``: told before an existing incomplete or damaged entry is
      removed to be made again.

    A ready entry is used as it is. Otherwise the caller makes it in ``work`` and calls
    ``publish``; leaving the block with an exception (or without publishing) removes
    the work, and an entry made in place, so the next run starts afresh.
    """
    if layout != "file" and not marker:
        raise TypeError(f"cache entry {path}: a directory entry needs a marker")
    lock_path = lock_of(path) if lock is None else lock
    with contextlib.nullcontext() if lock_path is False else locked(lock_path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # What a killed run left: this process holds the entry's lock now.
        for stale in path.parent.glob(f".{glob.escape(path.name)}{WORK_INFIX}*"):
            _remove(stale)
        if not rebuild:
            text = _complete(path, layout, marker, check)
            if text is not None:
                if lock_path is not False:
                    # The lock's time is the entry's last use: `apepy cache prune` reads it.
                    with contextlib.suppress(OSError):
                        os.utime(lock_path)
                yield Entry(path, layout, marker, ready=True, text=text, work=path)
                return
            if path.exists() or path.is_symlink():
                if on_damaged is not None:
                    on_damaged(path)
                _remove(path)
        if layout == "dir":
            work = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}{WORK_INFIX}"))
        elif layout == "file":
            work = path.with_name(f".{path.name}{WORK_INFIX}{os.getpid()}")
        else:
            _sentinel(path).touch()
            if path.exists() or path.is_symlink():
                _remove(path)
            path.mkdir()
            work = path
        made = Entry(path, layout, marker, ready=False, text="", work=work)
        try:
            yield made
            if not made.published:
                raise RuntimeError(f"cache entry {path} was left without being published")
        finally:
            if not made.published:
                _remove(work)
            if layout == "in-place":
                _sentinel(path).unlink(missing_ok=True)


def lock_of(path: Path) -> Path:
    """The lock of the cache entry ``path``, or of the entry whose work ``path`` is
    (``.KEY.tmp-*`` beside ``KEY``)."""
    name = path.name
    if name.startswith(".") and WORK_INFIX in name:
        name = name[1:].split(WORK_INFIX)[0]
    return path.with_name(name + ".lock")


def remove_unless_held(path: Path) -> bool:
    """Remove the cache entry (or leftover work) ``path`` holding its lock, taken
    without waiting: False, and nothing removed, if another run holds it."""
    lock_path = lock_of(path)
    try:
        handle = open(lock_path, "a+b")  # noqa: SIM115 (held across the removal)
    except OSError as exc:
        raise describe_os_error(exc, f"opening the cache lock {lock_path}") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            _remove(path)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return True


def _complete(
    path: Path, layout: Layout, marker: str, check: Callable[[Path, str], bool] | None
) -> str | None:
    """The marker text of the complete entry at ``path``; None if it is absent or damaged."""
    try:
        if layout == "file":
            text = "" if path.is_file() else None
        else:
            # Undecodable bytes are replaced, not an error: the check sees them and refuses.
            marker_path = path / marker
            text = marker_path.read_text("utf-8", "replace") if path.is_dir() else None
    except OSError:
        return None
    if text is None or (check is not None and not check(path, text)):
        return None
    return text


def _sentinel(path: Path) -> Path:
    return path.with_name(f".{path.name}{WORK_INFIX}in-place")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def unfinished(root: Path) -> list[Path]:
    """Everything under ``root`` that `entry` has under way, or that a killed run left."""
    return sorted(root.rglob(f".*{WORK_INFIX}*"))
