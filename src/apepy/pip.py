"""Running the host's pip (resolution and downloads only), with its output in the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def download(args: list[str], dest: Path, log: Path) -> subprocess.CompletedProcess[str]:
    """`pip download -d dest ARGS...`; the command and all its output go to ``log``."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "-d",
        str(dest),
        *args,
    ]
    return _logged(cmd, log, keep_stdout=False)


def run_module(module: str, args: list[str], log: Path) -> str:
    """Run one of apepy's helpers that use pip's internals (``python -m MODULE ARGS``);
    return its stdout, or "" when it failed (its output goes to ``log``)."""
    result = _logged([sys.executable, "-m", module, *args], log, keep_stdout=True)
    return result.stdout if result.returncode == 0 else ""


def _logged(cmd: list[str], log: Path, *, keep_stdout: bool) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; the command and its output go to ``log`` (its stdout only when it is
    not the answer the caller reads)."""
    with open(log, "a", encoding="utf-8") as sink:
        sink.write("$ " + " ".join(cmd) + "\n")
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        sink.write(result.stderr if keep_stdout else result.stdout + result.stderr)
    return result
