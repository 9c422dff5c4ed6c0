# SPDX-License-Identifier: GPL-2.0-or-later
"""A maple-tree patch against its base: two Linux trees and the model, in lockstep.

``maplecheck diff`` answers three questions about a patch to ``lib/maple_tree.c``
on one seeded operation stream (the fuzz engine's generator, every operation,
dup and RCU mode included):

* **contents**: each side runs exactly the campaign ``maplecheck fuzz --impl
  linux`` would run on it (a :class:`~maplecheck.properties.lockstep.Lockstep`
  of its own, with its own model, so the model's structural hints are read off
  that side's tree).  A failure names the side (``base``, ``patched`` or
  ``both``) and is shrunk and saved by the engine, so ``maplecheck replay``
  reproduces it on that side.  When the two models are told different hints
  and so give different results, that is a *structure-dependent result*
  difference: recorded, not a failure (both sides agree with the model).
* **structure**: after every write, the canonical dumps of the touched trees
  are compared.  In ``report`` mode a difference is information (the first one
  is shrunk to a short trace with its dump diff; the share of writes after
  which shapes differ and per-side shape statistics are reported); in
  ``strict`` mode the first one is a failure.
* **speed**: each passed example is replayed without validation in one child
  process per side, the sides taking turns every ``Timer.CHUNK`` operations
  (who goes first alternates); the shim's ``mc_batch_timed`` times every
  operation in C (best of ``TIME_REPEATS`` passes), and per operation class
  the two sides' times per op and their ratio are reported.

Invariant: a side that fails is never compared further in that example; the
structural comparison and the timing only ever see operations both sides ran
and passed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from maplecheck.dump import dump_diff, dump_text
from maplecheck.ops import WRITES, TraceError, write_trace

from .engine import (Failure, ImplFailure, _close_quietly, example_seed, minimize_failure, shrink,
                     triage_crash)
from .gen import example_ops
from .lockstep import Divergence, Lockstep

SIDES = ("base", "patched")
STRUCTURE_MODES = ("report", "strict")

#: the operation classes timed, by operation name (set_rcu and destroy run untimed)
OP_CLASS = {
    "store_range": "store", "insert_range": "store", "replace": "store",
    "erase": "erase", "load": "load", "walk": "walk",
    "mas_set": "iterate", "mas_pause": "iterate",
    "mas_find": "iterate", "mas_find_range": "iterate", "mas_next": "iterate",
    "mas_next_range": "iterate", "mas_prev": "iterate", "mas_prev_range": "iterate",
    "mas_find_rev": "iterate", "mas_find_range_rev": "iterate",
    "empty_area": "gap search", "empty_area_rev": "gap search",
    "alloc_range": "gap search", "alloc_rrange": "gap search",
    "dup": "dup",
}
OP_CLASSES = ("store", "erase", "load", "walk", "iterate", "gap search", "dup")
TIME_REPEATS = 3
#: whole contents compared with the model every this many writes, and at the end of every example
#: (results every op, the validator after every write; fuzz compares contents once per batch)
CONTENTS_EVERY = 16


@dataclass(frozen=True)
class Side:
    """One kernel tree of the comparison: its label, source directory and how the user named it."""

    label: str
    src: str
    name: str


# ---------------------------------------------------------------- sessions

class _CachedDumps:
    """A session that validates each write in the same worker call and remembers dumps.

    A write goes to the worker as a one-op ``run_checked`` (the C side runs
    ``mt_validate`` on every tree the op touched), so lockstep's validation
    that follows is answered from that verdict; lockstep's dump for the
    contents check is reused by the structural comparison and the shape
    statistics.  Invariant: every cached answer is about the trees as they
    are after the last operation sent.
    """

    def __init__(self, sess) -> None:
        self.sess = sess
        self.cache: dict[int, dict] = {}
        self.verdict: dict[int, list[str]] = {}

    def step(self, op: tuple):
        self.cache.clear()
        self.verdict.clear()
        if op[0] not in WRITES or op[0] == "destroy":
            return self.sess.step(op)
        results, bad, messages = self.sess.run_checked([op], True)
        self.verdict[op[1]] = messages if bad is not None else []  # a dup's copy: asked anew
        return results[0]

    def run_checked(self, ops, validate: bool = True):
        self.cache.clear()
        self.verdict.clear()
        return self.sess.run_checked(ops, validate)

    def validate(self, t: int) -> list[str]:
        v = self.verdict.get(t)
        return self.sess.validate(t) if v is None else v

    def dump(self, t: int) -> dict:
        d = self.cache.get(t)
        if d is None:
            d = self.cache[t] = self.sess.dump(t)
        return d

    def __getattr__(self, name):
        return getattr(self.sess, name)


#: one worker per side label, reused across examples (a tree compared with itself needs two)
_SIDE_POOL: dict = {}


def _side_session(side: Side, flags: int):
    """This side's pooled Linux worker, reset to one empty tree of ``flags``."""
    from maplecheck.impl.linux.worker import RemoteLinuxSession

    from .impls import PooledLinuxSession, linux_library
    lib = linux_library(side.src)
    remote = _SIDE_POOL.get((side.label, lib))
    if remote is None:
        remote = _SIDE_POOL[(side.label, lib)] = RemoteLinuxSession(flags, lib_path=lib)
    else:
        remote.reset(flags)
    return PooledLinuxSession(remote)


def open_side(side: Side, flags: int, avoid_known_bugs: bool = True) -> Lockstep:
    """The model plus this side's Linux session (named by the side's label), as fuzz checks it."""
    from .impls import open_session
    model = open_session("model", flags)
    try:
        sess = _CachedDumps(_side_session(side, flags))
    except BaseException:
        model.close()
        raise
    return Lockstep(model, {side.label: sess}, contents_every=CONTENTS_EVERY, avoid_known_bugs=avoid_known_bugs)


# ---------------------------------------------------------------- shape statistics

@dataclass
class ShapeStats:
    """What one side's trees looked like: per write and at the end of every example."""

    writes: int = 0
    heights: Counter = field(default_factory=Counter)      # height after each write
    leaf_fill: Counter = field(default_factory=Counter)    # used slots per leaf (end of example)
    internal_fill: Counter = field(default_factory=Counter)  # used slots per internal node
    node_counts: Counter = field(default_factory=Counter)  # nodes per tree (end of example)
    nodes: int = 0                                          # nodes of the trees at example ends
    entries: int = 0                                        # non-NULL ranges of those trees
    node_delta: dict = field(default_factory=dict)          # op class -> [net node change, ops]

    def after_write(self, op_class: str, before: int, d: dict) -> int:
        """Account one written tree's dump; return its node count."""
        n = len(d.get("nodes", ()))
        self.heights[d.get("height", 0)] += 1
        acc = self.node_delta.setdefault(op_class, [0, 0])
        acc[0] += n - before
        acc[1] += 1
        return n

    def snapshot(self, d: dict) -> None:
        """Account a tree as it stands at the end of an example."""
        nodes = d.get("nodes", ())
        self.node_counts[len(nodes)] += 1
        self.nodes += len(nodes)
        for n in nodes:
            (self.leaf_fill if n["type"] == "leaf_64" else self.internal_fill)[n["end"] + 1] += 1
            if n["type"] == "leaf_64":
                self.entries += sum(s is not None for s in n["slots"])
        if d["root"]["kind"] == "entry":
            self.entries += 1

    def summary(self) -> dict:
        def mean(c: Counter) -> float:
            total = sum(c.values())
            return round(sum(k * v for k, v in c.items()) / total, 3) if total else 0.0
        return {
            "writes": self.writes,
            "height": dict(sorted(self.heights.items())), "mean_height": mean(self.heights),
            "leaf_fill": dict(sorted(self.leaf_fill.items())), "mean_leaf_fill": mean(self.leaf_fill),
            "internal_fill": dict(sorted(self.internal_fill.items())),
            "mean_internal_fill": mean(self.internal_fill),
            "node_counts": dict(sorted(self.node_counts.items())), "mean_nodes": mean(self.node_counts),
            "nodes_per_entry": round(self.nodes / self.entries, 4) if self.entries else 0.0,
            "node_delta_per_op": {k: round(v[0] / v[1], 4) for k, v in sorted(self.node_delta.items()) if v[1]},
            "store_types": None,  # the Linux adapter does not count write paths
        }


# ---------------------------------------------------------------- one example on both sides

@dataclass
class PairOutcome:
    """How one example went: its first event, and what both sides ran."""

    kind: str = "pass"          # pass | side | structure
    step: int = -1
    side: str | None = None     # the failing side, for kind == "side"
    failure: ImplFailure | None = None
    diff: str | None = None     # the dump diff, for kind == "structure"
    writes: int = 0
    diff_writes: int = 0        # writes after which the touched trees' shapes differed
    first_diff_step: int | None = None
    first_diff: str | None = None
    result_diffs: list = field(default_factory=list)
    sent: dict = field(default_factory=dict)   # label -> operations actually sent to that side
    skipped: int = 0
    known: Counter = field(default_factory=Counter)


def _apply_one(ls: Lockstep, op: tuple, sent: list):
    """Apply ``op`` on one side and record what reached its tree; return the model's result."""
    skipped, avoided = ls.skipped, sum(ls.known_avoided.values())
    got = ls.apply(op)
    if ls.skipped == skipped:
        if sum(ls.known_avoided.values()) > avoided:
            sent.append(("set_rcu", op[1], False))  # lockstep stepped around a known bug first
        sent.append(op)
    return got


class _SideFailed(Exception):
    def __init__(self, label: str, failure: ImplFailure) -> None:
        super().__init__(label)
        self.label, self.failure = label, failure


def run_pair(sides: tuple[Side, Side], flags: int, ops: list[tuple], strict: bool = False,
             stop_at_structure: bool = False, stats: dict[str, ShapeStats] | None = None,
             avoid_known_bugs: bool = True) -> PairOutcome:
    """Run one example on both sides and the model; return its first event.

    Results are checked on each side against its own model; after each write
    the touched trees' dumps are compared between the sides.  ``strict`` (or
    ``stop_at_structure``) ends the run at the first structural difference.
    """
    out = PairOutcome(sent={s.label: [] for s in sides})
    ls = {}
    try:
        for s in sides:
            ls[s.label] = open_side(s, flags, avoid_known_bugs)
        _run_pair_ops(sides, ls, ops, out, strict or stop_at_structure, stats)
    except _SideFailed as e:
        out.kind, out.side, out.failure = "side", e.label, e.failure
        out.step = min(e.failure.step, len(ops) - 1)
    finally:
        for l in ls.values():
            out.skipped += l.skipped
            out.known.update(l.known_avoided)
            _close_quietly(l)
    return out


def _run_pair_ops(sides, ls: dict[str, Lockstep], ops: list[tuple], out: PairOutcome, stop: bool,
                  stats: dict[str, ShapeStats] | None) -> None:
    """The body of :func:`run_pair`: raise _SideFailed, or fill ``out`` (stopping at a shape
    difference when ``stop``)."""
    counts = {s.label: {} for s in sides}
    for i, op in enumerate(ops):
        results = {s.label: _side_call(s.label, i, _apply_one, ls[s.label], op, out.sent[s.label])
                   for s in sides}
        if len(set(map(repr, results.values()))) > 1:
            out.result_diffs.append({"step": i, "op": list(op), **results})
        if op[0] not in WRITES:
            continue
        out.writes += 1
        diff = _compare_written(sides, ls, op, stats, counts)
        if diff is not None:
            out.diff_writes += 1
            if out.first_diff is None:
                out.first_diff_step, out.first_diff = i, diff
            if stop:
                out.kind, out.step, out.diff = "structure", i, diff
                return
    end = len(ops) - 1
    for s in sides:
        _side_call(s.label, end, ls[s.label].check_all)
    if stats is not None:
        for s in sides:
            for t, _ in ls[s.label].model.live_trees():
                stats[s.label].snapshot(ls[s.label].impls[s.label].dump(t))
    for s in sides:
        _side_call(s.label, end, ls[s.label].finish)


def _side_call(label: str, step: int, fn, *args):
    """``fn(*args)`` on one side; any failure of that side raises _SideFailed naming it."""
    from maplecheck.impl.linux.worker import ImplCrash
    try:
        return fn(*args)
    except Divergence as d:
        f = ImplFailure(step, d.kind, f"{label}: {d.message}")
    except ImplCrash as c:
        f = ImplFailure(step, "crash", f"{label}: {c}")
    except TraceError as e:
        f = ImplFailure(step, "trace", f"{label}: {e}")
    raise _SideFailed(label, f)


def _compare_written(sides, ls, op, stats, counts) -> str | None:
    """Compare the written trees' dumps between the sides; account shape statistics."""
    a, b = sides
    first = None
    cls = OP_CLASS.get(op[0], op[0])
    for t in ls[a.label]._touched_trees(op):
        da = ls[a.label].impls[a.label].dump(t)
        db = ls[b.label].impls[b.label].dump(t)
        if stats is not None:
            for s, d in ((a, da), (b, db)):
                stats[s.label].writes += 1
                before = counts[s.label].get(t, 0) if op[0] != "dup" or t == op[1] else 0
                counts[s.label][t] = stats[s.label].after_write(cls, before, d)
        if first is None and da != db:
            first = f"tree {t} after {op[0]}{tuple(op[1:])}:\n" + dump_diff(da, db, (a.label, b.label))
    if op[0] == "destroy" and stats is not None:
        for s in sides:
            n = counts[s.label].pop(op[1], 0)
            acc = stats[s.label].node_delta.setdefault("destroy", [0, 0])
            acc[0] -= n
            acc[1] += 1
    return first


# ---------------------------------------------------------------- shrinking

def shrink_structure(sides: tuple[Side, Side], flags: int, ops: list[tuple], step: int,
                     budget_s: float, avoid_known_bugs: bool = True) -> tuple[list[tuple], str]:
    """The shortest prefix-subsequence found whose run still ends in a structural difference."""
    def fails(candidate: list[tuple]) -> bool:
        return run_pair(sides, flags, candidate, stop_at_structure=True,
                        avoid_known_bugs=avoid_known_bugs).kind == "structure"

    prefix = ops[:step + 1]
    small = shrink(prefix, fails, budget_s) if fails(prefix) else prefix
    final = run_pair(sides, flags, small, stop_at_structure=True, avoid_known_bugs=avoid_known_bugs)
    return small, final.diff or ""


def both_dumps_text(sides: tuple[Side, Side], flags: int, ops: list[tuple], t: int = 0) -> dict[str, str]:
    """Each side's readable dump of tree ``t`` after ``ops`` (for a report)."""
    out = {}
    for s in sides:
        ls = open_side(s, flags, False)
        try:
            for op in ops:
                ls.apply(op)
            out[s.label] = dump_text(ls.impls[s.label].dump(t))
        except Exception as e:  # a report aid only: say why instead of failing the run
            out[s.label] = f"(unavailable: {e})"
        finally:
            _close_quietly(ls)
    return out


# ---------------------------------------------------------------- timing

class _TimedLib:
    """The adapter library with ``mc_batch`` run as ``mc_batch_timed``: every op timed in C.

    ``ns`` holds the last call's per-operation nanoseconds (CLOCK_MONOTONIC
    around each operation inside the C loop, so no Python or ctypes cost is
    in them).  Validation is off, as a timed pass wants.
    """

    def __init__(self, lib) -> None:
        import ctypes
        self._lib = lib
        U64 = ctypes.c_uint64
        fn = self._timed = lib.mc_batch_timed
        fn.restype = ctypes.c_long
        fn.argtypes = [ctypes.POINTER(U64), ctypes.c_long, ctypes.POINTER(U64), ctypes.POINTER(ctypes.c_void_p),
                       ctypes.POINTER(ctypes.c_long), ctypes.c_long, ctypes.POINTER(ctypes.c_long),
                       ctypes.POINTER(U64)]
        self._U64 = U64
        self.ns: list[int] = []

    def mc_batch(self, ops, n, res, trees, ntrees, cap, _validate, bad):
        buf = (self._U64 * max(n, 1))()
        r = self._timed(ops, n, res, trees, ntrees, cap, bad, buf)
        self.ns = buf[:n]
        return r

    def __getattr__(self, name):
        return getattr(self._lib, name)


class _TimingServer:
    """The child side of a timed pass: one library, one session at a time, ops timed in C."""

    def __init__(self) -> None:
        self.factory = self.timer = self.sess = None

    def handle(self, req: tuple):
        cmd, *args = req
        if cmd == "begin":  # (lib, flags): a fresh session of this library
            from maplecheck.impl.linux.adapter import LinuxFactory, LinuxSession
            if self.factory is None or str(self.factory.lib_path) != str(args[0]):
                self.factory = LinuxFactory(lib_path=args[0])
                self.timer = _TimedLib(self.factory.lib)
                self.factory.lib = self.timer
            self.sess = LinuxSession(self.factory, args[1])
            return None
        if cmd == "run":  # ops: in one C call; each op's nanoseconds
            self.sess.run(args[0])
            return list(self.timer.ns)
        if cmd == "end":
            self.sess.close()
            self.sess = None
            return None
        raise ValueError(f"unknown timing command {cmd!r}")


def _timing_child() -> None:
    """Serve timing requests over stdin/stdout with the Linux worker's framing."""
    import os

    from maplecheck.impl.linux.worker import _recv, _send
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever C prints goes to stderr, never into the replies
    inp = open(0, "rb", closefd=False)
    server = _TimingServer()
    while True:
        try:
            req = _recv(inp)
        except EOFError:
            return
        _send(out, server.handle(req))


def _keep_min(best: list, lo: int, times: list[int]) -> None:
    """best[lo + k] = min(best[lo + k], times[k]): the best of the repeated passes so far."""
    for k, ns in enumerate(times, lo):
        if best[k] is None or ns < best[k]:
            best[k] = ns


class _TimingLost(Exception):
    """A timing child died (the example's timings are dropped)."""


class Timer:
    """Timed passes without validation, one child process per side.

    Both sides replay what they ran in alternating chunks of ``CHUNK`` ops,
    so load on the machine falls on both alike; each op's time is the best of
    ``TIME_REPEATS`` passes, measured in C around the op itself.  A crash
    of a child only loses that example's timings.
    """

    CHUNK = 64

    def __init__(self, sides: tuple[Side, Side], libs: dict[str, str]) -> None:
        self.sides = sides
        self.libs = libs
        self.children: dict[str, Any] = {}
        self.totals = {s.label: {} for s in sides}
        self.lost = 0
        self.examples = 0

    def _child(self, label: str):
        import os
        import subprocess
        import sys

        import maplecheck
        p = self.children.get(label)
        if p is None or p.poll() is not None:
            env = dict(os.environ)
            root = str(Path(maplecheck.__file__).resolve().parent.parent)
            env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
            p = self.children[label] = subprocess.Popen(
                [sys.executable, "-c", "from maplecheck.properties.diff import _timing_child; _timing_child()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                start_new_session=True)
        return p

    def _call(self, label: str, *req):
        from maplecheck.impl.linux.worker import _recv, _send
        p = self._child(label)
        try:
            _send(p.stdin, req)
            return _recv(p.stdout)
        except (BrokenPipeError, EOFError, OSError):
            p.kill()
            p.wait()
            raise _TimingLost(label) from None

    def time_example(self, flags: int, sent: dict[str, list[tuple]]) -> None:
        """Time both sides on the operations each of them ran and passed."""
        labels = [s.label for s in self.sides]
        best = {l: [None] * len(sent[l]) for l in labels}
        n_chunks = max((len(sent[l]) + self.CHUNK - 1) // self.CHUNK for l in labels)
        try:
            for r in range(TIME_REPEATS):
                for l in labels:
                    self._call(l, "begin", self.libs[l], flags)
                for c in range(n_chunks):
                    for l in (labels if (r + c + self.examples) % 2 == 0 else labels[::-1]):
                        lo = c * self.CHUNK
                        _keep_min(best[l], lo, self._call(l, "run", sent[l][lo:lo + self.CHUNK]))
                for l in labels:
                    self._call(l, "end")
        except _TimingLost:
            self.lost += 1
            return
        finally:
            self.examples += 1
        for l in labels:
            for op, ns in zip(sent[l], best[l]):
                cls = OP_CLASS.get(op[0])
                if cls is not None:
                    a = self.totals[l].setdefault(cls, [0, 0])
                    a[0] += ns
                    a[1] += 1

    def summary(self) -> dict:
        """Per class: ns/op on each side and the patched/base ratio."""
        a, b = (s.label for s in self.sides)
        rows = {}
        for cls in OP_CLASSES:
            ta, tb = self.totals[a].get(cls), self.totals[b].get(cls)
            if not ta or not tb or not ta[1] or not tb[1]:
                continue
            na, nb = ta[0] / ta[1], tb[0] / tb[1]
            rows[cls] = {"ops": ta[1], f"{a}_ns": round(na, 1), f"{b}_ns": round(nb, 1),
                         "ratio": round(nb / na, 3) if na else None}
        return {"classes": rows, "clock": "CLOCK_MONOTONIC around each op inside the C batch loop", "repeats": TIME_REPEATS,
                "untimed_examples": self.lost}

    def close(self) -> None:
        for p in self.children.values():
            if p.poll() is None:
                p.stdin.close()
                p.wait()
        self.children.clear()


# ---------------------------------------------------------------- the campaign

@dataclass
class DiffResult:
    sides: tuple[Side, Side]
    seed: int
    structure: str
    steps: int = 0
    examples: int = 0
    seconds: float = 0.0
    writes: int = 0
    diff_writes: int = 0
    failures: list = field(default_factory=list)     # dicts: side, kind, message, trace, ...
    structural: dict | None = None                   # the first structural divergence
    result_diffs: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    speed: dict = field(default_factory=dict)
    skipped: int = 0
    known: Counter = field(default_factory=Counter)

    @property
    def structural_diffs(self) -> int:
        return self.diff_writes

    def summary(self) -> str:
        a, b = self.sides
        return (f"base={a.name} patched={b.name} steps={self.steps} examples={self.examples} "
                f"failures={len(self.failures)} structural_diffs={self.diff_writes} "
                f"seconds={self.seconds:.1f}")

    def to_json(self) -> dict:
        return {
            "base": asdict(self.sides[0]), "patched": asdict(self.sides[1]), "seed": self.seed,
            "structure_mode": self.structure, "steps": self.steps, "examples": self.examples,
            "seconds": round(self.seconds, 2), "writes": self.writes,
            "structural_diff_writes": self.diff_writes,
            "structural_share": round(self.diff_writes / self.writes, 4) if self.writes else 0.0,
            "failures": self.failures, "first_structural_divergence": self.structural,
            "result_differences": self.result_diffs[:100],
            "result_difference_count": len(self.result_diffs),
            "shape": self.stats, "speed": self.speed, "skipped_undefined": self.skipped,
            "known_bugs_avoided": dict(self.known),
        }


def _side_failure(sides, label: str, flags: int, ops: list[tuple], f: ImplFailure, out: Path,
                  name: str, budget_s: float, avoid_known_bugs: bool) -> dict:
    """Shrink and save a failure of one side; say whether the other side fails there too."""
    from .engine import check_trace
    side = next(s for s in sides if s.label == label)
    other = next(s for s in sides if s.label != label)
    prefix = ops[:f.step + 1]
    also = check_trace("linux", flags, prefix, other.src, avoid_known_bugs=avoid_known_bugs)
    fail: Failure = minimize_failure("linux", flags, ops, f, out, f"{name}-{label}", side.src,
                                     budget_s=budget_s, avoid_known_bugs=avoid_known_bugs)
    return {"side": "both" if also is not None else label, "kind": fail.kind,
            "message": f"{label}: " + fail.message.removeprefix(f"{label}: ").replace(" linux=", f" {label}="),
            "trace": str(fail.trace), "original": str(fail.original), "ops": fail.ops,
            "original_ops": fail.original_ops, "replay_src": side.src, "replay_side": label,
            "other_side": (f"{other.label} also fails ({also.kind}: {also.message[:300]})"
                           if also is not None else f"{other.label} passes")}


def run_diff(sides: tuple[Side, Side], seed: int = 0, steps: int | None = None,
             minutes: float | None = None, structure: str = "report", out: Path = Path("maplecheck-out"),
             libs: dict[str, str] | None = None, example_len: int = 2000, bulk_max: int = 6000,
             shrink_budget_s: float = 120.0, avoid_known_bugs: bool = True, timing: bool = True,
             progress: Callable[[DiffResult], None] | None = None) -> DiffResult:
    """Run examples on both sides until ``steps`` operations or ``minutes``, or a finding."""
    if steps is None and minutes is None:
        steps = 20000
    strict = structure == "strict"
    out = Path(out)
    res = DiffResult(sides=sides, seed=seed, structure=structure)
    stats = {s.label: ShapeStats() for s in sides}
    timer = Timer(sides, libs) if timing and libs else None
    t0 = time.monotonic()
    deadline = t0 + minutes * 60 if minutes is not None else None
    k = 0
    try:
        while (steps is None or res.steps < steps) and (deadline is None or time.monotonic() < deadline):
            length = example_len if steps is None else max(1, min(example_len, steps - res.steps))
            flags, ops = example_ops(example_seed(seed, k), length, bulk_max=bulk_max)
            name = f"diff-seed{seed}-ex{k}"
            o = run_pair(sides, flags, ops, strict=strict, stats=stats, avoid_known_bugs=avoid_known_bugs)
            res.examples += 1
            res.writes += o.writes
            res.diff_writes += o.diff_writes
            res.skipped += o.skipped
            res.known.update(o.known)
            res.result_diffs.extend(dict(r, example=k) for r in o.result_diffs)
            if o.first_diff is not None and res.structural is None:
                res.structural = _first_structure(sides, flags, ops, o, out, name, shrink_budget_s,
                                                  avoid_known_bugs, k)
            if o.kind == "side":
                res.steps += o.step + 1
                bug = (triage_crash("linux", flags, ops[:o.step + 1], o.failure,
                                    next(s.src for s in sides if s.label == o.side))
                       if avoid_known_bugs else None)
                if bug is not None:
                    res.known[bug.name] += 1
                    write_trace(out / "known" / f"{bug.name}-{name}-{o.side}.jsonl", flags, ops[:o.step + 1],
                                note=f"known kernel bug {bug.name} ({o.side}): {bug.summary}")
                    k += 1
                    continue
                res.failures.append(_side_failure(sides, o.side, flags, ops, o.failure, out, name,
                                                  shrink_budget_s, avoid_known_bugs))
                break
            if o.kind == "structure":
                res.steps += o.step + 1
                s = res.structural
                res.failures.append({"side": "both", "kind": "structure", "message": s["diff"],
                                     "trace": s["trace"], "ops": s["ops"], "original_ops": s["original_ops"]})
                break
            res.steps += len(ops)
            if timer is not None:
                timer.time_example(flags, o.sent)
            k += 1
            res.seconds = time.monotonic() - t0
            if progress:
                progress(res)
    finally:
        if timer is not None:
            res.speed = timer.summary()
            timer.close()
    res.stats = {label: st.summary() for label, st in stats.items()}
    res.seconds = time.monotonic() - t0
    return res


def _first_structure(sides, flags, ops, o: PairOutcome, out: Path, name: str, budget_s: float,
                     avoid_known_bugs: bool, k: int) -> dict:
    """Shrink the example's first structural difference and save its trace."""
    small, diff = shrink_structure(sides, flags, ops, o.first_diff_step, budget_s, avoid_known_bugs)
    trace = write_trace(out / f"{name}-structure.jsonl", flags, small,
                        note=f"structure: {(diff or o.first_diff)[:2000]}")
    write_trace(out / f"{name}-structure.original.jsonl", flags, ops[:o.first_diff_step + 1],
                note=f"structure: {o.first_diff[:2000]}")
    return {"example": k, "step": o.first_diff_step, "diff": diff or o.first_diff, "trace": str(trace),
            "ops": len(small), "original_ops": o.first_diff_step + 1,
            "dumps": both_dumps_text(sides, flags, small, _last_written_tree(small))}


def _last_written_tree(ops: list[tuple]) -> int:
    for op in reversed(ops):
        if op[0] in WRITES and op[0] != "destroy":
            return op[1]
    return 0


def replay_pair(sides: tuple[Side, Side], flags: int, ops: list[tuple], strict: bool,
                avoid_known_bugs: bool = True) -> PairOutcome:
    """Run a trace on both sides (``maplecheck diff --replay``)."""
    return run_pair(sides, flags, ops, strict=strict, avoid_known_bugs=avoid_known_bugs)


__all__ = ["DiffResult", "OP_CLASS", "OP_CLASSES", "PairOutcome", "STRUCTURE_MODES", "SIDES", "ShapeStats",
           "Side", "replay_pair", "run_diff", "run_pair"]
