"""Compiling Python sources to .pyc with the target interpreter, never the host's."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from apepy import ape, inside, procs


def compile_sources(
    python: Path,
    sources: Sequence[tuple[Path, str]],
    out_dir: Path,
    *,
    dfile_prefix: str,
    log: Path,
    cwd: Path,
    strict: bool = True,
) -> list[str]:
    """Compile each (source, relative name) to ``out_dir/<name>.pyc``; return skipped names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir.parent
    listing = work / f"{out_dir.name}-sources.txt"
    listing.write_text("".join(f"{src}\t{rel}\n" for src, rel in sources), encoding="utf-8")
    script = work / "apepy_compile.py"
    # Run by the target interpreter, so the magic number is always its own.
    script.write_text(inside.source("probes/compile_pyc.py"), encoding="utf-8")
    skipped: list[str] = []

    def collect(line: str) -> None:
        if line.startswith("apepy-skip\t"):
            skipped.append(line.split("\t")[1])

    procs.run_logged(
        [
            *ape.command(python),
            "-I",
            "-S",
            str(script),
            str(listing),
            str(out_dir),
            dfile_prefix,
            "1" if strict else "0",
        ],
        cwd=cwd,
        log=log,
        env={"APEPY_PLAIN": "1", "PYTHONHASHSEED": "0"},
        what="compiling Python sources to .pyc",
        hint="a source file failed to compile with the target interpreter; see the log",
        on_line=collect,
    )
    return skipped


def plain_env() -> dict[str, str]:
    """An environment that runs an apepy executable as the plain interpreter (no .args)."""
    return {"APEPY_PLAIN": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
