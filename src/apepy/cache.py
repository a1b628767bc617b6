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
from collections.abc import Iterator
from pathlib import Path

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


@contextlib.contextmanager
def atomic_directory(dest: Path) -> Iterator[Path]:
    """Yield a temporary directory next to ``dest``; rename it to ``dest`` on success.

    Used for cache entries: a killed process leaves only a ``.tmp-*`` sibling that
    no reader trusts, never a half-filled entry. Callers hold the entry's lock, so
    any such sibling found here is left over from a killed run and is removed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".{glob.escape(dest.name)}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.tmp-"))
    try:
        yield tmp
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
