# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck diff``: a maple-tree patch against its base, in lockstep with the model.

    maplecheck diff --base-src ~/linux --patched-src ~/linux-patched --steps 50000 --seed 1
    maplecheck diff --base-kernel 6.12 --patched-kernel 7.3 --structure strict

Prints a table (contents, structure, shape and speed per side), writes the
JSON report ``diff-seed<S>.json`` under ``--out``, and ends with the line
``base= patched= steps= examples= failures= structural_diffs= seconds=``.
Exit 0 when both sides agree with the model (structural differences allowed
unless ``--structure strict``), 1 on a finding, 2 on bad usage or setup.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FOUND, EXIT_SETUP = 0, 1, 2


def add_parser(sub) -> None:
    """Register ``diff`` and its options on the CLI's subparsers."""
    d = sub.add_parser("diff", help="a maple-tree patch against its base, both in lockstep with the model")
    for label in ("base", "patched"):
        g = d.add_mutually_exclusive_group(required=True)
        g.add_argument(f"--{label}-src", metavar="DIR", help=f"kernel source tree of the {label} side")
        g.add_argument(f"--{label}-kernel", metavar="V", help=f"kernel version of the {label} side (6.12, 7.3...)")
    from maplecheck.cli import add_campaign_args
    add_campaign_args(d, "where traces and the JSON report are written")
    d.add_argument("--structure", choices=("report", "strict"), default="report",
                   help="report: shape differences are information; strict: any is a failure "
                        "(default: %(default)s)")
    d.add_argument("--no-timing", dest="timing", action="store_false",
                   help="skip the timed passes (no speed table)")
    d.add_argument("--no-known-bugs", dest="avoid_known_bugs", action="store_false",
                   help="do not step around known kernel bugs (maplecheck.properties.known)")
    d.add_argument("--replay", metavar="TRACE", help="run this trace on both sides instead of a campaign")


def _say(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def resolve_side(label: str, src: str | None, kernel: str | None):
    """The Side for ``--LABEL-src`` or ``--LABEL-kernel``; SetupError (one line) when unusable."""
    from maplecheck.impl.linux import source
    from maplecheck.properties.diff import Side
    from maplecheck.properties.impls import SetupError, linux_tree

    try:
        if src is not None:
            return Side(label, str(source.kernel_source(src)), src)
        return Side(label, linux_tree(None, source.normalize_kernel(kernel)), kernel)
    except (source.LinuxSourceError, SetupError) as e:
        raise SetupError(f"{label} side: {e}") from e


def main(args) -> int:
    from maplecheck.cli import UsageProblem
    from maplecheck.properties.impls import linux_library

    if args.steps is not None and args.steps < 1:
        raise UsageProblem("--steps must be at least 1")
    if args.minutes is not None and args.minutes <= 0:
        raise UsageProblem("--minutes must be positive")
    sides = (resolve_side("base", args.base_src, args.base_kernel),
             resolve_side("patched", args.patched_src, args.patched_kernel))
    libs = {}
    for s in sides:
        t0 = time.monotonic()
        libs[s.label] = str(linux_library(s.src))
        _say(f"{s.label} ({s.name}): {libs[s.label]} ({time.monotonic() - t0:.1f}s)")
    if args.replay:
        return _replay(args, sides)
    from maplecheck.properties.diff import run_diff

    res = run_diff(sides, seed=args.seed, steps=args.steps, minutes=args.minutes, structure=args.structure,
                   out=Path(args.out), libs=libs, example_len=args.example_len,
                   shrink_budget_s=args.shrink_seconds, avoid_known_bugs=args.avoid_known_bugs,
                   timing=args.timing, progress=_progress(args))
    report = res.to_json()
    path = Path(args.out) / f"diff-seed{args.seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print_report(report)
    for f in res.failures:
        print(f"FAILED ({f['kind']}, side {f['side']}): {f['message']}")
        print(f"minimized trace ({f['ops']} of {f['original_ops']} ops): {f['trace']}")
        print("replay with: " + replay_command(f, sides, args))
    _say(f"report: {path}")
    print(res.summary())
    return EXIT_FOUND if res.failures else EXIT_OK


def replay_command(f: dict, sides, args) -> str:
    """How to re-run a saved finding: ``replay`` on the failing side, ``diff --replay`` for structure."""
    if f["kind"] == "structure":
        opts = " ".join(f"--{s.label}-{'src' if getattr(args, s.label + '_src') else 'kernel'} {s.name}"
                        for s in sides)
        return f"maplecheck diff {opts} --structure strict --replay {f['trace']}"
    side = next(s for s in sides if s.label == f["replay_side"])
    how = f"--linux-src {side.name}" if getattr(args, side.label + "_src") else f"--kernel {side.name}"
    return f"maplecheck replay {f['trace']} --impl linux {how}"


def _replay(args, sides) -> int:
    from maplecheck.ops import read_trace
    from maplecheck.properties.diff import replay_pair

    flags, ops = read_trace(Path(args.replay))
    o = replay_pair(sides, flags, ops, strict=args.structure == "strict",
                    avoid_known_bugs=args.avoid_known_bugs)
    if o.kind == "side":
        print(f"FAILED at op {o.step} ({o.failure.kind}, side {o.side}): {o.failure.message}")
    elif o.kind == "structure":
        print(f"FAILED at op {o.step} (structure): {o.diff}")
    elif o.first_diff:
        print(f"structure differs first after op {o.first_diff_step}: {o.first_diff}")
    fail = o.kind != "pass"
    print(f"ops={len(ops)} result={'fail' if fail else 'pass'} structural_diffs={o.diff_writes}")
    return EXIT_FOUND if fail else EXIT_OK


# ---------------------------------------------------------------- output

def print_report(r: dict) -> None:
    """The report as tables: outcome, structure and shape per side, speed per op class."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    a, b = "base", "patched"
    sa, sb = r["shape"].get(a, {}), r["shape"].get(b, {})
    t = Table(title=f"maplecheck diff: {r['base']['name']} (base) vs {r['patched']['name']} (patched), "
                    f"seed {r['seed']}, structure {r['structure_mode']}")
    t.add_column("")
    t.add_column(a, justify="right")
    t.add_column(b, justify="right")
    t.add_row("steps / examples / writes", f"{r['steps']} / {r['examples']} / {r['writes']}", "")
    t.add_row("failures", str(len(r["failures"])), ", ".join(f"{f['kind']} ({f['side']})" for f in r["failures"]))
    t.add_row("structure-dependent result differences", str(r["result_difference_count"]), "")
    t.add_row("writes after which shapes differ",
              f"{r['structural_diff_writes']} ({100 * r['structural_share']:.1f}%)", "")
    for key, label in (("mean_height", "mean height after a write"), ("mean_nodes", "mean nodes per tree"),
                       ("nodes_per_entry", "nodes per entry"), ("mean_leaf_fill", "mean entries per leaf"),
                       ("mean_internal_fill", "mean slots per internal node")):
        t.add_row(label, str(sa.get(key, "-")), str(sb.get(key, "-")))
    for key, label in (("height", "height after a write"), ("leaf_fill", "entries per leaf"),
                       ("internal_fill", "slots per internal node")):
        t.add_row(label, _dist(sa.get(key, {})), _dist(sb.get(key, {})))
    for cls in sorted(set(sa.get("node_delta_per_op", {})) | set(sb.get("node_delta_per_op", {}))):
        t.add_row(f"net nodes per {cls}", str(sa["node_delta_per_op"].get(cls, "-")),
                  str(sb["node_delta_per_op"].get(cls, "-")))
    t.add_row("store types", "not countable in the Linux adapter", "")
    con.print(t)
    sp = r.get("speed") or {}
    if sp.get("classes"):
        st = Table(title=f"speed, validator off (each op timed in C, best of {sp['repeats']} passes)")
        for col in ("op class", "ops", f"{a} ns/op", f"{b} ns/op", "patched/base"):
            st.add_column(col, justify="right")
        for cls, row in sp["classes"].items():
            st.add_row(cls, str(row["ops"]), f"{row[a + '_ns']:.0f}", f"{row[b + '_ns']:.0f}",
                       f"{row['ratio']:.2f}" if row["ratio"] is not None else "-")
        con.print(st)
    s = r.get("first_structural_divergence")
    if s:
        con.print(f"first structural divergence (example {s['example']}, {s['ops']} of "
                  f"{s['original_ops']} ops): {s['trace']}", highlight=False)
        con.print(s["diff"], highlight=False, markup=False)


def _dist(c: dict) -> str:
    total = sum(c.values())
    if not total:
        return "-"
    return " ".join(f"{k}:{100 * v / total:.0f}%" for k, v in sorted(c.items(), key=lambda kv: int(kv[0]))
                    if 100 * v / total >= 1)


class _progress:
    """Progress on stderr (a rich bar on a terminal, nothing otherwise)."""

    def __init__(self, args) -> None:
        from rich.console import Console
        self.console = Console(stderr=True)
        self.args = args
        self.last = 0.0

    def __call__(self, res) -> None:
        if not self.console.is_terminal or time.monotonic() - self.last < 1:
            return
        self.last = time.monotonic()
        self.console.print(f"diff: {res.steps} steps {res.examples} examples "
                           f"{res.diff_writes} structural diffs {res.seconds:.0f}s", end="\r")
