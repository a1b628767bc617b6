"""The flask-hello bundle: build time, size, start-up to first request, `import flask`.

Compared with the same app in a venv of the same CPython built the ordinary way
(benchmarks/startup.py builds it), and with PyInstaller --onefile of the same app
on that ordinary interpreter. Runs are interleaved; medians are reported.
Results go to benchmarks/results/bundle.json.

    .venv/bin/python benchmarks/bundle.py [--runs 20] [--no-pyinstaller]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"
RESULTS = HERE / "results"
APP = REPO / "examples" / "flask-hello"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def apepy(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "apepy", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def first_request(cmd: list[str], cwd: Path, env: dict[str, str], path: str = "/health") -> float:
    """Seconds from process start until GET ``path`` answers 200."""
    port = free_port()
    start = time.perf_counter()
    # A session of its own, so the whole group (PyInstaller's bootloader and its
    # child) is stopped afterwards.
    proc = subprocess.Popen(
        [*cmd, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}{path}", timeout=1
                ) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[0]} exited before serving") from None
                if time.perf_counter() - start > 60:
                    raise RuntimeError(f"{cmd[0]} did not serve within 60 s") from None
                time.sleep(0.002)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def wheel_dir(project: str = "flask") -> Path:
    """The newest cached resolution holding ``project``'s wheel: the bundle's own wheels."""
    from apepy.cache import cache_root

    dirs = [
        d
        for d in (cache_root() / "wheels").iterdir()
        if (d / "resolved.json").is_file()
        and any(
            n.lower().startswith(project + "-")
            for n in json.loads((d / "resolved.json").read_text())
        )
    ]
    return max(dirs, key=lambda d: d.stat().st_mtime)


def venv_with_flask(ordinary: Path, venv: Path, *extra: str) -> Path:
    """A venv of the ordinary build with the bundle's own Flask wheels (same versions)."""
    python = venv / "bin" / "python"
    if not python.exists() or extra:
        subprocess.run([str(ordinary), "-m", "venv", str(venv)], check=True)
        if extra:
            subprocess.run([str(python), "-m", "pip", "install", "-q", *extra], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links"]
        subprocess.run([*pip, str(wheel_dir()), "flask"], check=True)
    return venv


def interpreters() -> tuple[str, Path, Path] | None:
    """(version, the ordinary build's python, the single-file base), or None with a message."""
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import local_release

    release = local_release("3.13")
    if release is None:
        print("no CPython tarball in the source cache: run scripts/setup", file=sys.stderr)
        return None
    ordinary = WORK / f"ordinary-{release.version}" / "bin" / "python3.13"
    if not ordinary.exists():
        print(
            "run benchmarks/startup.py first: it builds the ordinary interpreter", file=sys.stderr
        )
        return None
    WORK.mkdir(exist_ok=True)
    base = WORK / f"single-{release.version}"
    apepy("build", "--python", release.version, "--offline", "-o", str(base))
    return release.version, ordinary, base


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-pyinstaller", action="store_true")
    args = parser.parse_args()
    found = interpreters()
    if found is None:
        return 1
    version, ordinary, base = found

    hello = WORK / "hello"
    apepy("bundle", str(APP), "--base", str(base), "-o", str(hello))  # cold or warm, not timed
    warm = []
    for _ in range(3):
        start = time.perf_counter()
        apepy("bundle", str(APP), "--base", str(base), "-o", str(hello))
        warm.append(time.perf_counter() - start)

    pruned = WORK / "hello-pruned"
    apepy("bundle", str(APP), "--base", str(base), "-o", str(pruned), "--prune")

    venv = venv_with_flask(ordinary, WORK / "venv-flask")

    variants: dict[str, tuple[list[str], Path, dict[str, str]]] = {}
    home = Path(tempfile.mkdtemp())
    variants["single-file bundle"] = ([str(hello)], home, {"HOME": str(home)})
    variants["single-file bundle --prune"] = ([str(pruned)], home, {"HOME": str(home)})
    variants["venv (ordinary build)"] = (
        [str(venv / "bin" / "python"), "-m", "flask_hello.app"],
        APP,
        {},
    )

    report: dict[str, object] = {
        "python": version,
        "runs": args.runs,
        "date": time.strftime("%Y-%m-%d"),
        "warm_bundle_seconds_median": round(statistics.median(warm), 2),
        "sizes_bytes": {
            "single-file bundle": hello.stat().st_size,
            "single-file bundle --prune": pruned.stat().st_size,
        },
    }

    if not args.no_pyinstaller:
        pyi = pyinstaller_build(ordinary)
        report["pyinstaller"] = {
            "build_seconds": round(pyi[1], 1),
            "size_bytes": pyi[0].stat().st_size,
        }
        report["sizes_bytes"]["pyinstaller --onefile"] = pyi[0].stat().st_size  # type: ignore[index]
        variants["pyinstaller --onefile"] = ([str(pyi[0])], home, {"HOME": str(home)})

    samples: dict[str, list[float]] = {k: [] for k in variants}
    for cmd, cwd, env in variants.values():  # warm-up: first-start extraction, page cache
        first_request(cmd, cwd, env)
    for _ in range(args.runs):
        for name, (cmd, cwd, env) in variants.items():
            samples[name].append(first_request(cmd, cwd, env))
    first = {k: round(statistics.median(v) * 1000, 1) for k, v in samples.items()}

    imports = {"single-file bundle": [], "venv (ordinary build)": []}  # type: dict[str, list[float]]
    import_cmds = {
        "single-file bundle": ([str(hello), "-I", "-c", "import flask"], {"APEPY_PLAIN": "1"}),
        "venv (ordinary build)": ([str(venv / "bin" / "python"), "-I", "-c", "import flask"], {}),
    }
    for _ in range(args.runs):
        for name, (cmd, env) in import_cmds.items():
            imports[name].append(timed(cmd, home, env))
    import_ms = {k: round(statistics.median(v) * 1000, 1) for k, v in imports.items()}

    report["first_request_ms_median"] = first
    report["first_request_ratio_single_over_venv"] = round(
        first["single-file bundle"] / first["venv (ordinary build)"], 3
    )
    report["import_flask_ms_median"] = import_ms
    report["import_flask_ratio_single_over_venv"] = round(
        import_ms["single-file bundle"] / import_ms["venv (ordinary build)"], 3
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bundle.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    shutil.rmtree(home, ignore_errors=True)
    return 0


def pyinstaller_build(ordinary: Path) -> tuple[Path, float]:
    """PyInstaller --onefile of the same app on the ordinary interpreter; (file, build seconds)."""
    venv = WORK / "venv-pyinstaller"
    if not (venv / "bin" / "pyinstaller").exists():
        venv_with_flask(ordinary, venv, "pyinstaller")
    build = WORK / "pyinstaller"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir()
    (build / "run_hello.py").write_text("from flask_hello.app import main\nmain()\n")
    sep = os.pathsep
    start = time.perf_counter()
    subprocess.run(
        [
            str(venv / "bin" / "pyinstaller"),
            "--onefile",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--name",
            "hello-pyi",
            "--paths",
            str(APP),
            "--add-data",
            f"{APP / 'flask_hello' / 'templates'}{sep}flask_hello/templates",
            "--add-data",
            f"{APP / 'flask_hello' / 'static'}{sep}flask_hello/static",
            "--distpath",
            str(build / "dist"),
            "--workpath",
            str(build / "work"),
            "--specpath",
            str(build),
            str(build / "run_hello.py"),
        ],
        check=True,
        cwd=build,
    )
    return build / "dist" / "hello-pyi", time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
