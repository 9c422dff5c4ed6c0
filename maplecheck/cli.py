# SPDX-License-Identifier: GPL-2.0-or-later
"""The ``maplecheck`` command: parser registration and dispatch.

Each subcommand lives in its own module (``cmd_fuzz``, ``cmd_replay``,
``cmd_linux``, ``bench_*``, ``prove``); this module parses, dispatches and maps
every outcome to an exit status:

* 0 -- success, nothing found;
* 1 -- the tree under test is wrong (a result, contents, validator, structure,
  crash or hang finding);
* 2 -- bad usage, bad input or setup, or an internal error of maplecheck (one
  line on stderr; an internal error also names the file holding the traceback);
* 130 / 143 -- interrupted by SIGINT / SIGTERM (the summary of what ran is printed).

Long work shows progress on stderr; the last line on stdout is a
machine-readable summary of ``key=value`` pairs.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import time
import traceback

EXIT_OK, EXIT_FOUND, EXIT_SETUP = 0, 1, 2

DESCRIPTION = "Model checking and differential testing for the Linux kernel's maple tree."
EPILOG = """\
examples:
  maplecheck fuzz --impl linux --minutes 5 --seed 1
  maplecheck fuzz --impl both --steps 20000 --out findings/
  maplecheck replay findings/linux-seed1-ex3.jsonl --impl linux
  maplecheck linux build --linux-src ~/src/linux --sanitize
  maplecheck bench ops --impl both --entries 1000 --iterations 3
  maplecheck prove

exit status:
  0    success, nothing found
  1    the tree under test is wrong (result, contents, validator, structure, crash, hang)
  2    bad usage or input, setup failure, or an internal error of maplecheck
  130  interrupted by SIGINT (143: SIGTERM); the summary of what ran is printed
"""


class UsageProblem(Exception):
    """Bad usage or setup: one clear line, exit 2."""


def say(*parts) -> None:
    """A line of progress or explanation on stderr."""
    print(*parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- validated numbers

def _number(kind, lo, lo_open: bool, what: str, hi=None):
    """An argparse type: a finite ``kind`` number >= lo (> lo when ``lo_open``), <= hi if given."""
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}")
        if not math.isfinite(v) or v < lo or (lo_open and v == lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{text!r}: must be {what}")
        return v
    return parse


positive_int = _number(int, 1, False, "an integer >= 1")
positive_float = _number(float, 0, True, "a finite number > 0")
nonneg_float = _number(float, 0, False, "a finite number >= 0")
nonneg_int = _number(int, 0, False, "an integer >= 0")
example_len = _number(int, 1, False, "an integer from 1 to 1000000", hi=10**6)


def _parser() -> argparse.ArgumentParser:
    from maplecheck.cmd_linux import add_kernel_arg

    p = argparse.ArgumentParser(prog="maplecheck", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version_line())
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
        sp.add_argument("--hang-seconds", type=positive_float, default=None, metavar="S",
                        help="floor of each call's deadline into the Linux worker; past its deadline "
                             "(S plus a per-operation term) the call is a hang finding (default 10)")

    f = sub.add_parser("fuzz", help="run a seeded fuzzing campaign against the model")
    impl_arg(f)
    add_campaign_args(f, "where failing traces are written")
    from maplecheck.cmd_rcu import add_rcu_args
    f.add_argument("--rcu", action="store_true",
                   help="interleave RCU readers with the campaign's writes (see maplecheck rcu)")
    add_rcu_args(f, trace=False)
    rc = sub.add_parser("rcu", help="explore RCU reader interleavings with the writes of a trace")
    add_rcu_args(rc, trace=True)

    r = sub.add_parser("replay", help="re-run a trace and report the first divergence")
    r.add_argument("trace", metavar="TRACE")
    impl_arg(r)

    b = sub.add_parser("bench", help="benchmarks (ratios measured in one run)")
    b.add_argument("what", choices=("ops", "fork", "fuzz"))
    b.add_argument("--impl", choices=("linux", "python", "both"), default="both")
    b.add_argument("--linux-src", metavar="DIR", default=None)
    add_kernel_arg(b)
    b.add_argument("--entries", type=positive_int, default=None, metavar="N")
    b.add_argument("--iterations", type=positive_int, default=None, metavar="N")
    b.add_argument("--initial", metavar="MAPS", default=None,
                   help="fork: the tree is a VMA layout (/proc/PID/maps file, 'self' or a PID)")
    b.add_argument("--seed", type=int, default=1, help="bench fuzz: campaign seed")
    b.add_argument("--seconds", type=positive_float, default=10.0, help="bench fuzz: seconds per campaign")

    pr = sub.add_parser("prove", help="check the z3 lemma catalog")
    pr.add_argument("--lemma", metavar="NAME", action="append",
                    help="only this lemma (repeatable)")

    from maplecheck.cmd_diff import add_parser as add_diff_parser
    add_diff_parser(sub)

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


def add_campaign_args(sp, out_help: str) -> None:
    """The budget, seed, output, shrinking, report and starting-tree options every campaign command
    takes (validated)."""
    budget = sp.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=positive_int, metavar="N", help="operations to run (default 20000)")
    budget.add_argument("--minutes", type=positive_float, metavar="M",
                        help="run for M minutes (the campaign, shrinking included, ends within M minutes + 60 s)")
    sp.add_argument("--seed", type=int, default=0, help="campaign seed (same seed, same run)")
    sp.add_argument("--out", metavar="DIR", default="maplecheck-out", help=out_help + " (default: %(default)s)")
    sp.add_argument("--example-len", type=example_len, default=2000, metavar="N",
                    help="operations per example (default: %(default)s)")
    sp.add_argument("--shrink-seconds", type=nonneg_float, default=120.0, metavar="S",
                    help="time budget for minimizing a failing trace (default: %(default)s)")
    sp.add_argument("--report", metavar="DIR", help="write an HTML report of the campaign here")
    sp.add_argument("--initial", metavar="MAPS",
                    help="start every example from a VMA layout: a /proc/PID/maps file, 'self' or a PID")


def version_line() -> str:
    from maplecheck import __version__
    return f"maplecheck {__version__} (Python {sys.version.split()[0]})"


def cmd_fuzz(args) -> int:
    if args.rcu:
        from maplecheck.cmd_rcu import cmd_fuzz_rcu
        return cmd_fuzz_rcu(args)
    from maplecheck.cmd_fuzz import cmd_fuzz as run
    return run(args)


def cmd_replay(args) -> int:
    from maplecheck.cmd_rcu import rcu_header, replay_rcu
    if rcu_header(args.trace) is not None:
        return replay_rcu(args)
    from maplecheck.cmd_replay import cmd_replay as run
    return run(args)


def cmd_bench(args) -> int:
    if args.what == "fuzz":
        from maplecheck.bench_fuzz import main as bench_fuzz_main
        return bench_fuzz_main(args)
    if args.what == "fork":
        from maplecheck.bench_fork import main as bench_fork_main
        return bench_fork_main(args)
    from maplecheck.bench_ops import main as bench_ops_main
    return bench_ops_main(args)


def cmd_prove(args) -> int:
    from maplecheck.prove import main as prove_main
    return prove_main(args)


def cmd_linux(args) -> int:
    from maplecheck.cmd_linux import cmd_linux as run
    return run(args)


def cmd_diff(args) -> int:
    from maplecheck.cmd_diff import main as diff_main
    return diff_main(args)


def cmd_export(args) -> int:
    from maplecheck.export import main as export_main
    return export_main(args)


def cmd_rcu(args) -> int:
    from maplecheck.cmd_rcu import cmd_rcu as run
    return run(args)


def cmd_show(args) -> int:
    from maplecheck.show import main as show_main
    return show_main(args)


COMMANDS = {"fuzz": cmd_fuzz, "replay": cmd_replay, "bench": cmd_bench, "prove": cmd_prove,
            "linux": cmd_linux, "diff": cmd_diff, "export": cmd_export, "show": cmd_show,
            "rcu": cmd_rcu}


# ---------------------------------------------------------------- interrupts

_SIGNALLED: list = [None]


def _on_signal(signum, _frame) -> None:
    """SIGINT/SIGTERM: remember which, and unwind like Ctrl-C (the worker is killed on the way)."""
    if _SIGNALLED[0] is None:
        _SIGNALLED[0] = signum
        raise KeyboardInterrupt
    # a second signal while unwinding: let the unwinding finish


def interrupt_status() -> int | None:
    """128 + the signal that interrupted this run (130 SIGINT, 143 SIGTERM), None if none did."""
    return 128 + _SIGNALLED[0] if _SIGNALLED[0] is not None else None


def _install_signal_handlers() -> list:
    saved = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            saved.append((sig, signal.signal(sig, _on_signal)))
        except ValueError:  # not the main thread (embedded use): keep the defaults
            pass
    return saved


# ---------------------------------------------------------------- errors

def _check_impl_options(args) -> None:
    """Options that only the Linux adapter uses are refused where no Linux adapter runs."""
    if getattr(args, "impl", None) != "python":
        return
    used = [o for o, v in (("--linux-src", getattr(args, "linux_src", None)),
                           ("--kernel", getattr(args, "kernel", None)),
                           ("--sanitize", getattr(args, "sanitize", False))) if v]
    if used:
        raise UsageProblem(f"{' and '.join(used)} {'is' if len(used) == 1 else 'are'} for the Linux "
                           f"adapter, which --impl python does not use (use --impl linux or both)")


def _internal_error(e: BaseException) -> int:
    """One line naming the cause, the version and the file that holds the full traceback."""
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    try:
        fd, path = tempfile.mkstemp(prefix="maplecheck-error-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(f"{version_line()}\nargv: {sys.argv!r}\ntime: {time.ctime()}\n\n{text}")
        where = f"traceback in {path}"
    except OSError:
        where = "traceback could not be written"
    first = (str(e).splitlines() or [""])[0][:300]
    print(f"maplecheck: internal error: {type(e).__name__}: {first} ({version_line()}; {where})",
          file=sys.stderr)
    return EXIT_SETUP


def _usage_error(e: BaseException) -> int:
    first, _, rest = str(e).partition("\n")
    debug = os.environ.get("MAPLECHECK_DEBUG")
    more = " (details: set MAPLECHECK_DEBUG=1)" if rest and not debug else ""
    print(f"maplecheck: error: {first}{more}", file=sys.stderr)
    if rest and debug:
        print(rest, file=sys.stderr)
    return EXIT_SETUP


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from maplecheck.ops import TraceError
    from maplecheck.properties.impls import SetupError

    _SIGNALLED[0] = None
    saved = _install_signal_handlers()
    try:
        _check_impl_options(args)
        from maplecheck.cmd_linux import resolve_kernel_args
        resolve_kernel_args(args)
        return COMMANDS[args.command](args)
    except (UsageProblem, SetupError, TraceError) as e:
        return _usage_error(e)
    except KeyboardInterrupt:
        status = interrupt_status() or 128 + signal.SIGINT
        print(f"maplecheck: interrupted by {signal.Signals(status - 128).name}", file=sys.stderr)
        return status
    except Exception as e:  # our own bug (WorkerError included): never reported as a finding
        return _internal_error(e)
    finally:
        for sig, handler in saved:
            signal.signal(sig, handler)
