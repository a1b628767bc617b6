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
    with open(log, "a", encoding="utf-8") as sink:
        sink.write("$ " + " ".join(cmd) + "\n")
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        sink.write(result.stdout + result.stderr)
    return result
