"""Running external programs with their output sent to a log, and failures explained."""

from __future__ import annotations

import os
import re
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from apepy.errors import ApepyError

TAIL_LINES = 15


def run_logged(
    cmd: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    what: str,
    hint: str,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> None:
    """Run ``cmd``, appending its output to ``log``; raise ApepyError if it fails.

    The error carries the last lines of output and the log's path, so the user
    sees the cause without opening the log.
    """
    tail: deque[str] = deque(maxlen=TAIL_LINES)

    def keep(line: str) -> None:
        tail.append(line.rstrip("\n"))
        if on_line is not None:
            on_line(line)

    try:
        code = run_streamed(cmd, cwd=cwd, log=log, env=env, on_line=keep)
    except OSError as exc:
        raise ApepyError(f"{what}: cannot run {cmd[0]}: {exc.strerror}", hint=hint) from exc
    if code != 0:
        raise ApepyError(
            f"{what} failed (exit code {code})",
            hint=hint,
            details="\n".join(tail) + f"\n\nfull log: {log}",
        )


def run_streamed(
    cmd: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    whole_env: bool = False,
) -> int:
    """Run ``cmd`` with its output appended to ``log`` and each line passed to
    ``on_line``; return its exit status (OSError if it cannot start).

    ``env`` is added to this process's environment, or is the whole environment
    with ``whole_env`` (for a child that must not see some of ours)."""
    full_env = {} if whole_env else dict(os.environ)
    if env:
        full_env.update(env)
    log.parent.mkdir(parents=True, exist_ok=True)
    # Line-buffered: `tail -f` on the log follows a long build as it goes.
    with open(log, "a", encoding="utf-8", errors="replace", buffering=1) as sink:
        sink.write(f"\n$ (cd {cwd} && {' '.join(cmd)})\n")
        sink.flush()
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                sink.write(line)
                if on_line is not None:
                    on_line(line)
            return proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise


def compiled_file(line: str) -> str | None:
    """The source file a compiler command line in build output compiles, if any."""
    if " -c " not in line:
        return None
    match = re.search(r"(\S+\.c)(?:\s|$)", line)
    return match.group(1) if match else None
