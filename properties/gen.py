# SPDX-License-Identifier: GPL-2.0-or-later
"""Seeded operation streams for the fast fuzzing engine.

Same seed, same stream: everything is drawn from one ``random.Random``.  The
generator aims at the tree's rare paths rather than at uniform inputs:

* indices cluster on boundaries it has created (range ends, +-1), on 0 and
  2**64-1, and inside a small active region, so stores overlap, split and span;
* *bulk* bursts build a whole tree of height 2-4 in sequential, reversed or
  shuffled order before single operations poke at it;
* each example enables a random subset of the operation kinds (swarm testing),
  so rarely-weighted paths get whole examples to themselves;
* entries repeat (equal neighbours must stay separate ranges), include
  XA_ZERO_ENTRY and internal-looking words, and now and then a reserved value
  that must be refused with -EINVAL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from maplecheck.tree import (MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU, XA_RETRY_ENTRY,
                             XA_ZERO_ENTRY, xa_mk_value)

#: operation kinds and their base weights; an example enables a random subset
KINDS: dict[str, int] = {
    "store": 30,
    "store_null": 8,
    "insert": 8,
    "erase": 8,
    "load": 6,
    "walk": 6,
    "iterate": 8,
    "bulk": 2,
    "gap": 6,        # alloc-range trees only
    "dup": 2,
    "replace": 5,
    "rcu": 1,
    "destroy_copy": 1,
    "bad_entry": 1,
    "api_store": 12,   # store_gfp / store_nowait / store_prealloc / prealloc_destroy
    "mas_erase": 3,
    "cyclic": 4,       # alloc-range trees mostly (else -EINVAL)
    "mt_find": 4,      # mt_find, mt_find_after, mt_next, mt_prev
    "nomem_sweep": 2,  # one write retried with fail_at = 1, 2, ...: every allocation index
}
API_STORES = ("store_gfp", "store_nowait", "store_prealloc", "prealloc_destroy")
MT_READS = ("mt_find", "mt_find_after", "mt_next", "mt_prev")
ITER_CALLS = ("mas_find", "mas_find_range", "mas_next", "mas_next_range", "mas_prev",
              "mas_prev_range", "mas_find_rev", "mas_find_range_rev")
FORWARD = frozenset({"mas_find", "mas_find_range", "mas_next", "mas_next_range"})


@dataclass
class OpGen:
    """Generates the operations of one example."""

    rng: random.Random
    flags: int
    bulk_max: int = 6000
    points: list[int] = field(default_factory=lambda: [0, 1, MAX - 1, MAX])
    region: int = 1 << 12
    trees: list[int] = field(default_factory=lambda: [0])
    next_tree: int = 1
    kinds: list[str] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        r = self.rng
        enabled = [k for k in KINDS if r.random() < 0.6 or k == "store"]
        if not self.flags & MT_FLAGS_ALLOC_RANGE and "gap" in enabled:
            enabled.remove("gap")
        self.kinds = enabled
        self.weights = [KINDS[k] * r.choice((1, 1, 2, 4)) for k in enabled]

    # ------------------------------------------------------------ values
    def index(self) -> int:
        r = self.rng
        x = r.random()
        if x < 0.45 and self.points:
            p = r.choice(self.points) + r.choice((-1, 0, 0, 1))
            return min(max(p, 0), MAX)
        if x < 0.75:
            return r.randrange(self.region)
        if x < 0.85:
            return r.choice((0, 1, 2, MAX, MAX - 1, MAX - r.randrange(64)))
        if x < 0.95:
            return r.randrange(self.region * 64)
        return r.randrange(MAX + 1)

    def span(self, first: int) -> int:
        """A last index for a range starting at ``first``."""
        r = self.rng
        x = r.random()
        if x < 0.4:
            size = 0
        elif x < 0.7:
            size = r.randrange(1, 24)
        elif x < 0.9:
            size = r.randrange(24, 4096)
        elif x < 0.95:
            return MAX
        else:
            size = r.randrange(1 << 32)
        return min(first + size, MAX)

    def entry(self) -> int:
        r = self.rng
        x = r.random()
        if x < 0.55:
            return xa_mk_value(r.randrange(8))
        if x < 0.85:
            return 0x10000 + 8 * r.randrange(64)  # pointer-like
        if x < 0.93:
            return xa_mk_value(r.randrange(1 << 20))
        if x < 0.97:
            return XA_ZERO_ENTRY
        return 0x1002 + 4 * r.randrange(16)  # internal-looking, not reserved

    def remember(self, *idx: int) -> None:
        pts = self.points
        for i in idx:
            pts.append(i)
        if len(pts) > 256:
            del pts[4:132]  # keep the extremes, forget old points

    def tree(self) -> int:
        r = self.rng
        return self.trees[-1] if r.random() < 0.5 else r.choice(self.trees)

    # ------------------------------------------------------------ operations
    def ops(self) -> list[tuple]:
        """The operations of one draw (usually one, a burst for bulk/iterate)."""
        kind = self.rng.choices(self.kinds, self.weights)[0]
        return getattr(self, "_" + kind)()

    def _store(self) -> list[tuple]:
        first = self.index()
        last = self.span(first)
        self.remember(first, last)
        return [("store_range", self.tree(), first, last, self.entry())]

    def _store_null(self) -> list[tuple]:
        first = self.index()
        last = self.span(first)
        return [("store_range", self.tree(), first, last, None)]

    def _insert(self) -> list[tuple]:
        r = self.rng
        if r.random() < 0.03:
            return [("insert_range", self.tree(), 0, MAX, self.entry())]
        first = self.index()
        last = self.span(first)
        self.remember(first, last)
        return [("insert_range", self.tree(), first, last, self.entry())]

    def _erase(self) -> list[tuple]:
        return [("erase", self.tree(), self.index())]

    def _load(self) -> list[tuple]:
        return [("load", self.tree(), self.index())]

    def _walk(self) -> list[tuple]:
        return [("walk", self.tree(), self.index())]

    def _iterate(self) -> list[tuple]:
        r = self.rng
        t = self.tree()
        start = self.index()
        out: list[tuple] = [("mas_set", t, start)]
        for _ in range(r.randrange(1, 10)):
            if r.random() < 0.08:
                out.append(("mas_pause", t))
                continue
            call = r.choice(ITER_CALLS)
            x = r.random()
            if call in FORWARD:
                limit = MAX if x < 0.4 else min(start + r.randrange(1 << r.randrange(1, 16)), MAX)
            else:
                limit = 0 if x < 0.4 else max(start - r.randrange(1 << r.randrange(1, 16)), 0)
            if x > 0.9:
                limit = self.index()
            out.append((call, t, limit))
        return out

    def _bulk(self) -> list[tuple]:
        """Build a tree of height 2-4 in one burst of stores."""
        r = self.rng
        t = self.tree()
        n = r.choice((20, 60, 200, 400, 1500, self.bulk_max))
        n = min(n, self.bulk_max)
        stride = r.choice((1, 2, 10, 16, 1 << 12))
        length = r.randrange(min(stride, 8)) if stride > 1 else 0
        base = r.choice((0, 0, 1, r.randrange(self.region), MAX - stride * (n + 1)))
        order = list(range(n))
        how = r.random()
        if how < 0.25:
            order.reverse()
        elif how < 0.45:
            r.shuffle(order)
        values = r.random() < 0.5
        out = []
        for i in order:
            first = base + stride * i
            out.append(("store_range", t, first, first + length,
                        xa_mk_value(i & 0xFFF) if values else 0x10000 + 8 * (i % 64)))
        self.remember(base, base + stride * n)
        self.region = max(self.region, min(stride * n * 2, 1 << 40))
        return out

    def _gap(self) -> list[tuple]:
        r = self.rng
        t = self.tree()
        lo = self.index()
        hi = min(lo + r.choice((0, 1, 16, 4096, 1 << 20, MAX)), MAX) if r.random() < 0.8 else self.index()
        size = r.choice((1, 1, 2, 3, 8, 64, 4096, r.randrange(1, 1 << 16)))
        call = r.choice(("empty_area", "empty_area_rev", "alloc_range", "alloc_rrange"))
        if call.startswith("empty"):
            return [(call, t, lo, hi, size)]
        return [(call, t, size, self.entry(), lo, hi)]

    def _dup(self) -> list[tuple]:
        r = self.rng
        fail_at = None if r.random() < 0.6 else r.choice((1, 2, 3, r.randrange(1, 64), r.randrange(1, 2048)))
        t = self.tree()
        self.trees.append(self.next_tree)
        self.next_tree += 1
        return [("dup", t, fail_at)]

    def _replace(self) -> list[tuple]:
        entry = self.entry() if self.rng.random() < 0.95 else None
        return [("replace", self.tree(), self.index(), entry)]

    def _rcu(self) -> list[tuple]:
        return [("set_rcu", self.tree(), self.rng.random() < 0.5)]

    def _destroy_copy(self) -> list[tuple]:
        if len(self.trees) < 2:
            return self._load()
        t = self.rng.choice(self.trees[1:])
        self.trees.remove(t)
        return [("destroy", t)]

    def fail_at(self) -> int | None:
        """A node request to refuse: every index a multi-node write can reach, small ones often.

        A write requests at most 3 * height + 1 nodes (a spanning store), so
        1..16 covers every allocation of trees up to height 5.
        """
        r = self.rng
        x = r.random()
        if x < 0.15:
            return None
        if x < 0.45:
            return r.randrange(1, 4)
        if x < 0.85:
            return r.randrange(1, 11)  # height <= 3: every index of a spanning store
        return r.randrange(1, 17)

    def _api_store(self) -> list[tuple]:
        r = self.rng
        first = self.index()
        last = self.span(first)
        entry = self.entry() if r.random() < 0.8 else None
        if entry is not None:
            self.remember(first, last)
        return [(r.choice(API_STORES), self.tree(), first, last, entry, self.fail_at())]

    def _nomem_sweep(self) -> list[tuple]:
        """The same write with fail_at = 1, 2, ...: refused (tree unchanged) until k passes its
        last node request, then done; later copies are exact fits.  Every allocation of that
        write (split, rebalance, spanning store, new root) is refused once."""
        r = self.rng
        t = self.tree()
        first = self.index()
        last = self.span(first)
        entry = self.entry() if r.random() < 0.7 else None
        call = r.choice(("store_nowait", "store_prealloc", "store_nowait"))
        return [(call, t, first, last, entry, k) for k in range(1, r.choice((8, 14, 17)))]

    def _mas_erase(self) -> list[tuple]:
        return [("mas_erase", self.tree(), self.index(), self.fail_at())]

    def _cyclic(self) -> list[tuple]:
        r = self.rng
        lo = self.index() if r.random() < 0.5 else r.choice((0, 1, MAX - r.randrange(8)))
        hi = min(lo + r.choice((0, 1, 3, 16, 256, MAX)), MAX)
        nxt = r.choice((lo, hi, min(hi + 1, MAX), self.index(), 0, MAX))
        entry = self.entry() if r.random() < 0.95 else None
        return [("alloc_cyclic", self.tree(), entry, lo, hi, nxt)]

    def _mt_find(self) -> list[tuple]:
        r = self.rng
        call = r.choice(MT_READS)
        index = self.index()
        if call == "mt_prev":
            limit = 0 if r.random() < 0.4 else max(index - r.randrange(1 << r.randrange(1, 16)), 0)
        else:
            limit = MAX if r.random() < 0.4 else min(index + r.randrange(1 << r.randrange(1, 16)), MAX)
        return [(call, self.tree(), index, limit)]

    def _bad_entry(self) -> list[tuple]:
        r = self.rng
        bad = r.choice((2, 6, 0x3FE, XA_RETRY_ENTRY, 4094))
        first = self.index()
        op = r.choice(("store_range", "insert_range"))
        return [(op, self.tree(), first, self.span(first), bad)]


def example_flags(rng: random.Random) -> int:
    """Flags for one example: alloc-range and RCU mode, each half the time."""
    flags = 0
    if rng.random() < 0.5:
        flags |= MT_FLAGS_ALLOC_RANGE
    if rng.random() < 0.5:
        flags |= MT_FLAGS_USE_RCU
    return flags


def example_ops(seed: int, length: int, bulk_max: int = 6000) -> tuple[int, list[tuple]]:
    """The flags and operations of the example with this seed (deterministic)."""
    rng = random.Random(seed)
    flags = example_flags(rng)
    gen = OpGen(rng, flags, bulk_max=bulk_max)
    ops: list[tuple] = []
    while len(ops) < length:
        ops.extend(gen.ops())
    return flags, ops[:length]
