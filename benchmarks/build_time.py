"""Cold build times of ``apepy build`` and ``apepy build --optimize``, and whether two
``--optimize`` builds from two empty caches (at paths of other lengths) give the same
bytes.

Each build runs in its own empty cache (XDG_CACHE_HOME in a scratch directory), from
the 3.13.15 tarball of the source cache (``--source``, ``--offline``), one after the
other so that neither slows the other. Results: benchmarks/results/build_time.json.

    .venv/bin/python benchmarks/build_time.py [--python 3.13.15] [--reproduce | --compare FILE] [--only-optimize]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from startup import RESULTS, WORK  # noqa: E402


def cold_build(tarball: Path, label: str, extra: list[str]) -> dict[str, object]:
    home = WORK / f"cold-{label}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    out = home / "python"
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "apepy",
            "build",
            "--source",
            str(tarball),
            "--offline",
            *extra,
            "-o",
            str(out),
        ],
        env={**os.environ, "XDG_CACHE_HOME": str(home / "cache")},
        check=True,
    )
    seconds = time.monotonic() - started
    load = os.getloadavg()
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{label}: {seconds:.0f} s, {out.stat().st_size} bytes, sha256 {digest}", flush=True)
    return {
        "seconds": round(seconds),
        "size_bytes": out.stat().st_size,
        "sha256": digest,
        "load_average_at_end": [round(x, 1) for x in load],
    }


def differences(a: Path, b: Path) -> dict[str, object]:
    """Where two files that should be equal differ: the executable part or which members."""
    import zipfile

    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        start = min(i.header_offset for i in za.infolist())
        members = [
            i.filename
            for i in za.infolist()
            if i.filename not in zb.namelist() or za.read(i) != zb.read(i.filename)
        ]
    head_a, head_b = a.read_bytes()[:start], b.read_bytes()[:start]
    return {"executable_part_equal": head_a == head_b, "members_differing": members[:50]}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--python", default="3.13.15")
    parser.add_argument(
        "--reproduce", action="store_true", help="a second --optimize build, compared byte for byte"
    )
    parser.add_argument(
        "--only-optimize",
        action="store_true",
        help="leave out the default build (kept from before)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        help="an --optimize file built before from another empty cache: compared byte for byte",
    )
    args = parser.parse_args()
    from apepy import sources
    from apepy.cache import cache_root

    release = sources.resolve(args.python)
    tarball = cache_root() / "sources" / release.filename
    out = RESULTS / "build_time.json"
    report: dict[str, object] = json.loads(out.read_text()) if out.is_file() else {}
    builds: dict[str, object] = dict(report.get("builds", {}))  # type: ignore[call-overload]
    # What an earlier run compared belongs to that run.
    for stale in ("optimize_reproducible", "optimize_compared_with", "optimize_differences"):
        report.pop(stale, None)
    if not args.only_optimize:
        builds["default"] = cold_build(tarball, "default", [])
    builds["--optimize"] = cold_build(tarball, "optimize", ["--optimize"])
    if args.compare:
        same = (
            hashlib.sha256(args.compare.read_bytes()).hexdigest() == builds["--optimize"]["sha256"]
        )  # type: ignore[index]
        report["optimize_reproducible"] = same
        report["optimize_compared_with"] = str(args.compare)
        if not same:
            report["optimize_differences"] = differences(
                args.compare, WORK / "cold-optimize" / "python"
            )
    if args.reproduce:
        # The second cache at a path of another length: a path reaches the profile only
        # if it reaches the program (string lengths and hashes), see
        # docs/performance.md.
        label = "optimize-from-a-cache-elsewhere"
        second = cold_build(tarball, label, ["--optimize"])
        builds["--optimize, again"] = second
        same = second["sha256"] == builds["--optimize"]["sha256"]  # type: ignore[index]
        report["optimize_reproducible"] = same
        report["optimize_compared_with"] = str(WORK / f"cold-{label}" / "python")
        if not same:
            report["optimize_differences"] = differences(
                WORK / "cold-optimize" / "python", WORK / f"cold-{label}" / "python"
            )
    default = builds.get("default")
    if isinstance(default, dict):
        report["optimize_over_default"] = round(
            builds["--optimize"]["seconds"] / default["seconds"],  # type: ignore[index]
            2,
        )
    report.update(
        {
            "python": release.version,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
            "date": time.strftime("%Y-%m-%d"),
            "how": "each build from an empty cache, one at a time; seconds of wall time",
            "builds": builds,
        }
    )
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
