# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck rcu TRACE`` and ``maplecheck fuzz --rcu``: readers interleaved with writes.

* ``maplecheck rcu TRACE`` takes an ordinary trace, and for every write on
  tree 0 explores the interleavings of that write with ``--readers`` seeded
  reader sequences near it: every schedule with at most ``--bound``
  preemptions, then ``--pct`` PCT schedules.
* ``maplecheck fuzz --rcu`` does the same for the writes of a seeded
  campaign's examples until ``--steps`` cases or ``--minutes`` are used.
* ``--impl python`` runs both on our Python tree instead of the scheduled C
  build (:mod:`maplecheck.properties.rcu_pytree`): its write paths yield at
  their publication points, so a new write path is checked before it is C.

A failure is shrunk (reader ops, readers, prefix ops) and written as an RCU
trace: an ordinary trace of the prefix and the write(s) whose header also
holds ``"rcu": {"writer": N, "readers": [...], "schedule": [...], "pct": [...]}``.
``maplecheck replay`` of such a trace runs exactly that schedule.  The last
line is ``cases=... schedules=... points=... failures=... seconds=...`` with the
point counts per kind and per store type.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from maplecheck.ops import TraceError, check_op, read_trace

EXIT_OK, EXIT_FOUND, EXIT_SETUP = 0, 1, 2


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


# ------------------------------------------------------------------ RCU traces

def _headline(reason: str) -> str:
    """The first line of a finding, with a crash's sanitizer verdict when it has one (the
    first line of a crash only says how the worker ended)."""
    lines = reason.splitlines()
    verdict = next((l.strip() for l in lines if "runtime error:" in l or "ERROR: AddressSanitizer" in l
                    or l.startswith("SUMMARY:")), None)
    if verdict and verdict not in lines[0]:
        return f"{lines[0]}: {verdict}"
    return lines[0] if lines else reason


def write_rcu_trace(path: Path, case, schedule, reason: str, pct=None) -> Path:
    """The case as a trace (prefix + writer ops) with the readers and schedule in the header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"maplecheck": 1, "flags": case.flags, "note": reason[:500],
              "rcu": {"writer": len(case.writer), "readers": [[list(o) for o in r] for r in case.readers],
                      "schedule": list(schedule), "pct": list(pct or [0, 0, 0])}}
    with open(path, "w") as f:
        f.write(json.dumps(header) + "\n")
        for name, t, *args in case.prefix + case.writer:
            f.write(json.dumps({"op": name, "t": t, "args": list(args)}) + "\n")
    return path


def rcu_header(path: Path) -> dict | None:
    """The ``rcu`` part of a trace's header, or None for an ordinary trace."""
    try:
        with open(path) as f:
            header = json.loads(f.readline() or "{}")
    except (OSError, ValueError):
        return None
    return header.get("rcu") if isinstance(header, dict) else None


def read_rcu_trace(path: Path):
    """(case, schedule, pct) of an RCU trace; TraceError when malformed."""
    from maplecheck.properties.rcu import RcuCase

    flags, ops = read_trace(path)
    rcu = rcu_header(path)
    try:
        nw = int(rcu["writer"])
        readers = [[check_op(tuple(o), f"{path}: reader op") for o in r] for r in rcu["readers"]]
        schedule = [int(c) for c in rcu["schedule"]]
        pct = [int(x) for x in rcu.get("pct", [0, 0, 0])]
    except (KeyError, TypeError, ValueError) as e:
        raise TraceError(f"{path}:1: bad rcu header: {e}") from None
    if not 1 <= nw <= len(ops):
        raise TraceError(f"{path}:1: rcu header names {nw} writer ops of {len(ops)}")
    return RcuCase(flags, ops[:-nw], ops[-nw:], readers), schedule, pct


# ------------------------------------------------------------------ exploring

def store_type(case, profile: str) -> str:
    """The write path the case's first write takes, as our tree following that kernel says."""
    from maplecheck.impl.pytree import PyFactory
    from maplecheck.impl.pytree.state import STORE_TYPE_NAMES
    from maplecheck.impl.pytree.write import STORE_TYPE_COUNTS

    tree = PyFactory(profile=profile).create(case.flags)
    try:
        for name, _t, *a in case.prefix:
            getattr(tree, name)(*a)
        before = list(STORE_TYPE_COUNTS)
        name, _t, *a = case.writer[0]
        getattr(tree, name)(*a)
    except Exception:  # noqa: BLE001 - a case our tree cannot build is counted by op name
        return case.writer[0][0]
    taken = [STORE_TYPE_NAMES[k] for k, (x, y) in enumerate(zip(before, STORE_TYPE_COUNTS)) if y > x]
    return taken[0] if taken else case.writer[0][0]


def open_rcu_worker(args):
    """The runner ``--impl`` names: the scheduled C build (linux) or our Python tree (python)."""
    impl = getattr(args, "impl", "linux")
    if impl == "both":
        raise TraceError("RCU interleavings run on one implementation at a time: "
                         "give --impl linux or --impl python")
    if impl == "python":
        from maplecheck.properties.impls import python_profile
        from maplecheck.properties.rcu_pytree import PyRcuWorker
        return PyRcuWorker(python_profile(args.linux_src))
    from maplecheck.properties.rcu_worker import RcuWorker
    return RcuWorker(args.linux_src, sanitize=not getattr(args, "no_sanitize", False))


class Explorer:
    """One worker and the running totals of a command."""

    def __init__(self, args):
        from maplecheck.properties.impls import python_profile

        self.args = args
        self.worker = open_rcu_worker(args)
        self.profile = python_profile(args.linux_src)
        self.cases = self.schedules = 0
        self.hits: Counter = Counter()
        self.known: Counter = Counter()
        self.by_store: Counter = Counter()
        self.first_failure_schedules = None

    def strategies(self) -> list[dict]:
        a = self.args
        out = [{"kind": "exhaustive", "bound": a.bound, "max_schedules": a.max_schedules,
                "known_bugs": a.avoid_known_bugs}]
        if a.pct:
            out.append({"kind": "pct", "schedules": a.pct, "depth": 3, "seed": a.seed,
                        "known_bugs": a.avoid_known_bugs})
        return out

    def find(self, case, strategies=None):
        """(schedule, pct, reason, schedules) of the first failure of ``case``, or None."""
        from maplecheck.properties.known import RCU_REWALK_NODELESS, is_known_rcu_destroy_crash
        from maplecheck.properties.rcu import may_rewalk_into_nodeless

        if self.args.avoid_known_bugs and may_rewalk_into_nodeless(case):
            self.known[RCU_REWALK_NODELESS.name] += 1  # the kernel's reader crashes: stepped around
            return None
        for st in strategies or self.strategies():
            r = self.worker.explore(case, st)
            if "crash" in r:
                last = r["last"]
                if self.args.avoid_known_bugs and is_known_rcu_destroy_crash(r["crash"]):
                    self.known["rcu-destroy-crash"] += 1
                    return None
                self.schedules += 1
                return last.get("schedule", []), last.get("pct"), r["crash"], None
            self.schedules += r["schedules"]
            self.hits.update(r["hits"])
            self.known.update(r["known"])
            self.by_store[store_type(case, self.profile)] += r["hits"].get("assign", 0)
            if r["finding"]:
                f = r["finding"]
                return f["schedule"], None, f["reason"], f["schedules"]
        return None

    def report(self, case, found, out_dir: Path, stem: str) -> Path:
        from maplecheck.properties.rcu import Finding, shrink_case

        schedule, pct, reason, n = found
        if self.first_failure_schedules is None:
            self.first_failure_schedules = self.schedules
        _say(f"FAILED: {_headline(reason)}")
        write_rcu_trace(out_dir / f"{stem}.jsonl", case, schedule, reason, pct)

        def fails(c):
            r = self.find(c)
            return Finding(c, tuple(r[0]), r[2]) if r else None

        small = shrink_case(fails, Finding(case, tuple(schedule), reason), self.args.shrink_seconds)
        again = self.find(small.case)
        if again:
            schedule, pct, reason, _ = again
            case = small.case
        path = write_rcu_trace(out_dir / f"{stem}-min.jsonl", case, schedule, reason, pct)
        _say(f"minimized to {len(case.prefix)} prefix ops, {sum(map(len, case.readers))} reader ops: "
             f"replay with: maplecheck replay {path}")
        return path

    def summary(self, failures: int, seconds: float) -> str:
        pts = " ".join(f"{k}={v}" for k, v in sorted(self.hits.items()) if v)
        per_store = " ".join(f"assign[{k}]={v}" for k, v in sorted(self.by_store.items()) if v)
        known = " ".join(f"known[{k}]={v}" for k, v in sorted(self.known.items()))
        extra = " ".join(x for x in (pts, per_store, known) if x)
        return (f"cases={self.cases} schedules={self.schedules} failures={failures} "
                f"rate={self.schedules / max(seconds, 1e-9):.0f}/s"
                + (f" first_failure_after={self.first_failure_schedules}"
                   if self.first_failure_schedules is not None else "")
                + (f" {extra}" if extra else "") + f" seconds={seconds:.1f}")

    def close(self):
        try:
            self.worker.close()
        except Exception:
            pass


def _trace_cases(path: Path, readers: int, seed: int):
    from maplecheck.properties.known import may_deviate
    from maplecheck.properties.rcu import RCU_WRITES, RcuCase, reader_ops, write_span

    flags, ops = read_trace(path)
    rng = random.Random(seed)
    prefix = [("set_rcu", 0, True)]
    for op in ops:
        if op[1] == 0 and may_deviate(op):
            break  # a registered deviation is lockstep's to judge; the model would part from the tree
        if op[1] != 0 or op[0] in ("dup", "destroy"):
            if op[0] in ("dup", "destroy") and op[1] == 0:
                break
            continue
        if op[0] in RCU_WRITES and write_span(op):
            yield RcuCase(flags, list(prefix), [op], [reader_ops(rng, write_span(op), flags)
                                                      for _ in range(readers)])
        if op[0] != "set_rcu":
            prefix.append(op)


def _run(args, cases, budget_s: float | None, max_cases: int | None) -> int:
    if not 1 <= args.readers <= 3:
        raise TraceError("--readers must be 1, 2 or 3")
    t0 = time.monotonic()
    ex = Explorer(args)
    failures = 0
    try:
        for case in cases:
            if budget_s is not None and time.monotonic() - t0 > budget_s:
                break
            if max_cases is not None and ex.cases >= max_cases:
                break
            ex.cases += 1
            found = ex.find(case)
            if found:
                failures += 1
                ex.report(case, found, Path(args.out), f"rcu-seed{args.seed}-case{ex.cases}")
                break
    finally:
        ex.close()
    print(ex.summary(failures, time.monotonic() - t0))
    return EXIT_FOUND if failures else EXIT_OK


def cmd_rcu(args) -> int:
    """``maplecheck rcu TRACE``."""
    path = Path(args.trace)
    read_trace(path)  # TraceError -> exit 2
    return _run(args, _trace_cases(path, args.readers, args.seed), args.minutes and args.minutes * 60, None)


def cmd_fuzz_rcu(args) -> int:
    """``maplecheck fuzz --rcu``: the writes of seeded campaign examples, with readers."""
    from maplecheck.properties.rcu import campaign_cases

    def cases():
        k = 0
        while True:
            yield from campaign_cases(args.seed * 100003 + k, args.example_len, args.readers)
            k += 1

    budget = args.minutes * 60 if args.minutes else None
    steps = args.steps if args.steps else (None if budget else 200)
    return _run(args, cases(), budget, steps)


def replay_rcu(args) -> int:
    """``maplecheck replay`` of an RCU trace: exactly its schedule, once."""
    from maplecheck.properties.rcu import known_reader_crash

    case, schedule, pct = read_rcu_trace(Path(args.trace))
    w = open_rcu_worker(args)
    try:
        r = w.replay(case, schedule, pct, getattr(args, "avoid_known_bugs", True))
    finally:
        w.close()
    why = r.get("crash") or r.get("reason")
    known = why and getattr(args, "avoid_known_bugs", True) and known_reader_crash(case, why)
    if known:
        print(f"known kernel bug {known.name} under schedule {schedule} (--no-known-bugs to report "
              f"it as a failure): {why.splitlines()[0]}")
        why = None
    elif why:
        print(f"FAILED under schedule {schedule}: {why}")
    print(f"ops={len(case.prefix) + len(case.writer)} readers={len(case.readers)} "
          f"decisions={len(schedule)} result={'fail' if why else 'known' if known else 'pass'}")
    return EXIT_FOUND if why else EXIT_OK


def add_rcu_args(sp, trace: bool) -> None:
    """The options shared by ``rcu`` and ``fuzz --rcu`` (validated as the campaign options are)."""
    from maplecheck.cli import nonneg_float, nonneg_int, positive_float, positive_int

    if trace:
        from maplecheck.cmd_linux import add_kernel_arg
        sp.add_argument("trace", metavar="TRACE")
        sp.add_argument("--impl", choices=("linux", "python"), default="linux",
                        help="the scheduled Linux build or our Python tree (default: %(default)s)")
        sp.add_argument("--linux-src", metavar="DIR", default=None)
        add_kernel_arg(sp)
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--out", metavar="DIR", default="maplecheck-out")
        sp.add_argument("--minutes", type=positive_float, default=None)
        sp.add_argument("--shrink-seconds", type=nonneg_float, default=60.0)
        sp.add_argument("--no-known-bugs", dest="avoid_known_bugs", action="store_false")
    sp.add_argument("--readers", type=_readers, default=1, help="readers per write (1-3, default 1)")
    sp.add_argument("--bound", type=nonneg_int, default=1,
                    help="preemption bound of the exhaustive exploration (default 1)")
    sp.add_argument("--max-schedules", type=positive_int, default=2000,
                    help="exhaustive schedules per write at most (default 2000)")
    sp.add_argument("--pct", type=nonneg_int, default=20, metavar="N",
                    help="PCT schedules per write after the exhaustive ones (default 20)")
    sp.add_argument("--no-sanitize", action="store_true",
                    help="use the optimised scheduled build instead of ASan/UBSan")


def _readers(text: str) -> int:
    """``--readers``: 1 to 3 reader coroutines beside the writer."""
    import argparse

    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 3:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1, 2 or 3")
    return n
