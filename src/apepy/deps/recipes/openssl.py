"""OpenSSL: its own Perl ``Configure``, the libraries alone, installed through DESTDIR."""

from __future__ import annotations

import shutil
from pathlib import Path

from apepy.deps.commands import build_env, compile_flags, install_file, run
from apepy.deps.table import Library
from apepy.toolchains import Toolchain


def configure_command(lib: Library, tc: Toolchain) -> list[str]:
    """OpenSSL's ``./Configure`` command line.

    The prefix is a fixed ``/usr/local`` installed through DESTDIR: OpenSSL compiles
    its ENGINESDIR and MODULESDIR in, and a cache path there would differ between
    machines. The CA paths (OPENSSLDIR) are the usual system ones, ``/etc/ssl``.
    """
    options = lib.options_for(tc.family)
    args = ["./Configure"]
    if options.target:
        args.append(options.target.replace("{arch}", tc.arch))
    return [
        *args,
        *lib.configure_args,
        "--prefix=/usr/local",
        "--libdir=lib",
        "--openssldir=/etc/ssl",
        *options.configure_args,
    ]


def build(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = build_env(lib, tc, root, tree)
    # OpenSSL's Configure reads CC, AR, RANLIB and CFLAGS from the environment; it
    # needs nothing from the sysroot. It compiles its CFLAGS into the library (for
    # `openssl version -f`), so no path may be among them; it compiles with relative
    # paths, so there is no build path to map away either.
    env["CFLAGS"] = " ".join(
        f for f in compile_flags(lib, tc, tree) if not f.startswith("-ffile-prefix-map=")
    )
    env["CPPFLAGS"] = ""
    # Configure turns threads (and PIC) off when LDFLAGS says -static, and CPython's
    # _ssl refuses an OpenSSL without threads; only the libraries are built here, so
    # no program is linked with these flags anyway.
    env["LDFLAGS"] = " ".join(f for f in tc.ldflags if f != "-static")
    stage = tree.parent / "stage"
    run(configure_command(lib, tc), tree, log, env, "configure openssl")
    run(["make", f"-j{jobs}", "build_libs"], tree, log, env, "make openssl")
    run(["make", "install_dev", f"DESTDIR={stage}"], tree, log, env, "install openssl")
    staged = stage / "usr" / "local"
    headers = root / "include" / "openssl"
    shutil.rmtree(headers, ignore_errors=True)
    shutil.copytree(staged / "include" / "openssl", headers)
    for product in lib.products:
        install_file(staged / "lib" / product, root / "lib" / product)
    for pc in sorted((staged / "lib" / "pkgconfig").glob("*.pc")):
        text = pc.read_text(encoding="utf-8").replace("prefix=/usr/local\n", f"prefix={root}\n", 1)
        dest = root / "lib" / "pkgconfig" / pc.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
