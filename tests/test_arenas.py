"""pymalloc's arenas come from one region advised for transparent huge pages
(inside/c/apepy_arenas.c), unless APEPY_HUGEPAGES=0 or an address-space limit; the
host build's malloc heap grows in advised 2 MiB steps (inside/c/apepy_heap.c), unless
APEPY_HUGEPAGES=0."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest

# Runs inside the built interpreter: the VMA that holds a fresh small object (its id is
# its address), after a round of arenas freed and taken again.
PROBE = r"""
import gc, json, os, sys, threading

def vma(addr):
    found = None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                found = (lo, hi) if lo <= addr < hi else None
            elif found and line.startswith("VmFlags:"):
                return {"start": found[0], "size": found[1] - found[0], "flags": line.split()[1:]}

def deep(n):  # the frame stack's chunks come through the same allocator hook
    return 0 if n == 0 else 1 + deep(n - 1)

sys.setrecursionlimit(50_000)
assert deep(40_000) == 40_000
# ~60 MB of small objects (about 60 arenas), freed, then taken again.
many = [[i] for i in range(600_000)]
del many
gc.collect()
again = [(i, i) for i in range(600_000)]

def grow(n, out):  # threads growing malloc's heap at once
    out.append(sum(len(bytes([n]) * (600 + i)) for i in range(3000)))

grown = []
threads = [threading.Thread(target=grow, args=(n, grown)) for n in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert grown == [sum(range(600, 3600))] * 4, grown
if not os.path.exists("/proc/self/smaps"):  # not Linux (the APE on Windows)
    print(json.dumps({"flags": None, "child": 0 if len(again) == 600_000 else 1}))
    raise SystemExit
probe = vma(id(again[-1]))
big = b"x" * 5000  # over pymalloc's 512 bytes: from malloc's heap
probe["heap"] = vma(id(big))
pid = os.fork()
if pid == 0:  # the child writes to the parent's arenas (copy on write)
    for t in again:
        t.__class__
    again.append((1, 2))
    os._exit(0 if sum(x for x, _ in again[:1000]) == 499500 else 1)
_, status = os.waitpid(pid, 0)
probe["child"] = os.waitstatus_to_exitcode(status)
print(json.dumps(probe))
"""

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
# Advised where the kernel has THP at all, and no address-space limit is inherited.
ADVISED = THP.exists() and resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY


def probe(python: Path, env: dict[str, str] | None = None, limit: int | None = None) -> dict:
    def set_limit() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    out = subprocess.run(
        [str(python), "-c", PROBE],
        env={"PATH": os.environ["PATH"], **(env or {})},
        preexec_fn=set_limit,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result: dict = json.loads(out.stdout)
    assert result["child"] == 0
    return result


LINUX_ONLY = pytest.mark.skipif(
    not Path("/proc/self/smaps").exists(), reason="Linux only: reads smaps"
)


@pytest.fixture(scope="module")
def probes(built_python: Path) -> dict[str, dict]:
    """The probe run once each way, for the arena and the heap tests alike: as built,
    turned off, and under `ulimit -v`."""
    return {
        "advised": probe(built_python),
        "plain": probe(built_python, env={"APEPY_HUGEPAGES": "0"}),
        "limited": probe(built_python, limit=3 << 30),
    }


@LINUX_ONLY
def test_arenas_are_advised_for_huge_pages(probes: dict[str, dict]) -> None:
    advised = probes["advised"]
    # The reservation: 2 MiB-aligned and advised.
    assert ("hg" in advised["flags"]) == ADVISED
    if ADVISED:
        assert advised["start"] % (2 << 20) == 0

    # Turned off: arenas from plain mmap, as CPython does it.
    assert "hg" not in probes["plain"]["flags"]

    # Under `ulimit -v` the reservation would count against the limit: no reservation.
    assert "hg" not in probes["limited"]["flags"]


@LINUX_ONLY
def test_malloc_heap_grows_in_advised_huge_pages(probes: dict[str, dict]) -> None:
    advised = probes["advised"]
    # malloc's heap is advised wherever the kernel has THP; the probe's workload
    # (freed arenas, a deep recursion, a forked child) ran on it.
    assert ("hg" in advised["heap"]["flags"]) == THP.exists()
    # Its end is where the kernel's break is: a 2 MiB boundary.
    if THP.exists():
        assert (advised["heap"]["start"] + advised["heap"]["size"]) % (2 << 20) == 0

    assert "hg" not in probes["plain"]["heap"]["flags"]

    # The heap asks the kernel for at most 2 MiB more than malloc does: it stays on
    # under an address-space limit.
    assert ("hg" in probes["limited"]["heap"]["flags"]) == THP.exists()
