# SPDX-License-Identifier: GPL-2.0-or-later
"""The fast seeded engine: campaigns, replay and trace shrinking.

A campaign is a sequence of examples.  Example ``k`` of seed ``S`` is fully
determined by ``(S, k)``: its flags and operations come from
:func:`maplecheck.properties.gen.example_ops`.  Operations go through
:class:`~maplecheck.properties.lockstep.Lockstep` in batches (one call into
the Linux worker per batch).  The first failure is shrunk by delta debugging
over the operation list — every candidate replayed on fresh trees — and the
minimal trace is written to disk, with the original beside it, before the
campaign reports.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from maplecheck.ops import TraceError, write_trace
from maplecheck.tree import MAX

from .gen import example_ops
from .impls import impl_names, open_session
from .lockstep import Divergence, Lockstep

BATCH = 512


class ImplFailure(Exception):
    """Anything that makes a run fail: a divergence or a crash of the C side."""

    def __init__(self, step: int, kind: str, message: str) -> None:
        super().__init__(f"step {step}: {kind}: {message}")
        self.step = step
        self.kind = kind
        self.message = message


@dataclass
class Failure:
    kind: str
    message: str
    trace: Path
    original: Path
    ops: int
    original_ops: int


@dataclass
class CampaignResult:
    impl: str
    seed: int
    steps: int = 0
    examples: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    heights: Counter = field(default_factory=Counter)
    flags: Counter = field(default_factory=Counter)
    known: Counter = field(default_factory=Counter)
    skipped: int = 0
    store_types: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        return (f"impl={self.impl} steps={self.steps} examples={self.examples} "
                f"failures={len(self.failures)} seconds={self.seconds:.1f}")


# ---------------------------------------------------------------- running ops

def open_lockstep(impl: str, flags: int, linux_src: str | None = None, sanitize: bool = False,
                  contents_every: int = 1, avoid_known_bugs: bool = True) -> Lockstep:
    model = open_session("model", flags)
    impls = {}
    try:
        for name in impl_names(impl):
            impls[name] = open_session(name, flags, linux_src, sanitize)
    except BaseException:
        model.close()
        for s in impls.values():
            s.close()
        raise
    return Lockstep(model, impls, contents_every=contents_every, avoid_known_bugs=avoid_known_bugs)


def _needs_single_step(op: tuple) -> bool:
    """Operations that lockstep judges with facts read off the trees first.

    dup(fail_at) (the node count decides -ENOMEM), inserts that may widen to
    [0, MAX] (NULL, or [0, MAX] itself), reverse gap searches up to MAX, and
    destroy (the known-bug check) — see :class:`Lockstep`.
    """
    name, _t, *args = op
    if name == "dup":
        return args[0] is not None
    if name == "insert_range":
        return args[2] is None or (args[0] == 0 and args[1] == MAX)
    if name == "empty_area_rev":
        return args[1] == MAX
    if name == "alloc_rrange":
        return args[3] == MAX
    return name == "destroy"


def run_ops(ls: Lockstep, ops: list[tuple], batched: bool = True) -> None:
    """Apply ``ops`` through lockstep; raise ImplFailure on the first problem.

    Batched, the operations go in chunks (:meth:`Lockstep.run_chunk`): every
    tree is validated after every write inside its session and, with two
    trees, their structure hashes are compared after every write, so a
    difference that later evens out (a split one slot off, then a push that
    restores the shape) is still caught at the write that made it.
    """
    from maplecheck.impl.linux.worker import ImplCrash  # noqa: WPS433 (optional dependency)

    try:
        if not batched:
            for op in ops:
                ls.apply(op)
        else:
            chunk: list[tuple] = []
            for op in ops:
                if _needs_single_step(op):
                    if chunk:
                        ls.run_chunk(chunk)
                        chunk = []
                    ls.apply(op, exact=False)
                    continue
                chunk.append(op)
                if len(chunk) >= BATCH:
                    ls.run_chunk(chunk)
                    chunk = []
            if chunk:
                ls.run_chunk(chunk)
        ls.finish()
    except Divergence as d:
        raise ImplFailure(d.step, d.kind, d.message) from d
    except ImplCrash as c:
        raise ImplFailure(ls.steps - 1, "crash", str(c)) from c
    except TraceError as e:
        raise ImplFailure(ls.steps - 1, "trace", str(e)) from e


def check_trace(impl: str, flags: int, ops: list[tuple], linux_src: str | None = None,
                sanitize: bool = False, batched: bool = True,
                avoid_known_bugs: bool = True) -> ImplFailure | None:
    """Replay ``ops`` on fresh trees; return the failure, or None when all is well.

    Batched replay validates after every write, compares every result and
    (with two trees) the structure hashes after every write, but compares
    contents with the model once per chunk; when a structure or contents
    check failed, the prefix is replayed one operation at a time so the
    failure carries the dump diff and names the first operation after which
    the trees differ.
    """
    f = _check_once(impl, flags, ops, linux_src, sanitize, batched, avoid_known_bugs)
    if f is not None and batched and f.kind in ("contents", "dump", "flags"):
        exact = _check_once(impl, flags, ops[:f.step + 1], linux_src, sanitize, False, avoid_known_bugs)
        if exact is not None:
            return exact
    return f


def _check_once(impl, flags, ops, linux_src, sanitize, batched, avoid_known_bugs):
    ls = open_lockstep(impl, flags, linux_src, sanitize, avoid_known_bugs=avoid_known_bugs)
    try:
        run_ops(ls, ops, batched=batched)
    except ImplFailure as f:
        return f
    finally:
        _close_quietly(ls)
    return None


def _close_quietly(ls: Lockstep) -> None:
    try:
        ls.close()
    except Exception:  # a crashed worker has nothing left to close
        pass


# ---------------------------------------------------------------- shrinking

def shrink(ops: list[tuple], fails: Callable[[list[tuple]], bool], budget_s: float = 120.0) -> list[tuple]:
    """Delta debugging (ddmin) over the operation list, then a one-by-one sweep.

    ``fails(candidate)`` replays a candidate on fresh trees.  Candidates that
    no longer make sense (an operation on a tree that no longer exists) simply
    do not fail.  Stops improving when ``budget_s`` runs out; the result always
    fails.
    """
    deadline = time.monotonic() + budget_s
    n = 2
    while len(ops) >= 2 and time.monotonic() < deadline:
        size = max(1, len(ops) // n)
        chunks = [ops[i:i + size] for i in range(0, len(ops), size)]
        reduced = False
        for k in range(len(chunks)):
            if time.monotonic() >= deadline:
                break
            complement = [op for j, c in enumerate(chunks) if j != k for op in c]
            if complement and fails(complement):
                ops = complement
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if n >= len(ops):
                break
            n = min(len(ops), n * 2)
    i = len(ops) - 1
    while i >= 0 and time.monotonic() < deadline:
        candidate = ops[:i] + ops[i + 1:]
        if candidate and fails(candidate):
            ops = candidate
        i -= 1
    return ops


def minimize_failure(impl: str, flags: int, ops: list[tuple], failure: ImplFailure, out: Path,
                     name: str, linux_src: str | None = None, sanitize: bool = False,
                     budget_s: float = 120.0, avoid_known_bugs: bool = True) -> Failure:
    """Shrink a failing example and write both traces; return where they are."""
    prefix = ops[:failure.step + 1]
    original = write_trace(out / f"{name}.original.jsonl", flags, prefix,
                           note=f"{failure.kind}: {failure.message[:500]}")
    # a crash of the C side needs only the C side to reproduce, which replays batched
    shrink_impl = "linux" if failure.kind == "crash" and "linux" in impl_names(impl) else impl

    def fails(candidate: list[tuple]) -> bool:
        f = check_trace(shrink_impl, flags, candidate, linux_src, sanitize,
                        avoid_known_bugs=avoid_known_bugs)
        return f is not None and f.kind == failure.kind

    small = shrink(prefix, fails, budget_s) if fails(prefix) else prefix
    final = check_trace(impl, flags, small, linux_src, sanitize, avoid_known_bugs=avoid_known_bugs) or failure
    trace = write_trace(out / f"{name}.jsonl", flags, small, note=f"{final.kind}: {final.message[:2000]}")
    return Failure(final.kind, final.message, trace, original, len(small), len(prefix))


# ---------------------------------------------------------------- triage

def triage_crash(impl: str, flags: int, ops: list[tuple], failure: ImplFailure,
                 linux_src: str | None, avoid_known_bugs: bool = True):
    """Is this crash a known kernel bug?  Return it, or None for a new finding.

    A crash of a plain tree in RCU mode is replayed on the ASan/UBSan build;
    it is the known RCU destroy bug when the sanitizer's report points into
    the RCU destroy path and the same operations pass without RCU mode.
    """
    from .known import RCU_CLEAR_META_FULL, is_known_rcu_destroy_crash
    from maplecheck.tree import MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU

    if failure.kind != "crash" or "linux" not in impl_names(impl):
        return None
    if flags & MT_FLAGS_ALLOC_RANGE or not (flags & MT_FLAGS_USE_RCU
                                            or any(op[0] == "set_rcu" and op[2] for op in ops)):
        return None
    for _attempt in range(2):  # the RCU callback runs on its own thread: timing varies
        san = check_trace("linux", flags, ops, linux_src, sanitize=True, avoid_known_bugs=avoid_known_bugs)
        if san is not None and san.kind == "crash":
            break
    if san is None or san.kind != "crash" or not is_known_rcu_destroy_crash(san.message):
        return None
    no_rcu = [op for op in ops if op[0] != "set_rcu"]
    if check_trace(impl, flags & ~MT_FLAGS_USE_RCU, no_rcu, linux_src) is not None:
        return None
    return RCU_CLEAR_META_FULL


# ---------------------------------------------------------------- campaigns

def example_seed(seed: int, k: int) -> int:
    return random.Random(f"maplecheck/{seed}/{k}").getrandbits(64)


def run_campaign(impl: str, seed: int = 0, steps: int | None = None, minutes: float | None = None,
                 out: Path = Path("maplecheck-out"), linux_src: str | None = None,
                 sanitize: bool = False, example_len: int = 2000, bulk_max: int = 6000,
                 progress: Callable[[CampaignResult], None] | None = None,
                 shrink_budget_s: float = 120.0, avoid_known_bugs: bool = True) -> CampaignResult:
    """Run examples until ``steps`` operations or ``minutes`` have passed, or a failure."""
    if steps is None and minutes is None:
        steps = 20000
    res = CampaignResult(impl=impl, seed=seed)
    before = _store_type_counts()
    t0 = time.monotonic()
    deadline = t0 + minutes * 60 if minutes is not None else None
    k = 0
    while True:
        if steps is not None and res.steps >= steps:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        length = example_len if steps is None else max(1, min(example_len, steps - res.steps))
        flags, ops = example_ops(example_seed(seed, k), length, bulk_max=bulk_max)
        ls = open_lockstep(impl, flags, linux_src, sanitize, avoid_known_bugs=avoid_known_bugs)
        try:
            run_ops(ls, ops)
            res.heights[ls.max_height] += 1
            res.known.update(ls.known_avoided)
            res.skipped += ls.skipped
        except ImplFailure as f:
            _close_quietly(ls)
            res.steps += f.step + 1
            res.examples += 1
            name = f"{impl}-seed{seed}-ex{k}"
            bug = triage_crash(impl, flags, ops[:f.step + 1], f, linux_src) if avoid_known_bugs else None
            if bug is not None:
                res.known[bug.name] += 1
                write_trace(Path(out) / "known" / f"{bug.name}-{name}.jsonl", flags, ops[:f.step + 1],
                            note=f"known kernel bug {bug.name}: {bug.summary}")
                k += 1
                continue
            res.failures.append(minimize_failure(impl, flags, ops, f, Path(out), name, linux_src,
                                                 sanitize, shrink_budget_s, avoid_known_bugs))
            break
        _close_quietly(ls)
        res.flags[flags] += 1
        res.steps += len(ops)
        res.examples += 1
        k += 1
        res.seconds = time.monotonic() - t0
        if progress:
            progress(res)
    res.seconds = time.monotonic() - t0
    after = _store_type_counts()
    res.store_types = Counter({k: after[k] - before[k] for k in after if after[k] > before[k]})
    return res


def _store_type_counts() -> Counter:
    """Write paths taken by our Python tree so far (Linux's are not observable)."""
    from maplecheck.impl.pytree.state import STORE_TYPE_NAMES
    from maplecheck.impl.pytree.write import STORE_TYPE_COUNTS
    return Counter(dict(zip(STORE_TYPE_NAMES, STORE_TYPE_COUNTS)))



