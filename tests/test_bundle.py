"""apepy bundle: real projects, real wheels, the real executable serving real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    FLASK_HELLO,
    REPO,
    apepy_ok,
    make_project,
    platform_wheel,
    run_apepy,
    run_clean,
    serving,
)
from wheelmaker import make_wheel

from apepy import sources

CLI_TOOL = REPO / "examples" / "cli-tool"


@pytest.fixture(scope="session")
def flask_bundle(built_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flask") / "hello"
    apepy_ok("bundle", FLASK_HELLO, "-o", out, "--base", built_python)
    return out


@pytest.fixture()
def served(flask_bundle: Path, tmp_path: Path) -> Iterator[str]:
    """The bundle started from an empty directory with an empty environment, on 127.0.0.1."""
    home = tmp_path / "home"
    home.mkdir()
    with serving([str(flask_bundle), "--host", "127.0.0.1"], tmp_path, {"HOME": str(home)}) as url:
        yield url


def test_flask_demo_serves_page_and_static_file(served: str) -> None:
    with urllib.request.urlopen(served + "/", timeout=10) as response:
        page = response.read().decode()
    assert "<h1>Hello from one file</h1>" in page
    assert "Flask 3." in page
    with urllib.request.urlopen(served + "/static/style.css", timeout=10) as response:
        css = response.read()
    assert css == (FLASK_HELLO / "flask_hello" / "static" / "style.css").read_bytes()


def test_flask_bundle_layout(flask_bundle: Path) -> None:
    with zipfile.ZipFile(flask_bundle) as archive:
        names = set(archive.namelist())
        args = archive.read(".args").decode()
        config = json.loads(archive.read(".apepy/bundle.json"))
        assert archive.testzip() is None
        pyc = archive.getinfo("Lib/site-packages/flask/__init__.pyc")
        assert pyc.compress_type == zipfile.ZIP_STORED
        # The stdlib's hot modules stored, the rest deflated (interpreter/stdlib.py).
        assert archive.getinfo("Lib/json/__init__.pyc").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("Lib/tomllib/_parser.pyc").compress_type == zipfile.ZIP_DEFLATED
    assert args.splitlines() == ["-I", "-m", "_apepy_boot", "..."]
    assert {"Lib/site-packages/flask/", "Lib/site-packages/flask/sansio/", "Lib/os.pyc"} <= names
    assert any(
        n.startswith("Lib/site-packages/flask-") and n.endswith(".dist-info/METADATA")
        for n in names
    )
    assert "Lib/site-packages/flask_hello/templates/index.html" in names
    assert config["entry"] == {"kind": "function", "target": "flask_hello.app:main"}
    assert {d["name"].lower() for d in config["distributions"]} >= {
        "flask",
        "werkzeug",
        "jinja2",
        "markupsafe",
    }
    info = run_apepy("info", flask_bundle).stdout
    assert "flask_hello.app:main" in info and "Flask 3." in info
    # markupsafe's C speedups cannot load into a static interpreter: dropped, pure Python kept.
    assert not any(
        n.startswith("Lib/site-packages/markupsafe/") and n.endswith(".so") for n in names
    )


def test_metadata_and_plain_interpreter_bypass(flask_bundle: Path, tmp_path: Path) -> None:
    code = "import importlib.metadata as m, sys; print(m.version('flask'), m.version('flask-hello'), sys.flags.isolated)"
    result = run_clean(flask_bundle, "-c", code, cwd=tmp_path, env={"APEPY_PLAIN": "1"})
    assert result.returncode == 0, result.stderr
    flask_version, app_version, isolated = result.stdout.split()
    assert flask_version.startswith("3.") and app_version == "1.0.0" and isolated == "0"


def test_isolation_from_hostile_environment(flask_bundle: Path, tmp_path: Path) -> None:
    """json.py in the cwd, on PYTHONPATH and in the user site, and PYTHONSTARTUP: all ignored."""
    hostile = "raise SystemExit('hostile module imported')\n"
    (tmp_path / "json.py").write_text(hostile)
    pp = tmp_path / "pp"
    pp.mkdir()
    (pp / "json.py").write_text(hostile)
    (pp / "flask.py").write_text(hostile)
    home = tmp_path / "home"
    user_site = home / ".local" / "lib" / "python3.13" / "site-packages"
    user_site.mkdir(parents=True)
    (user_site / "werkzeug.py").write_text(hostile)
    (tmp_path / "startup.py").write_text(hostile)
    env = {
        "HOME": str(home),
        "PYTHONPATH": str(pp),
        "PYTHONSTARTUP": str(tmp_path / "startup.py"),
        "PYTHONHOME": str(tmp_path),
    }
    result = run_clean(flask_bundle, "--help", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "Serve the flask-hello demo" in result.stdout


def test_user_arguments_cannot_become_interpreter_options(
    flask_bundle: Path, tmp_path: Path
) -> None:
    """`.args` puts the user's arguments after `-I -m _apepy_boot`: they reach the app's
    argv and never the interpreter, so `-c`, `-m`, `-E`/`-X` cannot change what runs."""
    marker = tmp_path / "injected"
    for args in (
        ["-c", f"open({str(marker)!r}, 'w')"],
        ["-m", "json.tool"],
        ["-E", "-X", "importtime", "-i"],
    ):
        result = run_clean(flask_bundle, *args, cwd=tmp_path, env={"HOME": str(tmp_path)})
        # The app's own argument parser rejects them (usage, exit 2): they were its argv.
        assert result.returncode == 2, (args, result.stderr)
        assert "usage:" in result.stderr and "unrecognized arguments" in result.stderr
        assert "import time:" not in result.stderr
    assert not marker.exists()


def test_busybox_dispatch_and_links(tmp_path: Path, built_python: Path) -> None:
    out = tmp_path / "greeter"
    links = tmp_path / "bin"
    result = run_apepy("bundle", CLI_TOOL, "-o", out, "--base", built_python, "--link", links)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in links.iterdir()) == ["greet", "shout"]
    greet = run_clean(links / "greet", "World", "--polite", cwd=tmp_path)
    assert greet.stdout == "Good day, World!\n", greet.stderr
    shout = run_clean(links / "shout", "hi", "there", cwd=tmp_path)
    assert shout.stdout == "HI THERE!\n", shout.stderr
    # Found through PATH too, and as `greeter COMMAND` under its own name.
    via_path = subprocess.run(
        ["greet", "Ann"], capture_output=True, text=True, env={"PATH": str(links)}
    )
    assert via_path.stdout == "Hello, Ann!\n", via_path.stderr
    assert run_clean(out, "shout", "ok", cwd=tmp_path).stdout == "OK!\n"
    usage = run_clean(out, cwd=tmp_path)
    assert usage.returncode == 2 and "greet, shout" in usage.stderr
    # argparse sees the command's own name.
    assert "usage: greet" in run_clean(links / "greet", "--help", cwd=tmp_path).stdout


def test_pep723_script_with_subprocess_and_multiprocessing(
    tmp_path: Path, built_python: Path
) -> None:
    script = tmp_path / "tool.py"
    script.write_text(
        "# /// script\n# requires-python = '>=3.11'\n# dependencies = []\n# ///\n"
        "import multiprocessing, subprocess, sys\n"
        "def square(x):\n    return x * x\n"
        "if __name__ == '__main__':\n"
        "    child = subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True)\n"
        "    ctx = multiprocessing.get_context('spawn')\n"
        "    with ctx.Pool(2) as pool:\n        squares = pool.map(square, range(4))\n"
        "    print(child.stdout.strip(), squares, sys.argv[1:])\n"
    )
    out = tmp_path / "tool"
    result = run_apepy("bundle", script, "-o", out, "--base", built_python)
    assert result.returncode == 0, result.stderr
    run = run_clean(out, "a", "b", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "42 [0, 1, 4, 9] ['a', 'b']"


def test_same_inputs_same_bytes(tmp_path: Path, built_python: Path) -> None:
    outputs = []
    for name in ("one", "two"):
        out = tmp_path / name
        result = run_apepy(
            "bundle",
            CLI_TOOL,
            "-o",
            out,
            "--base",
            built_python,
            env={"SOURCE_DATE_EPOCH": "1700000000"},
        )
        assert result.returncode == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_warm_bundle_does_no_network(
    flask_bundle: Path, built_python: Path, tmp_path: Path
) -> None:
    """The resolution is cached: with the index unreachable, the same bundle still builds."""
    out = tmp_path / "hello"
    result = run_apepy(
        "bundle",
        FLASK_HELLO,
        "-o",
        out,
        "--base",
        built_python,
        env={"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "HTTPS_PROXY": "http://127.0.0.1:9"},
    )
    assert result.returncode == 0, result.stderr
    assert "from the cache (no network)" in result.stderr


# --- errors: one message, exit 1, nothing written ------------------------------------------


def assert_refused(result: subprocess.CompletedProcess[str], out: Path, *needles: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.*"))


def test_unknown_entry_point(tmp_path: Path, built_python: Path) -> None:
    out = tmp_path / "out"
    result = run_apepy(
        "bundle", CLI_TOOL, "-o", out, "--base", built_python, "--entry", "greeter.cli:nope"
    )
    assert_refused(result, out, "defines no 'nope'")
    result = run_apepy("bundle", CLI_TOOL, "-o", out, "--base", built_python, "-m", "nothere")
    assert_refused(result, out, "module 'nothere' is not in the bundle")


def test_project_without_pyproject_or_code(tmp_path: Path, built_python: Path) -> None:
    out = tmp_path / "out"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_refused(
        run_apepy("bundle", empty, "-o", out, "--base", built_python), out, "has no pyproject.toml"
    )
    (empty / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert_refused(
        run_apepy("bundle", empty, "-o", out, "--base", built_python), out, "is an empty project"
    )
    (empty / "pyproject.toml").write_text("[project\nname = ")
    assert_refused(
        run_apepy("bundle", empty, "-o", out, "--base", built_python), out, "not valid TOML"
    )


def test_bad_pep723_block(tmp_path: Path, built_python: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("# /// script\n# dependencies = [unquoted\n# ///\nprint(1)\n")
    out = tmp_path / "out"
    assert_refused(
        run_apepy("bundle", script, "-o", out, "--base", built_python), out, "not valid TOML"
    )


def test_dependency_without_a_wheel(tmp_path: Path, built_python: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    (links / "sdistonly-1.0.tar.gz").write_bytes(b"not really")
    project = make_project(tmp_path / "p", ["sdistonly"])
    out = tmp_path / "out"
    result = run_apepy(
        "bundle", project, "-o", out, "--base", built_python, "--no-index", "--find-links", links
    )
    assert_refused(result, out, "no wheel of sdistonly fits the base")


def test_dependency_that_needs_a_missing_c_extension(
    tmp_path: Path, built_python: Path, release: sources.Release
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    tag, suffix = platform_wheel(release)
    make_wheel(
        links,
        "fastthing",
        "1.0",
        {
            "fastthing/__init__.py": b"from ._core import go\n",
            f"fastthing/_core{suffix}": b"\x7fELF not really",
        },
        tag=tag,
    )
    make_wheel(
        links,
        "softthing",
        "1.0",
        {
            "softthing/__init__.py": b"try:\n    from ._speed import go\nexcept ImportError:\n    def go(): return 'slow'\n",
            f"softthing/_speed{suffix}": b"\x7fELF not really",
            # PyYAML's `_yaml`: a private top-level shim that works only with the C module.
            "_softthing/__init__.py": b"from softthing._speed import go\n",
        },
        tag=tag,
    )
    out = tmp_path / "out"
    project = make_project(tmp_path / "p", ["fastthing"])
    result = run_apepy(
        "bundle", project, "-o", out, "--base", built_python, "--no-index", "--find-links", links
    )
    assert_refused(result, out, "fastthing 1.0 needs its C extension", "cannot load .so")
    assert "apepy build --with fastthing==1.0" in result.stderr
    soft = make_project(
        tmp_path / "soft",
        ["softthing"],
        code="import softthing\ndef main():\n    print(softthing.go())\n",
    )
    result = run_apepy(
        "bundle", soft, "-o", out, "--base", built_python, "--no-index", "--find-links", links
    )
    assert result.returncode == 0, result.stderr
    assert "C speedups" in result.stderr
    assert run_clean(out, cwd=tmp_path).stdout == "slow\n"


def test_conflicting_and_tampered_wheels(tmp_path: Path, built_python: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "left", "1.0", {"shared/x.py": b"A = 1\n"})
    make_wheel(links, "right", "1.0", {"shared/x.py": b"A = 2\n"})
    make_wheel(links, "bent", "1.0", {"bent/__init__.py": b"B = 1\n"}, tamper="bent/__init__.py")
    out = tmp_path / "out"
    project = make_project(tmp_path / "p", ["left", "right"])
    result = run_apepy(
        "bundle", project, "-o", out, "--base", built_python, "--no-index", "--find-links", links
    )
    assert_refused(result, out, "both install shared/x.py")
    project = make_project(tmp_path / "q", ["bent"])
    result = run_apepy(
        "bundle", project, "-o", out, "--base", built_python, "--no-index", "--find-links", links
    )
    assert_refused(result, out, "fails its RECORD check")


def test_bad_bases(tmp_path: Path, built_python: Path) -> None:
    out = tmp_path / "out"
    plain = tmp_path / "true"
    shutil.copy("/bin/true", plain)
    result = run_apepy("bundle", CLI_TOOL, "-o", out, "--base", plain)
    assert_refused(result, out, "is not an executable with a zip store")
    copy = tmp_path / "python"
    shutil.copy2(built_python, copy)
    before = copy.read_bytes()
    result = run_apepy("bundle", CLI_TOOL, "-o", copy, "--base", copy)
    assert result.returncode == 1 and "the output path is the base" in result.stderr
    assert copy.read_bytes() == before
    assert os.access(copy, os.X_OK)


def test_resources_from_the_zip_and_extract_for_real_paths(
    tmp_path: Path, built_python: Path
) -> None:
    """importlib.resources reads inside the file; a package that open()s a path beside its
    __file__ is unpacked once on first start (found from its code, or named with
    --extract when its code does not show it), and reused afterwards."""
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(
        links,
        "tables",
        "1.0",
        {
            "tables/__init__.py": b"import importlib.resources\n"
            b"def via_resources():\n    return importlib.resources.files(__name__).joinpath('t.txt').read_text()\n",
            "tables/t.txt": b"from the zip\n",
        },
    )
    make_wheel(
        links,
        "pathy",
        "1.0",
        {
            "pathy/__init__.py": b"import os\n"
            b"def read():\n    return open(os.path.join(os.path.dirname(__file__), 'p.txt')).read()\n",
            "pathy/p.txt": b"from a real file\n",
        },
    )
    # The file's name is made at run time: nothing in the code names it.
    make_wheel(
        links,
        "hidden",
        "1.0",
        {
            "hidden/__init__.py": b"import os\n"
            b"def read():\n    return open(os.path.join(os.path.dirname(__file__), 'h' + '.txt')).read()\n",
            "hidden/h.txt": b"found by --extract\n",
        },
    )
    code = (
        "import tables, pathy, hidden\n"
        "def main():\n    print(tables.via_resources() + pathy.read() + hidden.read(), end='')\n"
    )
    project = make_project(tmp_path / "p", ["tables", "pathy", "hidden"], code=code)
    out = tmp_path / "out"
    home = tmp_path / "home"
    home.mkdir()
    args = [
        "bundle",
        project,
        "-o",
        out,
        "--base",
        built_python,
        "--no-index",
        "--find-links",
        links,
    ]
    first = run_apepy(*args)
    assert first.returncode == 0, first.stderr
    assert "pathy: reads its data files from disk" in first.stderr
    assert "hidden:" not in first.stderr and "tables:" not in first.stderr
    without = run_clean(out, cwd=tmp_path, env={"HOME": str(home)})
    assert without.returncode != 0 and "h.txt" in without.stderr
    result = run_apepy(*args, "--extract", "hidden")
    assert result.returncode == 0, result.stderr
    for _ in range(2):
        run = run_clean(out, cwd=tmp_path, env={"HOME": str(home)})
        assert run.stdout == "from the zip\nfrom a real file\nfound by --extract\n", run.stderr
    unpacked = sorted(p.name.split("-")[0] for p in (home / ".cache" / "apepy-run").iterdir())
    assert unpacked == ["hidden", "pathy"]
    assert (
        (home / ".cache" / "apepy-run")
        .joinpath(
            next(
                p.name
                for p in (home / ".cache" / "apepy-run").iterdir()
                if p.name.startswith("pathy")
            ),
            "pathy",
            "p.txt",
        )
        .is_file()
    )


def test_relative_base_path(tmp_path: Path, built_python: Path) -> None:
    """`--base dist/python` as a user types it (found missing by running scripts/demo)."""
    (tmp_path / "dist").mkdir()
    shutil.copy2(built_python, tmp_path / "dist" / "python")
    result = run_apepy(
        "bundle", CLI_TOOL, "--base", "dist/python", "-o", "dist/greeter", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (
        run_clean(tmp_path / "dist" / "greeter", "greet", "rel", cwd=tmp_path).stdout
        == "Hello, rel!\n"
    )


def test_tool_apepy_options_from_pyproject(tmp_path: Path, built_python: Path) -> None:
    """[tool.apepy] mirrors the flags; its base path is relative to the project."""
    shutil.copy2(built_python, tmp_path / "python")
    project = make_project(
        tmp_path / "proj",
        [],
        code="def main():\n    print('from tool config')\n",
        extra="[tool.apepy]\nbase = '../python'\noutput = 'configured'\n",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_apepy("bundle", project, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert run_clean(elsewhere / "configured", cwd=tmp_path).stdout == "from tool config\n"
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text() + "bogus = 1\n"
    )
    bad = run_apepy("bundle", project, cwd=elsewhere)
    assert bad.returncode == 1 and "unknown key [tool.apepy] bogus" in bad.stderr
