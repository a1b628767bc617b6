"""The command line: parse, call the pipeline, print results; errors become one message."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import apepy
from apepy import cache, toolchains, ui
from apepy.errors import ApepyError

if TYPE_CHECKING:
    from apepy.manifest import CompiledIn

DESCRIPTION = """\
apepy makes single-file Pythons: CPython built from source into one static
executable with its standard library inside, and apps bundled into it.
"""


# What add_subparsers returns (a string: the class is generic only to type checkers).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler = Callable[[argparse.Namespace], int]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apepy",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"apepy {apepy.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    # The order here is the order `apepy --help` lists the commands in.
    for add in (
        _add_build,
        _add_bundle,
        _add_info,
        _add_ls,
        _add_cat,
        _add_add,
        _add_rm,
        _add_verify,
        _add_doctor,
        _add_cache,
    ):
        add(subparsers)
    return parser


def _add_build(subparsers: Subparsers) -> None:
    build = subparsers.add_parser(
        "build",
        help="build a single-file CPython interpreter from source",
        description="Build CPython from source into one static executable whose standard "
        "library lives in a zip inside it. Results are cached by their inputs.",
    )
    build.add_argument(
        "-o", "--output", type=Path, default=Path("python"), help="output file (default: ./python)"
    )
    build.add_argument(
        "--python",
        metavar="VERSION",
        help="3.13 (newest pinned 3.13.x, the default) or an exact 3.13.15",
    )
    build.add_argument(
        "--source",
        type=Path,
        metavar="PATH",
        help="a CPython source tarball, or a directory holding Python-X.Y.Z.tar.xz (for machines "
        "without internet; default: $APEPY_SOURCE_DIR)",
    )
    build.add_argument(
        "--allow-unpinned-source",
        action="store_true",
        help="accept a --source tarball whose sha256 is not in apepy's table (recorded in the manifest)",
    )
    build.add_argument(
        "--toolchain",
        default="host",
        choices=toolchains.NAMES,
        help="compiler to build with (default: host); cosmo makes an Actually Portable Executable",
    )
    build.add_argument(
        "--optimize",
        action="store_true",
        help="profile-guided and link-time optimisation (PGO + LTO): several times longer to build",
    )
    build.add_argument(
        "--freeze",
        action="store_true",
        help="freeze the stdlib's hot modules into the binary (3.13+; +4.4 MB, start-up ~1%% faster)",
    )
    build.add_argument(
        "--minimal",
        action="store_true",
        help="the smallest interpreter: no sqlite3, ctypes, curses/readline, dbm, CJK codecs, "
        "_decimal (pure fallback), unittest, pydoc data",
    )
    build.add_argument(
        "--arch",
        choices=["fat", "x86_64", "aarch64"],
        help="cosmo only: fat (x86_64 + aarch64 in one file, the default) or one architecture",
    )
    build.add_argument(
        "--cosmocc",
        type=Path,
        metavar="DIR",
        help="an unpacked cosmocc release (default: $COSMOCC, cosmocc on PATH, or download the pinned one)",
    )
    build.add_argument(
        "--libraries",
        choices=toolchains.LIBRARIES,
        help="where the C libraries come from: the system's static archives (host default) "
        "or apepy's builds of pinned sources (cosmo always; for host, every library)",
    )
    build.add_argument(
        "-j", "--jobs", type=int, default=None, help="parallel compile jobs (default: every core)"
    )
    build.add_argument(
        "--exclude-module",
        action="append",
        default=[],
        metavar="NAME",
        help="leave a stdlib extension module out (e.g. readline, for its GPL license); repeatable",
    )
    build.add_argument(
        "--offline", action="store_true", help="never download; use local sources only"
    )
    build.add_argument(
        "--with",
        dest="with_",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="compile a third-party C extension package in from its sdist: NAME, NAME==VERSION, "
        "'NAME==VERSION --hash=sha256:HEX', or the path of an sdist; repeatable",
    )
    build.add_argument(
        "--with-lock",
        type=Path,
        metavar="FILE",
        help="extension packages pinned one per line (NAME==VERSION --hash=sha256:HEX)",
    )


def _add_bundle(subparsers: Subparsers) -> None:
    bundle = subparsers.add_parser(
        "bundle",
        help="bundle an app and its PyPI dependencies into one executable",
        description="Bundle a project (a directory with pyproject.toml), a requirements file, or "
        "one script with PEP 723 metadata, with its dependencies, into a copy of the interpreter. "
        "Options may also be set in [tool.apepy] of pyproject.toml (same names).",
    )
    bundle.add_argument(
        "source", type=Path, help="project directory, requirements file, or script.py"
    )
    bundle.add_argument(
        "-o", "--output", type=Path, help="output file (default: the project's name)"
    )
    bundle.add_argument(
        "--base",
        type=Path,
        help="interpreter to bundle into (default: `apepy build`'s default, cached)",
    )
    bundle.add_argument(
        "--python",
        metavar="VERSION",
        help="with no --base: the version of the interpreter to build",
    )
    bundle.add_argument("--entry", metavar="MODULE:FUNCTION", help="the function to run")
    bundle.add_argument("-m", dest="module", metavar="MODULE", help="run a module as __main__")
    bundle.add_argument(
        "--script",
        action="append",
        default=[],
        metavar="NAME",
        help="run this console script of a dependency (httpie's `http`, `black`); repeatable: "
        "the file then dispatches on the name it is run as",
    )
    bundle.add_argument(
        "--with",
        dest="extensions",
        action="append",
        default=[],
        metavar="PKG",
        help="with no --base: compile this C or Rust extension package into the base "
        "(as apepy build --with; cached); repeatable",
    )
    bundle.add_argument(
        "--extract",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="unpack this package to a per-content cache dir on first start (for code that needs real files)",
    )
    bundle.add_argument(
        "--prune",
        action="store_true",
        default=None,
        help="keep only the stdlib modules the app can import (static import graph + --keep)",
    )
    bundle.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="MODULE",
        help="with --prune: keep this stdlib module too (imported dynamically); repeatable",
    )
    bundle.add_argument(
        "--keep-from",
        type=Path,
        metavar="FILE",
        help="with --prune: keep the modules listed in FILE, e.g. recorded by running the bundle "
        "once with APEPY_RECORD_IMPORTS=FILE",
    )
    bundle.add_argument(
        "--allow-environment",
        action="store_true",
        default=None,
        help="let PYTHONPATH, the current directory and the user's site-packages in (default: isolated)",
    )
    bundle.add_argument(
        "--link", type=Path, metavar="DIR", help="create a link per [project.scripts] name in DIR"
    )
    bundle.add_argument(
        "--find-links",
        action="append",
        default=[],
        metavar="DIR|URL",
        help="extra place for pip to find wheels",
    )
    bundle.add_argument(
        "--index-url", metavar="URL", help="package index to use instead of the default"
    )
    bundle.add_argument("--no-index", action="store_true", help="only use --find-links")
    bundle.add_argument(
        "--refresh",
        action="store_true",
        help="resolve dependencies again instead of using the cached resolution",
    )
    bundle.add_argument(
        "--offline", action="store_true", help="never download CPython source for the default base"
    )


def _add_info(subparsers: Subparsers) -> None:
    info = subparsers.add_parser(
        "info", help="show what an apepy executable is and how it was built"
    )
    info.add_argument("file", type=Path)
    info.add_argument("--json", action="store_true", help="print the manifest as JSON")


def _add_ls(subparsers: Subparsers) -> None:
    ls = subparsers.add_parser("ls", help="list the members of an executable's zip store")
    ls.add_argument("file", type=Path)
    ls.add_argument("-l", "--long", action="store_true", help="sizes, compression, mode and date")


def _add_cat(subparsers: Subparsers) -> None:
    cat = subparsers.add_parser("cat", help="write one member of the zip store to stdout")
    cat.add_argument("file", type=Path)
    cat.add_argument("member")


def _add_add(subparsers: Subparsers) -> None:
    add = subparsers.add_parser(
        "add",
        help="add files or directories to the zip store (written to a temp file, then renamed)",
    )
    add.add_argument("file", type=Path)
    add.add_argument("paths", nargs="+", type=Path, help="files or directories to add")
    add.add_argument(
        "--at",
        default="",
        metavar="PREFIX",
        help="directory inside the zip, e.g. Lib/site-packages",
    )
    add.add_argument(
        "--store",
        action="store_true",
        help="store uncompressed (default: .pyc stored, rest deflated)",
    )


def _add_rm(subparsers: Subparsers) -> None:
    rm = subparsers.add_parser(
        "rm", help="remove members matching glob patterns; the file is compacted"
    )
    rm.add_argument("file", type=Path)
    rm.add_argument("patterns", nargs="+", metavar="PATTERN", help="e.g. 'Lib/site-packages/pip/*'")


def _add_verify(subparsers: Subparsers) -> None:
    verify = subparsers.add_parser(
        "verify", help="check the zip store: CRCs, offsets, overlaps, truncation"
    )
    verify.add_argument("file", type=Path)


def _add_doctor(subparsers: Subparsers) -> None:
    doctor = subparsers.add_parser(
        "doctor",
        help="check the toolchains, tools and sources apepy would use, and say what is missing",
    )
    doctor.add_argument("--cosmocc", type=Path, metavar="DIR", help="an unpacked cosmocc to check")


def _add_cache(subparsers: Subparsers) -> None:
    cache_cmd = subparsers.add_parser("cache", help="show or clear apepy's cache")
    cache_cmd.add_argument(
        "action", choices=["path", "clean"], help="path: print its location; clean: delete it"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler = _HANDLERS.get(args.command)
    if handler is None:
        parser.error(f"unknown command {args.command}")
    try:
        return handler(args)
    except ApepyError as error:
        ui.report_error(error)
        return 1
    except KeyboardInterrupt:
        ui.console.print("[bold red]interrupted[/]: nothing was written to the output path")
        return 130
    except Exception as exc:
        # A bug in apepy, not a user error: one message, the traceback only on request.
        if os.environ.get("APEPY_DEBUG"):
            raise
        ui.report_error(
            ApepyError(
                f"apepy failed unexpectedly: {type(exc).__name__}: {exc}",
                hint="this is a bug in apepy; run again with APEPY_DEBUG=1 for the traceback and report it",
            )
        )
        return 1


def _cmd_build(args: argparse.Namespace) -> int:
    from apepy import context
    from apepy.build import Spec, build
    from apepy.extensions import spec

    if args.jobs is not None and args.jobs < 1:
        raise ApepyError("--jobs must be at least 1", hint="pass -j N with N >= 1, or leave it out")
    wanted = [spec.parse(text) for text in args.with_]
    if args.with_lock is not None:
        wanted += spec.parse_lock(args.with_lock)
    result = build(
        Spec(
            python=args.python,
            source=args.source,
            allow_unpinned=args.allow_unpinned_source,
            toolchain=args.toolchain,
            exclude=frozenset(args.exclude_module),
            extensions=tuple(spec.merge(wanted)),
            arch=args.arch,
            cosmocc=args.cosmocc,
            libraries=args.libraries,
            minimal=args.minimal,
            optimize=args.optimize,
            freeze=args.freeze,
        ),
        args.output.absolute(),
        context.new("build", jobs=args.jobs, offline=args.offline),
    )
    manifest = result.manifest
    size = result.output.stat().st_size
    how = "from the cache" if result.cached else "built"
    ui.done(
        f"{result.output}: CPython {manifest.python_version} ({manifest.target}), "
        f"{len(manifest.builtin_modules)} built-in modules, {size / 1e6:.1f} MB, "
        f"{how} in {result.seconds:.1f} s"
    )
    if manifest.distributions:
        ui.info("compiled in (stdout, ready for --with-lock):")
        for dist in manifest.distributions:
            ui.out.print(
                f"{dist.name}=={dist.version} --hash=sha256:{dist.sdist_sha256}", markup=False
            )
    return 0


def _cmd_bundle(args: argparse.Namespace) -> int:
    from apepy.bundle import BundleRequest, bundle
    from apepy.bundle.wheels import IndexOptions

    result = bundle(
        BundleRequest(
            source=args.source,
            output=args.output,
            base=args.base,
            python=args.python,
            entry=args.entry,
            module=args.module,
            scripts=tuple(args.script),
            extensions=tuple(args.extensions),
            extract=tuple(args.extract),
            allow_environment=args.allow_environment,
            link_dir=args.link,
            prune=args.prune,
            keep=tuple(args.keep),
            keep_from=args.keep_from,
            index=IndexOptions(
                find_links=tuple(args.find_links),
                index_url=args.index_url,
                no_index=args.no_index,
                refresh=args.refresh,
            ),
            offline=args.offline,
        )
    )
    size = result.output.stat().st_size
    ui.done(
        f"{result.output}: {len(result.distributions)} distributions on "
        f"{result.base.describe()}, {size / 1e6:.1f} MB, in {result.seconds:.1f} s"
    )
    for link in result.links:
        ui.info(f"  link {link} → {result.output.name}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from apepy import manifest as manifest_mod
    from apepy import storecli

    path: Path = args.file
    if not path.is_file():
        raise ApepyError(
            f"{path} does not exist or is not a file",
            hint="give the path of an executable apepy built or bundled (or any file with a zip)",
        )
    found = manifest_mod.read(path)
    if found is None:
        return storecli.describe(path, as_json=args.json)
    if args.json:
        sys.stdout.write(found.to_json().decode())
        return 0
    rows = [
        ("file", str(path)),
        ("format", storecli.file_format(path)),
        ("size", f"{path.stat().st_size:,} bytes"),
        ("python", found.python_version),
        ("toolchain", f"{found.toolchain} ({found.compiler})"),
        ("target", f"{found.target}, {found.output_kind}"),
        (
            "source sha256",
            found.source_sha256 + ("" if found.source_pinned else " (NOT in apepy's pinned table)"),
        ),
        ("built-in modules", f"{len(found.builtin_modules)}: {' '.join(found.builtin_modules)}"),
        ("left out", ", ".join(found.excluded_modules) or "none"),
        ("compiled in", _compiled_in(found.distributions)),
        ("patches", "; ".join(found.patches)),
        ("CA bundle", found.ca_bundle),
        ("build date", f"{found.build_date} (SOURCE_DATE_EPOCH={found.source_date_epoch})"),
        ("apepy", found.apepy_version),
        ("build key", found.build_key),
    ]
    rows += storecli.bundle_rows(path)
    storecli.print_rows(rows)
    return 0


def _compiled_in(dists: tuple[CompiledIn, ...]) -> str:
    if not dists:
        return "no third-party extensions"
    return "; ".join(f"{d.name} {d.version} ({', '.join(d.modules)})" for d in dists)


def _cmd_cache(args: argparse.Namespace) -> int:
    root = cache.cache_root()
    if args.action == "path":
        ui.out.print(str(root), markup=False)
        return 0
    if root.exists():
        shutil.rmtree(root)
    ui.info(f"removed {root}")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from apepy import doctor

    return doctor.run(args.cosmocc)


def _cmd_store(args: argparse.Namespace) -> int:
    from apepy import storecli

    return int(getattr(storecli, f"cmd_{args.command}")(args))


_HANDLERS: dict[str, Handler] = {
    "build": _cmd_build,
    "bundle": _cmd_bundle,
    "info": _cmd_info,
    "ls": _cmd_store,
    "cat": _cmd_store,
    "add": _cmd_store,
    "rm": _cmd_store,
    "verify": _cmd_store,
    "doctor": _cmd_doctor,
    "cache": _cmd_cache,
}
