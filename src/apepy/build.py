"""`apepy build`: source → toolchain → C build → stdlib → one file, cached by its inputs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import certifi

import apepy
from apepy import (
    ape,
    cache,
    extensions,
    hashing,
    inside,
    linked,
    procs,
    pyc,
    runtime_deps,
    sbom,
    sources,
    stepcode,
    toolchains,
    ui,
    zipstore,
)
from apepy.context import Context
from apepy.errors import ApepyError, InternalError
from apepy.extensions.spec import ExtensionSpec
from apepy.interpreter import compile, freeze, pgo, stdlib
from apepy.layout import MANIFEST_ARCNAME, SITE
from apepy.manifest import Manifest
from apepy.sitepackages import site_entries

# What the packed interpreter's key leaves to others: the CPython tree (compile and the
# toolchain, in the core key) and the extensions' builds (their own key).
_PACK_COVERED = (
    "apepy.interpreter.compile",
    "apepy.toolchains",
    "apepy.libraries",
    "apepy.deps",
    "apepy.extensions",
)


def core_code(toolchain: toolchains.Toolchain) -> tuple[str, ...]:
    """apepy's files that shape the CPython tree built with ``toolchain``: what
    interpreter/compile.py imports, and the C sources and importer it compiles in."""
    # Another family's module, and the C libraries' recipes where the system's
    # libraries are linked, do not change this tree.
    others = [f"apepy.toolchains.{n}" for n in toolchains.NAMES if n != toolchain.family]
    deps = [] if toolchain.libraries_from_source else ["apepy.deps"]
    return stepcode.files(
        ["apepy.interpreter.compile"],
        leave_out=[*stepcode.NOT_OUTPUT, *others, *deps],
        data=("inside/c", "inside/frozen"),
    )


def pack_code() -> tuple[str, ...]:
    """apepy's files that shape the packed interpreter from a built tree: what build.py
    imports, and the runtime and probes it puts in or runs."""
    return stepcode.files(
        ["apepy.build"],
        leave_out=[*stepcode.NOT_OUTPUT, *_PACK_COVERED],
        data=("inside/runtime", "inside/probes"),
    )


# --minimal: the smallest interpreter that still does HTTPS, compression, json,
# asyncio and the rest of the everyday stdlib. Left out: C modules for databases,
# terminals, the REPL's line editing, CJK codecs, ctypes; and the stdlib packages
# that only serve them or interactive use.
MINIMAL_EXCLUDE = frozenset(
    {
        "_sqlite3",
        "_ctypes",
        "readline",
        "_curses",
        "_curses_panel",
        "_dbm",
        "_gdbm",
        "_decimal",  # _pydecimal takes over
        "_multibytecodec",
        "_codecs_cn",
        "_codecs_hk",
        "_codecs_iso2022",
        "_codecs_jp",
        "_codecs_kr",
        "_codecs_tw",
    }
)
MINIMAL_STDLIB = frozenset(
    {"sqlite3", "curses", "dbm", "ctypes", "unittest", "pydoc_data", "_pyrepl", "doctest.py"}
)

# Packing holds the stripped binary, the compiled stdlib and the result (~30 MB
# each on 3.13) side by side.
_PACK_SPACE = 120_000_000


@dataclass(frozen=True)
class Spec:
    """What is built: every field changes the interpreter's bytes. How the build runs
    (jobs, offline, the log) is the Context, passed beside it."""

    python: str | None = None
    source: Path | None = None
    allow_unpinned: bool = False
    toolchain: str = "host"
    exclude: frozenset[str] = frozenset()
    extensions: tuple[ExtensionSpec, ...] = ()
    arch: str | None = None
    cosmocc: Path | None = None
    libraries: toolchains.Libraries | None = None
    minimal: bool = False
    optimize: bool = False
    # With optimize: the PGO training run (interpreter/pgo.py's TASKS).
    pgo_task: str = "apepy"
    freeze: bool = False


@dataclass(frozen=True)
class BuildResult:
    output: Path
    manifest: Manifest
    cached: bool
    seconds: float


def source_date_epoch(source: sources.Source) -> int:
    """SOURCE_DATE_EPOCH if set, else the release's own date, so rebuilds are identical."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value:
        try:
            return int(value)
        except ValueError:
            raise ApepyError(
                f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds",
                hint="set it to a Unix timestamp, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
            ) from None
    return sources.release_epoch(source.path)


@dataclass(frozen=True)
class Interpreter:
    """A finished interpreter in the cache (never modify the file in place)."""

    path: Path
    manifest: Manifest
    cached: bool


def ensure_interpreter(request: Spec, ctx: Context) -> Interpreter:
    """Return the cached interpreter for these inputs, building it first if needed."""
    toolchain = toolchains.get(
        request.toolchain,
        toolchains.Options(
            arch=request.arch,
            cosmocc=request.cosmocc,
            libraries=request.libraries,
            offline=ctx.offline,
        ),
    )
    source = sources.obtain(
        request.python,
        request.source,
        allow_unpinned=request.allow_unpinned,
        offline=ctx.offline,
    )
    release = sources.pinned(source.version)
    if release is not None and not release.tested:
        ui.warn(f"CPython {source.version} is pinned but not built by apepy's own tests yet")
    if request.freeze and not freeze.applies(source.version):
        raise ApepyError(
            f"--freeze needs CPython 3.13 or newer; this is {source.version}",
            hint="drop --freeze (3.11 and 3.12 deep-freeze their frozen modules, and 3.11.2's "
            "deepfreeze.py miscompiles some of the hot ones), or build --python 3.13",
        )
    epoch = source_date_epoch(source)
    target = compile.Target(
        source,
        toolchain,
        exclude=request.exclude | (MINIMAL_EXCLUDE if request.minimal else frozenset()),
        epoch=epoch,
        optimize=request.optimize,
        pgo_task=request.pgo_task,
        freeze=request.freeze,
    )
    # Sdists are fetched and judged first: what cannot be built is refused in seconds.
    prepared = extensions.prepare(list(request.extensions), ctx, toolchain=toolchain)
    core_key = hashing.cache_key(
        {
            "apepy": apepy.__version__,
            "code": hashing.code_digest(core_code(toolchain)),
            "source": source.sha256,
            "version": source.version,
            "toolchain": toolchain.identity(),
            "exclude": sorted(target.exclude),
            "optimize": pgo.identity(request.pgo_task) if request.optimize else False,
            "epoch": epoch,
            "freeze": request.freeze,
        }
    )
    inputs: dict[str, object] = {
        "core": core_key,
        "code": hashing.code_digest(pack_code()),
        "epoch": epoch,
        "certifi": certifi.__version__,
        "minimal": request.minimal,
    }
    if prepared:
        inputs["extensions"] = {p.sdist.name: p.sdist.sha256 for p in prepared}
        # With deps: the re-link may build a C library an extension needs from source.
        inputs["extensions-code"] = hashing.code_digest(extensions.build_code(with_libraries=True))
        if any(p.judgement.kind == "rust" for p in prepared):
            inputs["rust"] = extensions.rust_identity()
    key = hashing.cache_key(inputs)
    path = cache.cache_dir("interpreters") / key
    with cache.entry(
        path,
        marker="python.sha256",
        check=_entry_intact,
        # Damaged since it was made (truncated, edited): made again.
        on_damaged=lambda p: ui.warn(f"the cached interpreter {p} is damaged; building it again"),
    ) as entry:
        if not entry.ready:
            ui.info(
                f"building CPython {source.version} with the {toolchain.family} toolchain "
                f"(log: {ctx.log})"
            )
            _refuse_c_dependencies(prepared, source.version, ctx)
            core = compile.build_core(target, ctx, root=cache.cache_dir("cpython") / core_key)
            built = extensions.build_all(
                prepared, source=source, core=core, core_key=core_key, toolchain=toolchain, ctx=ctx
            )
            cache.ensure_free_space(path.parent, _PACK_SPACE, "packing the interpreter")
            try:
                _pack(
                    core,
                    toolchain,
                    source,
                    entry.work,
                    ctx,
                    key=key,
                    epoch=epoch,
                    built=built,
                    minimal=request.minimal,
                )
                entry.publish(hashing.sha256_file(entry.work / "python"))
            except OSError as exc:
                raise cache.describe_os_error(
                    exc, f"the interpreter in the cache ({path})"
                ) from exc
    manifest = Manifest.from_json((path / "manifest.json").read_bytes())
    if entry.ready:
        compile.warn_left_out(manifest.left_out, "built")
    return Interpreter(path / "python", manifest, cached=entry.ready)


def _refuse_c_dependencies(prepared: list[extensions.Prepared], python: str, ctx: Context) -> None:
    """Resolve the run-time dependencies from the sdists' own metadata, where it is final
    for every package: one that needs a C part is refused before any long build. The
    resolution is cached, and the packed interpreter takes it from there."""
    provided = [runtime_deps.Provided.from_sdist(p.sdist.path) for p in prepared]
    if prepared and all(p is not None for p in provided):
        runtime_deps.resolve([p for p in provided if p is not None], python, ctx)


def build(request: Spec, output: Path, ctx: Context) -> BuildResult:
    started = time.monotonic()
    cache.check_output_path(output)
    interpreter = ensure_interpreter(request, ctx)
    with cache.atomic_output(output, mode=0o755) as tmp:
        shutil.copyfile(interpreter.path, tmp)
    return BuildResult(output, interpreter.manifest, interpreter.cached, time.monotonic() - started)


def _pack(
    core: compile.Core,
    toolchain: toolchains.Toolchain,
    source: sources.Source,
    tmp: Path,
    ctx: Context,
    *,
    key: str,
    epoch: int,
    built: list[extensions.Extension],
    minimal: bool = False,
) -> None:
    """Fill ``tmp``, the interpreter's cache entry being made: the file and its manifest."""
    with ui.phase("stdlib", "compiling the standard library to .pyc") as st:
        # --minimal leaves the stdlib's sources out too: only tracebacks and inspect read them.
        entries = stdlib.collect(
            core,
            tmp / "staging",
            ctx.log,
            drop=MINIMAL_STDLIB if minimal else frozenset(),
            with_sources=not minimal,
        )
        st.done_text = f"standard library: {sum(1 for e in entries if not e.is_dir)} files"
    linked = core.python
    dotted: list[str] = []
    needed: list[runtime_deps.Wheel] = []
    if built:
        # Resolved first: a dependency that needs a C part is refused before the re-link.
        provided = [runtime_deps.Provided.from_wheel(ext.wheel) for ext in built]
        needed = runtime_deps.resolve(provided, core.version, ctx)
        linked = tmp / "staging" / "python-linked"
        extensions.relink(core, built, linked, tmp / "staging" / "relink", toolchain, ctx)
        site = _site_entries(core, built, needed, tmp / "staging", ctx.log)
        entries = _merge(entries, site)
        dotted = [m.dotted for ext in built for m in ext.modules]
    manifest = Manifest(
        apepy_version=apepy.__version__,
        python_version=core.version,
        toolchain=toolchain.family,
        compiler=toolchain.compiler_version,
        target=toolchain.target,
        output_kind=toolchains.family(toolchain).OUTPUT_KIND,
        source_sha256=source.sha256,
        source_pinned=source.pinned,
        builtin_modules=tuple(sorted((*core.builtins, *dotted))),
        excluded_modules=core.excluded,
        patches=core.patches,
        ca_bundle=f"certifi {certifi.__version__}",
        build_date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
        source_date_epoch=epoch,
        build_key=key,
        minimal=minimal,
        left_out=core.left_out,
        distributions=tuple(ext.describe() for ext in built),
        runtime_dependencies=tuple(w.record for w in needed),
        optimization=core.optimization,
    )
    with ui.phase("link", "packing the interpreter and its stdlib into one file"):
        binary = tmp / "python"
        if toolchain.output_from_link:
            procs.run_logged(
                [*toolchain.output_from_link, str(linked), str(binary)],
                cwd=tmp,
                log=ctx.log,
                what="making the output file from the linked interpreter",
                hint="see the log; the toolchain's objcopy could not write the file",
            )
        else:
            shutil.copyfile(linked, binary)
        os.chmod(binary, 0o755)
        if toolchain.strip:
            subprocess.run(
                [toolchain.strip, "--strip-all", str(binary)], check=True, capture_output=True
            )
        zipstore.append(
            binary,
            [
                *entries,
                zipstore.Entry(MANIFEST_ARCNAME, manifest.to_json()),
                zipstore.Entry(sbom.SBOM_ARCNAME, _sbom(manifest, toolchain, built, needed)),
            ],
            epoch,
        )
    with ui.phase("verify", "running the packed interpreter from an empty environment"):
        _verify(binary, core, dotted)
    shutil.rmtree(tmp / "staging")
    (tmp / "manifest.json").write_bytes(manifest.to_json())


def _sbom(
    manifest: Manifest,
    toolchain: toolchains.Toolchain,
    built: list[extensions.Extension],
    needed: list[runtime_deps.Wheel],
) -> bytes:
    """The interpreter's SBOM: CPython, the C libraries its modules link, the packages
    compiled in (each with the licence its own metadata states)."""
    libs = linked.linked(
        toolchain,
        manifest.builtin_modules,
        {m.dotted: m.libs for ext in built for m in ext.modules},
    )
    libs += linked.runtime(toolchain, cxx=any(m.cxx for ext in built for m in ext.modules))
    compiled = [
        sbom.CompiledPart(
            name=ext.name,
            version=ext.version,
            sdist_sha256=ext.sdist_sha256,
            modules=tuple(m.dotted for m in ext.modules),
            license=sbom.wheel_licence(ext.wheel),
        )
        for ext in built
    ]
    licences = {w.record.name: sbom.wheel_licence(w.path) for w in needed}
    return sbom.for_interpreter(manifest, libs, compiled, licences)


def _entry_intact(entry: Path, recorded: str) -> bool:
    """A finished cache entry: the file, its manifest, and the file's hash as recorded."""
    try:
        Manifest.from_json((entry / "manifest.json").read_bytes())
        return hashing.sha256_file(entry / "python") == recorded.strip()
    except (OSError, ValueError, TypeError):
        return False


def _site_entries(
    core: compile.Core,
    built: list[extensions.Extension],
    needed: list[runtime_deps.Wheel],
    staging: Path,
    log: Path,
) -> list[zipstore.Entry]:
    """The extension packages' Python parts and the pure-Python distributions they need
    in Lib/site-packages, with .pyc beside the .py."""
    site = staging / "site-packages"
    extensions.install_pure_parts(built, site)
    runtime_deps.install(needed, site)
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    sources = [(site / rel, rel) for rel in files if rel.endswith(".py")]
    pyc_dir = staging / "site-pyc"
    pyc.compile_sources(
        core.python, sources, pyc_dir, dfile_prefix=SITE, log=log, cwd=core.tree, strict=False
    )
    return site_entries(site, pyc_dir)


def _merge(entries: list[zipstore.Entry], more: list[zipstore.Entry]) -> list[zipstore.Entry]:
    names = {e.name for e in entries}
    dirs = [d for d in zipstore.directory_entries({e.name for e in more}) if d.name not in names]
    return sorted([*entries, *dirs, *more], key=lambda e: e.name)


def _verify(binary: Path, core: compile.Core, dotted: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="apepy-verify-") as empty:
        probe = stdlib.interpreter_probe(binary, Path(empty))
        if dotted:
            _import_all(binary, dotted, Path(empty))
    missing = sorted(set(core.expected) - set(probe["builtins"]))  # type: ignore[call-overload]
    if missing:
        raise InternalError(f"the packed interpreter lacks built-in modules: {', '.join(missing)}")
    path = probe["path"]
    assert isinstance(path, list)
    # '' is the current directory that `-c` puts first, as in any Python.
    outside = [p for p in path if p and not str(p).startswith(str(binary))]
    if outside:
        raise ApepyError(
            f"the packed interpreter searches outside itself: {', '.join(map(str, outside))}",
            hint="this is a bug in apepy's getpath patch; please report it",
        )


def _import_all(binary: Path, dotted: list[str], cwd: Path) -> None:
    # Each module is imported as an app would. One that imports another
    # distribution when it starts (aiohttp needs multidict) is fine: that one comes
    # with the app. Any other failure is a broken build.
    code = inside.source("probes/import_all.py")
    result = subprocess.run(
        [*ape.command(binary), "-I", "-c", code, *dotted],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={},
    )
    try:
        outcome: dict[str, list[str]] = json.loads(result.stdout)
    except ValueError:
        died = (
            f"the interpreter died of signal {-result.returncode} "
            f"({signal.Signals(-result.returncode).name}) while importing them"
            if result.returncode < 0
            else f"exit status {result.returncode}"
        )
        outcome = {
            ", ".join(dotted): ["error", (result.stderr.strip()[-2000:] + "\n" + died).strip()]
        }
    broken = {name: why for name, (kind, why) in outcome.items() if kind == "error"}
    if result.returncode != 0 or broken:
        raise ApepyError(
            "an extension compiled into the interpreter does not initialise",
            details="\n".join(f"{name}: {why}" for name, why in broken.items())
            or result.stderr.strip()[-2000:],
            hint="see the error above; leave that package out (drop its --with) and report it",
        )
    needing: dict[str, list[str]] = {}
    for name, (_, missing) in sorted(outcome.items()):
        if missing.split(".")[0] != name.split(".")[0]:
            needing.setdefault(missing, []).append(name)
    for missing, names in sorted(needing.items()):
        # pandas' 45 modules all need dateutil: one line, not 45.
        if len(names) == 1:
            ui.info(f"{names[0]} imports {missing} when it starts: the app must bring it along")
        else:
            ui.info(
                f"{names[0]} and {len(names) - 1} more modules import {missing} when they "
                "start: the app must bring it along"
            )
