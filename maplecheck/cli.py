# SPDX-License-Identifier: GPL-2.0-or-later
"""The ``maplecheck`` command: parse arguments, call the library, print.

Exit status: 0 success, 1 a property failed (something was found), 2 bad usage
or setup.  Long work shows progress on stderr; the last line on stdout is a
machine-readable summary of ``key=value`` pairs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FOUND, EXIT_SETUP = 0, 1, 2


class UsageProblem(Exception):
    """Bad usage or setup: one clear line, exit 2."""


def _parser() -> argparse.ArgumentParser:
    from maplecheck.cmd_linux import add_kernel_arg

    p = argparse.ArgumentParser(prog="maplecheck", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def impl_arg(sp, default="linux"):
        sp.add_argument("--impl", choices=("linux", "python", "both"), default=default,
                        help="implementation(s) checked against the model (default: %(default)s)")
        sp.add_argument("--linux-src", metavar="DIR", default=None,
                        help="kernel source tree to build the Linux adapter from "
                             "(default: Debian's, see --kernel)")
        add_kernel_arg(sp)
        sp.add_argument("--sanitize", action="store_true",
                        help="use the ASan/UBSan build of the Linux adapter")
        sp.add_argument("--no-known-bugs", dest="avoid_known_bugs", action="store_false",
                        help="do not step around known kernel bugs (maplecheck.properties.known)")

    f = sub.add_parser("fuzz", help="run a seeded fuzzing campaign against the model")
    impl_arg(f)
    budget = f.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, metavar="N", help="operations to run (default 20000)")
    budget.add_argument("--minutes", type=float, metavar="M", help="run for M minutes")
    f.add_argument("--seed", type=int, default=0, help="campaign seed (same seed, same run)")
    f.add_argument("--out", metavar="DIR", default="maplecheck-out",
                   help="where failing traces are written (default: %(default)s)")
    f.add_argument("--example-len", type=int, default=2000, metavar="N",
                   help="operations per example (default: %(default)s)")
    f.add_argument("--shrink-seconds", type=float, default=120.0, metavar="S",
                   help="time budget for minimizing a failing trace (default: %(default)s)")
    f.add_argument("--report", metavar="DIR", help="write an HTML report of the campaign here")
    f.add_argument("--initial", metavar="MAPS",
                   help="start every example from a VMA layout: a /proc/PID/maps file, 'self' or a PID")

    r = sub.add_parser("replay", help="re-run a trace and report the first divergence")
    r.add_argument("trace", metavar="TRACE")
    impl_arg(r)

    b = sub.add_parser("bench", help="benchmarks (ratios measured in one run)")
    b.add_argument("what", choices=("ops", "fork"))
    b.add_argument("--impl", choices=("linux", "python", "both"), default="both")
    b.add_argument("--linux-src", metavar="DIR", default=None)
    add_kernel_arg(b)
    b.add_argument("--entries", type=int, default=None, metavar="N")
    b.add_argument("--iterations", type=int, default=None, metavar="N")
    b.add_argument("--initial", metavar="MAPS", default=None,
                   help="fork: the tree is a VMA layout (/proc/PID/maps file, 'self' or a PID)")

    pr = sub.add_parser("prove", help="check the z3 lemma catalog")
    pr.add_argument("--lemma", metavar="NAME", action="append",
                    help="only this lemma (repeatable)")

    ex = sub.add_parser("export", help="a trace as a kernel C test (and run it in a kernel tree)")
    ex.add_argument("trace", metavar="TRACE")
    ex.add_argument("--c", action="store_true", help="a test function for lib/test_maple_tree.c")
    ex.add_argument("--name", metavar="NAME", help="test name (check_NAME; default: from the file)")
    ex.add_argument("--out", metavar="FILE", help="write the C test here")
    ex.add_argument("--run", action="store_true",
                    help="build it in the tree's tools/testing/radix-tree harness and run it "
                         "(exit 1 when it fails there)")
    ex.add_argument("--linux-src", metavar="DIR", default=None)
    add_kernel_arg(ex)

    sh = sub.add_parser("show", help="draw the tree(s) of a trace after a step")
    sh.add_argument("trace", metavar="TRACE")
    sh.add_argument("--step", type=int, metavar="K", help="after step K (default: the last)")
    sh.add_argument("--impl", choices=("model", "python", "linux", "both"), default="python",
                    help="tree(s) drawn; both: Python and Linux side by side (default: %(default)s)")
    sh.add_argument("--tree", type=int, default=None, metavar="T", help="tree number (default: the last op's)")
    out = sh.add_mutually_exclusive_group()
    out.add_argument("--svg", metavar="FILE")
    out.add_argument("--png", metavar="FILE")
    sh.add_argument("--linux-src", metavar="DIR", default=None)
    add_kernel_arg(sh)

    lx = sub.add_parser("linux", help="the Linux adapter")
    lsub = lx.add_subparsers(dest="linux_command", required=True)
    lb = lsub.add_parser("build", help="fetch (if needed) and build the Linux adapter")
    lb.add_argument("--linux-src", metavar="DIR", default=None)
    add_kernel_arg(lb)
    lb.add_argument("--sanitize", action="store_true", help="build the ASan/UBSan variant too")
    ll = lsub.add_parser("list", help="kernel versions Debian packages and those in the cache")
    ll.add_argument("--update", action="store_true", help="refresh the cached package lists first")
    return p


def _say(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- fuzz

def cmd_fuzz(args) -> int:
    from maplecheck.properties.engine import run_campaign
    from maplecheck.properties.impls import impl_names, linux_library

    if args.steps is not None and args.steps < 1:
        raise UsageProblem("--steps must be at least 1")
    if args.minutes is not None and args.minutes <= 0:
        raise UsageProblem("--minutes must be positive")
    if "linux" in impl_names(args.impl):
        t0 = time.monotonic()
        lib = linux_library(args.linux_src, args.sanitize)
        _say(f"linux adapter: {lib} ({time.monotonic() - t0:.1f}s)")
    make_example = None
    if args.initial:
        from maplecheck.maps import MapsError, describe, initial_examples, read_layout
        try:
            vmas = read_layout(args.initial)
        except MapsError as e:
            raise UsageProblem(str(e)) from None
        make_example = initial_examples(vmas)
        _say(f"initial tree: {describe(vmas)} from {args.initial}")
    from maplecheck.cmd_linux import say_structure_note
    say_structure_note(args)
    progress = _progress(args)
    with progress as update:
        res = run_campaign(args.impl, seed=args.seed, steps=args.steps, minutes=args.minutes,
                           out=Path(args.out), linux_src=args.linux_src, sanitize=args.sanitize,
                           example_len=args.example_len, progress=update,
                           shrink_budget_s=args.shrink_seconds, avoid_known_bugs=args.avoid_known_bugs,
                           make_example=make_example)
    rate = res.steps / res.seconds if res.seconds else 0.0
    heights = " ".join(f"h{h}:{n}" for h, n in sorted(res.heights.items()))
    _say(f"{res.examples} examples, {res.steps} checked steps, {rate:,.0f} steps/s; "
         f"max height per example: {heights or '-'}; cursor calls Linux leaves undefined, "
         f"not sent: {res.skipped}")
    if res.store_types:
        _say("write-path classifications in the Python tree: "
             + ", ".join(f"{k} {v}" for k, v in res.store_types.most_common()))
    for name, n in sorted(res.known.items()):
        _say(f"known kernel bug stepped around {n} times: {name} (--no-known-bugs to hit it)")
    for name, n in sorted(res.deviations.items()):
        _say(f"registered kernel deviation from the model seen {n} times: {name} (--no-known-bugs to fail)")
    for f in res.failures:
        print(f"FAILED ({f.kind}): {f.message}")
        print(f"minimized trace ({f.ops} of {f.original_ops} ops): {f.trace}")
        print(f"original trace: {f.original}")
        print(f"replay with: maplecheck replay {f.trace} --impl {args.impl}"
              + (f" --kernel {args.kernel}" if args.kernel else
                 f" --linux-src {args.linux_src}" if args.linux_src else ""))
    if args.report:
        from maplecheck.report import write_report
        page = write_report(res, args.report, title=f"maplecheck fuzz --impl {args.impl} --seed {args.seed}",
                            timeline=res.timeline, linux_src=args.linux_src)
        _say(f"report: {page}")
    print(res.summary())
    return EXIT_FOUND if res.failures else EXIT_OK


class _progress:
    """A rich progress bar on stderr (plain when stderr is not a terminal)."""

    def __init__(self, args) -> None:
        self.args = args
        self.bar = None

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        total = self.args.minutes * 60 if self.args.minutes else (self.args.steps or 20000)
        self.by_time = bool(self.args.minutes)
        self.bar = Progress(TextColumn("fuzz {task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                            TimeElapsedColumn(), console=console, disable=not console.is_terminal)
        self.bar.__enter__()
        self.task = self.bar.add_task(self.args.impl, total=total, info="")
        return self.update

    def update(self, res) -> None:
        done = res.seconds if self.by_time else res.steps
        self.bar.update(self.task, completed=done,
                        info=f"{res.steps} steps {res.examples} examples {res.steps / max(res.seconds, 1e-9):,.0f}/s")

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)
        return False


# ---------------------------------------------------------------- replay

def cmd_replay(args) -> int:
    from maplecheck.ops import read_trace
    from maplecheck.properties.engine import check_trace

    flags, ops = read_trace(Path(args.trace))  # TraceError -> exit 2
    from maplecheck.cmd_linux import say_structure_note
    say_structure_note(args)
    failure = check_trace(args.impl, flags, ops, args.linux_src, args.sanitize,
                          avoid_known_bugs=args.avoid_known_bugs)
    if failure:
        print(f"FAILED at op {failure.step} ({failure.kind}): {failure.message}")
    print(f"ops={len(ops)} result={'fail' if failure else 'pass'}")
    return EXIT_FOUND if failure else EXIT_OK


# ---------------------------------------------------------------- bench

def cmd_bench(args) -> int:
    if args.what == "fork":
        from maplecheck.bench_fork import main as bench_fork_main
        return bench_fork_main(args)
    from maplecheck.bench_ops import main as bench_ops_main
    return bench_ops_main(args)


# ---------------------------------------------------------------- prove

def cmd_prove(args) -> int:
    from maplecheck.prove import main as prove_main
    return prove_main(args)


# ---------------------------------------------------------------- linux build

def cmd_linux(args) -> int:
    from maplecheck.cmd_linux import cmd_linux as run
    return run(args)


def cmd_export(args) -> int:
    from maplecheck.export import main as export_main
    return export_main(args)


def cmd_show(args) -> int:
    from maplecheck.show import main as show_main
    return show_main(args)


COMMANDS = {"fuzz": cmd_fuzz, "replay": cmd_replay, "bench": cmd_bench, "prove": cmd_prove,
            "linux": cmd_linux, "export": cmd_export, "show": cmd_show}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from maplecheck.ops import TraceError
    from maplecheck.properties.impls import SetupError

    try:
        from maplecheck.cmd_linux import resolve_kernel_args
        resolve_kernel_args(args)
        return COMMANDS[args.command](args)
    except (UsageProblem, SetupError, TraceError) as e:
        first, _, rest = str(e).partition("\n")
        more = " (details: set MAPLECHECK_DEBUG=1)" if rest and not os.environ.get("MAPLECHECK_DEBUG") else ""
        print(f"maplecheck: error: {first}{more}", file=sys.stderr)
        if rest and os.environ.get("MAPLECHECK_DEBUG"):
            print(rest, file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        print("maplecheck: interrupted", file=sys.stderr)
        return EXIT_SETUP
