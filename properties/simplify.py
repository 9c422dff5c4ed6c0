# SPDX-License-Identifier: GPL-2.0-or-later
"""Smaller reproducers: simplify the operations of a failing trace, not only their number.

Delta debugging (:func:`maplecheck.properties.engine.shrink`) removes
operations.  What it leaves is often still hard to read: indices like
``0xdab663942ba3a1e``, three trees where one would do, RCU toggles, long
histories that only build a deep tree.  :func:`minimize` spends the shrink
budget in the order that pays:

1. **lineage** and **rebuild**: keep only the failing tree's own history
   (its ancestors' operations up to each dup, dups collapsed: a dup copies
   node for node), then try replacing a long history by a fresh ascending
   build of the contents the model holds at some step (one store per
   non-NULL range), so only the few operations after it stay;
2. **resample** when the trace is still long (more than
   :data:`RESAMPLE_OVER` operations) after a first ddmin on a share of the
   budget: fresh short examples, kept when one
   fails the same way (same kind, same rule) in fewer operations; the saved
   trace then says ``resampled``;
3. **ddmin** over the operations;
4. **simplify** each operation: drop RCU (flag and toggles), the alloc-range
   flag, dups (their copy's operations move to the source tree), then
   compress the indices (order kept, distances capped: small and round),
   merge entries into a few small value entries, and shrink sizes; spread
   the indices apart when that lets operations go (a store amid NULLs fills
   two slots, so fewer stores reach a split);
5. **ddmin** again and a one-by-one removal sweep: when that sweep finishes
   without a removal, the trace is 1-minimal (no single operation can go),
   which :func:`minimize` reports.  Steps 4-5 repeat (at most three rounds)
   while they change something.

Every candidate is replayed on fresh trees by ``fails(flags, ops)``; a
candidate is kept only when it fails the same way, so the result always fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from maplecheck.tree import MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU, xa_mk_value

Fails = Callable[[int, list[tuple]], bool]

#: argument positions that are indices in the key space (sizes are not)
POSITIONS = {"store_range": (0, 1), "insert_range": (0, 1), "erase": (0,), "replace": (0,),
             "load": (0,), "walk": (0,), "mas_set": (0,), "mas_find": (0,), "mas_find_range": (0,),
             "mas_next": (0,), "mas_next_range": (0,), "mas_prev": (0,), "mas_prev_range": (0,),
             "mas_find_rev": (0,), "mas_find_range_rev": (0,), "empty_area": (0, 1),
             "empty_area_rev": (0, 1), "alloc_range": (2, 3), "alloc_rrange": (2, 3)}
SIZES = {"empty_area": 2, "empty_area_rev": 2, "alloc_range": 0, "alloc_rrange": 0}
ENTRIES = {"store_range": 2, "insert_range": 2, "replace": 1, "alloc_range": 1, "alloc_rrange": 1}
#: distance caps tried by index compression, smallest (most compact) first
CAPS = (1, 2, 4, 10, 16, 100, 1000, 4096)
#: traces at most this long get per-operation index rounding
ROUND_OPS = 40


#: a trace still longer than this after lineage and rebuild is worth resampling first
RESAMPLE_OVER = 40
#: the share of the budget left that resampling may spend
RESAMPLE_SHARE = 0.4
#: a resampled failing prefix this short ends the search
RESAMPLE_SHORT = 20
#: fresh examples tried at least (while the whole budget lasts), so that a
#: loaded machine does not see fewer of them than an idle one
RESAMPLE_MIN = 40
#: the share of the budget a long trace's first ddmin gets before resampling is considered
FIRST_DD_SHARE = 0.3

#: ``resample(k)``: the k-th fresh short example's failing prefix, when it fails the
#: same way (same kind and rule), else None
Resample = Callable[[int], "tuple[int, list[tuple]] | None"]


@dataclass
class Minimized:
    flags: int
    ops: list[tuple]
    one_minimal: bool
    replays: int
    #: the ops come from a fresh short example failing the same way, not from the original
    resampled: bool = False


class _Budget:
    """Counts replays and says when time is up."""

    def __init__(self, fails: Fails, seconds: float) -> None:
        self.fails_fn = fails
        self.deadline = time.monotonic() + seconds
        self.replays = 0

    def left(self) -> bool:
        return time.monotonic() < self.deadline

    def fails(self, flags: int, ops: list[tuple]) -> bool:
        if not ops:
            return False
        self.replays += 1
        try:
            return self.fails_fn(flags, ops)
        except Exception:  # noqa: BLE001 - a candidate that breaks a tree differently is not ours
            return False


# ---------------------------------------------------------------- rebuild from state

def model_contents(flags: int, ops: list[tuple], t: int = 0):
    """The model's ranges of tree ``t`` and its flags after ``ops`` (None if the model refuses)."""
    from .impls import open_session

    s = open_session("model", flags)
    try:
        for op in ops:
            s.step(op)
        tree = s.tree(t)
        return tree.ranges(), tree.flags()
    except Exception:  # noqa: BLE001 - any refusal just means: no rebuild here
        return None


def build_ops(ranges) -> list[tuple]:
    """A fresh ascending build of tree 0 holding exactly ``ranges`` (NULL ranges skipped)."""
    return [("store_range", 0, first, last, e) for first, last, e in ranges if e is not None]


def rebuild_points(n: int) -> list[int]:
    """Where to cut a history of ``n`` ops: just before the failing op, then a little earlier.

    Few points on purpose: each costs a replay of a whole build, and ddmin
    after a successful rebuild does the rest.
    """
    return [p for p in (n - 1, n - 2, n - 4) if p > 0]


def rebuild(flags: int, ops: list[tuple], b: _Budget) -> tuple[int, list[tuple]]:
    """Replace ``ops[:j]`` by a build of the failing tree's contents at ``j`` when that still fails.

    The failing tree is the last operation's; the operations after ``j`` must
    all be on it (no dup, no destroy), and move to tree 0 of the fresh build.
    """
    t = ops[-1][1]
    for j in rebuild_points(len(ops)):
        if not b.left():
            break
        suffix = ops[j:]
        if any(op[1] != t or op[0] in ("dup", "destroy") for op in suffix):
            continue
        got = model_contents(flags, ops[:j], t)
        if got is None:
            continue
        ranges, mflags = got
        new_flags = (flags & ~MT_FLAGS_USE_RCU) | (mflags & MT_FLAGS_USE_RCU)
        cand = build_ops(ranges) + [(op[0], 0, *op[2:]) for op in suffix]
        if len(cand) < len(ops) and b.fails(new_flags, cand):
            return new_flags, cand
    return flags, ops


def lineage_ops(ops: list[tuple], stop_at_failed_dup: bool = False) -> list[tuple]:
    """The failing tree's history alone, on tree 0: its ancestors' ops up to each dup, then its own.

    ``__mt_dup`` copies the source node for node, so continuing on the source
    instead of the copy keeps the exact shape.  A dup with an injected failure
    leaves its copy empty: with ``stop_at_failed_dup`` the lineage starts there.
    """
    born, parent = {0: -1}, {0: None}
    n = 0
    for i, op in enumerate(ops):
        if op[0] == "dup":
            n += 1
            born[n], parent[n] = i, op[1]
    t, line = ops[-1][1], {}
    until = len(ops)
    while t is not None:
        line[t] = until                       # ops on t count before this index
        if t and stop_at_failed_dup and ops[born[t]][2] is not None:
            break
        until, t = born[t], parent[t]
    return [(op[0], 0, *op[2:]) for i, op in enumerate(ops)
            if op[1] in line and i < line[op[1]] and op[0] != "dup"]


def lineage(flags: int, ops: list[tuple], b: _Budget) -> tuple[int, list[tuple]]:
    """Keep only the failing tree's lineage (see :func:`lineage_ops`) when that still fails."""
    if not any(op[0] == "dup" for op in ops):
        return flags, ops
    for stop in (True, False):
        cand = lineage_ops(ops, stop)
        if cand and len(cand) < len(ops) and b.fails(flags, cand):
            return flags, cand
    return flags, ops


# ---------------------------------------------------------------- operation passes

def drop_rcu(flags: int, ops: list[tuple], b: _Budget) -> tuple[int, list[tuple]]:
    """No RCU toggles, then no RCU flag; then no alloc-range flag."""
    cand = [op for op in ops if op[0] != "set_rcu"]
    if len(cand) < len(ops) and b.fails(flags, cand):
        ops = cand
    for bit in (MT_FLAGS_USE_RCU, MT_FLAGS_ALLOC_RANGE):
        if flags & bit and b.left() and b.fails(flags & ~bit, ops):
            flags &= ~bit
    return flags, ops


def without_dup(ops: list[tuple], i: int) -> list[tuple]:
    """``ops`` without the dup at ``i``: its copy's operations go to the source tree."""
    src = ops[i][1]
    new = 1 + sum(1 for op in ops[:i] if op[0] == "dup")
    out = []
    for k, op in enumerate(ops):
        if k == i:
            continue
        t = op[1]
        if k > i:
            t = src if t == new else t - 1 if t > new else t
        out.append((op[0], t, *op[2:]))
    return out


def fewer_trees(flags: int, ops: list[tuple], b: _Budget) -> tuple[int, list[tuple]]:
    """Drop dups one by one (last first), keeping each drop that still fails."""
    i = len(ops) - 1
    while i >= 0 and b.left():
        if ops[i][0] == "dup":
            cand = without_dup(ops, i)
            if b.fails(flags, cand):
                ops = cand
        i -= 1
    return flags, ops


def compress_map(values: set[int], cap: int) -> dict[int, int]:
    """An order-keeping map of indices onto small ones: gaps above ``cap`` become ``cap``.

    Values in the lower half are packed from 0 upwards, the upper half from MAX
    downwards, so 0, MAX and the distances near them survive.
    """
    low = sorted(v for v in values if v < 1 << 63)
    high = sorted((v for v in values if v >= 1 << 63), reverse=True)
    out, prev, w = {}, 0, 0
    for v in low:
        w += min(v - prev, cap)
        out[v], prev = w, v
    prev, w = MAX, MAX
    for v in high:
        w -= min(prev - v, cap)
        out[v], prev = w, v
    return out


def map_positions(ops: list[tuple], m: Callable[[int], int]) -> list[tuple]:
    out = []
    for op in ops:
        pos = POSITIONS.get(op[0], ())
        args = [m(a) if k in pos else a for k, a in enumerate(op[2:])]
        out.append((op[0], op[1], *args))
    return out


def positions(ops: list[tuple]) -> set[int]:
    return {op[2 + k] for op in ops for k in POSITIONS.get(op[0], ())}


def compress_indices(flags: int, ops: list[tuple], b: _Budget) -> tuple[int, list[tuple]]:
    """Try index compressions from the most compact; keep the first that still fails."""
    vals = positions(ops)
    for cap in CAPS:
        if not b.left():
            break
        m = compress_map(vals, cap)
        cand = map_positions(ops, m.get)
        if cand == ops:
            break
        if b.fails(flags, cand):
            return flags, cand
    return flags, ops


def round_candidates(v: int) -> list[int]:
    """Rounder, smaller values for one index, most desirable first."""
    if v in (0, 1, MAX):
        return []
    out = []
    for step in (1000, 100, 10):
        r = v - v % step
        if r != v:
            out.append(r)
    out.append(v // 2)
    return [c for c in dict.fromkeys(out) if c < v]


def round_indices(flags: int, ops: list[tuple], b: _Budget) -> tuple[int, list[tuple]]:
    """Per distinct index (largest first), try rounder values everywhere it occurs."""
    if len(ops) > ROUND_OPS:
        return flags, ops
    for v in sorted(positions(ops), reverse=True):
        for c in round_candidates(v):
            if not b.left():
                return flags, ops
            cand = map_positions(ops, lambda x, v=v, c=c: c if x == v else x)
            if b.fails(flags, cand):
                ops = cand
                break
    return flags, ops


def map_entries(ops: list[tuple], m: Callable) -> list[tuple]:
    out = []
    for op in ops:
        k = ENTRIES.get(op[0])
        if k is None or op[2 + k] is None:
            out.append(op)
            continue
        args = list(op[2:])
        args[k] = m(args[k])
        out.append((op[0], op[1], *args))
    return out


def merge_entries(flags: int, ops: list[tuple], b: _Budget) -> tuple[int, list[tuple]]:
    """All entries one value; else distinct entries as xa_mk_value(0, 1, ...) in order of use."""
    from maplecheck.tree import xa_is_advanced

    used = [op[2 + ENTRIES[op[0]]] for op in ops if op[0] in ENTRIES and op[2 + ENTRIES[op[0]]] is not None]
    plain_entries = [e for e in dict.fromkeys(used) if not xa_is_advanced(e)]
    if not plain_entries:
        return flags, ops
    one = {e: xa_mk_value(1) for e in plain_entries}
    ranked = {e: xa_mk_value(k) for k, e in enumerate(plain_entries)}
    for m in (one, ranked):
        if not b.left():
            break
        cand = map_entries(ops, lambda e, m=m: m.get(e, e))
        if cand != ops and b.fails(flags, cand):
            return flags, cand
    return flags, ops


def shrink_sizes(flags: int, ops: list[tuple], b: _Budget) -> tuple[int, list[tuple]]:
    """Gap-search and allocation sizes: try 1, then rounder values."""
    for i, op in enumerate(ops):
        k = SIZES.get(op[0])
        if k is None:
            continue
        for c in [1] + round_candidates(op[2 + k]):
            if not b.left() or c >= op[2 + k] or c < 1:
                continue
            args = list(op[2:])
            args[k] = c
            cand = ops[:i] + [(op[0], op[1], *args)] + ops[i + 1:]
            if b.fails(flags, cand):
                ops = cand
                break
    return flags, ops


def _spread(v: int) -> int:
    """Twice as far from the nearer end of the index space (0 and MAX stay)."""
    return 2 * v if v < 1 << 63 else MAX - 2 * (MAX - v)


def spread_indices(flags: int, ops: list[tuple], b: _Budget) -> tuple[int, list[tuple]]:
    """Put a NULL range between neighbouring stored ranges, when that lets operations go.

    A store that touches its neighbours fills one slot, one amid NULLs fills
    two: spread apart, fewer stores fill a leaf up to the split or the
    rebalance a failure needs.  Kept only when a removal sweep then shortens
    the trace (else index compression would just undo it).
    """
    cand = map_positions(ops, _spread)
    if cand == ops or not b.left() or not b.fails(flags, cand):
        return flags, ops
    shorter, _ = one_by_one(flags, cand, b)
    return (flags, shorter) if len(shorter) < len(ops) else (flags, ops)


PASSES = (drop_rcu, fewer_trees, compress_indices, merge_entries, round_indices, shrink_sizes,
          spread_indices)


def resampled(flags: int, ops: list[tuple], b: _Budget, resample: Resample) -> tuple[int, list[tuple], bool]:
    """Look among fresh short examples for a shorter trace that fails the same way.

    A failure that needs a tree of a given shape (a split of a full leaf at a
    depth, an under-full node after a long descending build) resists removal:
    nearly every candidate changes the shape, and ddmin spends the budget
    proving that.  A short example that trips the same rule is usually a far
    better start; this spends :data:`RESAMPLE_SHARE` of the budget on it (but
    tries at least :data:`RESAMPLE_MIN` examples while any budget is left),
    keeping the shortest failing prefix met (and stopping at one of at most
    :data:`RESAMPLE_SHORT` operations).
    """
    stop = time.monotonic() + RESAMPLE_SHARE * max(0.0, b.deadline - time.monotonic())
    best, k = None, 0
    while ((time.monotonic() < stop or (k < RESAMPLE_MIN and b.left()))
           and (best is None or len(best[1]) > RESAMPLE_SHORT)):
        got = resample(k)
        k += 1
        b.replays += 1
        if got is not None and len(got[1]) < len((best or (flags, ops))[1]):
            best = got
    return (best[0], best[1], True) if best else (flags, ops, False)


def one_by_one(flags: int, ops: list[tuple], b: _Budget) -> tuple[list[tuple], bool]:
    """Remove single operations (last first); True when a full sweep removed none in time."""
    while True:
        removed, i = False, len(ops) - 1
        while i >= 0:
            if not b.left():
                return ops, False
            cand = ops[:i] + ops[i + 1:]
            if b.fails(flags, cand):
                ops, removed = cand, True
            i -= 1
        if not removed:
            return ops, True


def minimize(flags: int, ops: list[tuple], fails: Fails, budget_s: float,
             ddmin: Callable[..., list[tuple]], resample: Resample | None = None) -> Minimized:
    """Rebuild, resample, ddmin, simplify, ddmin, sweep (see the module docstring); the result fails."""
    b = _Budget(fails, budget_s)
    fresh = False
    if len(ops) > 20:
        flags, ops = lineage(flags, ops, b)
        flags, ops = rebuild(flags, ops, b)

    def dd(ops, share: float = 1.0):
        left = share * max(0.0, b.deadline - time.monotonic())
        try:
            return ddmin(ops, lambda c: b.fails(flags, c), left)
        except Exception as stopped:  # the engine's ShrinkStopped: its ops fail under these flags
            stopped.flags = flags
            raise

    if resample is not None and len(ops) > RESAMPLE_OVER:
        ops = dd(ops, FIRST_DD_SHARE)  # most findings shrink well: resample only those that resist
        if len(ops) > RESAMPLE_OVER:
            flags, ops, fresh = resampled(flags, ops, b, resample)
    ops = dd(ops)
    minimal = False
    for _round in range(3):  # a removal can make another simplification possible
        before = (flags, ops)
        for p in PASSES:
            if not b.left():
                break
            flags, ops = p(flags, ops, b)
        ops = dd(ops)
        ops, minimal = one_by_one(flags, ops, b)
        if (flags, ops) == before or not b.left():
            break
    return Minimized(flags, ops, minimal, b.replays, fresh)
