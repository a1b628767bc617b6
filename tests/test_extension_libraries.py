"""Extensions whose C libraries the system cannot link statically, compiled in with the
host toolchain: pyzmq (Debian's libzmq.a needs Kerberos, which has no static archive;
without libzmq3-dev pyzmq's own build would download and bundle libzmq), lxml (no
libxslt.a in Debian) and Pillow (libjpeg-turbo, FreeType with libpng).

Each library is apepy's build of the pinned source, made before the package's build
looks for it (pkg-config finds the sysroot's) and linked by the same rule.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import apepy_ok, builds, run_apepy
from wheelmaker import make_sdist

from apepy import deps, sources

PINS = {"pyzmq": "pyzmq==27.3.0", "lxml": "lxml==6.1.3", "pillow": "pillow==13.0.0"}

# Each part prints one JSON object's keys into `out`; SMOKE runs all three.
SMOKE_HEAD = r"""
import io, json
out = {}
"""
ZMQ_SMOKE = r"""
import zmq
out["zmq"] = zmq.zmq_version()
ctx = zmq.Context()
rep = ctx.socket(zmq.REP)
port = rep.bind_to_random_port("tcp://127.0.0.1")
req = ctx.socket(zmq.REQ)
req.connect(f"tcp://127.0.0.1:{port}")
req.send_json({"ask": "apepy"})
out["zmq_asked"] = rep.recv_json()
rep.send(b"ok")
out["zmq_answer"] = req.recv().decode()
"""
LXML_SMOKE = r"""
from lxml import etree
xslt = etree.XSLT(etree.XML(
    '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
    '<xsl:template match="/"><n><xsl:value-of select="count(//item)"/></n></xsl:template>'
    "</xsl:stylesheet>"
))
out["xslt"] = str(xslt(etree.XML("<list><item/><item/><item/></list>"))).strip()
out["libxml2"] = ".".join(map(str, etree.LIBXML_VERSION))
out["libxslt"] = ".".join(map(str, etree.LIBXSLT_VERSION))
"""
PILLOW_SMOKE = r"""
from PIL import Image, ImageDraw, ImageFont, features
image = Image.new("RGB", (120, 40), "white")
ImageDraw.Draw(image).text((4, 4), "apepy", fill="black", font=ImageFont.load_default(size=24))
inked = sum(1 for b in image.convert("L").tobytes() if b < 128)
jpeg = io.BytesIO()
image.save(jpeg, "JPEG", quality=90)
again = Image.open(io.BytesIO(jpeg.getvalue()))
again.load()
png = io.BytesIO()
image.save(png, "PNG")
out["pillow"] = {
    "inked": inked,
    "jpeg": [again.format, list(again.size)],
    "png": Image.open(io.BytesIO(png.getvalue())).size == image.size,
    "freetype2": features.version("freetype2"),
    "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
}
"""
SMOKE_TAIL = "print(json.dumps(out))\n"
SMOKE = SMOKE_HEAD + ZMQ_SMOKE + LXML_SMOKE + PILLOW_SMOKE + SMOKE_TAIL


@pytest.fixture(scope="module")
@builds
def interpreter(tmp_path_factory: pytest.TempPathFactory, release: sources.Release) -> Path:
    out = tmp_path_factory.mktemp("libraries") / "python"
    apepy_ok(
        "build", "--python", release.version, *(a for p in PINS.values() for a in ("--with", p)),
        "-o", out,
    )  # fmt: skip
    return out


def test_zmq_lxml_and_pillow_work_from_the_single_file(interpreter: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [str(interpreter), "-c", SMOKE], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert run.returncode == 0, run.stderr
    check_libraries(json.loads(run.stdout))
    ldd = subprocess.run(["ldd", str(interpreter)], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr


def check_libraries(got: dict[str, Any]) -> None:
    """SMOKE's answers (of the parts that ran), the same from every interpreter the
    packages are compiled into."""
    assert got["zmq"] == deps.LIBRARIES["libzmq"].version
    assert got["zmq_asked"] == {"ask": "apepy"} and got["zmq_answer"] == "ok"
    if "xslt" in got:
        assert got["xslt"].endswith("<n>3</n>")
        assert got["libxml2"] == deps.LIBRARIES["libxml2"].version
        assert got["libxslt"] == deps.LIBRARIES["libxslt"].version
    pillow = got["pillow"]
    assert pillow["inked"] > 20, "the text was not drawn (FreeType)"
    assert pillow["jpeg"] == ["JPEG", [120, 40]] and pillow["png"] is True
    assert pillow["freetype2"] == deps.LIBRARIES["freetype"].version
    assert pillow["libjpeg_turbo"] == deps.LIBRARIES["libjpeg-turbo"].version


SHARED_ONLY_C = """
#include <Python.h>
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "sharedonly._ext", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&def); }
"""


@pytest.mark.build
def test_a_library_without_a_static_archive_or_a_recipe_is_named(
    tmp_path: Path, release: sources.Release
) -> None:
    """Some libraries come only as a shared library (glibc's libc_malloc_debug, always
    installed): the package's own shared build works, the static interpreter cannot
    link it, and the error says which module needs which library and where a static
    archive or a recipe would have to be."""
    files = {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n'
        '[project]\nname = "apepy-sharedonly"\nversion = "1.0"\n',
        "setup.py": "from setuptools import setup, Extension\n"
        "setup(packages=['sharedonly'], ext_modules=[Extension('sharedonly._ext', "
        "['sharedonly/_ext.c'], libraries=['c_malloc_debug'])])\n",
        "sharedonly/__init__.py": "",
        "sharedonly/_ext.c": SHARED_ONLY_C,
        "PKG-INFO": "Metadata-Version: 2.1\nName: apepy-sharedonly\nVersion: 1.0\n",
    }
    sdist = make_sdist(tmp_path, "apepy_sharedonly-1.0", files)
    out = tmp_path / "python"
    result = run_apepy("build", "--python", release.version, "--with", sdist, "-o", out)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: sharedonly._ext links against libc_malloc_debug, whose static library (.a) "
        "is not installed"
    ], result.stderr
    assert "apepy has no recipe for libc_malloc_debug.a" in result.stderr
    assert "-print-file-name=libc_malloc_debug.a finds none" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and list(tmp_path.glob("python*")) == []
