"""`apepy info | ls | cat | add | rm | verify`: what a file is, and the zip store inside it."""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from apepy import ape, cache, ui, zipstore, zipverify
from apepy.errors import ApepyError

if TYPE_CHECKING:
    from apepy import manifest
from apepy.layout import ARGS_ARCNAME, BUNDLE_CONFIG


def _archive(path: Path) -> zipstore.Archive:
    """The file's zip store (every failure names its fix)."""
    return zipstore.read_archive(path)


def print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        ui.out.print(f"{key:<{width}}  {value}", markup=False)


def file_format(path: Path) -> str:
    """What kind of executable ``path`` is, from its first bytes."""
    found = ape.inspect(path)
    if found.is_ape:
        return f"Actually Portable Executable (APE); loaders: {', '.join(found.loaders)}"
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(b"\x7fELF"):
        bits = {1: "32-bit", 2: "64-bit"}.get(head[4], "?")
        machine = int.from_bytes(head[18:20], "little")
        arch = {0x3E: "x86_64", 0xB7: "aarch64", 0x03: "i386", 0x28: "arm"}.get(
            machine, hex(machine)
        )
        return f"ELF {bits} {arch}"
    if head.startswith(b"MZ"):
        return "Windows PE"
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xca\xfe\xba\xbe"):
        return "Mach-O"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP archive"
    return "unknown"


def bundle_rows(path: Path) -> list[tuple[str, str]]:
    """What `apepy bundle` put into the file, if anything."""
    raw = zipstore.read_member(path, BUNDLE_CONFIG)
    if raw is None:
        return []
    try:
        config = json.loads(raw)
    except ValueError:
        return [("bundle", f"damaged {BUNDLE_CONFIG}")]
    entry = config.get("entry")
    scripts = config.get("scripts", {})
    rows = [("bundle", str(config.get("name", "?")))]
    if entry:
        rows.append(("entry", f"{entry.get('target')} ({entry.get('kind')})"))
    if scripts:
        rows.append(("commands", ", ".join(f"{k} → {v}" for k, v in sorted(scripts.items()))))
    dists = config.get("distributions", [])
    rows.append(
        ("distributions", ", ".join(f"{d['name']} {d['version']}" for d in dists) or "none")
    )
    args = zipstore.read_member(path, ARGS_ARCNAME)
    if args is not None:
        rows.append((ARGS_ARCNAME, " ".join(args.decode("utf-8", "replace").split())))
    return rows


def describe(path: Path, *, as_json: bool) -> int:
    archive = _archive(path)
    files = [m for m in archive.members if not m.is_dir]
    summary = {
        "file": str(path),
        "format": file_format(path),
        "size": archive.size,
        "program_bytes": archive.start,
        "members": len(files),
        "directories": len(archive.members) - len(files),
        "uncompressed_bytes": sum(m.size for m in files),
        "apepy_manifest": False,
    }
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return 0
    print_rows(
        [
            ("file", str(path)),
            ("format", summary["format"]),  # type: ignore[list-item]
            ("size", f"{archive.size:,} bytes ({archive.start:,} program, the rest zip)"),
            ("zip members", f"{len(files)} files, {summary['directories']} directories"),
            ("apepy manifest", "none (not built by apepy)"),
        ]
    )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from apepy import manifest as manifest_mod

    path: Path = args.file
    if not path.is_file():
        raise ApepyError(
            f"{path} does not exist or is not a file",
            hint="give the path of an executable apepy built or bundled (or any file with a zip)",
        )
    found = manifest_mod.read(path)
    if found is None:
        return describe(path, as_json=args.json)
    if args.json:
        sys.stdout.write(found.to_json().decode())
        return 0
    rows = [
        ("file", str(path)),
        ("format", file_format(path)),
        ("size", f"{path.stat().st_size:,} bytes"),
        ("python", found.python_version),
        ("toolchain", f"{found.toolchain} ({found.compiler})"),
        ("target", f"{found.target}, {found.output_kind}"),
        ("optimised", found.optimization or "no PGO, no LTO"),
        (
            "source sha256",
            found.source_sha256 + ("" if found.source_pinned else " (NOT in apepy's pinned table)"),
        ),
        ("built-in modules", f"{len(found.builtin_modules)}: {' '.join(found.builtin_modules)}"),
        ("left out", ", ".join(found.excluded_modules) or "none"),
        ("compiled in", _compiled_in(found.distributions)),
        ("run-time deps", _runtime(found.runtime_dependencies)),
        ("patches", "; ".join(found.patches)),
        ("CA bundle", found.ca_bundle),
        ("build date", f"{found.build_date} (SOURCE_DATE_EPOCH={found.source_date_epoch})"),
        ("apepy", found.apepy_version),
        ("build key", found.build_key),
    ]
    rows += bundle_rows(path)
    rows += licence_rows(path)
    print_rows(rows)
    return 0


def licence_rows(path: Path) -> list[tuple[str, str]]:
    """The SBOM's licences, counted, and every copyleft component by name."""
    from apepy import sbom

    bom = sbom.load(path)
    if bom is None:
        return [("licences", "no SBOM in the file (made by an older apepy)")]
    found = sbom.summary(bom)
    counted = sorted(found.by_licence.items(), key=lambda item: (-len(item[1]), item[0]))
    rows = [
        (
            "licences",
            "; ".join(f"{text} ({len(names)})" for text, names in counted)
            + (f"; unknown ({len(found.unknown)})" if found.unknown else ""),
        )
    ]
    if found.unknown:
        rows.append(("licence unknown", ", ".join(found.unknown)))
    if found.strong:
        rows.append(("copyleft (GPL)", "; ".join(found.strong)))
        rows.append(
            (
                "",
                "the file links GPL code: distributed, it is under the GPL as a whole "
                "(GNU readline and gdbm come from the system's libraries: build with "
                "--libraries source, which links libedit and no gdbm, or --exclude-module "
                "readline --exclude-module _dbm --exclude-module _gdbm)",
            )
        )
    if found.weak:
        rows.append(("weak copyleft", "; ".join(found.weak)))
    if not found.strong and not found.weak:
        rows.append(("copyleft", "none"))
    return rows


def cmd_sbom(args: argparse.Namespace) -> int:
    from apepy import sbom

    path: Path = args.file
    _archive(path)
    raw = sbom.read(path)
    if raw is None:
        raise ApepyError(
            f"{path} carries no SBOM ({sbom.SBOM_ARCNAME})",
            hint="files made by apepy build / bundle carry one; rebuild this one with them",
        )
    if args.format == "spdx":
        from apepy import spdx

        raw = spdx.from_cyclonedx(sbom.parse(raw), path.name)
    sys.stdout.buffer.write(raw)
    sys.stdout.buffer.flush()
    return 0


def _compiled_in(dists: tuple[manifest.CompiledIn, ...]) -> str:
    if not dists:
        return "no third-party extensions"
    return "; ".join(f"{d.name} {d.version} ({', '.join(d.modules)})" for d in dists)


def _runtime(dists: tuple[manifest.RuntimeDependency, ...]) -> str:
    if not dists:
        return "nothing more"
    return "; ".join(f"{d.name} {d.version} (sha256:{d.sha256})" for d in dists)


def cmd_ls(args: argparse.Namespace) -> int:
    archive = _archive(args.file)
    for m in archive.members:
        if args.long:
            method = {0: "stored", 8: "deflate"}.get(m.method, str(m.method))
            y, mo, d, h, mi = m.date_time[:5]
            stamp = f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}"
            ui.out.print(
                f"{m.mode:07o} {m.size:>10} {m.compressed_size:>10} {method:<7} {stamp} {m.name}",
                markup=False,
            )
        else:
            ui.out.print(m.name, markup=False)
    return 0


def cmd_cat(args: argparse.Namespace) -> int:
    archive = _archive(args.file)
    member = archive.get(args.member)
    if member is None or member.is_dir:
        raise ApepyError(
            f"{args.file} has no member {args.member!r}",
            hint=f"`apepy ls {args.file}` lists its members",
        )
    sys.stdout.buffer.write(zipstore.read_data(archive, member))
    sys.stdout.buffer.flush()
    return 0


def _collect(paths: list[Path], at: str, store: bool) -> list[zipstore.Entry]:
    prefix = zipstore.check_member_name(at.rstrip("/")) + "/" if at.rstrip("/") else ""
    entries: list[zipstore.Entry] = []
    for path in paths:
        if not path.exists():
            raise ApepyError(f"{path} does not exist", hint="name files or directories that exist")
        base = path.resolve()
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        root = base.parent
        for file in files:
            name = zipstore.check_member_name(prefix + file.relative_to(root).as_posix())
            mode = 0o755 if os.access(file, os.X_OK) else 0o644
            compress = not store and not name.endswith(".pyc")
            entries.append(zipstore.Entry(name, file.read_bytes(), compress=compress, mode=mode))
    return entries


def _write(
    archive: zipstore.Archive,
    keep: Callable[[zipstore.Member], bool],
    add: list[zipstore.Entry] | None = None,
) -> None:
    target: Path = archive.path
    cache.check_rewrite(target)
    mode = target.stat().st_mode & 0o7777
    with cache.atomic_output(target, mode=mode) as tmp:
        zipstore.rewrite(archive, tmp, keep=keep, add=add or [])


def add_members(archive: zipstore.Archive, entries: list[zipstore.Entry]) -> tuple[int, int]:
    """Add ``entries`` to the file in place (with the directory entries they need),
    replacing members of the same names; return how many were replaced and how many
    directory entries were added."""
    new_names = {e.name for e in entries}
    existing = {m.name for m in archive.members}
    dirs = [d for d in zipstore.directory_entries(new_names) if d.name not in existing]
    _write(archive, keep=lambda m: m.name not in new_names, add=[*dirs, *entries])
    return len(new_names & existing), len(dirs)


def cmd_add(args: argparse.Namespace) -> int:
    archive = _archive(args.file)
    entries = _collect(args.paths, args.at, args.store)
    replaced, dirs = add_members(archive, entries)
    ui.info(
        f"added {len(entries) - replaced} and replaced {replaced} members in {args.file}"
        + (f" (and {dirs} directory entries)" if dirs else "")
    )
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    archive = _archive(args.file)

    def matches(member: zipstore.Member) -> bool:
        return any(fnmatch.fnmatchcase(member.name, p) or member.name == p for p in args.patterns)

    doomed = [m for m in archive.members if matches(m)]
    if not doomed:
        raise ApepyError(
            f"no member of {args.file} matches {' '.join(args.patterns)}",
            hint=f"`apepy ls {args.file}` lists its members; quote patterns so the shell leaves them alone",
        )
    _write(archive, keep=lambda m: not matches(m))
    freed = sum(m.end - m.header_offset for m in doomed)
    ui.info(f"removed {len(doomed)} members from {args.file} ({freed:,} bytes)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    archive = _archive(args.file)
    problems, warnings = zipverify.verify(archive)
    checked: list[str] = []
    if args.deep and not problems:
        from apepy import deepverify

        deep = deepverify.verify(archive)
        problems += deep.problems
        warnings += deep.warnings
        checked = deep.checked
    for warning in warnings:
        ui.warn(warning)
    if problems:
        for problem in problems:
            ui.console.print(f"[red]✗[/] {escape(problem)}", highlight=False)
        if args.deep:
            raise ApepyError(
                f"{args.file}: {len(problems)} problem(s): it is not as apepy made it",
                hint="rebuild or bundle the file again from its sources (its lock: "
                "apepy cat FILE .apepy/pylock.toml)",
            )
        raise ApepyError(
            f"{args.file}: {len(problems)} problem(s) in its zip store",
            hint="rebuild the file, or fix it with `apepy rm` / `apepy add`",
        )
    ui.done(f"{args.file}: {len(archive.members)} members, all readable, offsets absolute")
    for line in checked:
        ui.done(f"{args.file}: {line}")
    return 0
