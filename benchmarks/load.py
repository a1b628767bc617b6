"""The flask-hello app under load: the single-file bundle against a venv, measured with wrk.

Both serve the same app with Flask's own server on 127.0.0.1; each gets a short
warm-up, then `wrk` for --seconds with --connections over --threads, on two
paths: the page (a template rendered per request, which also asks
importlib.metadata for Flask's version) and /health (a small JSON answer).
Reported per variant and path: requests/s, latency (mean, stdev, p50, p90, p99,
max), socket errors and non-2xx answers.
The venv is the ordinary build of the same CPython with the bundle's own Flask
wheels installed by pip (see benchmarks/bundle.py, which this reuses).
Results go to benchmarks/results/load.json.

    .venv/bin/python benchmarks/load.py [--seconds 30] [--connections 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bundle import APP, RESULTS, WORK, apepy, free_port, interpreters, venv_with_flask

# wrk's Lua hooks: count non-2xx answers in every thread, then print one JSON line.
REPORT_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local non = 0
  for _, t in ipairs(threads) do non = non + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    '@@wrk {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "stdev": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\\n',
    summary.requests, summary.duration, summary.bytes, non,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def serve(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [*cmd, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"{cmd[0]} did not start serving") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


PATHS = ("/", "/health")


def wrk(url: str, seconds: int, connections: int, threads: int, script: Path) -> dict[str, object]:
    result = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("@@wrk "))
    raw = json.loads(line.removeprefix("@@wrk "))
    latency = {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()}
    return {
        "requests": raw["requests"],
        "requests_per_second": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "latency_ms": latency,
        "socket_errors": raw["errors"],
        "errors_total": sum(v for k, v in raw["errors"].items() if k != "status"),
        "non_2xx": raw["non2xx"],
        "transfer_bytes": raw["bytes"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: run scripts/setup (apt-get install wrk)", file=sys.stderr)
        return 1
    found = interpreters()
    if found is None:
        return 1
    version, ordinary, base = found
    hello = WORK / "hello"
    apepy("bundle", str(APP), "--base", str(base), "-o", str(hello))
    venv = venv_with_flask(ordinary, WORK / "venv-flask")

    home = Path(tempfile.mkdtemp())
    variants = {
        "single-file bundle": ([str(hello)], home, {"HOME": str(home)}),
        "venv (ordinary build)": (
            [str(venv / "bin" / "python"), "-m", "flask_hello.app"],
            APP,
            {"HOME": str(home)},
        ),
    }
    script = home / "report.lua"
    script.write_text(REPORT_LUA)
    results: dict[str, dict[str, dict[str, object]]] = {path: {} for path in PATHS}
    for name, (cmd, cwd, env) in variants.items():
        proc, url = serve(cmd, cwd, env)
        try:
            for path in PATHS:
                wrk(url + path, 3, args.connections, args.threads, script)  # warm-up
                found = wrk(url + path, args.seconds, args.connections, args.threads, script)
                if proc.poll() is not None:
                    raise RuntimeError(f"{name}: the server died under load")
                results[path][name] = found
                print(f"{name} {path}: {json.dumps(found)}", file=sys.stderr)
        finally:
            stop(proc)
    shutil.rmtree(home, ignore_errors=True)

    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    ratios = {
        path: round(
            float(found["single-file bundle"]["requests_per_second"])  # type: ignore[arg-type]
            / float(found["venv (ordinary build)"]["requests_per_second"]),  # type: ignore[arg-type]
            3,
        )
        for path, found in results.items()
    }
    report: dict[str, object] = {
        "python": version,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (wrk and the server share them)",
        "tool": wrk_version.split("Copyright")[0].strip(),
        "server": "Flask's development server (threaded), as the app's main() starts it",
        "paths": {
            "/": "the page: a template rendered per request, with importlib.metadata.version('flask')",
            "/health": "a small JSON answer",
        },
        "seconds": args.seconds,
        "connections": args.connections,
        "threads": args.threads,
        "results": results,
        "requests_per_second_ratio_single_over_venv": ratios,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
