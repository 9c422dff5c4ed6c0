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
    p = argparse.ArgumentParser(prog="maplecheck", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def impl_arg(sp, default="linux"):
        sp.add_argument("--impl", choices=("linux", "python", "both"), default=default,
                        help="implementation(s) checked against the model (default: %(default)s)")
        sp.add_argument("--linux-src", metavar="DIR", default=None,
                        help="kernel source tree to build the Linux adapter from "
                             "(default: Debian's linux-source-6.12, fetched and cached)")
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
    f.add_argument("--rcu", action="store_true",
                   help="interleave RCU readers with the campaign's writes (see maplecheck rcu)")
    from maplecheck.cmd_rcu import add_rcu_args
    add_rcu_args(f, trace=False)
    rc = sub.add_parser("rcu", help="explore RCU reader interleavings with the writes of a trace")
    add_rcu_args(rc, trace=True)

    r = sub.add_parser("replay", help="re-run a trace and report the first divergence")
    r.add_argument("trace", metavar="TRACE")
    impl_arg(r)

    b = sub.add_parser("bench", help="benchmarks (ratios measured in one run)")
    b.add_argument("what", choices=("ops", "fork"))
    b.add_argument("--impl", choices=("linux", "python", "both"), default="both")
    b.add_argument("--linux-src", metavar="DIR", default=None)
    b.add_argument("--entries", type=int, default=None, metavar="N")
    b.add_argument("--iterations", type=int, default=None, metavar="N")

    pr = sub.add_parser("prove", help="check the z3 lemma catalog")
    pr.add_argument("--lemma", metavar="NAME", action="append",
                    help="only this lemma (repeatable)")

    lx = sub.add_parser("linux", help="the Linux adapter")
    lsub = lx.add_subparsers(dest="linux_command", required=True)
    lb = lsub.add_parser("build", help="fetch (if needed) and build the Linux adapter")
    lb.add_argument("--linux-src", metavar="DIR", default=None)
    lb.add_argument("--sanitize", action="store_true", help="build the ASan/UBSan variant too")
    return p


def _say(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- fuzz

def cmd_fuzz(args) -> int:
    if args.rcu:
        from maplecheck.cmd_rcu import cmd_fuzz_rcu
        return cmd_fuzz_rcu(args)
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
    progress = _progress(args)
    with progress as update:
        res = run_campaign(args.impl, seed=args.seed, steps=args.steps, minutes=args.minutes,
                           out=Path(args.out), linux_src=args.linux_src, sanitize=args.sanitize,
                           example_len=args.example_len, progress=update,
                           shrink_budget_s=args.shrink_seconds, avoid_known_bugs=args.avoid_known_bugs)
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
    for f in res.failures:
        print(f"FAILED ({f.kind}): {f.message}")
        print(f"minimized trace ({f.ops} of {f.original_ops} ops): {f.trace}")
        print(f"original trace: {f.original}")
        print(f"replay with: maplecheck replay {f.trace} --impl {args.impl}"
              + (f" --linux-src {args.linux_src}" if args.linux_src else ""))
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
    from maplecheck.cmd_rcu import rcu_header, replay_rcu
    if rcu_header(Path(args.trace)) is not None:
        return replay_rcu(args)
    from maplecheck.ops import read_trace
    from maplecheck.properties.engine import check_trace

    flags, ops = read_trace(Path(args.trace))  # TraceError -> exit 2
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
    from maplecheck.properties.impls import linux_library

    t0 = time.monotonic()
    lib = linux_library(args.linux_src, sanitize=False)
    _say(f"optimized build: {lib} ({time.monotonic() - t0:.1f}s)")
    if args.sanitize:
        t1 = time.monotonic()
        asan = linux_library(args.linux_src, sanitize=True)
        _say(f"ASan/UBSan build: {asan} ({time.monotonic() - t1:.1f}s)")
    print(f"adapter={lib}")
    return EXIT_OK


def cmd_rcu(args) -> int:
    from maplecheck.cmd_rcu import cmd_rcu as run
    return run(args)


COMMANDS = {"fuzz": cmd_fuzz, "replay": cmd_replay, "bench": cmd_bench, "prove": cmd_prove,
            "linux": cmd_linux, "rcu": cmd_rcu}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from maplecheck.ops import TraceError
    from maplecheck.properties.impls import SetupError

    try:
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
