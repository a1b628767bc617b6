"""Recognising an Actually Portable Executable and the loaders it carries."""

from __future__ import annotations

import os
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

_HEAD = 1 << 20  # loaders live in the first megabyte of an APE
_ELF_MACHINES = {0x3E: "ELF x86_64", 0xB7: "ELF aarch64"}
_MACHO_CPUS = {0x01000007: "Mach-O x86_64", 0x0100000C: "Mach-O arm64"}
_PRINTF_ELF = re.compile(rb"printf '(\\177ELF[^']*)'")


@dataclass(frozen=True)
class ApeInfo:
    is_ape: bool
    loaders: tuple[str, ...]


def _shell_bytes(text: bytes) -> bytes:
    """Decode the octal escapes of a shell printf format (how APE spells its ELF headers)."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i : i + 1] == b"\\" and i + 1 < len(text):
            match = re.match(rb"[0-7]{1,3}", text[i + 1 : i + 4])
            if match:
                out.append(int(match.group(), 8) & 0xFF)
                i += 1 + len(match.group())
                continue
        out.append(text[i])
        i += 1
    return bytes(out)


def inspect(path: Path) -> ApeInfo:
    with open(path, "rb") as handle:
        head = handle.read(_HEAD)
    if not head.startswith((b"MZqFpD", b"jartsr")):
        return ApeInfo(False, ())
    loaders = ["shell script (sh)"]
    if len(head) >= 0x40:
        pe = struct.unpack_from("<I", head, 0x3C)[0]
        if head[pe : pe + 4] == b"PE\0\0":
            loaders.append("Windows PE")
    found: set[str] = set()
    for match in _PRINTF_ELF.finditer(head):
        header = _shell_bytes(match.group(1))
        if len(header) >= 20:
            found.add(_ELF_MACHINES.get(struct.unpack_from("<H", header, 18)[0], ""))
    for match in re.finditer(rb"\x7fELF\x02\x01\x01", head):
        e_type, e_machine = struct.unpack_from("<HH", head, match.start() + 16)
        if e_type in (2, 3):
            found.add(_ELF_MACHINES.get(e_machine, ""))
    for match in re.finditer(rb"\xcf\xfa\xed\xfe", head):
        cpu = (
            struct.unpack_from("<I", head, match.start() + 4)[0]
            if match.start() + 8 <= len(head)
            else 0
        )
        found.add(_MACHO_CPUS.get(cpu, ""))
    if b"ape-m1.c" in head:
        found.add("Mach-O arm64 (ape-m1.c, compiled on first run)")
    loaders += sorted(x for x in found if x)
    return ApeInfo(True, tuple(loaders))


def command(path: Path) -> list[str]:
    """How this host starts ``path``: an APE's header is a shell script.

    Linux refuses an APE in execve (ENOEXEC) unless its loader is registered with
    binfmt_misc; a shell runs it anyway, and the script in the header starts the
    embedded loader. A user's shell does the same when they type ``./python.com``.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(6)
    except OSError:
        return [str(path)]
    if head in (b"MZqFpD", b"jartsr") and os.name == "posix":
        # The header unpacks its loader into ${TMPDIR:-${HOME:-.}}: apepy's probes run
        # with an empty environment, which left .ape-1.10 in the current directory.
        return ["/usr/bin/env", f"TMPDIR={tempfile.gettempdir()}", "/bin/sh", str(path)]
    return [str(path)]
