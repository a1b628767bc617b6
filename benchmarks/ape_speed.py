"""Where the APE's start-up goes on Linux: each way of starting it against the host build.

``python.com`` (an Actually Portable Executable from ``apepy build --toolchain cosmo``)
is started every way a Linux user can start it, interleaved with the host single file
(``apepy build``) in each round, from an empty directory with an empty environment
(only what a way needs: PATH for the shell, TMPDIR for where the header unpacks its
loader):

- ``sh, loader unpacked``: ``/bin/sh python.com``, what a shell does with ``./python.com``
  (execve answers ENOEXEC, the header's script runs): the script finds the loader it
  unpacked before in ``$TMPDIR/.ape-<version>`` and execs it;
- ``sh, first run``: the same with the loader deleted before each run (the script
  unpacks it with dd and gzip, then execs it);
- ``sh, ape on PATH``: the same with the loader on PATH as ``ape`` (the script's first
  choice);
- ``loader``: the APE loader started directly (``ape python.com``), no shell;
- ``binfmt``: ``./python.com`` started by execve with the loader registered with
  binfmt_misc, as cosmocc's README shows (``--binfmt``: needs root; the entry is
  removed again in a finally block, and on SIGTERM);
- ``assimilated``: a copy made a native ELF by the APE's own ``--assimilate`` (Linux only
  from then on).

The loader is the one the APE carries (unpacked by its own header into a scratch
directory), unless ``--loader`` names one. ``--nop`` also times a no-op C program
compiled by cosmocc (``--cosmocc DIR``) the same ways: the fixed cost of each way.
``--ape-os``/``--ape-o2``/``--ape-o3`` add APEs built alike but for the optimisation
level (started by the loader and assimilated); ``--extra LABEL=PATH`` any further APE
or native ELF (e.g. an experiment). ``--pyperf`` runs pyperformance's scripts
(benchmarks/pyperformance.py's tools) on the host file and the assimilated copies,
plus the fat APE through its loader; speed is host seconds / seconds, with the
geometric mean. Results: benchmarks/results/ape_speed.json.

    .venv/bin/python benchmarks/ape_speed.py --ape python.com --host single-file \
        [--ape-os python-Os.com --ape-o2 python-O2.com [--ape-o3 python-O3.com]] \
        [--binfmt] [--nop --cosmocc DIR] \
        [--pyperf] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pyperformance import PINS, script, tools  # noqa: E402
from startup import CASES, RESULTS, geomean  # noqa: E402

BINFMT = Path("/proc/sys/fs/binfmt_misc")
BINFMT_NAME = "APE-apepy-bench"
APE_MAGIC = "MZqFpD"
SHELL_PATH = "/usr/bin:/bin"
PYPERF_BENCHMARKS = (
    "nbody", "float", "richards", "json_loads", "regex_v8", "go", "chaos", "deltablue",
)  # fmt: skip


@dataclass
class Way:
    """One way of starting a program: the argv before the program's own arguments."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    before: Callable[[], None] | None = None  # run untimed before each timed start


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_once(way: Way, args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall-clock seconds of one start, and the CPU seconds (user + system) of every
    process it made (the shell, its subshell, dd and gzip, the loader, Python)."""
    if way.before:
        way.before()
    cpu = children_cpu()
    start = time.perf_counter()
    run([*way.argv, *args], cwd, way.env)
    return time.perf_counter() - start, children_cpu() - cpu


def interleaved(
    ways: dict[str, Way], cases: dict[str, list[str]], runs: int, cwd: Path
) -> dict[str, dict[str, dict[str, float]]]:
    """Median wall and CPU ms of each way per case; every round runs each way once, in
    a shuffled order (seeded: the same orders every time). Rotating one fixed order
    gave every way the same predecessor in almost every round, and the way after the
    first-run unpacking (dd, gzip, a new file) or after another big program came out
    up to 15 % slower in some invocations and not in others."""
    out: dict[str, dict[str, dict[str, float]]] = {"wall": {}, "cpu": {}}
    names = list(ways)
    for case, args in cases.items():
        wall: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        for name in names:  # warm the page cache
            time_once(ways[name], args, cwd)
        order = random.Random(f"{case} {runs}")
        for _ in range(runs):
            for name in order.sample(names, len(names)):
                seconds, cpu_seconds = time_once(ways[name], args, cwd)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
        for kind, samples in (("wall", wall), ("cpu", cpu)):
            out[kind][case] = {n: round(statistics.median(v) * 1000, 2) for n, v in samples.items()}
            print(
                f"{case} ({kind}): "
                + "  ".join(f"{n} {ms:.2f}" for n, ms in out[kind][case].items()),
                flush=True,
            )
        if "host" in cpu:
            # Each round's CPU time over the host file's in the same round: this
            # machine's speed drifted by up to 30 % over one invocation, and a ratio
            # within a round cancels the drift that a ratio of medians keeps.
            out.setdefault("cpu_paired", {})[case] = {
                n: round(statistics.median(a / b for a, b in zip(v, cpu["host"], strict=True)), 3)
                for n, v in cpu.items()
                if n != "host"
            }
            print(f"{case} (cpu, paired ratio to host): {out['cpu_paired'][case]}", flush=True)
    return out


def unpack_loader(ape: Path, into: Path) -> Path:
    """The loader the APE carries, unpacked by its own header into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    run(["/bin/sh", str(ape), "-c", "pass"], into, {"PATH": SHELL_PATH, "TMPDIR": str(into)})
    found = sorted(into.glob(".ape-*"))
    if not found:
        raise SystemExit(f"{ape}'s header unpacked no loader into {into}")
    return found[0]


def assimilate(ape: Path, out: Path) -> Path:
    """A copy of ``ape`` made a native ELF by its own header (``--assimilate``)."""
    shutil.copy2(ape, out)
    run(["/bin/sh", str(out), "--assimilate"], out.parent, {"PATH": SHELL_PATH})
    with open(out, "rb") as handle:
        if handle.read(4) != b"\x7fELF":
            raise SystemExit(f"{out}: --assimilate did not make an ELF")
    return out


def ways_for(
    ape: Path, loader: Path, scratch: Path, *, binfmt: bool, assimilated: Path | None
) -> dict[str, Way]:
    warm = scratch / "tmp-warm"
    unpack_loader(ape, warm)
    cold = scratch / "tmp-cold"
    on_path = scratch / "path"
    on_path.mkdir(exist_ok=True)
    shutil.copy2(loader, on_path / "ape")

    def forget_loader() -> None:
        shutil.rmtree(cold, ignore_errors=True)
        cold.mkdir()

    ways = {
        "sh, loader unpacked": Way(
            ["/bin/sh", str(ape)], {"PATH": SHELL_PATH, "TMPDIR": str(warm)}
        ),
        "sh, first run": Way(
            ["/bin/sh", str(ape)], {"PATH": SHELL_PATH, "TMPDIR": str(cold)}, forget_loader
        ),
        "sh, ape on PATH": Way(["/bin/sh", str(ape)], {"PATH": f"{on_path}:{SHELL_PATH}"}),
        "loader": Way([str(loader), str(ape)]),
    }
    if binfmt:
        ways["binfmt"] = Way([str(ape)])
    if assimilated:
        ways["assimilated"] = Way([str(assimilated)])
    return ways


class Binfmt:
    """The loader registered with binfmt_misc for the APE magic, removed on exit."""

    def __init__(self, loader: Path) -> None:
        self.loader = loader
        self.entry = BINFMT / BINFMT_NAME

    def __enter__(self) -> Binfmt:
        if os.geteuid() != 0:
            raise SystemExit("--binfmt needs root (it registers the loader system-wide)")
        if not (BINFMT / "register").exists():
            raise SystemExit(
                f"binfmt_misc is not mounted at {BINFMT} "
                f"(mount -t binfmt_misc binfmt_misc {BINFMT})"
            )
        for other in BINFMT.iterdir():
            if other.name in ("register", "status"):
                continue
            if f"magic {APE_MAGIC.encode().hex()}" in other.read_text():
                raise SystemExit(f"an APE loader is registered already ({other}); not measuring")
        (BINFMT / "register").write_text(f":{BINFMT_NAME}:M::{APE_MAGIC}::{self.loader}:\n")
        self.previous = signal.signal(signal.SIGTERM, _terminate)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.entry.exists():
            self.entry.write_text("-1\n")
        signal.signal(signal.SIGTERM, self.previous)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def ratios(medians: dict[str, dict[str, float]], anchor: str) -> dict[str, dict[str, float]]:
    return {
        case: {n: round(ms / row[anchor], 3) for n, ms in row.items() if n != anchor}
        for case, row in medians.items()
    }


def pyperf_run(argv: list[str], env: dict[str, str], bench: Path, target: Path) -> float:
    """Median seconds per loop of one pyperformance script under pyperf --fast."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = {**env, "PYTHONPATH": str(target), "PATH": env.get("PATH", SHELL_PATH)}
        run(
            [*argv, str(bench), "--fast", "--quiet", "--inherit-environ", "PYTHONPATH", "-o",
             str(out)],
            Path(tmp),
            env,
        )  # fmt: skip
        data = json.loads(out.read_text())
    values = [v for b in data["benchmarks"] for r in b["runs"] for v in r.get("values", ())]
    return statistics.median(values)


def nop_ape(cosmocc: Path, scratch: Path) -> Path:
    source = scratch / "nop.c"
    source.write_text("int main(void) { return 0; }\n")
    out = scratch / "nop.com"
    subprocess.run(
        [str(cosmocc / "bin" / "cosmocc"), "-Os", "-o", str(out), str(source)],
        check=True,
        env={**os.environ, "PATH": f"{cosmocc / 'bin'}:{os.environ.get('PATH', SHELL_PATH)}"},
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ape", type=Path, required=True, help="the APE (python.com)")
    parser.add_argument("--host", type=Path, required=True, help="the host single file")
    parser.add_argument("--ape-o2", type=Path, help="an APE built -O2 (to set against --ape-os)")
    parser.add_argument("--ape-os", type=Path, help="the same APE built -Os")
    parser.add_argument("--ape-o3", type=Path, help="the same APE built -O3 (CPython's own OPT)")
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="a further APE (assimilated here) or native ELF to measure like the levels",
    )
    parser.add_argument("--loader", type=Path, help="an APE loader (default: the APE's own)")
    parser.add_argument("--binfmt", action="store_true", help="also via binfmt_misc (root)")
    parser.add_argument("--nop", action="store_true", help="also a no-op APE (needs --cosmocc)")
    parser.add_argument("--cosmocc", type=Path, help="cosmocc's directory, for --nop")
    parser.add_argument("--pyperf", action="store_true", help="also pyperformance's scripts")
    parser.add_argument("--benchmarks", default=",".join(PYPERF_BENCHMARKS))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--output", type=Path, default=RESULTS / "ape_speed.json")
    args = parser.parse_args()
    if args.nop and not args.cosmocc:
        parser.error("--nop needs --cosmocc DIR")
    if (args.ape_o2 or args.ape_o3) and not args.ape_os:
        parser.error("--ape-o2 and --ape-o3 are measured against --ape-os")

    load_before = os.getloadavg()
    report: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "sh": os.path.realpath("/bin/sh"),
        "runs": args.runs,
        "how": "median ms of interleaved runs (each round starts every way once, in a seeded shuffled order), "
        "from an empty directory with an empty environment; ratio: median / host's median; "
        "cpu: user + system time of every process a start made (less sensitive than the "
        "wall clock to waiting for a busy CPU)",
    }
    with tempfile.TemporaryDirectory(prefix="ape-speed-") as tmp:
        scratch = Path(tmp)
        ape = scratch / "fat" / args.ape.name
        ape.parent.mkdir()
        shutil.copy2(args.ape, ape)  # the header may unpack beside it; the original stays
        host = args.host.resolve()
        loader = args.loader.resolve() if args.loader else unpack_loader(ape, scratch / "own")
        assimilated = assimilate(ape, scratch / "fat-assimilated")
        empty = scratch / "empty"
        empty.mkdir()
        sizes = {
            "host": host.stat().st_size,
            "ape": ape.stat().st_size,
            "assimilated": assimilated.stat().st_size,
            "loader": loader.stat().st_size,
        }
        ways = {
            "host": Way([str(host)]),
            **ways_for(ape, loader, scratch / "fat", binfmt=args.binfmt, assimilated=assimilated),
        }
        levels: dict[str, Path] = {}
        if args.ape_os:
            given_levels = (("-Os", args.ape_os), ("-O2", args.ape_o2), ("-O3", args.ape_o3))
            for label, given in [(label, p) for label, p in given_levels if p]:
                copy = scratch / f"level{label}" / given.name
                copy.parent.mkdir()
                shutil.copy2(given, copy)
                levels[label] = assimilate(copy, scratch / f"level{label}-assimilated")
                sizes[f"x86_64 {label}"] = copy.stat().st_size
                ways[f"x86_64 {label}, loader"] = Way([str(loader), str(copy)])
                ways[f"x86_64 {label}, assimilated"] = Way([str(levels[label])])
        for spec in args.extra:
            label, _, given = spec.partition("=")
            copy = scratch / f"extra-{len(levels)}" / Path(given).name
            copy.parent.mkdir()
            shutil.copy2(given, copy)
            sizes[label] = copy.stat().st_size
            with open(copy, "rb") as handle:
                if handle.read(6) == APE_MAGIC.encode():
                    ways[f"{label}, loader"] = Way([str(loader), str(copy)])
                    copy = assimilate(copy, copy.with_name(copy.name + "-assimilated"))
            levels[label] = copy
            ways[f"{label}, assimilated"] = Way([str(copy)])
        nop_ways: dict[str, Way] = {}
        if args.nop:
            nop = nop_ape(args.cosmocc, scratch)
            nop_ways = ways_for(
                nop,
                loader,
                scratch / "nop",
                binfmt=args.binfmt,
                assimilated=assimilate(nop, scratch / "nop-assimilated"),
            )

        def start_up() -> None:
            medians = interleaved(ways, CASES, args.runs, empty)
            report["startup_median_ms"] = medians["wall"]
            report["startup_ratio_to_host"] = ratios(medians["wall"], "host")
            report["startup_cpu_median_ms"] = medians["cpu"]
            report["startup_cpu_ratio_to_host"] = ratios(medians["cpu"], "host")
            report["startup_cpu_paired_ratio_to_host"] = medians["cpu_paired"]
            if nop_ways:
                report["nop_ape_median_ms"] = interleaved(
                    nop_ways, {"(no arguments)": []}, args.runs, empty
                )

        if args.binfmt:
            with Binfmt(loader):
                start_up()
        else:
            start_up()

        if args.pyperf:
            target = tools()
            runners = {
                "host": ([str(host)], {}),
                "ape, assimilated": ([str(assimilated)], {}),
                "ape, loader": ([str(loader), str(ape)], {"TMPDIR": str(scratch / "fat")}),
                **{
                    f"{'x86_64 ' if label.startswith('-O') else ''}{label}, assimilated": (
                        [str(p)],
                        {},
                    )
                    for label, p in levels.items()
                },
            }
            per: dict[str, dict[str, float]] = {}
            for name in [n for n in args.benchmarks.split(",") if n]:
                bench = script(target, name)
                per[name] = {
                    label: pyperf_run(argv, env, bench, target)
                    for label, (argv, env) in runners.items()
                }
                print(
                    f"{name:12s} "
                    + "  ".join(f"{k} {v * 1e6:.4g} us" for k, v in per[name].items()),
                    flush=True,
                )
            report["pyperformance"] = {
                "pins": PINS,
                "how": "pyperf --fast, median us per loop; speed: host seconds / seconds "
                "(above 1: faster than the host file), geometric mean over the benchmarks",
                "us": {
                    n: {k: float(f"{v * 1e6:.4g}") for k, v in r.items()} for n, r in per.items()
                },
                "geomean_speed": {
                    label: round(geomean([r["host"] / r[label] for r in per.values()]), 3)
                    for label in runners
                },
            }
        report["sizes_bytes"] = sizes
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
