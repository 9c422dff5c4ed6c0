# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck fuzz``: a seeded campaign against the model, and its report."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from maplecheck.cli import EXIT_FOUND, EXIT_OK, UsageProblem, interrupt_status, say

#: a progress line every this many seconds when stderr is not a terminal
PLAIN_PROGRESS_S = 5.0


def check_out_dir(out: Path) -> None:
    """Make sure findings can be written under ``out`` before any work is done."""
    if out.exists() and not out.is_dir():
        raise UsageProblem(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".maplecheck-probe-"):
            pass
    except OSError as e:
        raise UsageProblem(f"--out {out}: cannot write there ({e.strerror or e})") from None


def cmd_fuzz(args) -> int:
    from maplecheck.properties.engine import run_campaign
    from maplecheck.properties.impls import impl_names, linux_library

    check_out_dir(Path(args.out))
    if "linux" in impl_names(args.impl):
        t0 = time.monotonic()
        lib = linux_library(args.linux_src, args.sanitize)
        say(f"linux adapter: {lib} ({time.monotonic() - t0:.1f}s)")
    make_example = None
    if args.initial:
        from maplecheck.maps import MapsError, describe, initial_examples, read_layout
        try:
            vmas = read_layout(args.initial)
        except MapsError as e:
            raise UsageProblem(str(e)) from None
        make_example = initial_examples(vmas)
        say(f"initial tree: {describe(vmas)} from {args.initial}")
    from maplecheck.cmd_linux import say_structure_note
    say_structure_note(args)
    from maplecheck.impl.linux.worker import deadline_floor
    with deadline_floor(args.hang_seconds), Progress(args) as update:
        res = run_campaign(args.impl, seed=args.seed, steps=args.steps, minutes=args.minutes,
                           out=Path(args.out), linux_src=args.linux_src, sanitize=args.sanitize,
                           example_len=args.example_len, progress=update,
                           shrink_budget_s=args.shrink_seconds, avoid_known_bugs=args.avoid_known_bugs,
                           make_example=make_example)
    report(args, res)
    if args.report:
        from maplecheck.report import write_report
        page = write_report(res, args.report, title=f"maplecheck fuzz --impl {args.impl} --seed {args.seed}",
                            timeline=res.timeline, linux_src=args.linux_src)
        say(f"report: {page}")
    status = interrupt_status()
    if res.stopped == "interrupted":
        return status or 130
    return EXIT_FOUND if res.failures else EXIT_OK


def report(args, res) -> None:
    """What ran, on stderr; each finding on stdout; the summary line last."""
    from maplecheck.ops import format_flags

    rate = res.steps / res.seconds if res.seconds else 0.0
    heights = " ".join(f"h{h}:{n}" for h, n in sorted(res.heights.items()))
    say(f"{res.examples} examples, {res.steps} checked steps, {rate:,.0f} steps/s; "
        f"max height per example: {heights or '-'}; cursor calls Linux leaves undefined, "
        f"not sent: {res.skipped}")
    if res.store_types:
        say("write-path classifications in the Python tree: "
            + ", ".join(f"{k} {v}" for k, v in res.store_types.most_common()))
    if res.ops:
        say("operations: " + ", ".join(f"{k} {v}" for k, v in sorted(res.ops.items())))
    for line in res.nomem_lines():
        say("allocation failure: " + line)
    for name, n in sorted(res.known.items()):
        say(f"known kernel bug stepped around {n} times: {name} (--no-known-bugs to hit it)")
    for name, n in sorted(res.deviations.items()):
        say(f"registered kernel deviation from the model seen {n} times: {name} (--no-known-bugs to fail)")
    if res.stopped:
        say(f"campaign stopped early: {res.stopped}")
    for f in res.failures:
        print(f"FAILED ({f.kind}) on a tree with flags {format_flags(f.flags)}: {f.message}")
        if f.kind in ("crash", "hang"):
            print("known kernel bug: " + (f.known or ("not checked (no time left)" if f.partial or not f.triaged
                                                      else "none of the registered known bugs explains it")))
        shrunk = "not fully minimized: shrinking was cut short, " if f.partial else "minimized "
        print(f"{shrunk}trace ({f.ops} of {f.original_ops} ops): {f.trace}")
        print(f"original trace: {f.original}")
        print(f"replay with: maplecheck replay {f.trace} --impl {args.impl}"
              + (f" --kernel {args.kernel}" if args.kernel else
                 f" --linux-src {args.linux_src}" if args.linux_src else ""))
    print(res.summary(), flush=True)


class Progress:
    """A rich progress bar on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, args) -> None:
        self.args = args
        self.bar = None
        self.last = 0.0

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        self.tty = console.is_terminal
        total = self.args.minutes * 60 if self.args.minutes else (self.args.steps or 20000)
        self.by_time = bool(self.args.minutes)
        self.bar = Bar(TextColumn("fuzz {task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                       TimeElapsedColumn(), console=console, disable=not self.tty)
        self.bar.__enter__()
        self.task = self.bar.add_task(self.args.impl, total=total, info="")
        self.last = time.monotonic()
        return self.update

    def update(self, res) -> None:
        done = res.seconds if self.by_time else res.steps
        info = f"{res.steps} steps {res.examples} examples {res.steps / max(res.seconds, 1e-9):,.0f}/s"
        self.bar.update(self.task, completed=done, info=info)
        now = time.monotonic()
        if not self.tty and now - self.last >= PLAIN_PROGRESS_S:
            self.last = now
            say(f"fuzz {self.args.impl}: {info}, {res.seconds:.0f}s")

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)
        return False


__all__ = ["cmd_fuzz", "check_out_dir", "report"]
