# SPDX-License-Identifier: GPL-2.0-or-later
"""Lemmas for the in-leaf writes: exact fit (replace), slot store, append, node store.

Each lemma runs the leaf write step of node_ops on a symbolic leaf of the real
geometry (16 slots): :func:`leaf_write_setup` (mas_wr_end_piv, NULL widening,
mas_wr_new_end, the store-type classification) then :func:`leaf_write_layout`
for the store type the lemma is about.  For every data end, every slot the
write starts in and every slot it ends in, and every path through the code,
z3 proves that the new layout

* keeps the node invariants: pivot limits (d), non-empty ranges, no two NULLs
  in a row and no NULL at the end of a non-right-most leaf;
* reports its data end correctly through ma_data_end (explicit max pivot,
  metadata overlay);
* refines the interval map: every index in [index, last] now reads ``entry``,
  every other index reads what it read before (so NULL widening is harmless);
* asks for a gap update whenever the leaf's largest gap may have changed.
"""

from __future__ import annotations

import z3

from maplecheck.impl.pytree import node_ops as O
from maplecheck.impl.pytree.node import MapleNode, ma_data_end, maple_leaf_64

from . import mutants as M
from .lemma_preds import And, inv_nulls, lookup, node_ok, spec_max_gap
from .lemma_base import FULL, GEO, RANGE_SLOTS, lemma, sym_layout, u64
from maplecheck.logic import If, Implies, Not
from .symexec import prove


NSLOTS = RANGE_SLOTS
MIN_SLOTS = GEO.min_slots[maple_leaf_64]


QUICK_ENDS = (0, 1, 7, 14, 15)


def write_cases(full: bool | None = None):
    """(end, offset, offset_end) triples: where the write starts and ends before
    NULL widening.  Full (MAPLECHECK_PROVE_FULL=1): every triple of the 16-slot
    leaf (816).  Quick (the default, for the one-minute budget): the data ends
    where the layout rules change (0, 1; 7 a middle one; 14 the
    explicit-max edge; 15 the full node), every triple for ends 0 and 1,
    and for the others the first, middle and last start offsets with the end
    offsets off, off+1, off+2 and end."""
    if full is None:
        full = FULL
    out = []
    for end in range(NSLOTS):
        if not full and end not in QUICK_ENDS:
            continue
        offs = range(end + 1) if (full or end <= 1) else sorted({0, end // 2, end})
        for off in offs:
            oes = range(off, end + 1)
            if not full and end > 1:
                oes = sorted({o for o in (off, off + 1, off + 2, end) if off <= o <= end})
            for oe in oes:
                out.append((end, off, oe))
    return out


def write_setup(case):
    end, off, oe = case
    node, lo, hi, pre = sym_layout("n", maple_leaf_64, end)
    piv, slots = node.pivot, node.slot
    pre.append(inv_nulls(slots, end, hi))
    index, c1 = u64("index")
    last, c2 = u64("last")
    entry = z3.Int("entry")
    x, c3 = u64("x")
    pre += [c1, c2, c3, entry >= 0, lo <= index, index <= last, last <= hi, lo <= x, x <= hi]
    pre += [O.safe_min(piv, off, lo) <= index, index <= O.safe_pivot(piv, off, hi)]
    pre += [O.safe_min(piv, oe, lo) <= last, last <= O.safe_pivot(piv, oe, hi)]
    pre.append(Not(O.is_span_wr(O.safe_pivot(piv, off, hi), last, hi, True, entry)))
    return pre, {"node": node, "min": lo, "max": hi, "index": index, "last": last,
                 "entry": entry, "x": x, "end": end, "offset": off}


KIND_NAMES = {O.WR_EXACT_FIT: "exact_fit", O.WR_SLOT_STORE: "slot_store",
              O.WR_APPEND: "append", O.WR_NODE_STORE: "node_store"}


def write_body(layout_fn, kinds, rcu: bool = False, is_root: bool = False):
    def body(st, case):
        end = case[0]
        node = st["node"]
        piv, slots, lo, hi = node.pivot, node.slot, st["min"], st["max"]
        index, last, entry, x = st["index"], st["last"], st["entry"], st["x"]
        w = O.leaf_write_setup(piv, slots, end, case[1], index, last, entry, lo, hi,
                               MIN_SLOTS, NSLOTS, is_root, rcu)
        if w.store_type not in kinds:
            return True
        lay = layout_fn(piv, slots, end, w, entry, hi, rcu)
        if lay is None:
            return True
        st["after"] = lay
        st["store_type"] = KIND_NAMES[w.store_type]
        new = MapleNode(GEO, maple_leaf_64)
        new.pivot, new.slot = lay.pivots, lay.slots
        if "old_read" not in st:  # path independent: build once per case
            st["old_read"] = lookup(piv, slots, end, hi, x)
            st["old_gap"] = spec_max_gap(piv, slots, end, lo, hi)
        new_read = lookup(lay.pivots, lay.slots, lay.end, hi, x)
        gap_ok = True if lay.update_gap is True else Implies(
            Not(lay.update_gap), spec_max_gap(lay.pivots, lay.slots, lay.end, lo, hi) == st["old_gap"])
        return w.store_type, And(node_ok(lay.pivots, lay.slots, lay.end, lo, hi),
                                 ma_data_end(new, maple_leaf_64, hi) == lay.end,
                                 new_read == If(And(index <= x, x <= last), entry, st["old_read"]),
                                 gap_ok)
    return body


_SHARED: dict = {}
#: the node_ops functions a leaf write runs
_STEPS = ("leaf_write_setup", "leaf_write_layout", "wr_end_piv", "wr_extend_null", "wr_new_end",
          "exact_fit_layout", "slot_store_layout", "append_layout", "node_store_layout")


def leaf_write_outcome(layout_fn, kind: int, shared: bool):
    """The outcome for one store type; the real helpers share one exploration."""
    import time
    if not shared:
        t = time.perf_counter()
        out = prove(write_cases(), write_setup, write_body(layout_fn, {kind}), tags=[kind])[kind]
        out.extra["seconds"] = time.perf_counter() - t
        return out
    # the exploration is shared only while the same step functions run (a test may swap one)
    key = (layout_fn, FULL) + tuple(getattr(O, n) for n in _STEPS)
    if key not in _SHARED:
        t = time.perf_counter()
        kinds = list(KIND_NAMES)
        outs = prove(write_cases(), write_setup, write_body(layout_fn, set(kinds)), tags=kinds)
        total = time.perf_counter() - t
        n = sum(o.paths for o in outs.values()) or 1
        for o in outs.values():
            o.extra["seconds"] = total * o.paths / n
            o.extra["shared"] = "one exploration shared by the 4 leaf-store lemmas"
        _SHARED[key] = outs
        _SHARED[(key, "used")] = set()
    used = _SHARED[(key, "used")]
    out = _SHARED[key][kind]
    if kind in used:  # a second lemma over the same paths: no second bill
        import copy
        out = copy.copy(out)
        out.extra = dict(out.extra, seconds=0.0)
    used.add(kind)
    return out


def _layout_via(**swap):
    """leaf_write_layout with one step function swapped (for the mutants)."""
    def run(piv, slots, end, w, entry, hi, rcu):
        saved = {k: getattr(O, k) for k in swap}
        try:
            for k, v in swap.items():
                setattr(O, k, v)
            return O.leaf_write_layout(piv, slots, end, w, entry, hi, rcu)
        finally:
            for k, v in saved.items():
                setattr(O, k, v)
    return run


def _real(piv, slots, end, w, entry, hi, rcu):
    return O.leaf_write_layout(piv, slots, end, w, entry, hi, rcu)


@lemma("exact_fit_store", "node_ops.exact_fit_layout (+ leaf_write_setup, which the tree runs)", _real,
       _layout_via(exact_fit_layout=M.exact_fit_layout_always_gap))
def _exact(layout_fn):
    """exact fit: one slot rewritten; invariants, data end, map refinement, gap trigger."""
    return leaf_write_outcome(layout_fn, O.WR_EXACT_FIT, layout_fn is _real)


@lemma("slot_store_2_3", "node_ops.slot_store_layout (+ leaf_write_setup, which the tree runs)", _real,
       _layout_via(slot_store_layout=M.slot_store_layout_bad))
def _slot(layout_fn):
    """slot store (two slots, or three without RCU): invariants, data end, map, gap trigger."""
    return leaf_write_outcome(layout_fn, O.WR_SLOT_STORE, layout_fn is _real)


@lemma("slot_store_gap_trigger", "node_ops.slot_store_layout update_gap", _real,
       _layout_via(slot_store_layout=M.slot_store_layout_no_gap))
def _slot_gap(layout_fn):
    """slot store asks for a gap update whenever the leaf's largest gap may change."""
    return leaf_write_outcome(layout_fn, O.WR_SLOT_STORE, layout_fn is _real)


@lemma("append_store", "node_ops.append_layout (+ leaf_write_setup, which the tree runs)", _real,
       _layout_via(append_layout=M.append_layout_bad))
def _append(layout_fn):
    """append (write starting in the last slot): invariants, data end, map, gap trigger."""
    return leaf_write_outcome(layout_fn, O.WR_APPEND, layout_fn is _real)


@lemma("node_store", "node_ops.node_store_layout (+ leaf_write_setup, which the tree runs)", _real,
       _layout_via(node_store_layout=M.node_store_layout_no_max))
def _node(layout_fn):
    """node store (rebuilt layout): invariants, data end, map refinement."""
    return leaf_write_outcome(layout_fn, O.WR_NODE_STORE, layout_fn is _real)


@lemma("null_widening", "node_ops.wr_extend_null (runs in the tree: write.mas_wr_store_type)", _real,
       _layout_via(wr_extend_null=M.wr_extend_null_no_prev))
def _widen(layout_fn):
    """NULL widening keeps 'no two NULLs in a row' for every leaf store it feeds (node store shown)."""
    if layout_fn is _real:
        return leaf_write_outcome(layout_fn, O.WR_NODE_STORE, True)
    return _widen_mutant(layout_fn)


def _widen_mutant(layout_fn):
    saved = O.wr_extend_null
    O.wr_extend_null = M.wr_extend_null_no_prev
    try:
        outs = prove(write_cases(), write_setup, write_body(_real, set(KIND_NAMES)),
                     tags=list(KIND_NAMES))
    finally:
        O.wr_extend_null = saved
    bad = [o for o in outs.values() if not o.proven]
    return bad[0] if bad else outs[O.WR_NODE_STORE]


@lemma("new_end_rule", "node_ops.wr_new_end (runs in the tree: write.py)", _real,
       _layout_via())
def _new_end(layout_fn):
    """mas_wr_new_end agrees with the layout each store type builds (checked with the stores)."""
    if layout_fn is _real:
        return leaf_write_outcome(layout_fn, O.WR_SLOT_STORE, True)
    saved = O.wr_new_end
    O.wr_new_end = _new_end_mutant
    try:
        outs = prove(write_cases(), write_setup, write_body(_real, set(KIND_NAMES)),
                     tags=list(KIND_NAMES))
    finally:
        O.wr_new_end = saved
    bad = [o for o in outs.values() if not o.proven]
    return bad[0] if bad else outs[O.WR_SLOT_STORE]


def _new_end_mutant(end, offset, offset_end, r_min, index, end_piv, last):
    """forgets that a write ending exactly on a pivot does not add a slot."""
    new_end = end + 2 - (offset_end - offset)
    if O.br(r_min == index):
        new_end -= 1
    return new_end
