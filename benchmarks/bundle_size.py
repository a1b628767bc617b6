"""flask-hello's size on each base, and what its start-up costs.

``examples/flask-hello`` is bundled on each base given (``--base LABEL=PATH``: e.g. the
default interpreter, ``apepy build --minimal``, ``--minimal --optimize``): as it is;
with ``--prune``; and with ``--prune --hot-from FILE --no-sources``, where FILE is the
record of a real run of the pruned bundle (``APEPY_RECORD_IMPORTS``: started, ``/``
requested, stopped with SIGTERM). Each file is started as a plain interpreter (``APEPY_PLAIN=1``)
importing what the app imports before it serves (``flask`` and ``werkzeug.serving``)
and, for a check, the app's own module; the CPU time (user + system) of these runs,
interleaved, from an empty directory with an empty environment, median of ``--runs``.
Results: benchmarks/results/bundle_size.json.

    .venv/bin/python benchmarks/bundle_size.py --base default=benchmarks/work/cold-default/python \
        --base minimal=… [--base 'minimal --optimize=…'] [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bundle import APP, apepy, first_request  # noqa: E402
from startup import RESULTS, WORK, run_timed  # noqa: E402

IMPORTS = "import flask, werkzeug.serving, flask_hello.app"
VARIANTS = ("", ", --prune", ", --prune --hot-from --no-sources")


def record_imports(exe: Path, out: Path) -> Path:
    """The modules a real run of the app imports: it serves ``/``, then is stopped with
    SIGTERM, which makes a recording run write its record."""
    with tempfile.TemporaryDirectory() as empty:
        first_request([str(exe)], Path(empty), {"APEPY_RECORD_IMPORTS": str(out)}, path="/")
    if not out.is_file():
        raise RuntimeError(f"{exe} wrote no import record to {out}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    work = WORK / "bundle-size"
    work.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for pair in args.base:
        label, _, path = pair.partition("=")
        base = str(Path(path).absolute())
        for variant in VARIANTS:
            name = label + variant
            out = work / ("fh-" + name.replace(" ", "").replace(",", "").replace("-", ""))
            flags = variant.removeprefix(", ").split()
            if "--hot-from" in flags:
                record = record_imports(files[label + ", --prune"], work / f"{out.name}.imports")
                flags.insert(flags.index("--hot-from") + 1, str(record))
            apepy("bundle", str(APP), "--base", base, "-o", str(out), *flags)
            files[name] = out
    env = {"APEPY_PLAIN": "1"}
    samples: dict[str, list[float]] = {n: [] for n in files}
    with tempfile.TemporaryDirectory() as empty:
        cwd = Path(empty)
        for exe in files.values():  # warm the page cache
            run_timed([str(exe), "-c", IMPORTS], cwd, env)
        for _ in range(args.runs):
            for name, exe in files.items():
                samples[name].append(run_timed([str(exe), "-c", IMPORTS], cwd, env)[1])
    first = next(iter(files))
    cpu = {n: statistics.median(v) * 1000 for n, v in samples.items()}
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "how": f"APEPY_PLAIN=1 FILE -c '{IMPORTS}': median CPU ms (user + system) of "
        f"{args.runs} interleaved runs; ratio to {first!r}",
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "files": {
            n: {
                "bytes": files[n].stat().st_size,
                "cpu_ms": round(cpu[n], 2),
                "cpu_ratio": round(cpu[n] / cpu[first], 3),
            }
            for n in files
        },
    }
    for n, row in report["files"].items():  # type: ignore[attr-defined]
        print(f"{n:32s} {row['bytes']:>11,} B  {row['cpu_ms']:7.2f} ms  {row['cpu_ratio']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bundle_size.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
