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
from maplecheck.impl.pytree.node import MapleNode, ULONG_MAX, ma_data_end, maple_leaf_64

from . import mutants as M
from .lemma_preds import inv_nulls, lookup, node_ok
from .lemmas import GEO, RANGE_SLOTS, lemma, sym_layout, u64
from .logic import And, If, Implies, Not
from .symexec import prove

NSLOTS = RANGE_SLOTS
MIN_SLOTS = GEO.min_slots[maple_leaf_64]


def spec_max_gap(pivots, slots, end, min, max):
    """The largest NULL range of a leaf, by definition (each NULL slot's size)."""
    best = 0
    for i in range(end + 1):
        lo = min if i == 0 else pivots[i - 1] + 1
        hi = pivots[i] if i < len(pivots) else max
        size = If(O.is_null(slots[i]), hi - lo + 1, 0)
        best = If(size > best, size, best)
    return best


def write_cases(kinds):
    """(end, offset, offset_end) triples the store kinds can reach."""
    out = []
    for end in range(NSLOTS):
        for off in range(end + 1):
            for oe in range(off, end + 1):
                if "slot" in kinds and oe - off in (1, 2) and not ("append" in kinds):
                    out.append((end, off, oe))
                elif "append" in kinds and off == end and oe == end:
                    out.append((end, off, oe))
                elif "exact" in kinds and oe - off <= 1:
                    out.append((end, off, oe))
                elif "node" in kinds:
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


def write_body(kind: int, layout_fn, rcu: bool = False, is_root: bool = False):
    def body(st, case):
        end = case[0]
        node = st["node"]
        piv, slots, lo, hi = node.pivot, node.slot, st["min"], st["max"]
        index, last, entry, x = st["index"], st["last"], st["entry"], st["x"]
        w = O.leaf_write_setup(piv, slots, end, case[1], index, last, entry, lo, hi,
                               MIN_SLOTS, NSLOTS, is_root, rcu)
        if w.store_type != kind:
            return True
        lay = layout_fn(piv, slots, end, w, entry, hi, rcu)
        if lay is None:
            return True
        st["after"] = lay
        new = MapleNode(GEO, maple_leaf_64)
        new.pivot, new.slot = lay.pivots, lay.slots
        old_read = lookup(piv, slots, end, hi, x)
        new_read = lookup(lay.pivots, lay.slots, lay.end, hi, x)
        return And(node_ok(lay.pivots, lay.slots, lay.end, lo, hi),
                   ma_data_end(new, maple_leaf_64, hi) == lay.end,
                   new_read == If(And(index <= x, x <= last), entry, old_read),
                   Implies(Not(lay.update_gap),
                           spec_max_gap(lay.pivots, lay.slots, lay.end, lo, hi)
                           == spec_max_gap(piv, slots, end, lo, hi)))
    return body


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


@lemma("exact_fit_store", "node_ops.exact_fit_layout (+ leaf_write_setup)", _real,
       _layout_via(exact_fit_layout=M.exact_fit_layout_always_gap))
def _exact(layout_fn):
    """exact fit: one slot rewritten; invariants, data end, map refinement, gap trigger."""
    return prove(write_cases({"exact"}), write_setup, write_body(O.WR_EXACT_FIT, layout_fn))


@lemma("slot_store_2_3", "node_ops.slot_store_layout (+ leaf_write_setup)", _real,
       _layout_via(slot_store_layout=M.slot_store_layout_bad))
def _slot(layout_fn):
    """slot store (two slots, or three without RCU): invariants, data end, map, gap trigger."""
    return prove(write_cases({"slot"}), write_setup, write_body(O.WR_SLOT_STORE, layout_fn))


@lemma("slot_store_gap_trigger", "node_ops.slot_store_layout update_gap", _real,
       _layout_via(slot_store_layout=M.slot_store_layout_no_gap))
def _slot_gap(layout_fn):
    """slot store asks for a gap update whenever the largest gap may change."""
    return prove(write_cases({"slot"}), write_setup, write_body(O.WR_SLOT_STORE, layout_fn))


@lemma("append_store", "node_ops.append_layout (+ leaf_write_setup)", _real,
       _layout_via(append_layout=M.append_layout_bad))
def _append(layout_fn):
    """append (write starting in the last slot): invariants, data end, map, gap trigger."""
    return prove(write_cases({"append"}), write_setup, write_body(O.WR_APPEND, layout_fn))


@lemma("node_store", "node_ops.node_store_layout (+ leaf_write_setup)", _real,
       _layout_via(node_store_layout=M.node_store_layout_no_max))
def _node(layout_fn):
    """node store (rebuilt layout): invariants, data end, map refinement."""
    return prove(write_cases({"node"}), write_setup, write_body(O.WR_NODE_STORE, layout_fn))
