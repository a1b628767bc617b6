"""Third-party C extensions compiled into the interpreter, from their sdists.

Pipeline: spec → sdist (pinned, judged before any long work) → the package's own
build on the build Python with apepy's compiler wrapper → per-module partial
link → re-link of the cached CPython tree with a new inittab. Each package's
build is cached by its sdist hash and the target tree, so adding one extension
builds only that package and re-links.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from installer.sources import WheelFile

from apepy import cache, hashing, libraries, records, sources, stepcode, toolchains, ui
from apepy.context import Context
from apepy.errors import ApepyError
from apepy.extensions import hostpython, link, package, rust, sdist, testparts
from apepy.extensions.sdist import Judgement, Sdist
from apepy.extensions.spec import ExtensionSpec
from apepy.interpreter.compile import Core
from apepy.manifest import CompiledIn
from apepy.sitepackages import install_wheel, site_scheme
from apepy.toolchains import Toolchain


@dataclass(frozen=True)
class Prepared:
    spec: ExtensionSpec
    sdist: Sdist
    judgement: Judgement


@dataclass(frozen=True)
class Extension:
    """A package built for one target tree: its wheel and its linkable modules."""

    name: str
    version: str
    sdist_sha256: str
    wheel: Path
    modules: tuple[link.LinkedModule, ...]

    def describe(self) -> CompiledIn:
        return CompiledIn(
            self.name, self.version, self.sdist_sha256, tuple(m.dotted for m in self.modules)
        )


# A package's cache entry: its wheel, its linked objects, and this record of them
# (an Extension whose paths are relative to the entry), written last.
RESULT = "result.json"


def build_code(*, with_libraries: bool = False) -> tuple[str, ...]:
    """apepy's files that shape a package's build and its linked objects: this package,
    what it imports, and the compiler wrapper it runs. ``with_libraries``: the C
    libraries' builder too, for the re-link (which may build one); a package's own
    build is not made again when a library's recipe changes, as the sysroot's
    libraries are not."""
    # The target tree and the toolchain are in the key already (the core key).
    covered = ["apepy.interpreter.compile", "apepy.toolchains"]
    return stepcode.files(
        ["apepy.extensions"],
        leave_out=[*stepcode.NOT_OUTPUT, *covered, *([] if with_libraries else ["apepy.deps"])],
        data=("extensions/ccwrap.py",),
    )


def hostpython_code() -> tuple[str, ...]:
    """apepy's files that shape the build Python (its compiler is in its key)."""
    return stepcode.files(
        ["apepy.extensions.hostpython"], leave_out=[*stepcode.NOT_OUTPUT, "apepy.toolchains"]
    )


def prepare(
    specs: list[ExtensionSpec], ctx: Context, *, toolchain: Toolchain | None = None
) -> list[Prepared]:
    """Fetch and judge every sdist; refuse what cannot be built before anything long runs."""
    prepared = []
    for spec in specs:
        got = sdist.obtain(spec, offline=ctx.offline, log=ctx.log)
        judgement = sdist.judge(got)
        if judgement.kind == "rust":
            if toolchain is not None and not toolchain.rust:
                raise ApepyError(
                    f"{got.name} {got.version} is written in Rust, which apepy compiles in "
                    f"with the host toolchain only, not {toolchain.family}",
                    hint="build this base with --toolchain host, or drop --with "
                    f"{spec.requirement}",
                )
            rust.require(f"{got.name} {got.version}", judgement.rust_version)
        elif judgement.kind != "c":
            raise ApepyError(
                f"{got.name} {got.version} cannot be compiled in: {judgement.reason}",
                hint=f"drop --with {spec.requirement}"
                + (
                    "; bundle the app onto a base without it, or pick a C alternative"
                    if judgement.kind != "pure"
                    else ""
                ),
            )
        prepared.append(Prepared(spec, got, judgement))
    return prepared


def build_all(
    prepared: list[Prepared],
    *,
    source: sources.Source,
    core: Core,
    core_key: str,
    toolchain: Toolchain,
    ctx: Context,
) -> list[Extension]:
    if not prepared:
        return []
    builder = toolchains.get("host")
    # Each cache level is keyed by the code that makes it, so editing one step
    # does not rebuild the build Python (minutes) or every package.
    hostpy_key = hashing.cache_key(
        {
            "source": source.sha256,
            "cc": builder.identity(),
            "code": hashing.code_digest(hostpython_code()),
        }
    )
    code = hashing.code_digest(build_code())
    built = []
    hostpy: hostpython.HostPython | None = None
    # The sysroot's headers, made ready once for every package built here (each
    # library's check re-reads its tarball), and only if one is built at all.
    include: tuple[Path, ...] | None = None
    for item in prepared:
        inputs: dict[str, object] = {
            "sdist": item.sdist.sha256,
            "core": core_key,
            "code": code,
            "hostpython": hostpy_key,
        }
        if item.judgement.kind == "rust":
            inputs["rust"] = rust_identity()
        key = hashing.cache_key(inputs)
        with cache.entry(
            cache.cache_dir("extensions") / key,
            marker=RESULT,
            check=lambda _, text: records.readable(Extension, text),
        ) as entry:
            if not entry.ready:
                if hostpy is None:
                    hostpy = hostpython.ensure(source, builder, ctx, key=hostpy_key)
                if include is None:
                    include = (
                        core.tree / "Include",
                        core.tree,
                        *_sysroot_include(toolchain, ctx),
                    )
                entry.publish(
                    _build_one(item, hostpy, toolchain, include, entry.work, ctx, builder)
                )
            else:
                ui.info(f"{item.sdist.name} {item.sdist.version}: built in before, from the cache")
        built.append(_load(entry.path))
    _check_unique(built)
    return built


def _build_one(
    item: Prepared,
    hostpy: hostpython.HostPython,
    toolchain: Toolchain,
    include: tuple[Path, ...],
    tmp: Path,
    ctx: Context,
    builder: Toolchain,
) -> str:
    """Fill ``tmp``, the package's cache entry being made; return its RESULT record.
    ``include``: the header directories the package compiles against."""
    with tempfile.TemporaryDirectory(prefix="apepy-ext-") as scratch:
        made = package.build(
            item.sdist,
            hostpy,
            toolchain,
            include,
            Path(scratch),
            ctx,
            rust_build=item.judgement.kind == "rust",
            library_env=libraries.package_env(item.sdist.name, toolchain, ctx),
            backend=item.judgement.backend,
            builder=builder,
        )
        if not made.modules:
            raise ApepyError(
                f"{item.sdist.name} {item.sdist.version} built no C extension modules",
                hint="it runs as pure Python: drop --with and list it as an app dependency",
            )
        linked = [
            link.partial_link(m, toolchain, tmp / "objects" / f"{m.dotted}.o", ctx.log)
            for m in made.modules
            if not testparts.in_test_package(m.dotted)
        ]
        # Each object is read to see whether another module imports it by name.
        skipped = testparts.test_only_modules(
            [m.dotted for m in made.modules],
            _python_files(made.wheel),
            {m.dotted: m.object.read_bytes() for m in linked},
        )
        if skipped:
            ui.info(
                f"{item.sdist.name}: modules only its tests use, not linked in: "
                + ", ".join(sorted(skipped))
            )
        for module in linked:
            if module.dotted in skipped:
                module.object.unlink()
        linked = [m for m in linked if m.dotted not in skipped]
        if not linked:
            raise ApepyError(
                f"{item.sdist.name} {item.sdist.version} built only test-suite modules",
                hint="nothing of it would be compiled in: drop --with",
            )
        wheel = package.copy_wheel(made, tmp)
        # Paths inside the entry are kept relative to it: the entry is renamed into place.
        result = Extension(
            name=item.sdist.name,
            version=item.sdist.version,
            sdist_sha256=item.sdist.sha256,
            wheel=Path(wheel.name),
            modules=tuple(replace(m, object=m.object.relative_to(tmp)) for m in linked),
        )
        return records.to_json(result, indent=1)


def rust_identity() -> str:
    """The Rust compiler that builds Rust packages (`rustc -vV`), for cache keys."""
    found = rust.find()
    return found.identity if found is not None else ""


def _python_files(wheel: Path) -> dict[str, str]:
    """The wheel's Python files, path → text (undecodable bytes replaced)."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: archive.read(name).decode("utf-8", "replace")
            for name in archive.namelist()
            if name.endswith(".py")
        }


def _load(entry: Path) -> Extension:
    found = records.from_json(Extension, (entry / RESULT).read_text())
    return replace(
        found,
        wheel=entry / found.wheel,
        modules=tuple(replace(m, object=entry / m.object) for m in found.modules),
    )


def _check_unique(built: list[Extension]) -> None:
    owner: dict[str, str] = {}
    for ext in built:
        for module in ext.modules:
            if module.dotted in owner:
                raise ApepyError(
                    f"{owner[module.dotted]} and {ext.name} both provide {module.dotted}",
                    hint="build in only one of them",
                )
            owner[module.dotted] = ext.name


def relink(
    core: Core,
    built: list[Extension],
    out: Path,
    work: Path,
    toolchain: Toolchain,
    ctx: Context,
) -> None:
    modules = [m for ext in built for m in ext.modules]
    # Before the relink phase: a library built from source shows its own progress.
    flags = link.libraries_for(modules, toolchain, ctx)
    with ui.phase("relink", f"the interpreter with {len(modules)} extension modules"):
        link.relink(
            core.tree,
            modules,
            out,
            work,
            ctx.log,
            libraries=flags,
            system_libs=toolchain.link_libs,
            cxx_libs=toolchains.cxx_runtime(toolchain),
            libraries_from_source=toolchain.libraries_from_source,
        )


def install_pure_parts(built: list[Extension], site: Path) -> list[str]:
    """Install each wheel into ``site`` without its compiled modules and its test
    suite's folders; return the files."""
    site.mkdir(parents=True, exist_ok=True)
    scratch = site.parent / "ext-extras"
    scheme = site_scheme(site, scratch)
    for ext in built:
        with WheelFile.open(ext.wheel) as wheel:
            install_wheel(wheel, scheme)
            record = site / wheel.dist_info_dir / "RECORD"
        folders = testparts.test_folders(_python_files(ext.wheel))
        for folder in sorted(folders):
            shutil.rmtree(site / folder, ignore_errors=True)
        # The RECORD lists what is installed (verify --deep holds the file to it).
        record.write_text(testparts.without_folders(record.read_text(), folders))
    shutil.rmtree(scratch, ignore_errors=True)
    for path in site.rglob("*"):
        if path.is_file() and (path.suffix in (".so", ".pyd") or ".so." in path.name):
            path.unlink()
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())


def _sysroot_include(toolchain: Toolchain, ctx: Context) -> tuple[Path, ...]:
    """The headers of the C libraries apepy builds, for a toolchain that links those.

    cosmocc sees no /usr/include: an extension's `#include <yaml.h>` finds the
    sysroot's. Every recipe is built before the package's build looks for its headers
    (PyYAML's setup.py compiles its C extension only where it finds yaml.h).
    """
    root = libraries.prepare(toolchain, ctx)
    return () if root is None else (root / "include",)
