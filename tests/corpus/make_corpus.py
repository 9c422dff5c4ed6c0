# SPDX-License-Identifier: GPL-2.0-or-later
"""Build the write-path regression corpus (run by hand: ``python tests/corpus/make_corpus.py``).

Each scenario is a short trace aimed at one write path or boundary case of the
Linux 6.12 maple tree (see /work/shared/design/linux-6.12-facts.md §4, §11).
For every scenario this script

1. writes ``tests/corpus/<name>.jsonl`` (``maplecheck.ops.write_trace``; the
   note names the targeted path and the store types our Python tree took);
2. replays it on our Python tree with ``mas_wr_store_type`` (and the push /
   3-way split helpers) wrapped, recording every store type and path seen, and
   refuses to write a scenario that misses its target;
3. replays it on the Linux adapter and writes ``tests/corpus/<name>.linux.json``:
   the op results, the dump of every live tree after the last op, the heights,
   and the store types / paths seen on the Python side.

Python-vs-Linux differences are printed (they are pytree bugs, recorded, not
fixed here).  ``tests/test_corpus.py`` replays the corpus in CI.

Usage: python tests/corpus/make_corpus.py [NAME ...]   (default: all scenarios)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from maplecheck.dump import dump_diff
from maplecheck.ops import Session, write_trace
from maplecheck.tree import (MAX, MT_FLAGS_ALLOC_RANGE as ALLOC, MT_FLAGS_USE_RCU as RCU,
                             XA_ZERO_ENTRY, xa_mk_value as V)

HERE = Path(__file__).resolve().parent

# --------------------------------------------------------------------------- op helpers


def st(a, b, e, t=0):
    return ("store_range", t, a, b, e)


def ins(a, b, e, t=0):
    return ("insert_range", t, a, b, e)


def er(i, t=0):
    return ("erase", t, i)


def ld(i, t=0):
    return ("load", t, i)


def ranges(idx, t=0, step=10, width=5, val=lambda i: V(i)):
    """[step*i, step*i+width] = val(i) for i in idx (a bulk build)."""
    return [st(step * i, step * i + width, val(i), t) for i in idx]


def singles(idx, t=0):
    return [st(i, i, V(i), t) for i in idx]


#: §4.2 table leaf root: [0-5]v0 [6-9]N [10-15]v1 [16-19]N [20-25]v2 [26-29]N [30-35]v3 [36-MAX]N
BASE = ranges(range(4))
X = V(1000)
#: marks where the build ends: a scenario's targets must be hit from here on (removed from the trace)
FOCUS = "FOCUS"


def rcu_on(t=0):
    return ("set_rcu", t, True)


# --------------------------------------------------------------------------- scenarios

#: name -> (flags, targets, note, ops, focus); targets: store types / path events that must
#: appear while replaying ops[focus:] on our Python tree
SCENARIOS: dict[str, tuple[int, tuple[str, ...], str, list]] = {}


def scenario(name, flags, targets, note, ops):
    """Register a scenario; a FOCUS marker in ops says where the bulk build ends (default 0)."""
    assert name not in SCENARIOS, name
    focus = ops.index(FOCUS) if FOCUS in ops else 0
    ops = [op for op in ops if op != FOCUS]
    SCENARIOS[name] = (flags, tuple(targets), note, ops, focus)


def define() -> None:
    # ---- store_root (§1.4, §4.3)
    for tag, fl in (("", 0), ("_alloc", ALLOC)):
        scenario(f"store_root_pointer{tag}", fl, ["store_root"],
                 "store_root: raw entry at 0 becomes the root pointer, then is replaced in place",
                 [st(0, 0, V(1)), ld(0), st(0, 0, V(2)), ld(0), ("walk", 0, 0)])
    scenario("store_root_internal_0x1002", 0, ["store_root"],
             "store_root: internal-looking entry 0x1002 at [0,0] cannot be a root pointer, expands to a leaf",
             [st(0, 0, 0x1002), ld(0), ld(1)])
    scenario("store_root_null", 0, ["store_root"],
             "store_root: NULL at index 5 on a root pointer is a no-op; NULL at 0 clears the root",
             [st(0, 0, V(1)), st(5, 5, None), ld(0), st(0, 0, None), ld(0), st(0, 0, None)])
    for tag, fl in (("", 0), ("_alloc", ALLOC)):
        scenario(f"root_expand{tag}", fl, ["store_root"],
                 "store_root -> mas_root_expand (§1.4 example): R at 0, then [5,9]=E -> R|0 NULL|4 E|9 NULL|MAX",
                 [st(0, 0, V(1)), st(5, 9, V(2)), ld(0), ld(4), ld(5), ld(10)])
    scenario("root_expand_index1", 0, ["store_root"],
             "store_root -> mas_root_expand with index 1 (no NULL gap slot)", [st(0, 0, V(1)), st(1, 3, V(2))])

    # ---- new_root
    for tag, fl in (("", 0), ("_alloc", ALLOC), ("_rcu", RCU)):
        scenario(f"new_root_leaf{tag}", fl, ["new_root"],
                 "new_root: [0,MAX]=X on a multi-slot leaf root, then [0,MAX]=NULL empties the tree",
                 BASE + [FOCUS, st(0, MAX, X), ld(77), st(0, MAX, None), ld(0)])
    scenario("new_root_tall", 0, ["spanning_store", "new_root_call"],
             "spanning_store -> mas_new_root: [0,MAX]=X on a height-2 tree (indices 0..99)",
             singles(range(100)) + [FOCUS, st(0, MAX, X), ld(50)])
    scenario("new_root_tall_null_alloc", ALLOC, ["spanning_store", "new_root_call"],
             "spanning_store -> mas_new_root: [0,MAX]=NULL on a height-3 alloc tree",
             ranges(range(135)) + [FOCUS, st(0, MAX, None), ld(50)])

    # ---- leaf-root in-place / node_store classification (§4.2 table)
    for tag, fl in (("", 0), ("_rcu", RCU), ("_alloc", ALLOC), ("_alloc_rcu", ALLOC | RCU)):
        scenario(f"exact_fit{tag}", fl, ["exact_fit"], "exact_fit: [10,15]=X over [10,15]=v1",
                 BASE + [FOCUS, st(10, 15, X), ld(12)])
        scenario(f"slot_store_2_rmin{tag}", fl, ["slot_store"],
                 "slot_store, two slots, index == r_min: [10,18]=X (slot[o]=e, pivot[o]=last)",
                 BASE + [FOCUS, st(10, 18, X), ld(19)])
        scenario(f"slot_store_2_tail{tag}", fl, ["slot_store"],
                 "slot_store, two slots, index > r_min: [12,19]=X (slot[o+1]=e, pivot[o]=index-1)",
                 BASE + [FOCUS, st(12, 19, X), ld(11)])
        scenario(f"node_store{tag}", fl, ["node_store"], "node_store: [12,13]=X inside v1",
                 BASE + [FOCUS, st(12, 13, X), ld(14)])
    scenario("slot_store_3", 0, ["slot_store"],
             "slot_store, three slots (non-RCU only): [12,21]=X", BASE + [FOCUS, st(12, 21, X), ld(22)])
    scenario("slot_store_3_alloc", ALLOC, ["slot_store"],
             "slot_store, three slots (non-RCU only) on an alloc tree: [12,21]=X", BASE + [FOCUS, st(12, 21, X)])
    scenario("slot_store_3_rcu", RCU, ["node_store"],
             "3-slot write in RCU mode becomes node_store: [12,21]=X", BASE + [FOCUS, st(12, 21, X), ld(22)])
    for tag, fl in (("", 0), ("_alloc", ALLOC)):
        scenario(f"append{tag}", fl, ["append"],
                 "append (non-RCU, write starts in the last slot): [40,45], [36,37], [200,MAX]",
                 BASE + [FOCUS, st(40, 45, X), st(36, 37, V(7)), st(200, MAX, V(8)), ld(MAX)])
    for tag, fl in (("_rcu", RCU), ("_alloc_rcu", ALLOC | RCU)):
        scenario(f"append{tag}", fl, ["node_store"],
                 "append position in RCU mode becomes node_store: [40,45]",
                 BASE + [FOCUS, st(40, 45, X), ld(40)])

    # ---- NULL widening (§4.2 step 3) and erase widening (§4.4)
    for tag, fl in (("", 0), ("_alloc", ALLOC)):
        scenario(f"null_widen_both{tag}", fl, ["node_store"],
                 "NULL [10,15] between NULLs widens to 6..19 (new_end 5 on the root -> node_store)",
                 BASE + [FOCUS, st(10, 15, None), ld(6), ld(19), ("walk", 0, 12)])
        scenario(f"null_widen_left{tag}", fl, ["slot_store"],
                 "NULL [10,12]: index == r_min and previous slot NULL -> widens left to 6 "
                 "([6,12]=NULL replaces two slots by two: slot_store)",
                 BASE + [FOCUS, st(10, 12, None), ("walk", 0, 8)])
        scenario(f"null_widen_right{tag}", fl, ["slot_store"],
                 "NULL [13,15]: last == end_piv and next slot NULL -> widens right to 19",
                 BASE + [FOCUS, st(13, 15, None), ("walk", 0, 17)])
        scenario(f"erase_widen{tag}", fl, ["node_store"],
                 "erase 12 inside [10,15] between NULLs: returns v1, NULL merged to 6..19 (§4.4)",
                 BASE + [FOCUS, er(12), ("walk", 0, 12), er(12), er(MAX)])

    # ---- leaf split, push (§4.6, §11)
    for tag, fl in (("", 0), ("_alloc", ALLOC)):
        scenario(f"split_singles{tag}", fl, ["split_store"],
                 "split_store: single indices 0..15 -> 0-8:9 | 9-MAX:8", singles(range(16)))
        scenario(f"split_ranges{tag}", fl, ["split_store"],
                 "split_store: [10i,10i+5] i=1..8 -> 0-55:10 | 56-MAX:7", ranges(range(1, 9)))
    scenario("split_rcu", RCU, ["split_store"], "split_store in RCU mode: singles 0..15",
             [rcu_on()] + singles(range(16)))
    for tag, fl in (("", 0), ("_alloc", ALLOC)):
        scenario(f"push_left{tag}", fl, ["split_store", "push_left"],
                 "split_store -> mas_push_data(left): ascending singles 0..40 fill the right leaf, "
                 "which pushes into its left sibling", singles(range(41)))
        scenario(f"push_right{tag}", fl, ["split_store", "push_right"],
                 "split_store -> mas_push_data(right): descending ranges [10i,10i+5] i=40..0",
                 ranges(range(40, -1, -1)))
    scenario("split_near_max", 0, ["split_store"],
             "split_store at the top of the index space: singles MAX-16..MAX descending, then a store to MAX",
             [st(MAX - i, MAX - i, V(i)) for i in range(17)] + [st(MAX - 40, MAX - 30, X), ld(MAX)])
    scenario("split_near_max_alloc", ALLOC, ["split_store"],
             "split_store at the top of the index space (alloc): ranges ending at MAX-10i",
             [st(MAX - 10 * i - 5, MAX - 10 * i, V(i)) for i in range(17)] + [ld(MAX - 3)])

    # ---- growth (§11 shapes A, B, C, D)
    scenario("grow_h2_shape_b", 0, ["split_store", "push_left"],
             "growth to height 2: shape B, plain tree, indices 0..99", singles(range(100)))
    scenario("grow_h3_shape_a", ALLOC, ["split_store"],
             "growth to height 3: shape A, alloc tree [10i,10i+5] i=0..134", ranges(range(135)))
    scenario("grow_h3_shape_c", 0, ["split_store", "push_right"],
             "growth to height 3: shape C, plain tree [10i,10i+5] i=134..0 descending", ranges(range(134, -1, -1)))
    scenario("grow_h4_shape_d_null_span", ALLOC, ["spanning_store"],
             "growth to height 4 (shape D: 1000 ranges), then spanning NULL over [2000,7005] reduces height to 3",
             ranges(range(1000)) + [FOCUS, st(2000, 7005, None), ld(2000), ld(7010)])
    scenario("grow_h4_plain", 0, ["split_store"],
             "growth to height 4 on a plain tree: [10i,10i+5] i=0..1999 (bulk build)", ranges(range(2000)))

    # ---- rebalance (§11)
    for tag, fl in (("_alloc", ALLOC), ("", 0)):
        scenario(f"rebalance{tag}", fl, ["rebalance"],
                 "rebalance: erase 6 entries from leaf 76-155 of a 60-range tree -> 76-185:10 186-235:10",
                 ranges(range(60)) + [FOCUS] + [er(10 * i) for i in range(8, 14)])

    # ---- spanning stores (§4.5)
    scenario("spanning_leaves", 0, ["spanning_store"],
             "spanning_store across two leaves: [10,20]=X on indices 0..99",
             singles(range(100)) + [FOCUS, st(10, 20, X), ld(15)])
    scenario("spanning_leaves_null_alloc", ALLOC, ["spanning_store"],
             "spanning NULL store across leaves (alloc): [12,40]=NULL on indices 0..99",
             singles(range(100)) + [FOCUS, st(12, 40, None), ld(41)])
    scenario("spanning_internal_alloc", ALLOC, ["spanning_store"],
             "spanning_store across internal nodes: [700,800]=X on shape A (L1 boundary 715/716)",
             ranges(range(135)) + [FOCUS, st(700, 800, X), ld(716)])
    # NB: the same write on a *plain* RCU tree (height 3 -> 2) makes the Linux adapter abort in
    # mtree_destroy ("double free or corruption"); kept out of the corpus, see the report.
    scenario("spanning_internal_alloc_rcu", ALLOC | RCU, ["spanning_store"],
             "spanning_store across internal nodes in RCU mode: [700,800]=X on shape A",
             [rcu_on()] + ranges(range(135)) + [FOCUS, st(700, 800, X)])
    scenario("spanning_3way_split", 0, ["spanning_store", "split_3way"],
             "spanning_store -> mas_spanning_rebalance with a 3-way split: [153,158] over two full leaves",
             ranges(range(135)) + [FOCUS, st(153, 158, X), ld(155)])
    scenario("spanning_to_max", 0, ["spanning_store"],
             "spanning_store to MAX: [50,MAX]=X then [30,MAX]=NULL on indices 0..99",
             singles(range(100)) + [FOCUS, st(50, MAX, X), ld(MAX), st(30, MAX, None), ld(50)])
    scenario("spanning_to_max_alloc", ALLOC, ["spanning_store"],
             "spanning_store to MAX on shape A: [500,MAX]=X",
             ranges(range(135)) + [FOCUS, st(500, MAX, X), ("empty_area", 0, 0, MAX, 5)])

    # ---- insert (§4.7)
    for tag, fl in (("", 0), ("_alloc", ALLOC)):
        scenario(f"insert_eexist{tag}", fl, ["store_root", "exact_fit", "spanning_store"],
                 "insert -EEXIST: index 0 on a root pointer; occupied slot; last > r_max; spanning; then "
                 "successful inserts into gaps",
                 [st(0, 0, V(1)), ins(0, 0, V(2)), ins(0, 3, V(2))] + BASE[1:]
                 + singles(range(40, 100))
                 + [ins(12, 12, X), ins(7, 11, X), ins(6, 9, X), ins(36, 60, X), ins(36, 39, X), ins(16, 17, X)])
    scenario("insert_quirk_new_root", 0, ["new_root"],
             "insert quirk: insert(0,MAX) on a multi-slot leaf root returns 0 and overwrites everything",
             BASE + [FOCUS, ins(0, MAX, X), ld(10)])
    scenario("insert_quirk_tall_eexist", 0, ["spanning_store"],
             "insert(0,MAX) on a height-2 tree: spanning -> -EEXIST (the quirk needs a leaf root)",
             singles(range(50)) + [FOCUS, ins(0, MAX, X)])
    scenario("zero_entry", 0, ["node_store", "exact_fit"],
             "XA_ZERO_ENTRY stored at [5,9] loads as NULL; insert over it -> -EEXIST; store over it works",
             BASE + [FOCUS, st(6, 9, XA_ZERO_ENTRY), ld(7), ins(7, 7, X), ins(6, 9, X), ("walk", 0, 8),
                     st(6, 9, X), ld(7)])
    scenario("zero_entry_root", 0, ["store_root"],
             "XA_ZERO_ENTRY at [0,0] as a root pointer, then insert at 0 -> -EEXIST",
             [st(0, 0, XA_ZERO_ENTRY), ld(0), ins(0, 0, X), ("walk", 0, 0)])
    scenario("reserved_refused_alloc", ALLOC, [],
             "reserved entries refused: store of 0x402 (advanced) -> -EINVAL; alloc_range of reserved "
             "0x406/0x2 -> -EINVAL; insert of 0x402 -> -EINVAL",
             BASE + [FOCUS, st(40, 50, 0x402), ins(40, 50, 0x402), st(40, 50, 0x2),
                     ("alloc_range", 0, 4, 0x406, 0, 1000), ("alloc_rrange", 0, 4, 0x2, 0, 1000),
                     ("alloc_range", 0, 4, 0x1002, 0, 1000)])
    scenario("reversed_range", 0, [],
             "reversed range: store/insert with index > last -> -EINVAL, tree untouched",
             BASE + [FOCUS, st(10, 5, X), ins(50, 40, X), st(MAX, 0, None), ld(10)])

    # ---- alloc tree gap search (§5)
    scenario("alloc_fill", ALLOC, ["append", "exact_fit"],
             "alloc_range / alloc_rrange filling the gaps of a small alloc tree until -EBUSY",
             BASE + [FOCUS] + [("alloc_range", 0, 4, V(50 + k), 0, 40) for k in range(6)]
             + [("alloc_rrange", 0, 3, V(60 + k), 0, 40) for k in range(4)]
             + [("alloc_range", 0, 1, V(70), 0, 40), ("empty_area", 0, 0, 40, 1)])
    scenario("alloc_fill_empty", ALLOC, ["store_root"],
             "alloc_range on an empty alloc tree (root pointer at 0), then alloc_rrange near MAX",
             [("alloc_range", 0, 1, V(1), 0, MAX), ("alloc_range", 0, 10, V(2), 0, MAX),
              ("alloc_rrange", 0, 10, V(3), 0, MAX), ("alloc_rrange", 0, 10, V(4), 100, 50)])
    scenario("empty_area_3level", ALLOC, ["node_store"],
             "empty_area / empty_area_rev on a 3-level alloc tree (shape A plus holes)",
             ranges(range(135)) + [FOCUS, er(500), er(510), er(520)]
             + [("empty_area", 0, 0, MAX, 4), ("empty_area", 0, 0, MAX, 20), ("empty_area", 0, 700, 900, 4),
                ("empty_area_rev", 0, 0, MAX, 4), ("empty_area_rev", 0, 0, 1200, 20),
                ("empty_area_rev", 0, 0, 400, 30), ("empty_area", 0, 1340, MAX, 1 << 40),
                ("alloc_range", 0, 20, X, 0, MAX), ("alloc_rrange", 0, 4, V(9999), 0, 1200)])

    # ---- dup (§6)
    scenario("dup_then_writes", 0, ["spanning_store", "exact_fit", "append"],
             "dup of a height-2 tree, then writes on both trees diverge them",
             singles(range(100)) + [FOCUS, ("dup", 0, None), st(10, 20, X, 0), st(50, 50, None, 1), er(70, 1),
                                    st(200, 300, V(7), 1), ld(15, 1)])
    scenario("dup_then_writes_alloc_rcu", ALLOC | RCU, ["spanning_store", "node_store"],
             "dup of a height-3 RCU alloc tree (shape A), then writes on both trees",
             ranges(range(135)) + [FOCUS, ("dup", 0, None), st(700, 800, X, 1), st(12, 13, X, 0),
                                   er(30, 1), ("alloc_range", 1, 4, V(5), 0, MAX)])
    scenario("dup_fail_leaf", 0, [],
             "dup with fail_at=2 on a height-2 tree: the root's leaf children bulk allocation fails "
             "-> -ENOMEM, copy empty",
             singles(range(100)) + [FOCUS, ("dup", 0, 2), ld(5, 1)])
    scenario("dup_fail_internal_alloc", ALLOC, [],
             "dup with fail_at=2 on a height-3 alloc tree: the internal L1 bulk allocation fails; "
             "fail_at=4: the first leaf bulk fails; both copies empty",
             ranges(range(135)) + [FOCUS, ("dup", 0, 2), ("dup", 0, 4), ("dup", 0, None), ld(10, 1), ld(10, 2)])

    # ---- replace, RCU toggles (§7, §9)
    scenario("replace_exact", 0, [],
             "replace: exact-fit pointer swap (mas_replace_entry) in a height-2 tree, and on empty slots",
             singles(range(100)) + [FOCUS, ("replace", 0, 50, X), ("replace", 0, 500, X), ("replace", 0, 0, V(3)),
                                    ld(50)])
    scenario("set_rcu_toggle", 0, ["node_store", "exact_fit", "slot_store", "append"],
             "set_rcu toggles: node_store in place (non-RCU) / new root node (RCU), exact_fit and 2-slot "
             "slot_store in place under RCU, append once RCU is off again (python_root_changed pins identity)",
             BASE + [FOCUS, st(12, 13, X), rcu_on(), st(22, 23, X), st(0, 5, V(9)), st(14, 17, V(8)),
                     ("set_rcu", 0, False), st(40, 41, X), st(2, 3, V(6)), ("set_rcu", 0, True),
                     st(24, 25, V(5)), ld(24)])


# --------------------------------------------------------------------------- instrumentation


class Recorder:
    """Wrap pytree's classifier and split helpers; collect what the Python tree did."""

    def __init__(self) -> None:
        import importlib
        import pkgutil

        import maplecheck.impl.pytree as pkg
        from maplecheck.impl.pytree.state import STORE_TYPE_NAMES
        self.events: list[str] = []
        self.saved = []
        # node_ops holds the pure (proven) helpers the tree calls, under the
        # kernel's names but with node-field signatures: not the tree's entry points.
        mods = [importlib.import_module(f"maplecheck.impl.pytree.{m.name}")
                for m in pkgutil.iter_modules(pkg.__path__) if m.name != "node_ops"]
        ev = self.events

        def wrap_store_type(orig):
            def f(wr):
                orig(wr)
                ev.append(STORE_TYPE_NAMES[wr.mas.store_type])
            return f

        def wrap_push(orig):
            def f(mas, height, mast, left):
                ok = orig(mas, height, mast, left)
                if ok:
                    ev.append("push_left" if left else "push_right")
                return ok
            return f

        def wrap_calc(orig):
            def f(mas, b):
                split, mid = orig(mas, b)
                if mid:
                    ev.append("split_3way")
                return split, mid
            return f

        def wrap_new_root(orig):
            def f(mas, entry):
                ev.append("new_root_call")
                return orig(mas, entry)
            return f

        wrappers = {"mas_wr_store_type": wrap_store_type, "mas_push_data": wrap_push,
                    "mab_calc_split": wrap_calc, "mas_new_root": wrap_new_root}
        originals = {}
        for m in mods:
            for name, w in wrappers.items():
                if hasattr(m, name):
                    orig = originals.setdefault(name, getattr(m, name))
                    self.saved.append((m, name, getattr(m, name)))
                    setattr(m, name, w(orig))
        missing = set(wrappers) - set(originals)
        if missing:
            raise RuntimeError(f"pytree has no {sorted(missing)}")

    def restore(self) -> None:
        for m, name, orig in self.saved:
            setattr(m, name, orig)


STORE_TYPES = ("new_root", "store_root", "exact_fit", "spanning_store", "split_store", "rebalance",
               "append", "node_store", "slot_store")


def replay_python(factory, flags, ops, rec):
    """Replay on pytree; per op: the events seen and whether tree 0's root node changed."""
    s = Session(factory, flags)
    results, per_op, root_changed = [], [], []
    try:
        for op in ops:
            mark = len(rec.events)
            t0 = s.trees[0]
            before = t0.mt.ma_root if t0 is not None else None
            results.append(s.step(op))
            per_op.append(sorted(set(rec.events[mark:])))
            after = s.trees[0].mt.ma_root if s.trees[0] is not None else None
            root_changed.append(before is not after and before != after
                                and bool(before) and bool(after)
                                and (before & 3) == 2 and (after & 3) == 2)
        dumps = {str(i): tr.dump() for i, tr in s.live_trees()}
    finally:
        s.close()
    return results, dumps, per_op, root_changed


def replay(factory, flags, ops, track_height=False):
    s = Session(factory, flags)
    results, hmax = [], 0
    try:
        for op in ops:
            results.append(s.step(op))
            if track_height:
                hmax = max([hmax] + [tr.height() for _, tr in s.live_trees()])
        dumps = {str(i): tr.dump() for i, tr in s.live_trees()}
        heights = {str(i): tr.height() for i, tr in s.live_trees()}
    finally:
        s.close()
    return results, dumps, heights, hmax


def record_kernel(series: str, profile: str) -> int:
    """Record every scenario's results and dumps from Linux ``series`` (the
    ``--kernel`` adapter) into ``corpus/v<series>/``; the traces are the shared
    ones.  Returns how many differ from pytree's ``profile`` (printed)."""
    from maplecheck.impl.linux.adapter import LinuxFactory
    from maplecheck.impl.pytree import PyFactory
    from maplecheck.properties.impls import linux_library, linux_tree

    lib_path = linux_library(linux_tree(None, series), False)

    define()
    out = HERE / f"v{series}"
    out.mkdir(exist_ok=True)
    lx = LinuxFactory(lib_path=lib_path)
    bad = 0
    for name in SCENARIOS:
        flags, targets, note, ops, focus = SCENARIOS[name]
        results, dumps, heights, hmax = replay(lx, flags, ops, track_height=True)
        results = json.loads(json.dumps(results))
        record = {"name": name, "kernel": series, "flags": flags, "ops": len(ops),
                  "max_height": hmax, "heights": heights, "results": results, "dumps": dumps}
        (out / f"{name}.linux.json").write_text(json.dumps(record, sort_keys=True) + "\n")
        py_results, py_dumps, _, _ = replay(PyFactory(profile=profile), flags, ops)
        if json.loads(json.dumps(py_results)) != results or py_dumps != dumps:
            bad += 1
            print(f"{name}: pytree {profile} differs from Linux {series}", file=sys.stderr)
    print(f"{len(SCENARIOS)} scenarios recorded from Linux {series} in {out}; {bad} differ")
    return bad


def main(argv: list[str]) -> int:
    from maplecheck.impl.linux.adapter import LinuxFactory
    from maplecheck.impl.pytree import PyFactory
    from maplecheck.properties.impls import linux_library

    define()
    names = argv or list(SCENARIOS)
    lx = LinuxFactory(lib_path=linux_library(None, False))
    py = PyFactory()
    rec = Recorder()
    bad, mismatches = [], []
    rows = []
    try:
        for name in names:
            flags, targets, note, ops, focus = SCENARIOS[name]
            print(name, file=sys.stderr, flush=True)
            rec.events.clear()
            per_op, root_changed = [], []
            try:
                py_results, py_dumps, per_op, root_changed = replay_python(py, flags, ops, rec)
                py_error = None
            except Exception as e:  # a pytree crash is a pytree bug: record it
                py_results, py_dumps, py_error = None, None, f"{type(e).__name__}: {e}"
            events = sorted(set(rec.events))
            focus_events = sorted({x for ev in per_op[focus:] for x in ev})
            types = [x for x in events if x in STORE_TYPES]
            paths = [x for x in events if x not in STORE_TYPES]
            missing = [t for t in targets if t not in focus_events]
            if missing:
                bad.append(f"{name}: target {missing} not reached (saw {events})")
            results, dumps, heights, hmax = replay(lx, flags, ops, track_height=True)
            results = json.loads(json.dumps(results))
            diffs = []
            if py_error:
                diffs.append(f"python crashed: {py_error}")
            else:
                if json.loads(json.dumps(py_results)) != results:
                    first = next(i for i, (a, b) in enumerate(zip(json.loads(json.dumps(py_results)), results))
                                 if a != b)
                    diffs.append(f"results differ first at op {first} {ops[first]}: "
                                 f"python={py_results[first]!r} linux={results[first]!r}")
                if set(py_dumps) != set(dumps):
                    diffs.append(f"live trees: python={sorted(py_dumps)} linux={sorted(dumps)}")
                for t in dumps:
                    if t in py_dumps:
                        d = dump_diff(py_dumps[t], dumps[t], ("python", "linux"))
                        if d:
                            diffs.append(f"tree {t}: {d}")
            if diffs:
                mismatches.append((name, diffs))
            full_note = f"{note} [targets: {', '.join(targets) or '-'}; python saw after the build (op {focus}): {', '.join(focus_events) or '-'}]"
            write_trace(HERE / f"{name}.jsonl", flags, ops, note=full_note)
            record = {"name": name, "flags": flags, "note": note, "targets": list(targets),
                      "store_types": types, "paths": paths, "focus": focus, "focus_events": focus_events,
                      "python_events_per_op": per_op[focus:],
                      "python_root_changed": [i for i, c in enumerate(root_changed) if c and i >= focus],
                      "ops": len(ops), "max_height": hmax,
                      "heights": heights, "results": results, "dumps": dumps}
            (HERE / f"{name}.linux.json").write_text(json.dumps(record, sort_keys=True) + "\n")
            rows.append((name, ",".join(targets) or "-", ",".join(focus_events) or "-", hmax,
                         max(heights.values(), default=0), len(ops), "DIFF" if diffs else "ok"))
    finally:
        rec.restore()
    print(f"{'name':32} {'targets':34} {'seen':60} hmax hend ops py")
    for r in rows:
        print(f"{r[0]:32} {r[1]:34} {r[2]:60} {r[3]:4} {r[4]:4} {r[5]:4} {r[6]}")
    for name, diffs in mismatches:
        print(f"\nPYTHON != LINUX in {name}:")
        for d in diffs:
            print("  " + d.replace("\n", "\n  "))
    for b in bad:
        print("MISSED:", b)
    print(f"\n{len(rows)} scenarios written to {HERE}; {len(mismatches)} python/linux mismatches; "
          f"{len(bad)} missed targets")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--kernel"]:
        # make_corpus.py --kernel 7.3: record Linux 7.3's results for the same traces
        sys.exit(1 if record_kernel(sys.argv[2], sys.argv[2]) else 0)
    sys.exit(main(sys.argv[1:]))
