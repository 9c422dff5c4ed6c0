# SPDX-License-Identifier: GPL-2.0-or-later
"""Hypothesis state machines: one implementation and the model, side by side.

Every rule builds an operation in the shared vocabulary and hands it to
:class:`~maplecheck.properties.lockstep.Lockstep`, which checks the result
against the model, validates the tree after every write and compares contents
(and dumps, when two trees run).  The machine is written against the protocol:
:func:`machine_for` makes one for any implementation name.

Hypothesis ends a stateful case after a few hundred steps, so the ``bulk`` rule
builds a whole tree of height 1-4 in one step; single operations then poke at
it.  Each case enables a random subset of rule groups (swarm testing), so rare
paths — gap searches on tall trees, dup failing deep in a copy, replace after
a spanning store — get whole cases to themselves.
"""

from __future__ import annotations

import random

from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, multiple, precondition,
                                 rule)

from maplecheck.tree import MAX, MT_FLAGS_ALLOC_RANGE, XA_ZERO_ENTRY, xa_mk_value

from .engine import open_lockstep
from .gen import API_STORES, ITER_CALLS, MT_READS

GROUPS = ("store", "insert", "erase", "read", "iterate", "gap", "dup", "replace", "rcu", "bulk",
          "api")

#: how many ranges a bulk build stores to reach a height: arange nodes hold 10
#: children and range_64 nodes 16, so alloc-range trees grow taller sooner
BULK_SIZES = {
    True: {1: (3, 12), 2: (16, 60), 3: (80, 500), 4: (700, 1300)},
    False: {1: (3, 12), 2: (16, 150), 3: (250, 1400), 4: (2600, 3600)},
}

indices_small = st.integers(0, 300)
extremes = st.sampled_from([0, 1, 2, MAX - 2, MAX - 1, MAX])
entries = st.one_of(
    st.integers(0, 7).map(xa_mk_value),                    # equal neighbours are common
    st.integers(0, 63).map(lambda k: 0x10000 + 8 * k),      # pointer-like
    st.just(XA_ZERO_ENTRY),
    st.integers(0, 15).map(lambda k: 0x1002 + 4 * k),       # internal-looking, allowed
)


def _in_group(group: str):
    return precondition(lambda self: group in self.swarm)


class MapleMachine(RuleBasedStateMachine):
    """Drive ``impl`` and the model in lockstep.  Subclass via :func:`machine_for`."""

    impl = "python"
    linux_src: str | None = None

    points = Bundle("points")

    def __init__(self) -> None:
        super().__init__()
        self.ls = None
        self.trees = [0]
        self.swarm: frozenset[str] = frozenset(GROUPS)
        self.flags = 0

    # ------------------------------------------------------------ set-up
    @initialize(target=points, flags=st.sampled_from([0, 1, 2, 3]),
                swarm=st.sets(st.sampled_from(GROUPS), min_size=2))
    def setup(self, flags, swarm):
        self.flags = flags
        self.swarm = frozenset(swarm) | {"store"}
        self.ls = open_lockstep(self.impl, flags, self.linux_src)
        return multiple(0, 1, MAX)

    def teardown(self) -> None:
        if self.ls is not None:
            try:
                self.ls.finish()  # destroy every tree; no node may leak
            finally:
                self.ls.close()

    # ------------------------------------------------------------ helpers
    def _t(self, k: int) -> int:
        return self.trees[k % len(self.trees)]

    def apply(self, *op):
        return self.ls.apply(op)

    # ------------------------------------------------------------ writes
    @rule(target=points, t=st.integers(0, 7), first=st.one_of(points, indices_small, extremes),
          size=st.one_of(st.just(0), st.integers(1, 20), st.integers(21, 5000), st.just(MAX)),
          entry=st.one_of(entries, st.none()))
    @_in_group("store")
    def store(self, t, first, size, entry):
        last = min(first + size, MAX)
        self.apply("store_range", self._t(t), first, last, entry)
        return multiple(first, last, min(last + 1, MAX), max(first - 1, 0))

    @rule(t=st.integers(0, 7), first=st.one_of(points, indices_small),
          size=st.integers(0, 40), entry=entries)
    @_in_group("insert")
    def insert(self, t, first, size, entry):
        self.apply("insert_range", self._t(t), first, min(first + size, MAX), entry)

    @rule(t=st.integers(0, 7), entry=entries)
    @_in_group("insert")
    def insert_everything(self, t, entry):
        """insert [0, MAX]: -EEXIST, except the leaf-root quirk of 6.12."""
        self.apply("insert_range", self._t(t), 0, MAX, entry)

    @rule(t=st.integers(0, 7), index=st.one_of(points, indices_small))
    @_in_group("erase")
    def erase(self, t, index):
        self.apply("erase", self._t(t), index)

    @rule(t=st.integers(0, 7), index=st.one_of(points, indices_small),
          entry=st.one_of(entries, st.none(), st.sampled_from([2, 0x402])))
    @_in_group("replace")
    def replace(self, t, index, entry):
        self.apply("replace", self._t(t), index, entry)

    @rule(t=st.integers(0, 7), on=st.booleans())
    @_in_group("rcu")
    def set_rcu(self, t, on):
        self.apply("set_rcu", self._t(t), on)

    @rule(t=st.integers(0, 7), first=indices_small, size=st.integers(0, 10),
          bad=st.sampled_from([2, 6, 0x3FE, 0x402]))
    @_in_group("store")
    def store_reserved(self, t, first, size, bad):
        """Reserved internal values are refused with -EINVAL and change nothing."""
        self.apply("store_range", self._t(t), first, first + size, bad)

    @rule(t=st.integers(0, 7), first=indices_small, size=st.integers(1, 50))
    @_in_group("store")
    def store_reversed(self, t, first, size):
        """first > last is refused with -EINVAL."""
        self.apply("store_range", self._t(t), first + size, first, xa_mk_value(1))

    # ------------------------------------------------------------ bulk
    @rule(target=points, t=st.integers(0, 7), height=st.integers(1, 4),
          order=st.sampled_from(["ascending", "descending", "shuffled"]),
          stride=st.sampled_from([1, 2, 10, 4096]), seed=st.integers(0, 2**32 - 1))
    @_in_group("bulk")
    def bulk(self, t, height, order, stride, seed):
        """Build a tree of about ``height`` levels in one step."""
        rng = random.Random(seed)
        lo, hi = BULK_SIZES[bool(self.flags & MT_FLAGS_ALLOC_RANGE)][height]
        n = rng.randrange(lo, hi)
        length = 0 if stride == 1 else rng.randrange(min(stride, 6))
        idx = list(range(n))
        if order == "descending":
            idx.reverse()
        elif order == "shuffled":
            rng.shuffle(idx)
        tree = self._t(t)
        ops = [("store_range", tree, stride * i, stride * i + length, xa_mk_value(i % 17)) for i in idx]
        self.ls.run_batch(ops, validate_each=False)  # one step: validated at its end
        return multiple(0, stride * n, stride * (n // 2) + length, stride * (n // 2) + length + 1)

    # ------------------------------------------------------------ reads
    @rule(t=st.integers(0, 7), index=st.one_of(points, indices_small, extremes))
    @_in_group("read")
    def load(self, t, index):
        self.apply("load", self._t(t), index)

    @rule(t=st.integers(0, 7), index=st.one_of(points, indices_small, extremes))
    @_in_group("read")
    def walk(self, t, index):
        self.apply("walk", self._t(t), index)

    @rule(t=st.integers(0, 7), start=st.one_of(points, indices_small, extremes),
          calls=st.lists(st.tuples(st.sampled_from(ITER_CALLS + ("mas_pause",)),
                                   st.one_of(points, indices_small, extremes)), min_size=1, max_size=8))
    @_in_group("iterate")
    def iterate(self, t, start, calls):
        """mas_set(start), then a sequence of find/next/prev calls with their limits."""
        tree = self._t(t)
        self.apply("mas_set", tree, start)
        for call, limit in calls:
            if call == "mas_pause":
                self.apply("mas_pause", tree)
            else:
                self.apply(call, tree, limit)

    # ------------------------------------------------------------ gaps
    @precondition(lambda self: self.flags & MT_FLAGS_ALLOC_RANGE)
    @rule(t=st.integers(0, 7), lo=st.one_of(points, indices_small, extremes),
          span=st.one_of(st.integers(0, 5000), st.just(MAX)),
          size=st.one_of(st.integers(0, 20), st.integers(21, 1 << 20)),
          call=st.sampled_from(["empty_area", "empty_area_rev"]))
    @_in_group("gap")
    def empty_area(self, t, lo, span, size, call):
        self.apply(call, self._t(t), lo, min(lo + span, MAX), size)

    @rule(target=points, t=st.integers(0, 7), lo=st.one_of(points, indices_small),
          span=st.one_of(st.integers(0, 5000), st.just(MAX)), size=st.integers(1, 64),
          entry=st.one_of(entries, st.sampled_from([2, 0x406])),
          call=st.sampled_from(["alloc_range", "alloc_rrange"]))
    @_in_group("gap")
    def alloc(self, t, lo, span, size, entry, call):
        """alloc_range on any tree (-EINVAL without the alloc-range flag)."""
        ret = self.apply(call, self._t(t), size, entry, lo, min(lo + span, MAX))
        return multiple(ret[1]) if ret and ret[0] == 0 else multiple()

    # ------------------------------------------------------------ dup
    @rule(t=st.integers(0, 7), fail_at=st.one_of(st.none(), st.integers(1, 8), st.integers(9, 600)))
    @_in_group("dup")
    def dup(self, t, fail_at):
        """__mt_dup; afterwards both the source and the copy keep being exercised."""
        self.apply("dup", self._t(t), fail_at)
        self.trees.append(len(self.ls.model.trees) - 1)

    @precondition(lambda self: len(self.trees) > 1)
    @rule(k=st.integers(1, 7))
    @_in_group("dup")
    def destroy_copy(self, k):
        t = self.trees[1 + k % (len(self.trees) - 1)]
        self.apply("destroy", t)
        self.trees.remove(t)


class ApiRules:
    """Rules for the caller API beyond ``mtree_*`` (group "api"), mixed into MapleMachine."""

    @rule(t=st.integers(0, 7), call=st.sampled_from(API_STORES),
          first=st.one_of(Bundle("points"), indices_small, extremes),
          size=st.one_of(st.just(0), st.integers(1, 20), st.integers(21, 5000), st.just(MAX)),
          entry=st.one_of(entries, st.none()),
          fail_at=st.one_of(st.none(), st.integers(1, 4), st.integers(5, 16)))
    @_in_group("api")
    def api_store(self, t, call, first, size, entry, fail_at):
        """store_gfp / store_nowait / store_prealloc / prealloc_destroy, the k-th node refused."""
        self.apply(call, self._t(t), first, min(first + size, MAX), entry, fail_at)

    @rule(t=st.integers(0, 7), first=st.one_of(Bundle("points"), indices_small),
          size=st.one_of(st.just(0), st.integers(1, 5000), st.just(MAX)),
          entry=st.one_of(entries, st.none()), prealloc=st.booleans(), top=st.integers(2, 16))
    @_in_group("api")
    def nomem_sweep(self, t, first, size, entry, prealloc, top):
        """One write with fail_at = 1, 2, ...: each of its node requests refused once."""
        call = "store_prealloc" if prealloc else "store_nowait"
        for k in range(1, top + 1):
            self.apply(call, self._t(t), first, min(first + size, MAX), entry, k)

    @rule(t=st.integers(0, 7), index=st.one_of(Bundle("points"), indices_small),
          fail_at=st.one_of(st.none(), st.integers(1, 8)))
    @_in_group("api")
    def mas_erase(self, t, index, fail_at):
        self.apply("mas_erase", self._t(t), index, fail_at)

    @rule(t=st.integers(0, 7), entry=st.one_of(entries, st.none()),
          lo=st.one_of(indices_small, extremes), span=st.sampled_from([0, 1, 3, 16, MAX]),
          nxt=st.one_of(indices_small, extremes))
    @_in_group("api")
    def alloc_cyclic(self, t, entry, lo, span, nxt):
        self.apply("alloc_cyclic", self._t(t), entry, lo, min(lo + span, MAX), nxt)

    @rule(t=st.integers(0, 7), call=st.sampled_from(MT_READS),
          index=st.one_of(Bundle("points"), indices_small, extremes),
          limit=st.one_of(indices_small, extremes))
    @_in_group("api")
    def mt_read(self, t, call, index, limit):
        self.apply(call, self._t(t), index, limit)


class ApiMixinMachine(ApiRules, MapleMachine):
    """MapleMachine with the caller-API rules."""


def machine_for(impl: str, linux_src: str | None = None) -> type[MapleMachine]:
    """A state machine class that drives ``impl`` ("python", "linux" or "both")."""
    return type(f"MapleMachine_{impl}", (ApiMixinMachine,), {"impl": impl, "linux_src": linux_src})
