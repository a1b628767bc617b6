"""apepy's command line, as argparse parsers: every command, option and its help text."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

import apepy
from apepy import cachecli, testcli, toolchains
from apepy.interpreter import pgo

DESCRIPTION = """\
apepy makes single-file Pythons: CPython built from source into one static
executable with its standard library inside, and apps bundled into it.
"""


# What add_subparsers returns (a string: the class is generic only to type checkers).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def build_parser() -> argparse.ArgumentParser:
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
        _add_sbom,
        testcli.add_parser,
        _add_doctor,
        cachecli.add_parser,
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
        help="profile-guided and link-time optimisation (PGO + LTO), trained on apepy's "
        "own task: about 2.1 times the default build's time, ~16 %% faster, reproducible",
    )
    build.add_argument(
        "--pgo-task",
        choices=pgo.TASKS,
        help="with --optimize, the training run: apepy's own (default, about 30 s) or "
        "CPython's test-suite subset (about three times as long; for comparison)",
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
        "source",
        type=Path,
        help="project directory, requirements file, pylock.toml (PEP 751), or script.py",
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
        "--hot-from",
        type=Path,
        metavar="FILE",
        help="store uncompressed only the .pyc of the modules listed in FILE (recorded by running "
        "the bundle once with APEPY_RECORD_IMPORTS=FILE) and deflate the rest: a smaller file, "
        "the same start-up for what the run imports",
    )
    bundle.add_argument(
        "--no-sources",
        action="store_true",
        default=None,
        help="leave out the packages' .py where the .pyc is there (smaller; tracebacks then "
        "show no source lines, as with the stdlib of an `apepy build --minimal` base)",
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
        "--offline",
        action="store_true",
        help="never download CPython source for the default base, nor a locked wheel",
    )
    bundle.add_argument(
        "--lock-out",
        type=Path,
        metavar="FILE",
        help="also write the PEP 751 lock of what was installed to FILE (the file always "
        "carries it: .apepy/pylock.toml); bundling from it gives the same bytes",
    )
    bundle.add_argument(
        "--locked",
        action="store_true",
        help="with a lock (pylock.toml beside pyproject.toml, or given): refuse it when it "
        "does not satisfy the project's dependencies",
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
    verify.add_argument(
        "--deep",
        action="store_true",
        help="also check every installed distribution's RECORD hashes, and the manifest's, "
        "SBOM's and lock's claims against what the file holds and what it runs",
    )


def _add_sbom(subparsers: Subparsers) -> None:
    sbom = subparsers.add_parser(
        "sbom", help="print the SBOM the file carries (CycloneDX 1.6 JSON)"
    )
    sbom.add_argument("file", type=Path)
    sbom.add_argument(
        "--format",
        choices=["cyclonedx", "spdx"],
        default="cyclonedx",
        help="cyclonedx (the member as written) or spdx (SPDX 2.3 JSON, made from it)",
    )


def _add_doctor(subparsers: Subparsers) -> None:
    doctor = subparsers.add_parser(
        "doctor",
        help="check the toolchains, tools and sources apepy would use, and say what is missing",
    )
    doctor.add_argument("--cosmocc", type=Path, metavar="DIR", help="an unpacked cosmocc to check")
