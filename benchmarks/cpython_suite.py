"""CPython's whole regression suite: apepy's single file beside the ordinary build.

For each version: the ordinary build of the same tarball (--enable-shared, stdlib on
disk, installed to a prefix; shared with startup.py) runs ``-m test -jN``; the single
file runs ``apepy test FILE -jN`` (its by-design exclusions left out). Both reports
are read the same way. The parity figure is the list of test files that fail in the
single file and pass in the ordinary build: it must be empty. Results go to
benchmarks/results/cpython_suite.json. It takes about 20 minutes a version on 2 cores.

    .venv/bin/python benchmarks/cpython_suite.py [--python 3.13.15 3.11.2] [-j 2]
    .venv/bin/python benchmarks/cpython_suite.py --file dist/python.com   # one file only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "cpython_suite.json"
sys.path.insert(0, str(HERE))

from startup import WORK, ordinary_build, single_file  # noqa: E402

from apepy import testexclusions, testsuite  # noqa: E402
from apepy.cache import cache_root  # noqa: E402


def report(summary: testsuite.Summary, seconds: float) -> dict[str, object]:
    return {
        "files_passed": summary.ok + len(summary.env_changed),
        "files_failed": sorted(summary.failed + summary.omitted),
        "files_skipped": len(summary.skipped),
        "files_env_changed": sorted(summary.env_changed),
        "tests_run": summary.tests_run,
        "minutes": round(seconds / 60, 1),
    }


def ordinary_log(version: str) -> Path:
    return WORK / f"suite-ordinary-{version}.log"


def reread_ordinary(version: str) -> dict[str, object] | None:
    """The ordinary build's figures from the log of an earlier run, if it finished."""
    log = ordinary_log(version)
    if not log.exists():
        return None
    text = log.read_text(errors="replace")
    summary = testsuite.parse_summary(text)
    found = re.search(r"Total duration: (?:(\d+) hour )?(?:(\d+) min )?(\d+) sec", text)
    if not summary.found or not found:
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in found.groups())
    return report(summary, hours * 3600 + minutes * 60 + seconds)


def run_ordinary(python: Path, jobs: int) -> dict[str, object]:
    log = ordinary_log(python.parent.parent.name.removeprefix("ordinary-"))
    started = time.monotonic()
    with open(log, "w") as sink:
        subprocess.run(
            [str(python), "-m", "test", "-j", str(jobs), "--timeout", "1200"],
            cwd=WORK,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=testsuite.suite_env(WORK / "suite-home"),
        )
    seconds = time.monotonic() - started
    return report(testsuite.parse_summary(log.read_text(errors="replace")), seconds)


def run_single(exe: Path, jobs: int) -> dict[str, object]:
    started = time.monotonic()
    summary, log = testsuite.run(exe, [], jobs=jobs, offline=True, timeout=1200)
    result = report(summary, time.monotonic() - started)
    result["log"] = str(log)
    result["files_excluded"] = sorted(summary.excluded)
    result["case_patterns_excluded"] = len(summary.excluded_cases)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--python", nargs="+", default=["3.13.15", "3.11.2"])
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--file", type=Path, help="run only this file (e.g. an APE)")
    parser.add_argument(
        "--reuse-ordinary",
        action="store_true",
        help="take the ordinary build's figures from the results file or the log of an earlier "
        "run (same tarball, same machine) and run only the single file",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    runs: dict[str, object] = {}
    if args.file:
        runs[f"file {args.file.name}"] = run_single(args.file.resolve(), args.jobs)
    previous = json.loads(RESULTS.read_text()).get("runs", {}) if RESULTS.exists() else {}
    for version in [] if args.file else args.python:
        tarball = next((cache_root() / "sources").glob(f"Python-{version}.t*"), None)
        if tarball is None:
            print(f"no Python-{version} tarball in the source cache", file=sys.stderr)
            return 1
        reread = reread_ordinary(version) if args.reuse_ordinary else None
        if args.reuse_ordinary and "ordinary" in previous.get(version, {}):
            ordinary = previous[version]["ordinary"]
        elif reread is not None:
            ordinary = reread
        else:
            ordinary = run_ordinary(ordinary_build(tarball, version), args.jobs)
        single = run_single(single_file(version), args.jobs)
        failed_ordinary = set(ordinary["files_failed"])  # type: ignore[call-overload]
        runs[version] = {
            "ordinary": ordinary,
            "single_file": single,
            # Must be empty: failing in the single file, passing in the ordinary build.
            "parity_failures": sorted(
                set(single["files_failed"]) - failed_ordinary  # type: ignore[call-overload]
            ),
            "exclusions": {
                "files": testexclusions.for_version(version).files,
                "cases": testexclusions.for_version(version).cases,
            },
        }
    # Read just before writing: runs of other versions or files may have finished
    # in the meantime (each run is tens of minutes).
    results: dict[str, object] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"
    results["date"] = time.strftime("%Y-%m-%d")
    results.setdefault("runs", {}).update(runs)  # type: ignore[attr-defined]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(runs, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
