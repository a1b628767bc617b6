"""What is inside a file, provably: its SBOM, its lock, and `apepy verify --deep`, on a
real interpreter and a real bundle of the Flask demo."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
import tomli_w
from conftest import FLASK_HELLO, run_apepy, serve_directory
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from test_cli_errors import assert_clean_failure
from wheelmaker import make_wheel

from apepy import manifest, zipstore
from apepy.interpreter import modules
from apepy.lock import LOCK_ARCNAME
from apepy.sbom import SBOM_ARCNAME

# The bundles' dates: same inputs, same bytes.
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}


def sbom_of(path: Path) -> dict[str, object]:
    raw = zipstore.read_member(path, SBOM_ARCNAME)
    assert raw is not None
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(raw.decode()) is None
    data: dict[str, object] = json.loads(raw)
    return data


def components(data: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["bom-ref"]: c for c in data["components"]}  # type: ignore[attr-defined,index]


def props(component: dict[str, object], name: str) -> list[str]:
    found = component.get("properties", [])
    return [p["value"] for p in found if p["name"] == "apepy:" + name]  # type: ignore[attr-defined,index]


@pytest.fixture(scope="module")
def hello(built_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The Flask demo bundled onto the shared interpreter, and the lock it wrote."""
    out = tmp_path_factory.mktemp("provenance") / "hello"
    lock_out = out.with_name("first.pylock.toml")
    result = run_apepy(
        "bundle", FLASK_HELLO, "--base", built_python, "-o", out, "--lock-out", lock_out, env=EPOCH
    )
    assert result.returncode == 0, result.stderr
    return out, lock_out


def test_interpreter_sbom_lists_what_the_manifest_says(built_python: Path) -> None:
    data = sbom_of(built_python)
    found = manifest.read(built_python)
    assert found is not None
    parts = components(data)
    cpython = parts["cpython"]
    assert cpython["version"] == found.python_version
    assert cpython["hashes"] == [{"alg": "SHA-256", "content": found.source_sha256}]
    assert cpython["licenses"] == [{"license": {"id": "PSF-2.0"}}]
    # Every library behind a built-in module is there, by its archive, with its users.
    libraries = [c for ref, c in parts.items() if ref.startswith("c-library:")]
    archives = {a: c for c in libraries for a in props(c, "archive")}
    for module in set(found.builtin_modules) & set(modules.NEEDS):
        for archive in modules.NEEDS[module].libraries:
            assert module in props(archives[archive], "linked-by"), archive
    # The system's archives are named by the package that installed them, at its version.
    ssl = archives["libssl.a"]
    if shutil.which("dpkg-query"):
        shown = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", "libssl-dev"], capture_output=True, text=True
        )
        assert ssl["version"] == shown.stdout and props(ssl, "system-package") == ["libssl-dev"]
    tools = {t["name"] for t in data["metadata"]["tools"]["components"]}  # type: ignore[index]
    assert "apepy" in tools and "host compiler" in tools
    info = run_apepy("info", built_python).stdout
    assert "licences" in info and "PSF-2.0" in info
    if "readline" in found.builtin_modules and "libreadline.a" in archives:
        # GNU readline from the system is GPL: said by name.
        assert "copyleft (GPL)" in info and "readline" in info


def test_sbom_command_and_spdx(built_python: Path, tmp_path: Path) -> None:
    result = run_apepy("sbom", built_python)
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == zipstore.read_member(built_python, SBOM_ARCNAME)
    spdx = run_apepy("sbom", "--format", "spdx", built_python)
    assert spdx.returncode == 0, spdx.stderr
    document = json.loads(spdx.stdout)
    assert document["spdxVersion"] == "SPDX-2.3"
    assert len(document["packages"]) == len(json.loads(result.stdout)["components"]) + 1


def test_bundle_carries_its_lock_and_an_sbom_with_its_base(
    hello: tuple[Path, Path], built_python: Path
) -> None:
    out, lock_out = hello
    inside = zipstore.read_member(out, LOCK_ARCNAME)
    assert inside == lock_out.read_bytes()
    locked = tomllib.loads(inside.decode())
    config = json.loads(zipstore.read_member(out, ".apepy/bundle.json") or b"")
    names = {p["name"] for p in locked["packages"]}
    assert names == {d["name"].lower() for d in config["distributions"]}
    assert locked["requires-python"] == "==3.13.*"
    data = sbom_of(out)
    parts = components(data)
    # The base's components, and the base itself.
    assert set(components(sbom_of(built_python))) < set(parts)
    assert "apepy-interpreter" in parts
    assert data["metadata"]["component"]["name"] == "flask-hello"  # type: ignore[index]
    for package in locked["packages"]:
        wheel = parts[f"wheel:{package['name']}"]
        sha256 = package["wheels"][0]["hashes"]["sha256"]
        assert wheel["hashes"] == [{"alg": "SHA-256", "content": sha256}]
        assert wheel["purl"].startswith(f"pkg:pypi/{package['name']}@{package['version']}")  # type: ignore[attr-defined]
    assert parts["wheel:flask"]["licenses"]


def test_lock_round_trip_gives_the_same_bytes(
    hello: tuple[Path, Path], built_python: Path, tmp_path: Path
) -> None:
    """lock → bundle → lock → bundle, offline: the same file and the same lock each time."""
    first, lock = hello
    project = tmp_path / "flask-hello"
    shutil.copytree(FLASK_HELLO, project)
    made = []
    for round_ in (1, 2):
        shutil.copyfile(lock, project / "pylock.toml")
        out = tmp_path / f"hello-{round_}"
        lock = tmp_path / f"lock-{round_}.toml"
        result = run_apepy(
            "bundle", project, "--base", built_python, "-o", out, "--lock-out", lock,
            "--locked", "--offline", "--no-index", env=EPOCH,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "resolve" not in result.stderr  # pip was not asked
        made.append((out.read_bytes(), lock.read_bytes()))
    assert made[0] == made[1] == (first.read_bytes(), hello[1].read_bytes())


def test_lock_from_a_url_and_a_tampered_one(
    built_python: Path, tmp_path: Path, isolated_cache: Path
) -> None:
    """A wheel that is nowhere at hand comes from the lock's URL, checked by its sha256."""
    served = tmp_path / "served"
    served.mkdir()
    # Made here, with this test's path in it: no cache has it.
    wheel = make_wheel(
        served, "urlthing", "1.0", {"urlthing/__init__.py": f"WHERE = {str(tmp_path)!r}\n".encode()}
    )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with serve_directory(served) as url:
        for sha256, ok in ((digest, True), ("0" * 64, False)):
            (tmp_path / "pylock.toml").write_text(
                'lock-version = "1.0"\ncreated-by = "test"\n[[packages]]\nname = "urlthing"\n'
                f'version = "1.0"\n[[packages.wheels]]\nurl = "{url}/{wheel.name}"\n'
                f'hashes = {{sha256 = "{sha256}"}}\n'
            )
            out = tmp_path / f"url-app-{ok}"
            result = run_apepy(
                "bundle", tmp_path / "pylock.toml", "-m", "urlthing", "--base", built_python,
                "-o", out,
            )  # fmt: skip
            if ok:
                assert result.returncode == 0, result.stderr
                inside = zipstore.read_member(out, LOCK_ARCNAME) or b""
                assert f'url = "{url}/{wheel.name}"' in inside.decode()
            else:
                assert_clean_failure(result, "checksum mismatch", wheel.name)
                assert not out.exists()


def test_locks_that_do_not_fit_the_base(
    hello: tuple[Path, Path], built_python: Path, tmp_path: Path
) -> None:
    _, lock = hello
    head = 'lock-version = "1.0"\ncreated-by = "test"\n'
    wrong_platform = (
        head + '[[packages]]\nname = "markupsafe"\nversion = "3.0.4"\n[[packages.wheels]]\n'
        'name = "markupsafe-3.0.4-cp312-cp312-win_amd64.whl"\npath = "m.whl"\n'
        f'hashes = {{sha256 = "{"a" * 64}"}}\n'
    )
    sdist_only = (
        head + '[[packages]]\nname = "markupsafe"\nversion = "3.0.4"\n[packages.sdist]\n'
        f'name = "markupsafe-3.0.4.tar.gz"\npath = "m.tar.gz"\nhashes = {{sha256 = "{"a" * 64}"}}\n'
    )
    text = lock.read_text()
    for body, needles in (
        (text.replace('"==3.13.*"', '"==3.11.*"'), ("does not fit the base", "3.11")),
        (wrong_platform, ("does not fit the base", "markupsafe")),
        (sdist_only, ("package markupsafe has no wheel", "sdist only")),
    ):
        (tmp_path / "pylock.toml").write_text(body)
        out = tmp_path / "out"
        result = run_apepy(
            "bundle", tmp_path / "pylock.toml", "-m", "json", "--base", built_python, "-o", out
        )
        assert_clean_failure(result, *needles)
        assert not out.exists()
    # A wheel beside the lock that is not the locked one: tampered, named.
    blinker = next(p for p in tomllib.loads(text)["packages"] if p["name"] == "blinker")
    wheel_name = blinker["wheels"][0]["name"]
    (tmp_path / wheel_name).write_bytes(b"not the wheel")
    (tmp_path / "pylock.toml").write_text(
        head + '[[packages]]\nname = "blinker"\n[[packages.wheels]]\n'
        f'path = "{wheel_name}"\nhashes = {{sha256 = "{"b" * 64}"}}\n'
    )
    result = run_apepy(
        "bundle", tmp_path / "pylock.toml", "-m", "blinker", "--base", built_python, "-o", out
    )
    assert_clean_failure(result, wheel_name, "does not match the lock's sha256")
    # --locked: a lock that lacks a dependency of the project.
    project = tmp_path / "proj"
    shutil.copytree(FLASK_HELLO, project)
    without_flask = tomllib.loads(text)
    without_flask["packages"] = [p for p in without_flask["packages"] if p["name"] != "flask"]
    (project / "pylock.toml").write_text(tomli_w.dumps(without_flask))
    result = run_apepy("bundle", project, "--locked", "--base", built_python, "-o", out)
    assert_clean_failure(result, "does not satisfy the project's dependencies", "flask>=")
    assert not out.exists()


def test_deep_verify_names_what_changed(hello: tuple[Path, Path], tmp_path: Path) -> None:
    out, _ = hello
    ok = run_apepy("verify", "--deep", out)
    assert ok.returncode == 0, ok.stderr
    for line in ("RECORD:", "built-in modules:", ".pyc:", "SBOM:", "lock: 7 packages"):
        assert line in ok.stderr, ok.stderr
    # A dependency's module replaced with apepy add: its RECORD hash and its .pyc say so.
    changed = tmp_path / "changed"
    shutil.copy2(out, changed)
    evil = tmp_path / "evil" / "flask"
    evil.mkdir(parents=True)
    (evil / "app.py").write_text("print('changed')\n")
    assert run_apepy("add", changed, evil, "--at", "Lib/site-packages").returncode == 0
    result = run_apepy("verify", "--deep", changed)
    assert_clean_failure(result, "flask/app.py was changed", "flask/app.pyc is not the compiled")
    # A module slipped into a dependency's package with zip's append.
    slipped = tmp_path / "slipped"
    shutil.copy2(out, slipped)
    with zipfile.ZipFile(slipped, "a") as archive:
        archive.writestr("Lib/site-packages/jinja2/extra.py", "x = 1\n")
    result = run_apepy("verify", "--deep", slipped)
    assert_clean_failure(result, "jinja2/extra.py is not in the RECORD")
    # Only a compiled module replaced: the source is intact, the .pyc is not.
    pyc_only = tmp_path / "pyc-only"
    shutil.copy2(out, pyc_only)
    other = zipstore.read_member(out, "Lib/site-packages/flask/json/tag.pyc")
    assert other is not None
    target = tmp_path / "p" / "flask"
    target.mkdir(parents=True)
    (target / "app.pyc").write_bytes(other)
    assert run_apepy("add", pyc_only, target, "--at", "Lib/site-packages").returncode == 0
    result = run_apepy("verify", "--deep", pyc_only)
    assert_clean_failure(result, "flask/app.pyc is not the compiled form")
    assert "flask/app.py was changed" not in result.stderr
