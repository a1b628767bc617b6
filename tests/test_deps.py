"""The C library builder, for real with the host compiler: every library from its pinned source.

The sources are the tarballs scripts/setup takes from Debian's source archive into
apepy's cache; each library is built into the host toolchain's sysroot (cached there
across runs), and a small C program is linked statically against the sysroot's
archives and run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

import apepy.edits
from apepy import cache, context, deps, toolchains
from apepy.errors import ApepyError
from apepy.toolchains import cosmo


@dataclasses.dataclass(frozen=True)
class Program:
    source: str
    # Archives of the sysroot it links, in link order; then the system's libraries.
    archives: tuple[str, ...]
    system: tuple[str, ...] = ()
    expect: str | None = None  # printed on success; None: the library's version
    include_dirs: tuple[str, ...] = ()


PROGRAMS = {
    "libyaml": Program(
        "#include <yaml.h>\n#include <stdio.h>\n#include <string.h>\n"
        'int main(void) { const char doc[] = "a: [1, apepy]\\n"; yaml_parser_t p; yaml_event_t e;\n'
        '  int scalars = 0, done = 0; char last[16] = "";\n'
        "  if (!yaml_parser_initialize(&p)) return 1;\n"
        "  yaml_parser_set_input_string(&p, (const unsigned char *)doc, strlen(doc));\n"
        "  while (!done) { if (!yaml_parser_parse(&p, &e)) return 2;\n"
        "    if (e.type == YAML_SCALAR_EVENT) { scalars++;\n"
        '      snprintf(last, sizeof last, "%s", (char *)e.data.scalar.value); }\n'
        "    done = e.type == YAML_STREAM_END_EVENT; yaml_event_delete(&e); }\n"
        '  printf("%s %d %s\\n", yaml_get_version_string(), scalars, last); return 0; }\n',
        ("libyaml.a",),
        expect="0.2.5 3 apepy",
    ),
    "libxml2": Program(
        "#include <libxml/parser.h>\n#include <libxml/tree.h>\n#include <stdio.h>\n"
        'int main(void) { const char doc[] = "<a><b>apepy</b></a>";\n'
        "  xmlDocPtr d = xmlReadMemory(doc, sizeof doc - 1, NULL, NULL, 0);\n"
        "  if (!d) return 1;\n"
        "  xmlChar *text = xmlNodeGetContent(xmlDocGetRootElement(d)->children);\n"
        '  printf("%s %s\\n", LIBXML_DOTTED_VERSION, text); return 0; }\n',
        ("libxml2.a", "libz.a"),
        system=("-lm",),
        expect="2.9.14 apepy",
        include_dirs=("libxml2",),
    ),
    "libxslt": Program(
        "#include <libxslt/xslt.h>\n#include <libxslt/transform.h>\n#include <libxslt/xsltutils.h>\n"
        "#include <libexslt/exslt.h>\n#include <pthread.h>\n#include <stdio.h>\n"
        # libxml2 calls pthreads through weak references, which a static link leaves
        # NULL unless something names them: in the interpreter, CPython's own threads.
        "void *keep[] = {pthread_once, pthread_getspecific, pthread_setspecific, pthread_key_create,\n"
        "  pthread_key_delete, pthread_mutex_init, pthread_mutex_destroy, pthread_mutex_lock,\n"
        "  pthread_mutex_unlock, pthread_cond_init, pthread_cond_destroy, pthread_cond_wait,\n"
        "  pthread_cond_signal, pthread_equal, pthread_self};\n"
        'int main(void) { const char x[] = "<x:stylesheet version=\\"1.0\\" '
        'xmlns:x=\\"http://www.w3.org/1999/XSL/Transform\\"><x:output method=\\"text\\"/>'
        '<x:template match=\\"/\\"><x:value-of select=\\"/a\\"/></x:template></x:stylesheet>";\n'
        '  const char d[] = "<a>apepy</a>"; xmlChar *out; int n;\n'
        "  exsltRegisterAll();\n"
        "  xsltStylesheetPtr s = xsltParseStylesheetDoc(xmlReadMemory(x, sizeof x - 1, NULL, NULL, 0));\n"
        "  xmlDocPtr r = xsltApplyStylesheet(s, xmlReadMemory(d, sizeof d - 1, NULL, NULL, 0), NULL);\n"
        "  if (!r || xsltSaveResultToString(&out, &n, r, s)) return 1;\n"
        '  printf("%s %s\\n", LIBXSLT_DOTTED_VERSION, out); return 0; }\n',
        ("libexslt.a", "libxslt.a", "libxml2.a", "libz.a"),
        system=("-lm",),
        expect="1.1.35 apepy",
        include_dirs=("libxml2",),
    ),
    # A 2x2 grey image written to a PNG in memory and read back.
    "libpng": Program(
        "#include <png.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        "int main(void) { png_image w; unsigned char px[4] = {0, 85, 170, 255}, back[4];\n"
        "  png_alloc_size_t n = 0; memset(&w, 0, sizeof w); w.version = PNG_IMAGE_VERSION;\n"
        "  w.width = w.height = 2; w.format = PNG_FORMAT_GRAY;\n"
        "  if (!png_image_write_to_memory(&w, NULL, &n, 0, px, 0, NULL)) return 1;\n"
        "  void *buf = malloc(n); if (!png_image_write_to_memory(&w, buf, &n, 0, px, 0, NULL)) return 2;\n"
        "  png_image r; memset(&r, 0, sizeof r); r.version = PNG_IMAGE_VERSION;\n"
        "  if (!png_image_begin_read_from_memory(&r, buf, n)) return 3;\n"
        "  r.format = PNG_FORMAT_GRAY; if (!png_image_finish_read(&r, NULL, back, 0, NULL)) return 4;\n"
        '  printf("%s %ux%u %d\\n", png_get_libpng_ver(NULL), r.width, r.height, back[3]); return 0; }\n',
        ("libpng16.a", "libz.a"),
        system=("-lm",),
        expect="1.6.39 2x2 255",
    ),
    # An outline (a triangle) measured by the library.
    "freetype": Program(
        "#include <ft2build.h>\n#include FT_FREETYPE_H\n#include FT_OUTLINE_H\n#include FT_BBOX_H\n"
        "#include <stdio.h>\n"
        "int main(void) { FT_Library ft; FT_Outline o; FT_BBox box; FT_Int a, b, c;\n"
        "  if (FT_Init_FreeType(&ft) || FT_Outline_New(ft, 3, 1, &o)) return 1;\n"
        "  o.points[0].x = 0; o.points[0].y = 0; o.points[1].x = 640; o.points[1].y = 0;\n"
        "  o.points[2].x = 0; o.points[2].y = 320; o.tags[0] = o.tags[1] = o.tags[2] = FT_CURVE_TAG_ON;\n"
        "  o.contours[0] = 2; if (FT_Outline_Get_BBox(&o, &box)) return 2;\n"
        '  FT_Library_Version(ft, &a, &b, &c); printf("%d.%d.%d %ld %ld\\n", a, b, c, box.xMax, box.yMax);\n'
        "  FT_Outline_Done(ft, &o); return FT_Done_FreeType(ft); }\n",
        ("libfreetype.a", "libz.a"),
        expect="2.12.1 640 320",
        include_dirs=("freetype2",),
    ),
    # An 8x8 grey gradient compressed to a JPEG in memory and its header read back.
    "libjpeg-turbo": Program(
        "#include <turbojpeg.h>\n#include <stdio.h>\n"
        "int main(void) { unsigned char px[64], *jpeg = NULL; unsigned long n = 0; int w, h, s, c;\n"
        "  for (int i = 0; i < 64; i++) px[i] = (unsigned char)(i * 4);\n"
        "  tjhandle t = tjInitCompress(); if (!t) return 1;\n"
        "  if (tjCompress2(t, px, 8, 0, 8, TJPF_GRAY, &jpeg, &n, TJSAMP_GRAY, 90, 0)) return 2;\n"
        "  tjhandle d = tjInitDecompress(); if (!d || tjDecompressHeader3(d, jpeg, n, &w, &h, &s, &c)) return 3;\n"
        '  printf("jpeg %dx%d %d\\n", w, h, jpeg[0] == 0xff && jpeg[1] == 0xd8); return 0; }\n',
        ("libturbojpeg.a",),
        expect="jpeg 8x8 1",
    ),
    # Two PAIR sockets in one process exchange a message over inproc.
    "libzmq": Program(
        "#include <zmq.h>\n#include <stdio.h>\n#include <string.h>\n"
        'int main(void) { void *ctx = zmq_ctx_new(); char buf[16] = ""; int a, b, c;\n'
        "  void *s = zmq_socket(ctx, ZMQ_PAIR), *r = zmq_socket(ctx, ZMQ_PAIR);\n"
        '  if (zmq_bind(s, "inproc://apepy") || zmq_connect(r, "inproc://apepy")) return 1;\n'
        '  if (zmq_send(s, "apepy", 5, 0) != 5 || zmq_recv(r, buf, sizeof buf - 1, 0) != 5) return 2;\n'
        '  zmq_version(&a, &b, &c); printf("%d.%d.%d %s %d\\n", a, b, c, buf, zmq_has("curve"));\n'
        "  zmq_close(s); zmq_close(r); return zmq_ctx_term(ctx); }\n",
        ("libzmq.a",),
        system=("-lstdc++", "-lpthread", "-lm"),
        expect="4.3.4 apepy 1",
    ),
    "zlib": Program(
        "#include <zlib.h>\n#include <stdio.h>\n#include <string.h>\n"
        'int main(void) { unsigned char in[] = "apepy apepy apepy apepy", z[128], out[128];\n'
        "  uLongf zn = sizeof z, on = sizeof out;\n"
        "  if (compress(z, &zn, in, sizeof in) || uncompress(out, &on, z, zn) || memcmp(in, out, sizeof in)) return 1;\n"
        '  printf("%s\\n", zlibVersion()); return 0; }\n',
        ("libz.a",),
    ),
    "bzip2": Program(
        "#include <bzlib.h>\n#include <stdio.h>\n#include <string.h>\n"
        'int main(void) { char in[] = "apepy apepy apepy apepy", z[256], out[256];\n'
        "  unsigned zn = sizeof z, on = sizeof out;\n"
        "  if (BZ2_bzBuffToBuffCompress(z, &zn, in, sizeof in, 9, 0, 0) ||\n"
        "      BZ2_bzBuffToBuffDecompress(out, &on, z, zn, 0, 0) || memcmp(in, out, sizeof in)) return 1;\n"
        '  printf("%s\\n", BZ2_bzlibVersion()); return 0; }\n',
        ("libbz2.a",),
    ),
    "xz": Program(
        "#include <lzma.h>\n#include <stdio.h>\n#include <string.h>\n"
        'int main(void) { uint8_t in[] = "apepy apepy apepy apepy", z[256], out[256];\n'
        "  size_t zn = 0, ip = 0, op = 0; uint64_t limit = UINT64_MAX;\n"
        "  if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, in, sizeof in, z, &zn, sizeof z) != LZMA_OK) return 1;\n"
        "  if (lzma_stream_buffer_decode(&limit, 0, NULL, z, &ip, zn, out, &op, sizeof out) != LZMA_OK) return 2;\n"
        "  if (memcmp(in, out, sizeof in)) return 3;\n"
        '  printf("%s\\n", lzma_version_string()); return 0; }\n',
        ("liblzma.a",),
        ("-lpthread",),
    ),
    # A table in :memory:, JSON and FTS5 (both compiled in), then the library's version.
    "sqlite": Program(
        "#include <sqlite3.h>\n#include <stdio.h>\n#include <string.h>\n"
        "static int row(void *out, int n, char **v, char **c) { (void)n; (void)c; strcpy(out, v[0]); return 0; }\n"
        'int main(void) { sqlite3 *db; char got[64] = "";\n'
        '  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;\n'
        "  if (sqlite3_exec(db, \"CREATE TABLE t(x TEXT); INSERT INTO t VALUES ('apepy');\"\n"
        "      \"CREATE VIRTUAL TABLE f USING fts5(body); INSERT INTO f VALUES ('portable python');\", 0, 0, 0)) return 2;\n"
        "  if (sqlite3_exec(db, \"SELECT x || json_extract('{\\\"a\\\": 1}', '$.a') FROM t\", row, got, 0)"
        ' || strcmp(got, "apepy1")) return 3;\n'
        "  if (sqlite3_exec(db, \"SELECT body FROM f WHERE f MATCH 'python'\", row, got, 0)"
        ' || strcmp(got, "portable python")) return 4;\n'
        '  sqlite3_close(db); printf("%s\\n", sqlite3_libversion()); return 0; }\n',
        ("libsqlite3.a",),
        ("-lm", "-lpthread"),
    ),
    # SHA-256 of "abc", a TLS client context, and the version; the CA directory is the system's.
    "openssl": Program(
        "#include <openssl/evp.h>\n#include <openssl/ssl.h>\n#include <openssl/crypto.h>\n"
        "#include <stdio.h>\n#include <string.h>\n"
        # CPython's _ssl refuses an OpenSSL built without threads.
        '#ifndef OPENSSL_THREADS\n#error "OpenSSL was built without threads"\n#endif\n'
        "int main(void) { unsigned char md[32]; unsigned int n = 0;\n"
        "  static const unsigned char want[4] = {0xba, 0x78, 0x16, 0xbf};\n"
        '  if (!EVP_Digest("abc", 3, md, &n, EVP_sha256(), NULL) || n != 32 || memcmp(md, want, 4)) return 1;\n'
        "  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method()); if (!ctx) return 2; SSL_CTX_free(ctx);\n"
        '  if (!strstr(OpenSSL_version(OPENSSL_DIR), "/etc/ssl")) return 3;\n'
        '  printf("%s\\n", OpenSSL_version(OPENSSL_VERSION_STRING)); return 0; }\n',
        ("libssl.a", "libcrypto.a"),
        ("-lpthread",),
    ),
    # A closure (a trampoline made at run time) and a plain call through libffi.
    "libffi": Program(
        "#include <ffi.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
        "static void add(ffi_cif *cif, void *ret, void **args, void *k) {\n"
        "  (void)cif; *(ffi_arg *)ret = *(int *)args[0] + *(int *)k; }\n"
        "int main(void) { ffi_cif cif; ffi_type *at[1] = {&ffi_type_sint}; void *code; int k = 41;\n"
        "  ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);\n"
        "  if (!cl || ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_sint, at) != FFI_OK) return 1;\n"
        "  if (ffi_prep_closure_loc(cl, &cif, add, &k, code) != FFI_OK) return 2;\n"
        "  if (((int (*)(int))code)(1) != 42) return 3;\n"
        "  int x = -7; void *av[1] = {&x}; ffi_arg r = 0;\n"
        "  ffi_call(&cif, FFI_FN(abs), &r, av); if ((int)r != 7) return 4;\n"
        '  ffi_closure_free(cl); printf("libffi ok\\n"); return 0; }\n',
        ("libffi.a",),
        expect="libffi ok",
    ),
    "ncurses": Program(
        "#include <curses.h>\n#include <term.h>\n#include <stdio.h>\n"
        "int main(void) { int err = 0;\n"
        '  if (setupterm("xterm-256color", 1, &err) != OK) return 1;\n'
        '  if (tigetnum("colors") != 256) return 2;\n'
        '  printf("%s\\n", curses_version()); return 0; }\n',
        ("libncursesw.a",),
        include_dirs=("ncursesw",),
    ),
    # History, and readline() itself reading a line from a pipe.
    "libedit": Program(
        "#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\n#include <editline/readline.h>\n"
        'int main(void) { using_history(); add_history("apepy");\n'
        "  HIST_ENTRY *h = history_get(history_base);\n"
        '  if (!h || strcmp(h->line, "apepy")) return 1;\n'
        '  char *line = readline(""); if (!line || strcmp(line, "typed")) return 2; free(line);\n'
        '  printf("%s\\n", rl_library_version); return 0; }\n',
        ("libedit.a", "libncursesw.a"),
        expect="EditLine wrapper",
    ),
    "libuuid": Program(
        "#include <uuid/uuid.h>\n#include <stdio.h>\n#include <string.h>\n"
        "int main(void) { uuid_t u, p; char s[37];\n"
        "  uuid_generate_random(u); uuid_unparse_lower(u, s);\n"
        "  if (uuid_is_null(u) || strlen(s) != 36 || s[14] != '4') return 1;\n"
        "  if (uuid_parse(s, p) || uuid_compare(u, p)) return 2;\n"
        '  printf("uuid %s\\n", s); return 0; }\n',
        ("libuuid.a",),
        expect="uuid ",
    ),
}


@pytest.fixture(scope="module")
def host() -> toolchains.Toolchain:
    return toolchains.get("host")


def test_every_library_has_a_program() -> None:
    assert set(PROGRAMS) == set(deps.LIBRARIES)


@pytest.mark.build
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_library_builds_and_links_statically(
    name: str, host: toolchains.Toolchain, tmp_path: Path
) -> None:
    lib = deps.LIBRARIES[name]
    program = PROGRAMS[name]
    root = deps.build(lib, host, jobs=2, offline=True)
    src = tmp_path / "t.c"
    src.write_text(program.source)
    exe = tmp_path / "t"
    # The sysroot's headers and archives, named explicitly: the ones just built, not the system's.
    includes = [f"-I{root / 'include' / d}" for d in ("", *program.include_dirs)]
    archives = [str(root / "lib" / a) for a in program.archives]
    subprocess.run(
        [host.cc, "-static", *includes, str(src), "-o", str(exe), *archives, *program.system],
        check=True,
    )
    run = subprocess.run([str(exe)], capture_output=True, text=True, input="typed\n")
    assert run.returncode == 0, run.stderr
    assert (program.expect or lib.version) in run.stdout
    if program.expect is None:
        assert run.stdout.startswith(lib.version) or f" {lib.version}." in run.stdout
    # A second request reuses the sysroot: the archive is not rebuilt.
    stamp = (root / "lib" / lib.products[0]).stat().st_mtime_ns
    deps.build(lib, host, jobs=2, offline=True)
    assert (root / "lib" / lib.products[0]).stat().st_mtime_ns == stamp


@pytest.mark.build
def test_sysroot_is_complete_and_names_no_build_path(host: toolchains.Toolchain) -> None:
    """Every library's archives, aliases and pkg-config files are there; no archive embeds
    the cache's path (reproducible builds from caches at different paths)."""
    root = deps.build_all(host, jobs=2, offline=True)
    lib_dir = root / "lib"
    for lib in deps.LIBRARIES.values():
        for product in (*lib.products, *lib.aliases):
            assert (lib_dir / product).is_file(), product
    for pc in (
        "zlib",
        "bzip2",
        "liblzma",
        "sqlite3",
        "openssl",
        "libffi",
        "ncursesw",
        "libedit",
        "uuid",
    ):
        assert (lib_dir / "pkgconfig" / f"{pc}.pc").is_file(), pc
    assert not list(lib_dir.glob("*.la"))
    # libedit found the sysroot's ncurses, not the system's terminfo library.
    assert "-lncurses" in (lib_dir / "pkgconfig" / "libedit.pc").read_text()
    # The common terminals are compiled into ncurses.
    assert b"xterm-256color|" in (lib_dir / "libncursesw.a").read_bytes()
    needle = str(cache.cache_root()).encode()
    for archive in sorted(lib_dir.glob("*.a")):
        assert needle not in archive.read_bytes(), archive.name


def test_missing_tarball_offline_names_url_and_cache_path(
    isolated_cache: Path, host: toolchains.Toolchain
) -> None:
    lib = deps.LIBRARIES["xz"]
    with pytest.raises(ApepyError) as info:
        deps.build(lib, host, jobs=1, offline=True)
    assert lib.url is not None and lib.url in (info.value.hint or "")
    assert str(isolated_cache / "sources" / "deps") in (info.value.hint or "")


def test_sqlite_without_upstream_url_says_where_the_pinned_file_comes_from(
    isolated_cache: Path, host: toolchains.Toolchain
) -> None:
    lib = deps.LIBRARIES["sqlite"]
    assert lib.url is None
    # Not even an online build may download it: no URL serves a file with this hash.
    with pytest.raises(ApepyError, match="no upstream URL") as info:
        deps.build(lib, host, jobs=1, offline=False)
    hint = info.value.hint or ""
    assert "apt-get source --download-only sqlite3=" in hint
    assert f"{isolated_cache / 'sources' / 'deps'} as {lib.filename}" in hint
    assert lib.sha256 in hint


def test_tampered_tarball_is_refused(isolated_cache: Path, host: toolchains.Toolchain) -> None:
    lib = deps.LIBRARIES["bzip2"]
    shelf = isolated_cache / "sources" / "deps"
    shelf.mkdir(parents=True)
    (shelf / lib.filename).write_bytes(b"not bzip2")
    with pytest.raises(ApepyError, match="checksum mismatch"):
        deps.build(lib, host, jobs=1, offline=True)


def test_a_library_builds_what_it_requires_first(
    isolated_cache: Path, host: toolchains.Toolchain
) -> None:
    # libedit needs ncurses: with no sources at all, the error is about ncurses.
    with pytest.raises(ApepyError, match=r"ncurses 6\.4 source"):
        deps.build(deps.LIBRARIES["libedit"], host, jobs=1, offline=True)


@pytest.mark.build
def test_a_library_the_system_lacks_is_built_from_source_for_an_extension(
    host: toolchains.Toolchain, tmp_path: Path
) -> None:
    """Debian ships no libxslt.a: lxml's libraries then come from apepy's builds of the
    pinned sources as one set (its libxslt with its own libxml2, which needs no ICU, not
    the system's), by path, with the closure from the sysroot's .pc files."""
    from apepy import libraries
    from apepy.extensions import link

    lxml = link.LinkedModule(
        "lxml.etree",
        tmp_path / "etree.o",
        "PyInit_x",
        ("exslt", "xslt", "xml2", "z", "m"),
        (),
        False,
    )
    ctx = context.Context(jobs=1, offline=True, log=tmp_path / "log")
    flags = link.libraries_for([lxml], host, ctx)
    lib = deps.sysroot(host) / "lib"
    for name in ("libexslt.a", "libxslt.a", "libxml2.a", "libz.a"):
        assert str(lib / name) in flags
        assert (lib / name).is_file()
    assert "-lm" in flags
    # The system's libxml2 and libexslt would need ICU and libgcrypt.
    assert not [f for f in flags if f.startswith(("-licu", "-lgcrypt", "-lxml2", "-lxslt"))]
    # A set the system has entirely stays as it was.
    yaml = link.LinkedModule("yaml._yaml", tmp_path / "y.o", "PyInit_y", ("yaml",), (), False)
    assert link.libraries_for([yaml], host, ctx) == libraries.static_closure(["yaml"])


# --- Cosmopolitan: the recipes' data, checked without cosmocc -------------------------
# These check what apepy would run for a cosmo toolchain; the commands themselves are
# checked only with cosmocc, which does not run here.


def _cosmo(arch: str) -> toolchains.Toolchain:
    # Pure data: cosmo.toolchain() runs nothing, so the directory need not exist.
    return cosmo.toolchain(Path("/opt/cosmocc"), "4.0.2", arch)


def test_cosmo_recipes_differ_only_where_the_table_says(
    host: toolchains.Toolchain, tmp_path: Path
) -> None:
    x86 = _cosmo("x86_64")
    arm = _cosmo("aarch64")
    openssl = deps.LIBRARIES["openssl"]
    ncurses = deps.LIBRARIES["ncurses"]
    assert arm.arch == "aarch64"
    cmd = deps.openssl_configure_command(openssl, arm)
    assert cmd[1] == "linux-aarch64"
    assert {"no-asm", "no-pic", "--with-rand-seed=getrandom"} <= set(cmd)
    assert "--with-rand-seed=getrandom" not in deps.openssl_configure_command(openssl, host)
    # No PIC for cosmo, the library's cosmo flags; the host keeps -fPIC and has none of them.
    assert "-fPIC" not in deps.compile_flags(ncurses, x86, tmp_path)
    assert "libc/str/unicode.h" in deps.compile_flags(ncurses, x86, tmp_path)
    assert "-fPIC" in deps.compile_flags(ncurses, host, tmp_path)
    assert "--disable-mixed-case" in deps.configure_command(ncurses, x86, tmp_path)
    assert "--disable-mixed-case" not in deps.configure_command(ncurses, host, tmp_path)
    assert f"--with-pkg-config-libdir={tmp_path}/lib/pkgconfig" in deps.configure_command(
        ncurses, host, tmp_path
    )
    # SQLite's code generators run on the build machine.
    sqlite = deps.LIBRARIES["sqlite"]
    assert deps.make_variables(sqlite, x86)[0].startswith("BCC=")
    assert deps.make_variables(sqlite, host) == []
    # A cross --host only when the toolchain asks for one.
    assert not any(a.startswith("--host=") for a in deps.configure_command(ncurses, x86, tmp_path))


def test_fat_cosmocc_builds_assembly_libraries_once_per_architecture(
    host: toolchains.Toolchain, tmp_path: Path
) -> None:
    fat = _cosmo("fat")
    assert deps.build_env(deps.LIBRARIES["zlib"], fat, tmp_path, tmp_path)["INSTALL"] == (
        "/opt/cosmocc/bin/cosmoinstall"
    )
    arm = toolchains.for_arch(fat, "aarch64")
    assert (arm.cc, arm.ar) == (
        "/opt/cosmocc/bin/aarch64-unknown-cosmo-cc",
        "/opt/cosmocc/bin/aarch64-linux-cosmo-ar",
    )
    assert "INSTALL" not in deps.build_env(deps.LIBRARIES["libffi"], arm, tmp_path, tmp_path)
    # libffi picks its assembly by the host triplet, not by the build machine's.
    assert "--host=aarch64-unknown-linux-gnu" in deps.configure_command(
        deps.LIBRARIES["libffi"], arm, tmp_path
    )
    assert deps.openssl_configure_command(deps.LIBRARIES["openssl"], arm)[1] == "linux-aarch64"
    assert not any(
        a.startswith("--host=")
        for a in deps.configure_command(deps.LIBRARIES["libffi"], host, tmp_path)
    )


def test_merge_fat_dispatches_differing_headers_by_architecture(
    host: toolchains.Toolchain, tmp_path: Path
) -> None:
    """The merge of two single-architecture sysroots into cosmocc's fat layout; the
    generated header is compiled for real by the host compiler, as each architecture."""
    stages = {}
    for name, width in (("x86_64", 64), ("aarch64", 128)):
        stage = tmp_path / name
        (stage / "include" / "sub").mkdir(parents=True)
        (stage / "lib" / "pkgconfig").mkdir(parents=True)
        (stage / "include" / "same.h").write_text("#define SAME 1\n")
        (stage / "include" / "sub" / "target.h").write_text(f"#define WIDTH {width}\n")
        (stage / "lib" / "libt.a").write_bytes(f"!<arch>\n{name}".encode())
        (stage / "lib" / "pkgconfig" / "t.pc").write_text(f"prefix={stage}\n")
        stages[name] = stage
    root = tmp_path / "root"
    deps.merge_fat(stages["x86_64"], stages["aarch64"], root)
    assert (root / "lib" / "libt.a").read_bytes().endswith(b"x86_64")
    assert (root / "lib" / ".aarch64" / "libt.a").read_bytes().endswith(b"aarch64")
    assert (root / "lib" / "pkgconfig" / "t.pc").read_text() == f"prefix={root}\n"
    assert (root / "include" / "same.h").read_text() == "#define SAME 1\n"
    src = tmp_path / "t.c"
    src.write_text("#include <same.h>\n#include <sub/target.h>\nint width = WIDTH + SAME - 1;\n")
    # Each architecture's macros set explicitly: the host compiler may be either.
    views = ((["-U__aarch64__", "-D__x86_64__"], "64"), (["-U__x86_64__", "-D__aarch64__"], "128"))
    for flags, width in views:
        out = subprocess.run(
            [host.cc, "-E", "-P", *flags, f"-I{root / 'include'}", str(src)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"int width = {width} + 1 - 1;" in out


_EDITED = [
    (name, family)
    for name, lib in deps.LIBRARIES.items()
    for family, o in lib.options.items()
    if o.edits
]


@pytest.mark.parametrize(("name", "family"), _EDITED)
def test_family_source_edits_match_the_pinned_sources(
    name: str, family: str, tmp_path: Path
) -> None:
    """Each edit's text occurs exactly once in the real pinned tarball (the edited code
    is compiled only with that family's toolchain)."""
    lib = deps.LIBRARIES[name]
    edits = lib.options_for(family).edits
    source, _ = deps.tarball(lib, offline=True)
    with tarfile.open(source) as tar:
        top = tar.next()
        assert top is not None
        prefix = top.name.split("/")[0]
        wanted = {f"{prefix}/{e.path}" for e in edits}
        tar.extractall(tmp_path, members=[m for m in tar if m.name in wanted], filter="data")
    tree = tmp_path / prefix
    subject = f"{lib.name} {lib.version}"
    assert apepy.edits.apply(tree, edits, subject=subject, hint="h") == [e.name for e in edits]
    for edit in edits:
        assert edit.replacement in (tree / edit.path).read_text()
    # Applied twice, the edit finds nothing to replace and says so.
    with pytest.raises(ApepyError, match="is missing"):
        apepy.edits.apply(tree, edits[:1], subject=subject, hint="h")


def test_a_library_a_family_cannot_build_is_refused_by_name(isolated_cache: Path) -> None:
    cosmo_tc = _cosmo("x86_64")
    # Every pinned library builds with cosmocc now: a recipe marked host-only stands in.
    lib = dataclasses.replace(deps.LIBRARIES["libzmq"], families=("host",))
    with pytest.raises(ApepyError, match=f"{lib.name} .* does not build with the cosmo") as info:
        deps.build(lib, cosmo_tc, jobs=1, offline=True)
    assert info.value.hint and lib.products[0] in info.value.hint


def test_pinned_table_is_consistent() -> None:
    for lib in deps.LIBRARIES.values():
        assert re.fullmatch("[0-9a-f]{64}", lib.sha256), lib.name
        assert lib.url is not None or lib.origin, lib.name
        package, version = lib.debian
        assert package and version, lib.name
        for required in lib.requires:
            assert required in deps.LIBRARIES
        assert lib.recipe in deps.RECIPES, lib.name
        assert bool(lib.sources) == (lib.recipe == "sources"), lib.name
    assert os.sep not in "".join(lib.filename for lib in deps.LIBRARIES.values())
