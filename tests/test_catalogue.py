"""Bad input, one table: `apepy build`, `apepy bundle` and the zip store tools on what users get wrong.

Every case runs the real CLI in a subprocess and must give exit status 1, exactly one
`error:` line naming the cause and one `hint:` line naming the fix, no traceback, nothing
at the output path and no temporary file beside it, its input files byte for byte as
they were, and a cache without half-written entries. Cases that break the cache on
purpose then run a good command that must succeed. One case (a download cut off
halfway) must succeed instead: apepy resumes it.

Cases that need an interpreter (`built=True`) use the session's cached build
(`built_python`), which puts them in the `build` tier; the others build nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import os
import random
import re
import shutil
import struct
import subprocess
import tarfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import REPO, apepy_cmd, platform_wheel, real_cache_root
from wheelmaker import make_wheel

from apepy import download, sources, zipstore
from apepy.cache import unfinished
from apepy.hashing import sha256_file

Arg = str | os.PathLike[str]
CLI_TOOL = REPO / "examples" / "cli-tool"


# --- the context a case builds its inputs in -------------------------------------------------


@dataclass
class Ctx:
    request: pytest.FixtureRequest
    tmp: Path
    cache: Path
    stack: contextlib.ExitStack
    env: dict[str, str] = field(default_factory=dict)
    # Files outside `inputs` that the command reads and must leave as they were.
    watched: list[Path] = field(default_factory=list)
    # The output directory as a read-only ("ro") or a 4 MB ("full") filesystem.
    mount: str | None = None
    out: Path = Path()
    mirror: Mirror | None = None

    def __post_init__(self) -> None:
        self.inputs.mkdir()
        (self.tmp / "out").mkdir()
        self.out = self.tmp / "out" / "result"

    @property
    def inputs(self) -> Path:
        return self.tmp / "in"

    def base(self) -> Path:
        # A case that asked for no build must not start one behind the tiers' back.
        if "built_python" not in self.request.fixturenames:
            pytest.fail("this case uses the built interpreter: give its Case built=True")
        built: Path = self.request.getfixturevalue("built_python")
        self.watched.append(built)
        return built

    def release(self) -> sources.Release:
        found: sources.Release = self.request.getfixturevalue("release")
        return found

    def real_source(self) -> Path:
        return real_cache_root() / "sources" / self.release().filename

    def share_built_interpreters(self) -> None:
        """Link the real cache's compiled trees and interpreters in: a build is then instant."""
        self.base()
        self.cache.mkdir(parents=True, exist_ok=True)
        for shared in ("cpython", "interpreters"):
            (self.cache / shared).symlink_to(real_cache_root() / shared)

    def project(
        self,
        deps: Sequence[str] = (),
        *,
        code: str = "def main():\n    print('hi')\n",
        extra: str = "",
        scripts: bool = True,
    ) -> Path:
        root = self.inputs / "proj"
        root.mkdir()
        text = f"[project]\nname = 'demo'\nversion = '1'\ndependencies = {list(deps)!r}\n"
        if scripts:
            text += "[project.scripts]\ndemo = 'demo_app:main'\n"
        (root / "pyproject.toml").write_text(text + extra)
        (root / "demo_app.py").write_text(code)
        return root

    def links(self) -> Path:
        links = self.inputs / "links"
        links.mkdir(exist_ok=True)
        return links

    def bundle(self, source: Path, *extra: Arg) -> list[Arg]:
        return ["bundle", source, "-o", self.out, "--base", self.base(), *extra]

    def offline_bundle(self, source: Path, *extra: Arg) -> list[Arg]:
        return self.bundle(source, "--no-index", "--find-links", self.links(), *extra)


# --- inputs that are wrong in one way each ---------------------------------------------------


def cpython_like_tarball(
    path: Path,
    version: str,
    *,
    files: dict[str, bytes] | None = None,
    symlinks: dict[str, str] | None = None,
    zeros: tuple[str, int] | None = None,
) -> Path:
    """A tarball shaped like a CPython release (what version detection reads), plus extras."""

    class Zeros(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
            view = memoryview(buffer)
            view[:] = bytes(len(view))
            return len(view)

    members = {
        f"Python-{version}/Include/patchlevel.h": f'#define PY_VERSION "{version}"\n'.encode()
    }
    members.update(files or {})
    mode = "w:gz" if zeros else "w:xz"
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
        if zeros:
            info = tarfile.TarInfo(zeros[0])
            info.size = zeros[1]
            tar.addfile(info, io.BufferedReader(Zeros()))
    return path


def program_with_zip(path: Path, entries: dict[str, bytes] | None = None) -> Path:
    """A real executable (a copy of /bin/true) with a zip appended by apepy's own writer."""
    shutil.copy("/bin/true", path)
    items = [zipstore.Entry(n, d) for n, d in (entries or {"a.txt": b"hello " * 50}).items()]
    zipstore.append(path, zipstore.directory_entries(e.name for e in items) + items, epoch=0)
    return path


def entry_larger_than_file(source: Path, dest: Path, member: str | None = None) -> Path:
    """A copy of ``source`` whose central directory gives one member a size beyond the file."""
    shutil.copy2(source, dest)
    data = bytearray(dest.read_bytes())
    archive = zipstore.parse_archive(dest, bytes(data))
    target = archive.get(member) if member else next(m for m in archive.members if not m.is_dir)
    assert target is not None
    offset = bytes(data).index(target.central_record, archive.cd_offset)
    struct.pack_into("<LL", data, offset + 20, len(data) * 4, len(data) * 4)
    dest.write_bytes(bytes(data))
    return dest


def flip_byte_in(path: Path, member: str) -> None:
    archive = zipstore.read_archive(path)
    found = archive.get(member)
    assert found is not None and found.compressed_size > 10
    data = bytearray(path.read_bytes())
    data[found.data_offset + 5] ^= 0xFF
    path.write_bytes(bytes(data))


def lying_member(path: Path) -> Path:
    """A member that inflates to far more than the size its records declare (a zip bomb)."""
    program_with_zip(path, {"bomb.txt": b"\0" * 1_000_000})
    data = bytearray(path.read_bytes())
    archive = zipstore.parse_archive(path, bytes(data))
    member = archive.get("bomb.txt")
    assert member is not None
    # Declared: 10 bytes, in the local header and the central directory; the data holds a million.
    struct.pack_into("<L", data, member.header_offset + 22, 10)
    record = bytes(data).index(member.central_record, archive.cd_offset)
    struct.pack_into("<L", data, record + 24, 10)
    path.write_bytes(bytes(data))
    return path


class Mirror(http.server.ThreadingHTTPServer):
    """A python.org-like mirror on 127.0.0.1 that cuts its first ``drops`` answers off halfway."""

    def __init__(self, files: dict[str, bytes], drops: int) -> None:
        super().__init__(("127.0.0.1", 0), _MirrorHandler)
        self.files = files
        self.drops = drops
        self.ranges: list[str | None] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _MirrorHandler(http.server.BaseHTTPRequestHandler):
    server: Mirror

    def do_GET(self) -> None:
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        wanted = self.headers.get("Range")
        self.server.ranges.append(wanted)
        found = re.fullmatch(r"bytes=(\d+)-", wanted or "")
        start = int(found.group(1)) if found else 0
        self.send_response(206 if wanted else 200)
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.server.drops > 0:
            self.server.drops -= 1
            body = body[: len(body) // 2]  # then the connection closes: HTTP/1.0
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve_release(ctx: Ctx, data: bytes, drops: int) -> Mirror:
    release = ctx.release()
    mirror = Mirror({f"/{release.version}/{release.filename}": data}, drops)
    thread = threading.Thread(target=mirror.serve_forever, daemon=True)
    thread.start()
    ctx.stack.callback(mirror.server_close)
    ctx.stack.callback(mirror.shutdown)
    ctx.env["APEPY_PYTHON_MIRROR"] = mirror.url
    return mirror


# --- the cases ---------------------------------------------------------------------------------

Command = Callable[[Ctx], list[Arg]]


@dataclass(frozen=True)
class Case:
    id: str
    command: Command
    cause: str | tuple[str, ...]  # found in what apepy says before its hint
    fix: str | tuple[str, ...]  # found in the hint line
    # Good commands to run afterwards (the cache still works); each must succeed.
    then: Callable[[Ctx], list[list[Arg]]] | None = None
    # For the one case that must succeed: a check of the result instead.
    succeeds: Callable[[Ctx], None] | None = None
    # Uses the built interpreter (Ctx.base): a bundle base, or its cache to link in.
    built: bool = False


def _build(ctx: Ctx, *extra: Arg) -> list[Arg]:
    return ["build", "-o", ctx.out, *extra]


def _no_compiler(ctx: Ctx) -> list[Arg]:
    empty = ctx.inputs / "bin"
    empty.mkdir()
    ctx.env.update(PATH=str(empty), CC="")
    return _build(ctx, "--offline")


def _cc_missing(ctx: Ctx) -> list[Arg]:
    ctx.env["CC"] = str(ctx.inputs / "no-such-cc")
    return _build(ctx, "--offline")


def _checksum(ctx: Ctx) -> list[Arg]:
    version = ctx.release().version
    fake = cpython_like_tarball(ctx.inputs / ctx.release().filename, version)
    return _build(ctx, "--source", fake)


def _not_a_tarball(ctx: Ctx) -> list[Arg]:
    notes = ctx.inputs / "Python-3.13.15.tar.xz"
    notes.write_text("this is not a tarball\n")
    return _build(ctx, "--source", notes)


def _truncated_tarball(ctx: Ctx) -> list[Arg]:
    version = ctx.release().version
    whole = cpython_like_tarball(
        ctx.tmp / "whole.tar.xz",
        version,
        files={f"Python-{version}/filler": random.Random(0).randbytes(600_000)},
    )
    cut = ctx.inputs / ctx.release().filename
    cut.write_bytes(whole.read_bytes()[:300_000])
    return _build(ctx, "--source", cut)


def _unsafe_tarball(
    files: dict[str, bytes] | None = None, symlinks: dict[str, str] | None = None
) -> Command:
    def command(ctx: Ctx) -> list[Arg]:
        evil = cpython_like_tarball(
            ctx.inputs / "Python-3.13.99.tar.xz", "3.13.99", files=files, symlinks=symlinks
        )
        return _build(ctx, "--source", evil, "--allow-unpinned-source")

    return command


def _bomb(ctx: Ctx) -> list[Arg]:
    bomb = cpython_like_tarball(
        ctx.inputs / "Python-3.13.99.tgz", "3.13.99", zeros=("Python-3.13.99/big.c", 200 << 20)
    )
    return _build(ctx, "--source", bomb, "--allow-unpinned-source")


def _source_dir(ctx: Ctx) -> None:
    ctx.env["APEPY_SOURCE_DIR"] = str(real_cache_root() / "sources")


def _bad_epoch(ctx: Ctx) -> list[Arg]:
    _source_dir(ctx)
    ctx.env["SOURCE_DATE_EPOCH"] = "yesterday"
    return _build(ctx, "--python", ctx.release().version, "--offline")


def _offline_nothing(ctx: Ctx) -> list[Arg]:
    return _build(ctx, "--python", ctx.release().version, "--offline")


def _damaged_cached_source(ctx: Ctx) -> list[Arg]:
    ctx.share_built_interpreters()
    shelf = ctx.cache / "sources"
    shelf.mkdir()
    with open(ctx.real_source(), "rb") as handle:
        (shelf / ctx.release().filename).write_bytes(handle.read(1_000_000))
    return _build(ctx, "--python", ctx.release().version, "--offline")


def _after_damaged_source(ctx: Ctx) -> list[list[Arg]]:
    version = ctx.release().version
    # --source replaces the damaged copy; then the cache alone serves the build again.
    return [
        _build(ctx, "--python", version, "--offline", "--source", ctx.real_source()),
        _build(ctx, "--python", version, "--offline"),
    ]


def _tampered_download(ctx: Ctx) -> list[Arg]:
    fake = cpython_like_tarball(ctx.tmp / "fake.tar.xz", ctx.release().version)
    data = bytearray(fake.read_bytes())
    data[len(data) // 3] ^= 0xFF
    serve_release(ctx, bytes(data), drops=0)
    return _build(ctx, "--python", ctx.release().version)


def _download_cut_off(ctx: Ctx) -> list[Arg]:
    ctx.share_built_interpreters()
    ctx.mirror = serve_release(ctx, ctx.real_source().read_bytes(), drops=2)
    return _build(ctx, "--python", ctx.release().version)


def _download_resumed(ctx: Ctx) -> None:
    mirror = ctx.mirror
    assert mirror is not None
    size = ctx.real_source().stat().st_size
    # Cut at 1/2, resumed and cut at 3/4, resumed to the end: three requests.
    assert mirror.ranges == [
        None,
        f"bytes={size // 2}-",
        f"bytes={size // 2 + (size - size // 2) // 2}-",
    ]
    cached = ctx.cache / "sources" / ctx.release().filename
    assert sha256_file(cached) == ctx.release().sha256
    assert_runs_as(ctx.out, ctx.release())


def assert_runs_as(python: Path, release: sources.Release) -> None:
    """``python`` is a working interpreter of ``release``, from an empty environment."""
    code = "import platform, sqlite3; print(platform.python_version())"
    run = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env={})
    assert run.stdout == release.version + "\n", run.stderr


def _read_only_output(kind: str) -> Command:
    def command(ctx: Ctx) -> list[Arg]:
        ctx.mount = "ro"
        _source_dir(ctx)
        if kind == "build":
            return _build(ctx, "--python", ctx.release().version, "--offline")
        return ctx.bundle(CLI_TOOL)

    return command


def _disk_full(ctx: Ctx) -> list[Arg]:
    ctx.mount = "full"
    return ctx.bundle(CLI_TOOL)


def _bundle_source_missing(ctx: Ctx) -> list[Arg]:
    return ["bundle", ctx.inputs / "nothing-here", "-o", ctx.out]


def _invalid_toml(ctx: Ctx) -> list[Arg]:
    root = ctx.project()
    (root / "pyproject.toml").write_text("[project\nname = ")
    return ["bundle", root, "-o", ctx.out]


def _invalid_pep723(ctx: Ctx) -> list[Arg]:
    script = ctx.inputs / "tool.py"
    script.write_text("# /// script\n# dependencies = [unquoted\n# ///\nprint(1)\n")
    return ["bundle", script, "-o", ctx.out]


def _no_pyproject(ctx: Ctx) -> list[Arg]:
    (ctx.inputs / "app").mkdir()
    (ctx.inputs / "app" / "app.py").write_text("print(1)\n")
    return ["bundle", ctx.inputs / "app", "-o", ctx.out]


def _unknown_tool_key(ctx: Ctx) -> list[Arg]:
    return ["bundle", ctx.project(extra="[tool.apepy]\nbogus = 1\n"), "-o", ctx.out]


def _pip_option_line(ctx: Ctx) -> list[Arg]:
    reqs = ctx.inputs / "requirements.txt"
    reqs.write_text("flask>=3\n-e .\n")
    return ["bundle", reqs, "-o", ctx.out]


def _invalid_requirement(ctx: Ctx) -> list[Arg]:
    return ["bundle", ctx.project(["flask >>= 3"]), "-o", ctx.out]


def _entry_without_colon(ctx: Ctx) -> list[Arg]:
    return ctx.bundle(ctx.project(), "--entry", "demo_app")


def _entry_missing_function(ctx: Ctx) -> list[Arg]:
    return ctx.bundle(ctx.project(), "--entry", "demo_app:nope")


def _module_missing(ctx: Ctx) -> list[Arg]:
    return ctx.bundle(ctx.project(), "-m", "nothere")


def _entry_and_module(ctx: Ctx) -> list[Arg]:
    return ctx.bundle(ctx.project(), "--entry", "demo_app:main", "-m", "demo_app")


def _extract_unknown(ctx: Ctx) -> list[Arg]:
    return ctx.bundle(ctx.project(), "--extract", "nopkg")


def _link_without_scripts(ctx: Ctx) -> list[Arg]:
    root = ctx.project(scripts=False, extra="")
    return ctx.bundle(root, "-m", "demo_app", "--link", ctx.tmp / "out" / "bin")


def _base_missing(ctx: Ctx) -> list[Arg]:
    return ["bundle", CLI_TOOL, "-o", ctx.out, "--base", ctx.inputs / "python"]


def _base_not_executable(ctx: Ctx) -> list[Arg]:
    base = program_with_zip(ctx.inputs / "python")
    base.chmod(0o644)
    return ["bundle", CLI_TOOL, "-o", ctx.out, "--base", base]


def _base_without_zip(ctx: Ctx) -> list[Arg]:
    base = ctx.inputs / "python"
    shutil.copy("/bin/true", base)
    return ["bundle", CLI_TOOL, "-o", ctx.out, "--base", base]


def _base_entry_larger_than_file(ctx: Ctx) -> list[Arg]:
    base = entry_larger_than_file(ctx.base(), ctx.inputs / "python", "Lib/os.pyc")
    return ["bundle", CLI_TOOL, "-o", ctx.out, "--base", base]


def _hot_from_missing(ctx: Ctx) -> list[Arg]:
    return ctx.bundle(ctx.project(), "--hot-from", ctx.inputs / "imports.txt")


def _keep_from_not_text(ctx: Ctx) -> list[Arg]:
    record = ctx.inputs / "imports.txt"
    record.write_bytes(b"json\n\xff\xfe\n")
    return ctx.bundle(ctx.project(), "--prune", "--keep-from", record)


def _output_is_base(ctx: Ctx) -> list[Arg]:
    base = ctx.inputs / "python"
    shutil.copy2(ctx.base(), base)
    ctx.out = base
    return ["bundle", CLI_TOOL, "-o", base, "--base", base]


def _sdist_only(ctx: Ctx) -> list[Arg]:
    (ctx.links() / "sdistonly-1.0.tar.gz").write_bytes(b"not really")
    return ctx.offline_bundle(ctx.project(["sdistonly"]))


def _misspelt_dependency(ctx: Ctx) -> list[Arg]:
    make_wheel(ctx.links(), "requests", "2.0", {"requests/__init__.py": b""})
    return ctx.offline_bundle(ctx.project(["reqeusts"]))


def _needs_c_extension(ctx: Ctx) -> list[Arg]:
    tag, suffix = platform_wheel(ctx.release())
    make_wheel(
        ctx.links(),
        "fastthing",
        "1.0",
        {
            "fastthing/__init__.py": b"from ._core import go\n",
            f"fastthing/_core{suffix}": b"\x7fELF not really",
        },
        tag=tag,
    )
    return ctx.offline_bundle(ctx.project(["fastthing"]))


def _record_mismatch(ctx: Ctx) -> list[Arg]:
    make_wheel(
        ctx.links(), "bent", "1.0", {"bent/__init__.py": b"B = 1\n"}, tamper="bent/__init__.py"
    )
    return ctx.offline_bundle(ctx.project(["bent"]))


def _wheel_path_traversal(ctx: Ctx) -> list[Arg]:
    make_wheel(
        ctx.links(),
        "sneaky",
        "1.0",
        {"sneaky/__init__.py": b"X = 1\n", "../../outside.py": b"print('escaped')\n"},
    )
    return ctx.offline_bundle(ctx.project(["sneaky"]))


def _wheel_absolute_member(ctx: Ctx) -> list[Arg]:
    make_wheel(
        ctx.links(),
        "absy",
        "1.0",
        {"absy/__init__.py": b"X = 1\n", str(ctx.tmp / "absolute.py"): b"print('escaped')\n"},
    )
    return ctx.offline_bundle(ctx.project(["absy"]))


def _wheel_not_a_zip(ctx: Ctx) -> list[Arg]:
    (ctx.links() / "broken-1.0-py3-none-any.whl").write_bytes(b"PK\x03\x04 not really a zip")
    return ctx.offline_bundle(ctx.project(["broken"]))


def _wheel_damaged_member(ctx: Ctx) -> list[Arg]:
    """pip reads only METADATA, so it takes the wheel; one of its files fails its CRC."""
    wheel = make_wheel(ctx.links(), "dented", "1.0", {"dented/__init__.py": b"X = 1\n" * 20})
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo("dented/__init__.py")
    data = bytearray(wheel.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 3] ^= 0xFF
    wheel.write_bytes(bytes(data))
    return ctx.offline_bundle(ctx.project(["dented"]))


def _conflicting_wheels(ctx: Ctx) -> list[Arg]:
    make_wheel(ctx.links(), "left", "1.0", {"shared/x.py": b"A = 1\n"})
    make_wheel(ctx.links(), "right", "1.0", {"shared/x.py": b"A = 2\n"})
    return ctx.offline_bundle(ctx.project(["left", "right"]))


def _unresolvable(ctx: Ctx) -> list[Arg]:
    make_wheel(ctx.links(), "left", "1.0", {"left/__init__.py": b""})
    make_wheel(ctx.links(), "left", "2.0", {"left/__init__.py": b""})
    make_wheel(ctx.links(), "needsnewleft", "1.0", {"nnl/__init__.py": b""}, requires=("left>=2",))
    return ctx.offline_bundle(ctx.project(["left<2", "needsnewleft"]))


def _prime_wheel_cache(ctx: Ctx) -> tuple[list[Arg], Path]:
    """Bundle a project with one dependency once, so its resolution is in the cache."""
    make_wheel(ctx.links(), "tables", "1.0", {"tables/__init__.py": b"ROWS = 3\n"})
    project = ctx.project(["tables"], code="import tables\ndef main():\n    print(tables.ROWS)\n")
    command = ctx.offline_bundle(project)
    first = run(command, ctx)
    assert first.returncode == 0, first.stderr
    ctx.out.unlink()
    entries = [d for d in (ctx.cache / "wheels").iterdir() if d.is_dir()]
    assert len(entries) == 1
    return command, entries[0]


def _tampered_cached_wheel(ctx: Ctx) -> list[Arg]:
    command, entry = _prime_wheel_cache(ctx)
    # A well-formed replacement whose RECORD matches its own content: only the
    # recorded download hash can tell it from the real one.
    evil = ctx.tmp / "evil"
    evil.mkdir()
    forged = make_wheel(evil, "tables", "1.0", {"tables/__init__.py": b"import os\nROWS = 4\n"})
    shutil.copy(forged, entry / forged.name)
    return command


def _damaged_resolution(ctx: Ctx) -> list[Arg]:
    command, entry = _prime_wheel_cache(ctx)
    (entry / "resolved.json").write_text('{"tables-1.0-py3-none-any.whl": ')
    return command


def _refresh_then_run(ctx: Ctx) -> list[list[Arg]]:
    project = ctx.inputs / "proj"
    return [ctx.offline_bundle(project, "--refresh"), ctx.offline_bundle(project)]


def _store(command: str, *extra: str, make: Callable[[Path], Path] | None = None) -> Command:
    def build(ctx: Ctx) -> list[Arg]:
        target = (make or program_with_zip)(ctx.inputs / "prog")
        ctx.out = target
        return [command, target, *extra]

    return build


def _store_add_escaping(ctx: Ctx) -> list[Arg]:
    target = program_with_zip(ctx.inputs / "prog")
    (ctx.inputs / "x.txt").write_text("x")
    ctx.out = target
    return ["add", target, ctx.inputs / "x.txt", "--at", "../evil"]


def _store_add_missing(ctx: Ctx) -> list[Arg]:
    target = program_with_zip(ctx.inputs / "prog")
    ctx.out = target
    return ["add", target, ctx.inputs / "missing.txt"]


def _store_add_read_only(ctx: Ctx) -> list[Arg]:
    ctx.mount = "ro"
    target = program_with_zip(ctx.tmp / "out" / "prog")
    ctx.watched.append(target)
    (ctx.inputs / "x.txt").write_text("x")
    ctx.out = target
    return ["add", target, ctx.inputs / "x.txt"]


def _truncated(path: Path) -> Path:
    program_with_zip(path)
    path.write_bytes(path.read_bytes()[:-30])
    return path


def _no_zip(path: Path) -> Path:
    shutil.copy("/bin/true", path)
    return path


def _bad_crc(path: Path) -> Path:
    program_with_zip(path)
    flip_byte_in(path, "a.txt")
    return path


def _relative_offsets(path: Path) -> Path:
    inner = path.with_name("inner.zip")
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("x.txt", "x")
    path.write_bytes(Path("/bin/true").read_bytes() + inner.read_bytes())
    return path


def _oversized(path: Path) -> Path:
    program_with_zip(path.with_name("good"))
    return entry_larger_than_file(path.with_name("good"), path)


ZIP_DAMAGED = "the file is truncated or its appended zip is damaged"
UNSAFE_TAR = "the tarball has unsafe members"

CASES = [
    # build
    Case("build-no-compiler", _no_compiler, "no C compiler found", "build-essential"),
    Case("build-cc-does-not-exist", _cc_missing, "no C compiler found", "point CC at one"),
    Case("build-wrong-checksum", _checksum, "checksum mismatch", "download it again"),
    Case(
        "build-source-not-a-tarball", _not_a_tarball, "not a readable tarball", "download it again"
    ),
    Case("build-truncated-tarball", _truncated_tarball, "not a readable tarball", "truncated"),
    Case(
        "build-tarball-member-with-dotdot",
        _unsafe_tarball(files={"Python-3.13.99/../../escape.txt": b"x"}),
        ("refusing to unpack", "escape.txt", "outside the destination"),
        UNSAFE_TAR,
    ),
    Case(
        "build-tarball-absolute-member",
        _unsafe_tarball(files={"/tmp/apepy-absolute-escape.txt": b"x"}),
        ("refusing to unpack", "/tmp/apepy-absolute-escape.txt"),
        UNSAFE_TAR,
    ),
    Case(
        "build-tarball-symlink-out",
        _unsafe_tarball(symlinks={"Python-3.13.99/Lib/evil": "../../../../etc"}),
        ("refusing to unpack", "symlink", "outside the destination"),
        UNSAFE_TAR,
    ),
    Case(
        "build-tarball-zip-bomb",
        _bomb,
        ("refusing to unpack", "decompression bomb"),
        "unpacks to about 5 times its size",
    ),
    Case(
        "build-unsupported-python",
        lambda ctx: _build(ctx, "--python", "3.10"),
        "Python 3.10 is not supported",
        "supported series",
    ),
    Case(
        "build-unpinned-python",
        lambda ctx: _build(ctx, "--python", "3.13.99"),
        "not in apepy's pinned table",
        "--allow-unpinned-source",
    ),
    Case(
        "build-source-missing",
        lambda ctx: _build(ctx, "--source", ctx.inputs / "Python-3.13.15.tar.xz"),
        "does not exist",
        "pass a CPython release tarball",
    ),
    Case(
        "build-output-directory-missing",
        lambda ctx: ["build", "-o", ctx.inputs / "nope" / "python"],
        "does not exist",
        "mkdir -p",
    ),
    Case("build-bad-source-date-epoch", _bad_epoch, "SOURCE_DATE_EPOCH", "Unix timestamp"),
    Case("build-offline-without-source", _offline_nothing, "cannot download CPython", "--source"),
    Case(
        "build-damaged-cached-source",
        _damaged_cached_source,
        ("does not match its pinned sha256", "damaged"),
        "--source",
        then=_after_damaged_source,
        built=True,
    ),
    Case("build-tampered-download", _tampered_download, "checksum mismatch", "nothing was kept"),
    Case(
        "build-download-cut-off-is-resumed",
        _download_cut_off,
        (),
        (),
        succeeds=_download_resumed,
        built=True,
    ),
    Case(
        "build-output-read-only",
        _read_only_output("build"),
        "is on a read-only filesystem",
        "choose another -o path",
    ),
    # bundle
    Case(
        "bundle-source-missing",
        _bundle_source_missing,
        "does not exist",
        "name a project directory",
    ),
    Case("bundle-pyproject-invalid-toml", _invalid_toml, "not valid TOML", "fix the file's syntax"),
    Case(
        "bundle-pep723-does-not-parse",
        _invalid_pep723,
        ("'# /// script' block", "not valid TOML"),
        "syntax",
    ),
    Case("bundle-no-pyproject", _no_pyproject, "has no pyproject.toml", "[project] table"),
    Case(
        "bundle-unknown-tool-key", _unknown_tool_key, "unknown key [tool.apepy] bogus", "known keys"
    ),
    Case(
        "bundle-pip-option-line",
        _pip_option_line,
        "pip option lines are not supported",
        "--find-links",
    ),
    Case("bundle-invalid-requirement", _invalid_requirement, "invalid requirement", "PEP 508"),
    Case(
        "bundle-entry-without-colon",
        _entry_without_colon,
        "not of the form module:function",
        "--entry",
        built=True,
    ),
    Case(
        "bundle-entry-function-missing",
        _entry_missing_function,
        "defines no 'nope'",
        "top level",
        built=True,
    ),
    Case(
        "bundle-module-missing",
        _module_missing,
        "module 'nothere' is not in the bundle",
        "-m",
        built=True,
    ),
    Case(
        "bundle-entry-and-module", _entry_and_module, "either --entry or -m", "drop one", built=True
    ),
    Case("bundle-extract-unknown", _extract_unknown, "--extract nopkg", "import name", built=True),
    Case(
        "bundle-link-without-scripts",
        _link_without_scripts,
        "--link needs [project.scripts]",
        "drop --link",
        built=True,
    ),
    Case("bundle-base-missing", _base_missing, "does not exist", "apepy build"),
    Case("bundle-base-not-executable", _base_not_executable, "is not executable", "chmod +x"),
    Case(
        "bundle-base-without-zip",
        _base_without_zip,
        "not an executable with a zip store",
        "apepy build",
    ),
    Case(
        "bundle-base-zip-entry-larger-than-file",
        _base_entry_larger_than_file,
        (
            "not an executable with a zip store",
            "Lib/os.pyc",
            "past the start of the central directory",
        ),
        "apepy build",
        built=True,
    ),
    Case(
        "bundle-hot-from-missing",
        _hot_from_missing,
        "cannot read --hot-from",
        "APEPY_RECORD_IMPORTS=FILE",
        built=True,
    ),
    Case(
        "bundle-keep-from-not-text",
        _keep_from_not_text,
        ("cannot read --keep-from", "not UTF-8 text"),
        "one module name a line",
        built=True,
    ),
    Case(
        "bundle-output-is-base",
        _output_is_base,
        "the output path is the base",
        "another -o path",
        built=True,
    ),
    Case(
        "bundle-output-read-only",
        _read_only_output("bundle"),
        "is on a read-only filesystem",
        "choose another -o path",
        built=True,
    ),
    Case(
        "bundle-output-disk-full", _disk_full, "no space left", "free some disk space", built=True
    ),
    Case(
        "bundle-dependency-without-wheel",
        _sdist_only,
        "no wheel of sdistonly fits the base",
        "pin a version",
        built=True,
    ),
    Case(
        "bundle-misspelt-dependency",
        _misspelt_dependency,
        "the package index has no project named reqeusts",
        "did you mean requests?",
        built=True,
    ),
    Case(
        "bundle-needs-c-extension",
        _needs_c_extension,
        "fastthing 1.0 needs its C extension",
        "cannot load .so",
        built=True,
    ),
    Case(
        "bundle-wheel-record-mismatch",
        _record_mismatch,
        "fails its RECORD check",
        "tampered",
        built=True,
    ),
    Case(
        "bundle-wheel-path-traversal",
        _wheel_path_traversal,
        "unsafe member '../../outside.py'",
        "not installed",
        built=True,
    ),
    Case(
        "bundle-wheel-absolute-member",
        _wheel_absolute_member,
        ("absy-1.0", "absolute"),
        "tampered",
        built=True,
    ),
    Case(
        "bundle-wheel-not-a-zip",
        _wheel_not_a_zip,
        ("broken-1.0-py3-none-any.whl is invalid", "pip cannot read it"),
        "damaged or not a wheel",
        built=True,
    ),
    Case(
        "bundle-wheel-member-damaged",
        _wheel_damaged_member,
        ("dented-1.0-py3-none-any.whl is not a readable zip archive", "dented/__init__.py"),
        "damaged or not a wheel",
        built=True,
    ),
    Case(
        "bundle-conflicting-wheels",
        _conflicting_wheels,
        "both install shared/x.py",
        "conflict",
        built=True,
    ),
    Case(
        "bundle-unresolvable",
        _unresolvable,
        ("could not resolve", "conflict"),
        "check the requirements",
        built=True,
    ),
    Case(
        "bundle-tampered-cached-wheel",
        _tampered_cached_wheel,
        ("tables-1.0-py3-none-any.whl", "does not match the sha256 recorded"),
        "--refresh",
        then=_refresh_then_run,
        built=True,
    ),
    Case(
        "bundle-damaged-cached-resolution",
        _damaged_resolution,
        ("cached resolution", "is damaged"),
        "--refresh",
        then=_refresh_then_run,
        built=True,
    ),
    # the zip store tools
    Case(
        "ls-file-without-zip",
        _store("ls", make=_no_zip),
        "has no zip archive at its end",
        "built by apepy",
    ),
    Case("ls-truncated", _store("ls", make=_truncated), "no zip archive", "cut short"),
    Case("ls-directory", lambda ctx: ["ls", ctx.inputs], "is a directory", "appended zip"),
    Case(
        "verify-bad-crc",
        _store("verify", make=_bad_crc),
        ("a.txt", "1 problem"),
        "rebuild the file",
    ),
    Case(
        "verify-relative-offsets",
        _store("verify", make=_relative_offsets),
        "offsets are relative",
        "rebuild",
    ),
    Case(
        "verify-entry-larger-than-file",
        _store("verify", make=_oversized),
        ("a.txt", "past the start of the central directory"),
        ZIP_DAMAGED,
    ),
    Case(
        "cat-member-inflates-past-its-size",
        _store("cat", "bomb.txt", make=lying_member),
        ("bomb.txt", "not 10"),
        ZIP_DAMAGED,
    ),
    Case("cat-missing-member", _store("cat", "nope"), "has no member 'nope'", "apepy ls"),
    Case("rm-nothing-matches", _store("rm", "nothing*"), "no member of", "quote patterns"),
    Case(
        "rm-entry-larger-than-file",
        _store("rm", "a.txt", make=_oversized),
        "past the start",
        ZIP_DAMAGED,
    ),
    Case(
        "add-escaping-name", _store_add_escaping, "refusing member name '../evil'", "relative paths"
    ),
    Case("add-missing-file", _store_add_missing, "missing.txt does not exist", "exist"),
    Case(
        "add-read-only-filesystem",
        _store_add_read_only,
        ("cannot change", "read-only filesystem"),
        "copy the file",
    ),
]


# --- running a case and checking everything it must leave as it was ---------------------------


def run(args: Sequence[Arg], ctx: Ctx) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("APEPY_DEBUG", "APEPY_SOURCE_DIR")}
    env.update(COLUMNS="4000", APEPY_CACHE_DIR=str(ctx.cache), **ctx.env)
    command = apepy_cmd(*args)
    if ctx.mount is not None:
        where = ctx.out.parent
        mount = (
            f"mount --bind {where} {where} && mount -o remount,ro,bind {where}"
            if ctx.mount == "ro"
            else f"mount -t tmpfs -o size=4m tmpfs {where}"
        )
        # The listing after the command shows the output directory as apepy left it.
        script = f'{mount} && "$@"; code=$?; echo @@listing; ls -A {where}; exit $code'
        command = ["unshare", "-m", "sh", "-c", script, "sh", *command]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def needles(wanted: str | tuple[str, ...]) -> tuple[str, ...]:
    return (wanted,) if isinstance(wanted, str) else wanted


def snapshot(paths: Sequence[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    for top in paths:
        files = [top] if not top.is_dir() else sorted(top.rglob("*"))
        for path in files:
            if path.is_symlink():
                found[str(path)] = "-> " + os.readlink(path)
            elif path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                found[str(path)] = "dir"
    return found


def half_written(cache: Path) -> list[str]:
    """Entries a reader could mistake for finished ones, and temporary leftovers.

    Every cache kind makes its entries with `apepy.cache.entry`, whose work under way
    (a temporary directory or file beside the entry, or the sentinel beside an entry
    made in place) is what `unfinished` finds: a new kind is covered without naming it.
    """
    if not cache.exists():
        return []
    left = [str(p) for p in unfinished(cache)]
    left += [
        str(p)
        for p in cache.rglob("*")
        if ".tmp-" in p.name or p.name.endswith((".part", ".zip-tmp"))
    ]
    markers = {
        "cpython": ".apepy-complete.json",
        "interpreters": "manifest.json",
        "wheels": "resolved.json",
    }
    for kind, marker in markers.items():
        folder = cache / kind
        if folder.is_dir() and not folder.is_symlink():
            left += [str(c) for c in folder.iterdir() if c.is_dir() and not (c / marker).is_file()]
    return sorted(set(left))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if not c.built])
def test_bad_input(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    check(case, tmp_path, request)


@pytest.mark.usefixtures("built_python")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.built])
def test_bad_input_on_the_built_interpreter(
    case: Case, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    check(case, tmp_path, request)


def check(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # An empty cache of the case's own, given to apepy only: the session fixtures
    # (release, built_python) still see the real one.
    cache = tmp_path / "cache"
    with contextlib.ExitStack() as stack:
        ctx = Ctx(request, tmp_path, cache, stack)
        args = case.command(ctx)
        before = snapshot([ctx.inputs, *ctx.watched])
        result = run(args, ctx)
    stderr, stdout = result.stderr, result.stdout.split("@@listing")
    assert "Traceback" not in stderr + result.stdout
    assert "apepy failed unexpectedly" not in stderr
    if case.succeeds is not None:
        assert result.returncode == 0, stderr
        assert "error:" not in stderr
        case.succeeds(ctx)
    else:
        assert result.returncode == 1, stderr
        lines = stderr.splitlines()
        errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
        hints = [i for i, line in enumerate(lines) if line.startswith("hint:")]
        assert len(errors) == 1 and len(hints) == 1 and errors[0] < hints[0], stderr
        said = "\n".join(lines[: hints[0]])
        for needle in needles(case.cause):
            assert needle in said, f"{needle!r} not in:\n{stderr}"
        for needle in needles(case.fix):
            assert needle in lines[hints[0]], f"{needle!r} not in:\n{stderr}"
        # Nothing at the output path (unless it is an input, checked below), nothing beside it.
        if not ctx.out.is_relative_to(ctx.inputs) and ctx.out not in ctx.watched:
            assert not ctx.out.exists()
        assert not list(ctx.out.parent.glob(f".{ctx.out.name}.*"))
        if ctx.mount is not None:
            inside = stdout[1].split() if len(stdout) > 1 else ["(no listing)"]
            expected = [ctx.out.name] if ctx.out in ctx.watched else []
            assert inside == expected, result.stdout
    assert snapshot([ctx.inputs, *ctx.watched]) == before, "an input file was changed"
    assert half_written(cache) == []
    if case.then is not None:
        for good in case.then(ctx):
            again = run(good, ctx)
            assert again.returncode == 0, again.stderr
        assert half_written(cache) == []


@pytest.mark.parametrize("layout", ["dir", "in-place", "file"])
def test_half_written_finds_an_entry_of_any_kind_under_way(tmp_path: Path, layout: str) -> None:
    """An entry being made, in a folder no case has named, is half-written until published."""
    from apepy import cache

    path = tmp_path / "cache" / "some-new-kind" / "key"
    with cache.entry(path, layout=layout, marker="done.json") as entry:  # type: ignore[arg-type]
        if layout == "file":
            entry.work.write_text("x")
        assert half_written(tmp_path / "cache") != []
        entry.publish(None if layout == "file" else "{}")
    assert half_written(tmp_path / "cache") == []


def test_catalogue_size() -> None:
    """The issue asks for at least 25 cases over build, bundle and the store tools."""
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)
    kinds = {c.id.split("-")[0] for c in CASES}
    assert {"build", "bundle", "ls", "verify", "cat", "rm", "add"} <= kinds


@pytest.mark.usefixtures("built_python")
def test_download_broken_off_in_every_attempt_resumes_in_the_next_run(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A mirror that cuts off every answer of the first run: that run fails and says to run
    again, keeping what arrived; the next run resumes from there (a Range request)."""
    cache = tmp_path / "cache"
    with contextlib.ExitStack() as stack:
        ctx = Ctx(request, tmp_path, cache, stack)
        ctx.share_built_interpreters()
        release = ctx.release()
        data = ctx.real_source().read_bytes()
        mirror = serve_release(ctx, data, drops=download.ATTEMPTS)
        command = _build(ctx, "--python", release.version)
        first = run(command, ctx)
        assert first.returncode == 1, first.stderr
        assert "Traceback" not in first.stderr
        assert "download of CPython" in first.stderr and "broke off" in first.stderr
        assert "hint: run the same command again: the download resumes" in first.stderr
        part = cache / "sources" / (release.filename + ".part")
        kept = part.stat().st_size
        assert 0 < kept < len(data) and part.read_bytes() == data[:kept]
        assert not (cache / "sources" / release.filename).exists() and not ctx.out.exists()

        second = run(command, ctx)
        assert second.returncode == 0, second.stderr
        assert mirror.ranges[-1] == f"bytes={kept}-"
        assert len(mirror.ranges) == download.ATTEMPTS + 1
    assert sha256_file(cache / "sources" / release.filename) == release.sha256
    assert not part.exists()
    assert_runs_as(ctx.out, release)
