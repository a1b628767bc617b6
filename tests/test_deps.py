"""The C library builder, for real with the host compiler: zlib, bzip2 and xz from source."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apepy import deps, toolchains
from apepy.errors import ApepyError

pytestmark = pytest.mark.build

PROGRAMS = {
    "zlib": (
        "#include <zlib.h>\n#include <stdio.h>\n#include <string.h>\n"
        'int main(void) { unsigned char in[] = "apepy apepy apepy apepy", z[128], out[128];\n'
        "  uLongf zn = sizeof z, on = sizeof out;\n"
        "  if (compress(z, &zn, in, sizeof in) || uncompress(out, &on, z, zn) || memcmp(in, out, sizeof in)) return 1;\n"
        '  printf("%s\\n", zlibVersion()); return 0; }\n'
    ),
    "bzip2": (
        "#include <bzlib.h>\n#include <stdio.h>\n#include <string.h>\n"
        'int main(void) { char in[] = "apepy apepy apepy apepy", z[256], out[256];\n'
        "  unsigned zn = sizeof z, on = sizeof out;\n"
        "  if (BZ2_bzBuffToBuffCompress(z, &zn, in, sizeof in, 9, 0, 0) ||\n"
        "      BZ2_bzBuffToBuffDecompress(out, &on, z, zn, 0, 0) || memcmp(in, out, sizeof in)) return 1;\n"
        '  printf("%s\\n", BZ2_bzlibVersion()); return 0; }\n'
    ),
    "xz": (
        "#include <lzma.h>\n#include <stdio.h>\n#include <string.h>\n"
        'int main(void) { uint8_t in[] = "apepy apepy apepy apepy", z[256], out[256];\n'
        "  size_t zn = 0, ip = 0, op = 0; uint64_t limit = UINT64_MAX;\n"
        "  if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, in, sizeof in, z, &zn, sizeof z) != LZMA_OK) return 1;\n"
        "  if (lzma_stream_buffer_decode(&limit, 0, NULL, z, &ip, zn, out, &op, sizeof out) != LZMA_OK) return 2;\n"
        "  if (memcmp(in, out, sizeof in)) return 3;\n"
        '  printf("%s\\n", lzma_version_string()); return 0; }\n'
    ),
}


@pytest.fixture(scope="module")
def host() -> toolchains.Toolchain:
    return toolchains.get("host")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_library_builds_and_links_statically(
    name: str, host: toolchains.Toolchain, tmp_path: Path
) -> None:
    lib = deps.LIBRARIES[name]
    root = deps.build(lib, host, jobs=2, offline=True)
    program = PROGRAMS[name]
    src = tmp_path / "t.c"
    src.write_text(program)
    exe = tmp_path / "t"
    # The sysroot's headers and archive, named explicitly: the ones just built, not the system's.
    subprocess.run(
        [
            host.cc,
            "-static",
            f"-I{root / 'include'}",
            str(src),
            "-o",
            str(exe),
            str(root / "lib" / lib.products[0]),
        ],
        check=True,
    )
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0
    assert run.stdout.startswith(lib.version)
    # A second request reuses the sysroot: the archive is not rebuilt.
    stamp = (root / "lib" / lib.products[0]).stat().st_mtime_ns
    deps.build(lib, host, jobs=2, offline=True)
    assert (root / "lib" / lib.products[0]).stat().st_mtime_ns == stamp


def test_missing_tarball_offline_names_url_and_cache_path(
    isolated_cache: Path, host: toolchains.Toolchain
) -> None:
    lib = deps.LIBRARIES["xz"]
    with pytest.raises(ApepyError) as info:
        deps.build(lib, host, jobs=1, offline=True)
    assert lib.url in (info.value.hint or "")
    assert str(isolated_cache / "sources" / "deps") in (info.value.hint or "")


def test_tampered_tarball_is_refused(isolated_cache: Path, host: toolchains.Toolchain) -> None:
    lib = deps.LIBRARIES["bzip2"]
    shelf = isolated_cache / "sources" / "deps"
    shelf.mkdir(parents=True)
    (shelf / lib.filename).write_bytes(b"not bzip2")
    with pytest.raises(ApepyError, match="checksum mismatch"):
        deps.build(lib, host, jobs=1, offline=True)
