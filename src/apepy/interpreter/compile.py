"""configure + make: CPython's C part, every stdlib extension module linked in statically."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from apepy import ape, cache, libraries, procs, records, sources, ui
from apepy.context import Context
from apepy.errors import ApepyError
from apepy.interpreter import freeze as hot
from apepy.interpreter import modules, patches, pgo
from apepy.toolchains import Toolchain

COMPLETE_MARKER = ".apepy-complete.json"
# A 3.13 build tree without debug info is ~220 MB; leave room for the compiler's temporaries.
_TREE_SPACE = 600_000_000


@dataclass(frozen=True)
class Core:
    """A finished build tree: the static interpreter and the files the stdlib step reads."""

    tree: Path
    python: Path
    version: str
    builtins: tuple[str, ...]
    expected: tuple[str, ...]
    excluded: tuple[str, ...]
    patches: tuple[str, ...]
    # Optional modules built without, for want of a library: module -> why.
    left_out: dict[str, str] = field(default_factory=dict)
    # How the C code was optimised beyond -O3 ("" for none): --optimize's PGO and LTO.
    optimization: str = ""


@dataclass(frozen=True)
class Target:
    """What the C build makes: every input that changes its bytes."""

    source: sources.Source
    toolchain: Toolchain
    exclude: frozenset[str]
    epoch: int
    optimize: bool = False
    pgo_task: str = "apepy"
    freeze: bool = False


def build_core(target: Target, ctx: Context, *, root: Path) -> Core:
    """Build (or reuse) the tree in ``root``; a finished tree carries COMPLETE_MARKER."""
    # In place: the tree's own absolute paths are compiled into what it builds. A build
    # that was killed or failed is removed, here or by the next run, and starts over.
    with cache.entry(
        root,
        layout="in-place",
        marker=COMPLETE_MARKER,
        check=lambda _, text: records.readable(_Marker, text),
    ) as entry:
        if entry.ready:
            core = _load(root, entry.text)
            warn_left_out(core.left_out, "built")
            return core
        cache.ensure_free_space(root.parent, _TREE_SPACE, "building CPython")
        core = _build(target, ctx, root)
        entry.publish(
            records.to_json(
                _Marker(
                    tree=core.tree.relative_to(root),
                    version=core.version,
                    builtins=core.builtins,
                    expected=core.expected,
                    excluded=core.excluded,
                    patches=core.patches,
                    left_out=core.left_out,
                    optimization=core.optimization,
                )
            )
        )
        return core


@dataclass(frozen=True)
class _Marker:
    """A finished tree's COMPLETE_MARKER: its Core, the tree relative to the entry."""

    tree: Path
    version: str
    builtins: tuple[str, ...]
    expected: tuple[str, ...]
    excluded: tuple[str, ...]
    patches: tuple[str, ...]
    left_out: dict[str, str] = field(default_factory=dict)
    optimization: str = ""


def _load(root: Path, text: str) -> Core:
    marker = records.from_json(_Marker, text)
    tree = root / marker.tree
    return Core(
        tree=tree,
        python=tree / "python",
        version=marker.version,
        builtins=marker.builtins,
        expected=marker.expected,
        excluded=marker.excluded,
        patches=marker.patches,
        left_out=marker.left_out,
        optimization=marker.optimization,
    )


def _build(target: Target, ctx: Context, root: Path) -> Core:
    source, toolchain, log, jobs = target.source, target.toolchain, ctx.log, ctx.jobs
    exclude, optimize, freeze = target.exclude, target.optimize, target.freeze
    left_out = _preflight(toolchain, exclude)
    warn_left_out(left_out, "building")
    # The stdlib's libraries only: an extension's are built when one asks for them.
    sysroot = libraries.prepare(
        toolchain, ctx, [a for needs in modules.FROM_SOURCE.values() for a in needs.libraries]
    )
    skipped = exclude | frozenset(left_out) | frozenset(modules.NOT_STATIC)

    with ui.phase("unpack", f"CPython {source.version} source"):
        tree = sources.extract(source, root)
        edits = (
            *patches.patch_set(source.version),
            *toolchain.source_edits,
        )
        if freeze and hot.applies(source.version):
            edits = (*edits, hot.edit(tree))
        applied = patches.apply(tree, source.version, edits)
        patches.regenerate(
            tree,
            lambda cmd: procs.run_logged(
                cmd,
                cwd=tree,
                log=log,
                what="regenerating CPython's frozen module list",
                hint="see the log; this is a bug in apepy's patch set, please report it",
            ),
        )

    with ui.phase(
        "configure", f"with {toolchain.family} toolchain ({toolchain.compiler_version})"
    ) as st:
        _configure(tree, source.version, toolchain, log, st, sysroot, optimize=optimize)
        if optimize:
            _check_optimized(tree / "Makefile", log)
        states = modules.configured_states(tree / "Makefile")
        _check_required(states, skipped, log, legacy=source.version.startswith("3.11."))
        expected = _write_setup_local(
            tree,
            source.version,
            states,
            skipped,
            libraries_from_source=toolchain.libraries_from_source,
        )

    what = f"PGO + LTO build ({target.pgo_task}'s training task)" if optimize else f"make -j{jobs}"
    with ui.phase("compile", f"CPython {source.version}: {what}") as st:
        count = 0
        step = ""

        def progress(line: str) -> None:
            nonlocal count
            name = procs.compiled_file(line)
            if name:
                count += 1
                st.update(f"{step}{count} files · {name}")
            elif line.startswith("apepy-pgo: "):
                st.update(f"{step}{line[len('apepy-pgo: ') :].strip()}")

        def new_step(text: str) -> None:
            nonlocal step
            step = f"{text} · "
            st.update(text)

        # Reproducible output: gcc takes __DATE__/__TIME__ (in sys.version) from
        # SOURCE_DATE_EPOCH, and a fixed hash seed keeps frozen modules' marshal
        # output (set constants) stable.
        env = {"SOURCE_DATE_EPOCH": str(target.epoch), "PYTHONHASHSEED": "0"}
        if optimize:
            pgo.build(
                tree,
                jobs=jobs,
                log=log,
                env=env,
                task=target.pgo_task,
                on_line=progress,
                on_step=new_step,
            )
        else:
            procs.run_logged(
                ["make", f"-j{jobs}"],
                cwd=tree,
                log=log,
                env=env,
                what="compiling CPython",
                hint="see the log for the first error; a missing header names the -dev package to install",
                on_line=progress,
            )
        st.done_text = f"CPython {source.version}: {count} files compiled and linked"

    python = tree / "python"
    builtins = _builtins(python)
    missing = sorted(set(expected) - set(builtins))
    if missing:
        raise ApepyError(
            "the interpreter was built without: "
            + "; ".join(modules.describe_missing(m) for m in missing),
            hint="install the named packages (apt-get install "
            + " ".join(modules.debian_packages(set(missing)))
            + ") and build again, or leave a module out with --exclude-module NAME",
            details=f"full log: {log}",
        )
    return Core(
        tree=tree,
        python=python,
        version=source.version,
        builtins=builtins,
        expected=tuple(sorted(expected)),
        excluded=tuple(sorted(skipped)),
        patches=tuple(applied),
        left_out=left_out,
        optimization=pgo.describe(target.pgo_task) if optimize else "",
    )


def _preflight(toolchain: Toolchain, exclude: frozenset[str]) -> dict[str, str]:
    """Fail before configure if a required module's static library is missing.

    Returns the optional modules whose libraries are missing (built without them), each
    with the reason.
    gdbm, for one, has no recipe (it is GPL, as readline is): under cosmocc, _dbm and
    _gdbm are left out, as they are on a host without libgdbm-dev.
    """
    lacking: dict[str, list[str]] = {}
    table = modules.FROM_SOURCE if toolchain.libraries_from_source else modules.NEEDS
    for module, needs in table.items():
        if module in exclude:
            continue
        absent = libraries.missing(toolchain, needs.libraries)
        if absent:
            lacking[module] = absent
    required = sorted(m for m in lacking if m not in modules.OPTIONAL)
    if required:
        packages = modules.debian_packages(set(required))
        raise ApepyError(
            "missing static libraries: "
            + "; ".join(f"{', '.join(lacking[m])} for {m}" for m in required),
            hint=f"{libraries.hint(toolchain, packages)}, "
            "or leave the module out with --exclude-module NAME",
        )
    return {
        module: libraries.missing_reason(toolchain, lacking[module], table[module].debian)
        for module in sorted(lacking)
    }


def warn_left_out(left_out: dict[str, str], how: str) -> None:
    """Say what an interpreter lacks each time one is made, from the cache too."""
    for module, reason in left_out.items():
        ui.warn(f"{how} without {module}: {reason}")


def _configure(
    tree: Path,
    version: str,
    toolchain: Toolchain,
    log: Path,
    st: ui.PhaseStatus,
    sysroot: Path | None = None,
    *,
    optimize: bool = False,
) -> None:
    env = dict(toolchain.configure_env)
    series = ".".join(version.split(".")[:2])
    env.update(modules.CONFIGURE_ENV_BY_SERIES.get(series, {}))
    env["CC"] = toolchain.cc
    if optimize:
        # configure picks its PGO and LTO flags by the compiler's file name
        # (*gcc*, *clang*); the usual `cc` is a link to one of them.
        env["CC"] = os.path.realpath(toolchain.cc)
    if toolchain.cxx:
        env["CXX"] = toolchain.cxx
    env["AR"] = toolchain.ar
    env["RANLIB"] = toolchain.ranlib
    # No -g: the output is stripped anyway, and the cached tree stays small.
    env["OPT"] = "-DNDEBUG -O3 -Wall"
    cflags = [*toolchain.cflags, f"-ffile-prefix-map={tree}=."]
    ldflags = list(toolchain.ldflags)
    if sysroot is not None:
        # Checked only with cosmocc: configure finds the libraries built from
        # source through pkg-config's files and the sysroot's include/lib.
        cflags += [f"-I{sysroot / 'include'}", f"-I{sysroot / 'include' / 'ncursesw'}"]
        ldflags += [f"-L{sysroot / 'lib'}"]
        env["PKG_CONFIG_LIBDIR"] = f"{sysroot / 'lib' / 'pkgconfig'}"
        env["PKG_CONFIG"] = "pkg-config --static"
    env["CFLAGS"] = " ".join(cflags)
    env["LDFLAGS"] = " ".join(ldflags)
    args = [
        "./configure",
        "--disable-shared",
        "--disable-test-modules",
        "--with-ensurepip=no",
        *toolchain.configure_args,
        # --optimize: profile-guided (make runs the PGO task, a subset of the test
        # suite, between two builds) and link-time optimisation. Several times slower.
        *(["--enable-optimizations", "--with-lto"] if optimize else []),
        *(f"{k}={v}" for k, v in sorted(toolchain.configure_cache.items())),
    ]
    procs.run_logged(
        args,
        cwd=tree,
        log=log,
        env=env,
        what="configure",
        hint="configure could not set up the build; the log's last lines name the missing piece",
        on_line=lambda line: st.update(line.strip()[:70]) if line.startswith("checking") else None,
    )


def _check_optimized(makefile: Path, log: Path) -> None:
    """--optimize must not quietly build an ordinary interpreter."""
    values = pgo.makefile_values(makefile)
    missing = []
    if not values.get("PGO_PROF_USE_FLAG", ""):
        missing.append("PGO")
    if "-flto" not in values.get("CONFIGURE_CFLAGS_NODIST", "") + values.get(
        "CONFIGURE_LDFLAGS_NODIST", ""
    ):
        missing.append("LTO")
    if missing:
        raise ApepyError(
            f"configure did not enable {' and '.join(missing)} for this compiler",
            hint="--optimize needs GCC; build without --optimize",
            details=f"full log: {log}",
        )
    if values.get("LLVM_PROF_FILE") or values.get("LLVM_PROF_MERGER", "true") != "true":
        # Clang's profiles need llvm-profdata's merge step, which apepy does not run.
        raise ApepyError(
            "--optimize is made for GCC; this compiler is Clang",
            hint="build with GCC (CC=gcc) or without --optimize",
        )


def _check_required(
    states: dict[str, str], skipped: frozenset[str], log: Path, *, legacy: bool
) -> None:
    """Stop right after configure, not minutes later, if a required module cannot be built."""
    lost = sorted(
        m
        for m in modules.REQUIRED - skipped
        if states.get(m) in ("missing", "disabled")
        and m not in modules.STATIC_OVERRIDES
        and not (legacy and m in modules.LEGACY_311)
    )
    if lost:
        raise ApepyError(
            "configure cannot build: " + "; ".join(modules.describe_missing(m) for m in lost),
            hint="install the named packages (apt-get install "
            + " ".join(modules.debian_packages(set(lost)))
            + ") and build again, or leave a module out with --exclude-module NAME",
            details=f"full log: {log}",
        )


def _write_setup_local(
    tree: Path,
    version: str,
    states: dict[str, str],
    skipped: frozenset[str],
    *,
    libraries_from_source: bool = False,
) -> list[str]:
    """Write Modules/Setup.local; return the modules the build must contain."""
    lines = ["# written by apepy", "*static*"]
    expected = {name for name, state in states.items() if state == "yes"}
    for name, line in modules.STATIC_OVERRIDES.items():
        if name not in skipped and states.get(name) == "missing":
            lines.append(line)
            expected.add(name)
    if version.startswith("3.11."):
        # Setup.stdlib (as configure wrote it: *static*, disabled lines commented out)
        # takes effect only when copied here; the rest comes from LEGACY_311.
        stdlib = (tree / "Modules" / "Setup.stdlib").read_text(encoding="utf-8")
        shared = False
        for line in stdlib.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if line.strip() == "*shared*":
                shared = True
            elif shared:
                # Shared-only modules (xxlimited) cannot link under -static.
                skipped = skipped | {line.split()[0]}
                expected.discard(line.split()[0])
            elif line.split()[0] not in skipped:
                lines.append(line)
        lines.append("*static*")
        legacy = modules.LEGACY_311_SYSROOT if libraries_from_source else modules.LEGACY_311
        for name, line in legacy.items():
            if name not in skipped and states.get(name) not in ("disabled", "n/a"):
                lines.append(line)
                expected.add(name)
    # makesetup keeps the first rule it sees for a module: the disabled ones go first.
    disabled = sorted(name for name in skipped if name in states)
    head = ["# written by apepy", *(["*disabled*", *disabled] if disabled else [])]
    (tree / "Modules" / "Setup.local").write_text("\n".join(head + lines[1:]) + "\n")
    expected |= set(modules.REQUIRED)
    expected -= skipped
    not_found = sorted(
        name
        for name, state in states.items()
        if state == "missing" and name not in expected and name not in modules.NOT_STATIC
    )
    for name in not_found:
        if name not in skipped:
            ui.warn(f"configure found no library for {modules.describe_missing(name)}")
    return sorted(expected)


def _builtins(python: Path) -> tuple[str, ...]:
    result = subprocess.run(
        # Fat cosmocc links an APE, which execve refuses without binfmt_misc.
        [*ape.command(python), "-c", "import sys; print('\\n'.join(sys.builtin_module_names))"],
        capture_output=True,
        text=True,
        cwd=python.parent,
        env={**os.environ, "PYTHONHOME": "", "PYTHONPATH": ""},
    )
    if result.returncode != 0:
        raise ApepyError(
            "the freshly built interpreter does not start",
            details=result.stderr.strip()[-2000:],
            hint="this is a bug in apepy's build for this platform; please report it with the log",
        )
    return tuple(result.stdout.split())
