"""Compiling Python sources to .pyc with the target interpreter, never the host's."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from apepy import ape, procs

# Run by the target interpreter, so the magic number is always its own. Unchecked
# hash-based .pyc (PEP 552) do not depend on file times, so output is reproducible.
# A file that does not compile is reported and skipped (its .py stays usable)
# unless strict is set.
_SCRIPT = """\
import py_compile, sys
listing, out, prefix, strict = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == '1'
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
for line in open(listing, encoding='utf-8'):
    src, rel = line.rstrip('\\n').split('\\t')
    try:
        py_compile.compile(src, cfile=out + '/' + rel[:-3] + '.pyc', dfile=prefix + rel,
                           doraise=True, optimize=0, invalidation_mode=mode)
    except py_compile.PyCompileError as exc:
        if strict:
            raise
        print('apepy-skip\\t' + rel + '\\t' + str(exc.msg).splitlines()[0], flush=True)
"""


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
    script.write_text(_SCRIPT)
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
