"""The command line: call the pipeline with what cliparser parsed, print results; errors
become one message."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

from apepy import cachecli, cliparser, testcli, ui
from apepy.errors import ApepyError

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = cliparser.build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse ends a nargs="*" positional at the first option: `apepy test FILE -j2 a b`
    # leaves a and b over. They are more tests.
    if extra and args.command == "test" and not any(e.startswith("-") for e in extra):
        args.tests += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 2
    handler = _HANDLERS.get(args.command)
    if handler is None:
        parser.error(f"unknown command {args.command}")
    try:
        return handler(args)
    except ApepyError as error:
        ui.report_error(error)
        return 1
    except KeyboardInterrupt:
        ui.console.print("[bold red]interrupted[/]: nothing was written to the output path")
        return 130
    except Exception as exc:
        # A bug in apepy, not a user error: one message, the traceback only on request.
        if os.environ.get("APEPY_DEBUG"):
            raise
        ui.report_error(
            ApepyError(
                f"apepy failed unexpectedly: {type(exc).__name__}: {exc}",
                hint="this is a bug in apepy; run again with APEPY_DEBUG=1 for the traceback and report it",
            )
        )
        return 1


def _cmd_build(args: argparse.Namespace) -> int:
    from apepy import context
    from apepy.build import Spec, build
    from apepy.extensions import spec

    if args.jobs is not None and args.jobs < 1:
        raise ApepyError("--jobs must be at least 1", hint="pass -j N with N >= 1, or leave it out")
    if args.pgo_task is not None and not args.optimize:
        raise ApepyError(
            "--pgo-task chooses the training run of an --optimize build",
            hint="add --optimize, or leave --pgo-task out",
        )
    wanted = [spec.parse(text) for text in args.with_]
    if args.with_lock is not None:
        wanted += spec.parse_lock(args.with_lock)
    result = build(
        Spec(
            python=args.python,
            source=args.source,
            allow_unpinned=args.allow_unpinned_source,
            toolchain=args.toolchain,
            exclude=frozenset(args.exclude_module),
            extensions=tuple(spec.merge(wanted)),
            arch=args.arch,
            cosmocc=args.cosmocc,
            libraries=args.libraries,
            minimal=args.minimal,
            optimize=args.optimize,
            pgo_task=args.pgo_task or "apepy",
            freeze=args.freeze,
        ),
        args.output.absolute(),
        context.new("build", jobs=args.jobs, offline=args.offline),
    )
    manifest = result.manifest
    size = result.output.stat().st_size
    how = "from the cache" if result.cached else "built"
    ui.done(
        f"{result.output}: CPython {manifest.python_version} ({manifest.target}), "
        f"{len(manifest.builtin_modules)} built-in modules, {size / 1e6:.1f} MB, "
        f"{how} in {result.seconds:.1f} s"
    )
    if manifest.distributions:
        ui.info("compiled in (stdout, ready for --with-lock):")
        for dist in manifest.distributions:
            ui.out.print(
                f"{dist.name}=={dist.version} --hash=sha256:{dist.sdist_sha256}", markup=False
            )
    return 0


def _cmd_bundle(args: argparse.Namespace) -> int:
    from apepy.bundle import BundleRequest, bundle
    from apepy.bundle.wheels import IndexOptions

    result = bundle(
        BundleRequest(
            source=args.source,
            output=args.output,
            base=args.base,
            python=args.python,
            entry=args.entry,
            module=args.module,
            scripts=tuple(args.script),
            extensions=tuple(args.extensions),
            extract=tuple(args.extract),
            allow_environment=args.allow_environment,
            link_dir=args.link,
            prune=args.prune,
            keep=tuple(args.keep),
            keep_from=args.keep_from,
            hot_from=args.hot_from,
            no_sources=args.no_sources,
            index=IndexOptions(
                find_links=tuple(args.find_links),
                index_url=args.index_url,
                no_index=args.no_index,
                refresh=args.refresh,
            ),
            offline=args.offline,
            lock_out=args.lock_out,
            locked=args.locked,
        )
    )
    size = result.output.stat().st_size
    ui.done(
        f"{result.output}: {len(result.distributions)} distributions on "
        f"{result.base.describe()}, {size / 1e6:.1f} MB, in {result.seconds:.1f} s"
    )
    for link in result.links:
        ui.info(f"  link {link} → {result.output.name}")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from apepy import doctor

    return doctor.run(args.cosmocc)


def _cmd_store(args: argparse.Namespace) -> int:
    from apepy import storecli

    commands: dict[str, Handler] = {
        "info": storecli.cmd_info,
        "ls": storecli.cmd_ls,
        "cat": storecli.cmd_cat,
        "add": storecli.cmd_add,
        "rm": storecli.cmd_rm,
        "verify": storecli.cmd_verify,
        "sbom": storecli.cmd_sbom,
    }
    return commands[args.command](args)


_HANDLERS: dict[str, Handler] = {
    "build": _cmd_build,
    "bundle": _cmd_bundle,
    "test": testcli.cmd,
    "info": _cmd_store,
    "ls": _cmd_store,
    "cat": _cmd_store,
    "add": _cmd_store,
    "rm": _cmd_store,
    "verify": _cmd_store,
    "sbom": _cmd_store,
    "doctor": _cmd_doctor,
    "cache": cachecli.cmd,
}
