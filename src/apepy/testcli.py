"""`apepy test`: CPython's regression suite against a file, and its report."""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

from apepy import testsuite, ui
from apepy.errors import ApepyError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    test = subparsers.add_parser(
        "test",
        help="run CPython's own test suite (of the file's version) with a file apepy built",
        description="Runs CPython's regression suite from the source cache with the file's own "
        "interpreter. Exits non-zero when a test file fails that is not on apepy's list of "
        "by-design exclusions.",
    )
    test.add_argument("file", type=Path)
    test.add_argument("tests", nargs="*", help="test files to run (default: the whole suite)")
    test.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="test files run at once (default: the number of CPUs)",
    )
    test.add_argument(
        "--timeout", type=int, default=1200, help="seconds one test file may take (default 1200)"
    )
    test.add_argument("--offline", action="store_true", help="never download the CPython source")


def cmd(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise ApepyError(f"{args.file} does not exist", hint="name a file apepy built")
    if args.jobs < 1:
        raise ApepyError(f"-j {args.jobs} is not a number of jobs", hint="give -j 1 or more")
    summary, log = testsuite.run(
        args.file, args.tests, jobs=args.jobs, offline=args.offline, timeout=args.timeout
    )
    ui.info(
        # regrtest counts a file that altered the environment apart; it passed.
        f"{summary.ok + len(summary.env_changed)} test files passed, {len(summary.failed)} failed, "
        f"{len(summary.skipped)} skipped, {len(summary.run_no_tests)} ran no tests, "
        f"{len(summary.excluded)} excluded by design"
        + f" (and {len(summary.excluded_cases)} patterns of test cases)"
        + (f" ({summary.tests_run} tests)" if summary.tests_run is not None else "")
    )
    if summary.env_changed:
        ui.warn(f"altered the execution environment: {' '.join(summary.env_changed)}")
    for name, reason in sorted(summary.excluded.items()):
        ui.info(f"excluded {name}: {reason}")
    # The cases by reason: the list is long, the reasons are few.
    for reason, count in sorted(Counter(summary.excluded_cases.values()).items()):
        ui.info(f"excluded {count} test-case pattern{'s' if count > 1 else ''}: {reason}")
    problems = summary.failed + summary.omitted
    if problems:
        raise ApepyError(
            f"{len(problems)} test files failed: {' '.join(problems)}",
            hint=f"the full output is in {log}; run one again with "
            f"apepy test {args.file} {problems[0]}",
        )
    ui.done(f"CPython's test suite passed with {args.file} (log: {log})")
    return 0
