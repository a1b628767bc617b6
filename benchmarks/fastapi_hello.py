"""The fastapi-hello bundle (pydantic-core compiled in from Rust): start-up to first answer.

The single file (a base built `--with pydantic-core`, the app bundled onto it) against
the same app in a venv of the same CPython built the ordinary way
(benchmarks/startup.py builds it) with the same wheels, pydantic-core's from PyPI.
Runs are interleaved; medians are reported. Results go to benchmarks/results/fastapi.json.

    .venv/bin/python benchmarks/fastapi_hello.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bundle import RESULTS, WORK, apepy, first_request, interpreters, timed, wheel_dir

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "examples" / "fastapi-hello"
PYDANTIC_CORE = "pydantic-core==2.50.5"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    found = interpreters()
    if found is None:
        return 1
    version, ordinary, _base = found
    base = WORK / f"single-{version}-pydantic-core"
    apepy("build", "--python", version, "--with", PYDANTIC_CORE, "-o", str(base))
    app = WORK / "fastapi-hello"
    apepy("bundle", str(APP), "--base", str(base), "-o", str(app))

    venv = WORK / "venv-fastapi"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([str(ordinary), "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links"]
        subprocess.run(
            [*pip, str(wheel_dir("fastapi")), "fastapi", "uvicorn", "pydantic"],
            check=True,
        )
    home = Path(tempfile.mkdtemp())
    variants = {
        "single-file bundle": ([str(app)], home, {"HOME": str(home)}),
        "venv (ordinary build)": ([str(python), "-m", "fastapi_hello.app"], APP, {}),
    }
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for cmd, cwd, env in variants.values():  # warm-up: page cache
        first_request(cmd, cwd, env, "/items/1")
    for _ in range(args.runs):
        for name, (cmd, cwd, env) in variants.items():
            samples[name].append(first_request(cmd, cwd, env, "/items/1"))
    first = {k: round(statistics.median(v) * 1000, 1) for k, v in samples.items()}
    imports: dict[str, list[float]] = {k: [] for k in variants}
    import_cmds = {
        "single-file bundle": ([str(app), "-I", "-c", "import fastapi"], {"APEPY_PLAIN": "1"}),
        "venv (ordinary build)": ([str(python), "-I", "-c", "import fastapi"], {}),
    }
    for _ in range(args.runs):
        for name, (cmd, env) in import_cmds.items():
            imports[name].append(timed(cmd, home, env))
    import_ms = {k: round(statistics.median(v) * 1000, 1) for k, v in imports.items()}
    report = {
        "python": version,
        "runs": args.runs,
        "date": time.strftime("%Y-%m-%d"),
        "sizes_bytes": {
            "base --with pydantic-core": base.stat().st_size,
            "bundle": app.stat().st_size,
        },
        "first_answer_ms_median": first,
        "first_answer_ratio_single_over_venv": round(
            first["single-file bundle"] / first["venv (ordinary build)"], 3
        ),
        "import_fastapi_ms_median": import_ms,
        "import_fastapi_ratio_single_over_venv": round(
            import_ms["single-file bundle"] / import_ms["venv (ordinary build)"], 3
        ),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fastapi.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
