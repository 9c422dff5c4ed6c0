# SPDX-License-Identifier: GPL-2.0-or-later
"""Gap lemmas: a leaf's largest gap, an arange node's gaps and meta gap.

* mas_leaf_max_gap (with its shortcuts: skip the slot after a NULL, the early
  return on the right-most leaf) equals the definition "largest NULL range";
* ma_max_gap returns the largest gap at the highest offset holding it (the
  kernel's tie rule), the end when all gaps are 0;
* one step of mas_parent_gap keeps "meta gap holds the largest gap" and only
  stops climbing when the node's largest gap did not change;
* after a leaf's gap is pushed into its parent, the parent's gap for that
  child equals the child's largest empty range.
"""

from __future__ import annotations

import z3

from maplecheck.impl.pytree import node_ops as O
from maplecheck.impl.pytree.node import ULONG_MAX, maple_leaf_64

from . import mutants as M
from .lemma_preds import inv_gaps, inv_nulls
from .lemma_base import ARANGE_SLOTS, RANGE_SLOTS, lemma, runs, sym_layout, u64s
from .lemma_preds import spec_max_gap
from .lemma_base import FULL
from maplecheck.logic import And, If, Implies
from .symexec import prove


def _leaf_gap(fn):
    def setup(case):
        end, top = case
        node, lo, hi, pre = sym_layout("n", maple_leaf_64, end)
        pre.append(inv_nulls(node.slot, end, hi))
        pre.append(hi == ULONG_MAX if top else hi < ULONG_MAX)
        return pre, {"node": node, "min": lo, "max": hi}

    def body(st, case):
        end, _top = case
        n = st["node"]
        got = fn(n.pivot, n.slot, end, st["min"], st["max"])
        st["leaf_max_gap"] = got
        return got == spec_max_gap(n.pivot, n.slot, end, st["min"], st["max"])
    cases = [(e, top) for e in range(1, RANGE_SLOTS) for top in (False, True)]
    if not FULL:
        cases = [(e, top) for (e, top) in cases if e in (1, 2, 3, 7, 13, 14, 15)]
    return prove(cases, setup, body)


lemma("leaf_max_gap_definition", "node_ops.leaf_max_gap (runs in the tree: "
      "gaps_update.ma_leaf_max_gap)", runs(O, "leaf_max_gap"),
      M.leaf_max_gap_plus_one,
      "for every data end 1..15, inner and right-most leaves: the kernel's leaf max gap (slot-0 "
      "case, right-most shortcut and early return, skip after a NULL) equals the largest NULL "
      "range")(_leaf_gap)


def _max_gap(fn):
    def setup(end):
        gaps, pre = u64s("g", ARANGE_SLOTS)
        return pre, {"gaps": gaps}

    def body(st, end):
        g = st["gaps"]
        mg, off = fn(g, end)
        st["max_gap"], st["offset"] = mg, off
        conds = [off <= end, off >= 0, O.select(g, off) == mg]
        conds += [g[i] <= mg for i in range(end + 1)]
        conds += [Implies(off < j, g[j] < mg) for j in range(end + 1)]   # highest offset wins a tie
        conds.append(Implies(mg == 0, off == end))
        return And(*conds)
    return prove(range(ARANGE_SLOTS), setup, body)


lemma("meta_gap_tie_rule", "node_ops.ma_max_gap (runs in the tree: parent_gap_step)", runs(O, "ma_max_gap"), M.ma_max_gap_low_wins,
      "ma_max_gap over gap[0..end]: returns the largest gap and the highest offset holding it "
      "(the end when all are 0)")(_max_gap)


def _build_meta_gap(cp):
    """mab_mas_cp's meta gap: the highest offset with the largest gap, 0 when none."""
    def setup(n):
        bp, pre = u64s("bp", 36)
        gaps, pre_g = u64s("bg", 36)
        pre += pre_g
        for i in range(n - 1):
            pre.append(bp[i] < bp[i + 1])
        pre.append(bp[0] >= 1)
        pre += [bp[i] == 0 for i in range(n, 36)]
        return pre, {"b": O.BigNode(bp, [z3.IntVal(1)] * 36, gaps, n - 1)}

    def body(st, n):
        b = st["b"]
        nd = cp(b, 0, n - 1, ARANGE_SLOTS, False, True)
        st["node"] = nd
        g = nd.gaps
        off = nd.meta_gap
        mg = O.select(g, off)
        conds = [nd.end == n - 1, off >= 0, off < n]
        conds += [g[i] <= mg for i in range(n)]
        conds += [Implies(And(mg > 0, off < j), g[j] < mg) for j in range(n)]
        conds.append(Implies(mg == 0, off == 0))
        return And(*conds)
    return prove(range(1, ARANGE_SLOTS + 1), setup, body)


_MAB_MAS_CP = O.mab_mas_cp  # the real copy-out, bound now: a test swaps the module's


def _cp_ge(b, mab_start, mab_end, nslots, leaf, alloc):
    """copy-out whose meta gap scan uses '>=': ties go to the lowest offset."""
    nd = _MAB_MAS_CP(b, mab_start, mab_end, nslots, leaf, alloc)
    best, off = 0, 0
    for j in range(nd.end + 1):
        better = nd.gaps[j] > best
        off = If(better, j, off)
        best = If(better, nd.gaps[j], best)
    return nd._replace(meta_gap=off)


lemma("build_meta_gap", "node_ops.mab_mas_cp (arange gaps; runs in the tree: big_node.mab_mas_cp)",
      runs(O, "mab_mas_cp"), _cp_ge,
      "a node built from a big node records as meta gap the highest offset holding the largest "
      "gap (0 when all gaps are 0)")(_build_meta_gap)


def _parent_gap(fn):
    def setup(case):
        end, meta, off = case
        gaps, pre = u64s("g", ARANGE_SLOTS)
        new = z3.Int("new_gap")
        pre += [new >= 0, new <= ULONG_MAX, inv_gaps(gaps, end, meta)]
        return pre, {"gaps": gaps, "new": new}

    def body(st, case):
        end, meta, off = case
        g = st["gaps"]
        ng, nmeta, up = fn(list(g), end, meta, off, st["new"])  # the tree's step is in place
        st["after_gaps"], st["after_meta"] = ng, nmeta
        old_max = g[meta]
        new_max = O.select(ng, nmeta)
        return And(ng[off] == st["new"],
                   *[ng[i] == g[i] for i in range(ARANGE_SLOTS) if i != off],
                   inv_gaps(ng, end, nmeta),
                   new_max == old_max if up is None else up == new_max)
    cases = [(e, m, o) for e in range(ARANGE_SLOTS) for m in range(e + 1) for o in range(e + 1)]
    if not FULL:
        cases = [(e, m, o) for (e, m, o) in cases
                 if e in (0, 1) or (e == 9 and m in (0, 4, 9) and o in (0, 4, 9))]
    return prove(cases, setup, body)


lemma("parent_gap_step", "node_ops.parent_gap_step (runs in the tree: mas_parent_gap)",
      runs(O, "parent_gap_step"),
      M.parent_gap_step_no_rescan,
      "setting one child's gap in an arange node keeps meta gap on the largest gap (rescanning "
      "when it shrank), stops climbing only when the node's largest gap is unchanged, and "
      "carries the node's new largest gap up when it climbs")(_parent_gap)


def _child_gap(fns):
    leaf_gap, step = fns

    def setup(case):
        c_end, pslot, meta = case
        node, lo, hi, pre = sym_layout("c", maple_leaf_64, c_end)
        pre.append(inv_nulls(node.slot, c_end, hi))
        gaps, pre_g = u64s("g", ARANGE_SLOTS)
        pre += pre_g + [inv_gaps(gaps, ARANGE_SLOTS - 1, meta)]
        return pre, {"child": node, "min": lo, "max": hi, "gaps": gaps}

    def body(st, case):
        c_end, pslot, meta = case
        n = st["child"]
        mg = leaf_gap(n.pivot, n.slot, c_end, st["min"], st["max"])
        g = st["gaps"]
        if not O.br(g[pslot] == mg):   # mas_update_gap: only when it differs
            g2, meta2, _up = step(list(g), ARANGE_SLOTS - 1, meta, pslot, mg)
        else:
            g2, meta2 = g, meta
        st["after_gaps"] = g2
        return And(g2[pslot] == spec_max_gap(n.pivot, n.slot, c_end, st["min"], st["max"]),
                   inv_gaps(g2, ARANGE_SLOTS - 1, meta2))
    cases = [(e, p, m) for e in (1, 2, 6, 14, 15) for p in (0, 4, 9) for m in sorted({0, p, 9})]
    if not FULL:
        cases = [(2, 9, 9), (6, 4, 0), (15, 0, 9)]
    return prove(cases, setup, body)


lemma("arange_gap_equals_child", "node_ops.leaf_max_gap + parent_gap_step (mas_update_gap)",
      (O.leaf_max_gap, O.parent_gap_step), (M.leaf_max_gap_plus_one, O.parent_gap_step),
      "after a leaf write's gap update, the parent's gap for that child equals the child's "
      "largest empty range, and the parent's meta gap still holds its largest gap")(_child_gap)
