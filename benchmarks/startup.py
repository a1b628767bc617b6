"""Start-up of the single file vs the same CPython built the ordinary way.

The ordinary build is the same source tarball configured with --enable-shared
(libpython3.x.so, stdlib on disk with its __pycache__) and installed to a prefix.
Both run from an empty directory with an empty environment; runs are interleaved
so that machine noise hits both alike. Results go to benchmarks/results/startup.json.

    .venv/bin/python benchmarks/startup.py [--runs 30] [--python 3.13.15]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"

CASES = {
    "-c pass": ["-c", "pass"],
    "import json, email, http.server, asyncio": ["-c", "import json, email, http.server, asyncio"],
}


def sh(cmd: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> None:
    with open(log, "a") as sink:
        subprocess.run(cmd, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, check=True, env=env)


def ordinary_build(tarball: Path, version: str, *, optimized: bool = False) -> Path:
    """Build and install the ordinary (shared libpython, stdlib on disk) interpreter once.

    ``optimized``: CPython's own PGO + LTO build instead (``--enable-optimizations
    --with-lto``, its own profile task), as python-build-standalone ships it.
    """
    name = f"ordinary{'-pgo-lto' if optimized else ''}-{version}"
    prefix = WORK / name
    python = prefix / "bin" / f"python{'.'.join(version.split('.')[:2])}"
    if python.exists():
        return python
    src_root = WORK / f"src-{name}"
    src_root.mkdir(parents=True, exist_ok=True)
    log = WORK / f"{name}.log"
    sh(["tar", "xf", str(tarball), "-C", str(src_root)], WORK, log)
    tree = next(src_root.iterdir())
    env = dict(os.environ, LDFLAGS=f"-Wl,-rpath,{prefix}/lib")
    extra = ["--enable-optimizations", "--with-lto"] if optimized else []
    sh(
        ["./configure", f"--prefix={prefix}", "--enable-shared", "--with-ensurepip=no", *extra],
        tree,
        log,
        env,
    )
    started = time.monotonic()
    sh(["make", f"-j{os.cpu_count() or 1}"], tree, log, env)
    (WORK / f"{name}.make-seconds").write_text(f"{time.monotonic() - started:.0f}\n")
    sh(["make", "install"], tree, log, env)
    return python


def given_files(pairs: list[str]) -> dict[str, Path]:
    """``LABEL=PATH`` arguments, the paths made absolute."""
    return {label: Path(path).absolute() for label, _, path in (p.partition("=") for p in pairs)}


def files_parser(doc: str | None, *, runs: int, output: Path) -> argparse.ArgumentParser:
    """The command line of a script that measures given files: ``--file LABEL=PATH``
    (one or more), ``--runs``, ``--output``; the caller adds its own."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--output", type=Path, default=output)
    return parser


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def single_file(version: str, *extra: str) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / f"single-{version}{''.join(extra).replace('-', '')}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "apepy",
            "build",
            "--python",
            version,
            "--offline",
            *extra,
            "-o",
            str(out),
        ],
        check=True,
    )
    return out


CPU = HERE / "cpu"


def run_usage(
    cmd: list[str], cwd: Path, env: dict[str, str]
) -> tuple[float, resource.struct_rusage]:
    """Wall-clock seconds and the resource usage (its waited-for children's too) of one
    run, output discarded."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(cwd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execve(cmd[0], cmd, env)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{cmd} failed ({status})")
    return wall, usage


def run_timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one run: CPU time is what a busy
    machine inflates far less."""
    wall, usage = run_usage(cmd, cwd, env)
    return wall, usage.ru_utime + usage.ru_stime


def cpu_once(exe: Path, script: Path, cwd: Path) -> float:
    """The seconds a CPU-bound script measures itself (start-up excluded)."""
    out = subprocess.run(
        [str(exe), str(script)], cwd=cwd, env={}, check=True, capture_output=True, text=True
    )
    return float(out.stdout.split()[-1])


def time_once(exe: Path, args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(exe), *args], cwd=cwd, env={}, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


DEBIAN_PYTHON = Path("/usr/bin/python3.11")


def measure(
    variants: dict[str, Path], runs: int, empty: Path, *, cpu: bool = True
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Median ms per start-up case and per CPU script, for each variant (interleaved)."""
    cases: dict[str, dict[str, float]] = {}
    for case, case_args in CASES.items():
        samples: dict[str, list[float]] = {v: [] for v in variants}
        for exe in variants.values():  # warm the page cache and __pycache__
            time_once(exe, case_args, empty)
        for _ in range(runs):
            for name, exe in variants.items():
                samples[name].append(time_once(exe, case_args, empty))
        cases[case] = {n: statistics.median(v) * 1000 for n, v in samples.items()}
    scripts: dict[str, dict[str, float]] = {}
    for script in sorted(CPU.glob("*.py")) if cpu else []:
        samples = {v: [] for v in variants}
        for _ in range(runs):
            for name, exe in variants.items():
                samples[name].append(cpu_once(exe, script, empty))
        scripts[script.stem] = {n: statistics.median(v) * 1000 for n, v in samples.items()}
    return cases, scripts


def table(
    anchor: str, cases: dict[str, dict[str, float]], cpu: dict[str, dict[str, float]]
) -> dict:
    """Ratios against ``anchor``: start-up as single ÷ anchor, CPU as speed anchor ÷ single."""
    out: dict[str, dict] = {"cases": {}, "cpu": {}}
    for case, medians in cases.items():
        out["cases"][case] = {
            "median_ms": {k: round(v, 2) for k, v in medians.items()},
            **{
                f"ratio_{name}_over_{anchor}": round(ms / medians[anchor], 3)
                for name, ms in medians.items()
                if name != anchor
            },
        }
        print(f"{case:45s} " + "  ".join(f"{k} {v:7.2f} ms" for k, v in medians.items()))
    for bench, medians in cpu.items():
        out["cpu"][bench] = {
            "median_ms": {k: round(v, 2) for k, v in medians.items()},
            **{
                f"speed_{name}_over_{anchor}": round(medians[anchor] / ms, 3)
                for name, ms in medians.items()
                if name != anchor
            },
        }
        print(f"cpu {bench:41s} " + "  ".join(f"{k} {v:7.2f} ms" for k, v in medians.items()))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--optimize", action="store_true", help="also measure `apepy build --optimize` (PGO + LTO)"
    )
    parser.add_argument("--freeze", action="store_true", help="also measure `apepy build --freeze`")
    parser.add_argument(
        "--anchor",
        action="store_true",
        help="also compare apepy's 3.11.2 with Debian's own python3.11 (3.11.2, PGO + LTO)",
    )
    parser.add_argument(
        "--python", default=None, help="exact version (default: newest 3.13 in the source cache)"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(HERE.parent / "tests"))
    from conftest import local_release

    from apepy import sources
    from apepy.cache import cache_root

    release = sources.resolve(args.python) if args.python else local_release("3.13")
    if release is None:
        print("no CPython tarball in the source cache: run scripts/setup", file=sys.stderr)
        return 1
    tarball = cache_root() / "sources" / release.filename
    WORK.mkdir(parents=True, exist_ok=True)
    variants = {
        "ordinary": ordinary_build(tarball, release.version),
        "single-file": single_file(release.version),
    }
    if args.freeze:
        variants["single-file --freeze"] = single_file(release.version, "--freeze")
    if args.optimize:
        # PGO + LTO: a build of ~40 min on 2 cores the first time, cached after.
        variants["single-file --optimize"] = single_file(release.version, "--optimize")

    report: dict[str, object] = {
        "python": release.version,
        "runs": args.runs,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "date": time.strftime("%Y-%m-%d"),
        "sizes_bytes": {
            name: exe.stat().st_size for name, exe in variants.items() if name != "ordinary"
        },
    }
    with tempfile.TemporaryDirectory() as empty:
        cases, cpu = measure(variants, args.runs, Path(empty))
        report.update(table("ordinary", cases, cpu))
        if args.anchor:
            if not DEBIAN_PYTHON.exists():
                print(f"{DEBIAN_PYTHON} is missing: apt-get install python3.11", file=sys.stderr)
                return 1
            anchor = {"debian": DEBIAN_PYTHON, "single-file": single_file("3.11.2")}
            print("-- apepy 3.11.2 vs Debian's python3.11")
            cases, cpu = measure(anchor, args.runs, Path(empty))
            report["anchor"] = {
                "what": "Debian's /usr/bin/python3.11 (3.11.2, PGO + LTO) vs apepy build --python 3.11.2",
                "size_bytes": anchor["single-file"].stat().st_size,
                **table("debian", cases, cpu),
            }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
