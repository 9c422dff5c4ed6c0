# SPDX-License-Identifier: GPL-2.0-or-later
"""Lemmas for split, rebalance's merge, dup's node copy and replace.

Split: for every big-node size a split can see (b_end from a full node + 1
up to two full nodes), every NULL pattern allowed by "no two NULLs in a row",
the split point of mab_calc_split (with the mab_no_null_split adjustment)
leaves a non-NULL last slot in the left node, and both halves built by
mab_mas_cp are valid nodes that together read exactly as the big node.
Rebalance: two siblings merged with mas_mab_cp and re-split (or kept as one
node) give valid nodes with the same contents.  Dup: the node copy with its
parent word re-pointed decodes to the same slot and type under the new
parent.  Replace: exactly one slot changes.
"""

from __future__ import annotations

import z3

from maplecheck.impl.pytree import node as N
from maplecheck.impl.pytree import node_ops as O
from maplecheck.impl.pytree.node import (MapleNode, ULONG_MAX, ma_data_end, maple_arange_64,
                                         maple_leaf_64, maple_range_64)

from . import mutants as M
from .lemma_preds import inv_children, inv_gaps, inv_nulls, lookup, node_ok
from .lemma_base import (ARANGE_SLOTS, GEO, RANGE_SLOTS, aligned, bv, entries, lemma, single, sym_layout,
                     u64, u64s)
from .lemma_base import FULL
from maplecheck.logic import And, If, Not
from .symexec import prove


# ------------------------------------------------------------------ the sequences the tree runs

def split_big_node(b, nslots: int, min_slots: int, leaf: bool, alloc: bool):
    """mas_split's copy-out, over the tree's own helpers: mab_calc_split, then
    mab_mas_cp per new node.  A list of 2 nodes (or 3 for the three-way split of
    a spanning rebalance) and the list of split offsets.  The helpers are looked
    up on node_ops at each call, so a mutant swapped in there is the one run."""
    split, mid, _rb = O.mab_calc_split(b.slots, b.b_end, nslots, min_slots, leaf)
    if mid:
        return ([O.mab_mas_cp(b, 0, split, nslots, leaf, alloc),
                 O.mab_mas_cp(b, split + 1, mid, nslots, leaf, alloc),
                 O.mab_mas_cp(b, mid + 1, b.b_end, nslots, leaf, alloc)], [split, mid])
    return ([O.mab_mas_cp(b, 0, split, nslots, leaf, alloc),
             O.mab_mas_cp(b, split + 1, b.b_end, nslots, leaf, alloc)], [split])


def merge_siblings(l_pivots, l_slots, l_gaps, l_end: int, l_max,
                   r_pivots, r_slots, r_gaps, r_max, big_slots: int):
    """mas_rebalance's merge, over the tree's own mas_mab_cp: the left node's data
    then the right sibling's, in a big node.  (The kernel copies the insufficient
    node first, then its next sibling with ``mas_mab_cp(.., 0, mt_slot_count, ..)``;
    with no next sibling it shifts and puts the previous one first, which gives
    the same big node.)"""
    bp = [0] * big_slots
    bs = [None] * big_slots
    bg = [0] * big_slots
    b_end = O.mas_mab_cp(l_pivots, l_slots, l_gaps, l_max, 0, l_end, bp, bs, bg, 0)
    b_end = O.mas_mab_cp(r_pivots, r_slots, r_gaps, r_max, 0, len(r_slots), bp, bs, bg, b_end)
    return O.BigNode(bp, bs, bg, b_end - 1)

BIG = 36


def big_node_setup(b_end: int, leaf: bool, nslots: int):
    """A symbolic valid big node with inclusive end ``b_end``."""
    piv, pre = u64s("bp", BIG)
    slots, pre_s = entries("bs", BIG)
    gaps, pre_g = u64s("bg", BIG)
    pre += pre_s + pre_g
    lo, c1 = u64("min")
    hi, c2 = u64("max")
    pre += [c1, c2, lo <= hi]
    prev = lo
    for i in range(b_end + 1):
        pre.append(prev <= piv[i])
        prev = piv[i] + 1
    pre.append(piv[b_end] == hi)
    for i in range(b_end + 1, BIG):
        pre += [piv[i] == 0, slots[i] == 0, gaps[i] == 0]
    if leaf:
        pre.append(inv_nulls(slots, b_end, hi))
    else:
        pre.append(inv_children(slots, b_end))
    b = O.BigNode(piv, slots, gaps, b_end)
    return b, lo, hi, pre


def _big_read(b: O.BigNode, x):
    out = b.slots[b.b_end]
    for i in range(b.b_end - 1, -1, -1):
        out = If(x <= b.pivots[i], b.slots[i], out)
    return out


def split_ends(nslots: int):
    # two-way splits: a store overfills one node (b_end >= nslots) up to the
    # three-way threshold (2 * nslots - 1 with a NULL at the split point)
    return list(range(nslots, 2 * nslots - 1 + 1))


# ------------------------------------------------------------------ split point

def _split_point(calc, nslots: int, leaf: bool):
    min_slots = GEO.min_slots[maple_leaf_64 if leaf else maple_arange_64]

    def setup(b_end):
        b, lo, hi, pre = big_node_setup(b_end, leaf, nslots)
        return pre, {"big": b, "min": lo, "max": hi}

    def body(st, b_end):
        b = st["big"]
        split, mid, _rb = calc(b.slots, b_end, nslots, min_slots, leaf)
        st["split"] = split
        if mid:
            return And(Not(O.is_null(b.slots[split])), Not(O.is_null(b.slots[mid])),
                       split + 1 <= nslots, mid - split <= nslots, b_end - mid <= nslots)
        return And(Not(O.is_null(b.slots[split])),
                   0 <= split, split + 1 <= nslots,          # left fits
                   b_end - split <= nslots,                  # right fits
                   split >= min_slots,                       # left sufficient
                   b_end - split - 1 >= min_slots)           # right sufficient
    return prove(split_ends(nslots), setup, body)


def _calc_with(no_null):
    def calc(slots, b_end, nslots, min_slots, leaf, bulk=False):
        saved = O.mab_no_null_split
        O.mab_no_null_split = no_null
        try:
            return O.mab_calc_split(slots, b_end, nslots, min_slots, leaf, bulk)
        finally:
            O.mab_no_null_split = saved
    return calc


lemma("split_point_leaf", "node_ops.mab_calc_split / mab_no_null_split / mab_middle_node "
      "(runs in the tree: big_node.mab_calc_split, split.py)",
      O.mab_calc_split, _calc_with(M.mab_no_null_split_none),
      "leaf big node, b_end 16..31, no two NULLs in a row: the split point is a non-NULL slot, "
      "both halves fit in 16 slots and hold at least mt_min_slots+1 entries (3-way: both split points non-NULL)")(
    lambda calc: _split_point(calc, RANGE_SLOTS, True))
def _arange_bad_calc(slots, b_end, nslots, min_slots, leaf, bulk=False):
    """splits at b_end/2 + 2: the right half gets too small."""
    return b_end // 2 + 2, 0, False


lemma("split_point_arange", "node_ops.mab_calc_split / mab_no_null_split "
      "(runs in the tree: big_node.mab_calc_split, split.py)",
      O.mab_calc_split, _arange_bad_calc,
      "arange big node (non-NULL children), b_end 10..19: both halves fit in 10 slots "
      "and are sufficient")(
    lambda calc: _split_point(calc, ARANGE_SLOTS, False))


# ------------------------------------------------------------------ split into nodes

def nodes_ok(nodes, splits, b, lo, hi, x, t, leaf, alloc):
    """Nodes cut from big node ``b`` are valid, tile [lo, hi] and read as ``b``."""
    conds = []
    read = None
    start = lo
    for k, nd in enumerate(nodes):
        nmax = nd.max if k < len(nodes) - 1 else hi
        if k < len(nodes) - 1:
            conds.append(nd.max == b.pivots[splits[k]])
        else:
            conds.append(nd.max == hi)
        if nd.end >= len(nd.slots):
            return False
        conds.append(node_ok(nd.pivots, nd.slots, nd.end, start, nmax, leaf))
        if not alloc or leaf:
            mn = MapleNode(GEO, t)
            mn.pivot, mn.slot = nd.pivots, nd.slots
            conds.append(ma_data_end(mn, t, nmax) == nd.end)
        else:
            conds.append(inv_gaps(nd.gaps, nd.end, nd.meta_gap))
        here = lookup(nd.pivots, nd.slots, nd.end, nmax, x)
        read = here if read is None else If(x >= start, here, read)
        start = nd.max + 1
    conds.append(read == _big_read(b, x))
    return And(*conds)


def _split_nodes(calc, nslots: int, leaf: bool, alloc: bool):
    t = maple_leaf_64 if leaf else (maple_arange_64 if alloc else maple_range_64)
    min_slots = GEO.min_slots[t]

    def setup(b_end):
        b, lo, hi, pre = big_node_setup(b_end, leaf, nslots)
        x, c = u64("x")
        return pre + [c, lo <= x, x <= hi], {"big": b, "min": lo, "max": hi, "x": x}

    def body(st, b_end):
        b, lo, hi, x = st["big"], st["min"], st["max"], st["x"]
        saved = O.mab_calc_split
        O.mab_calc_split = calc
        try:
            nodes, splits = split_big_node(b, nslots, min_slots, leaf, alloc)
        finally:
            O.mab_calc_split = saved
        st["nodes"], st["splits"] = nodes, splits
        return nodes_ok(nodes, splits, b, lo, hi, x, t, leaf, alloc)
    ends = split_ends(nslots)
    if not FULL and leaf:
        ends = [e for e in ends if e in (16, 17, 18, 23, 29, 30, 31)]
    return prove(ends, setup, body)


def _calc_no_null_fix(slots, b_end, nslots, min_slots, leaf, bulk=False):
    return M.mab_calc_split_no_null_fix(slots, b_end, nslots, min_slots, leaf, bulk)


lemma("split_leaf_nodes", "node_ops.mab_calc_split + mab_mas_cp, as mas_split runs them (leaf)", O.mab_calc_split,
      _calc_no_null_fix,
      "a leaf big node split at mab_calc_split: both nodes valid (limits, ranges, no NULL at "
      "the left node's end), data ends correct, and together they read as the big node")(
    lambda calc: _split_nodes(calc, RANGE_SLOTS, True, False))
lemma("split_arange_nodes", "node_ops.mab_calc_split + mab_mas_cp, as mas_split runs them (arange gaps, meta gap)",
      O.mab_calc_split, _arange_bad_calc,
      "an arange big node split in two: both nodes valid, children non-NULL, gaps copied and "
      "meta gap on the largest gap, contents preserved")(
    lambda calc: _split_nodes(calc, ARANGE_SLOTS, False, True))


# ------------------------------------------------------------------ rebalance merge

def _merge_cases():
    min_s = GEO.min_slots[maple_leaf_64]
    out = []
    for l_end in range(RANGE_SLOTS):
        for r_end in range(RANGE_SLOTS):
            if min(l_end, r_end) >= min_s:
                continue  # rebalance merges an insufficient node with a sibling
            if not FULL and not (l_end in (0, 5) and r_end in (0, 6, 15)
                                 or r_end in (0, 5) and l_end == 15):
                continue
            out.append((l_end, r_end))
    return out


def _merge(cp):
    min_slots = GEO.min_slots[maple_leaf_64]

    def setup(case):
        l_end, r_end = case
        ln, llo, lhi, pre = sym_layout("l", maple_leaf_64, l_end)
        rlo = lhi + 1
        rn, _rlo, rhi, pre_r = sym_layout("r", maple_leaf_64, r_end, min=rlo)
        pre += pre_r + [lhi < ULONG_MAX]
        pre.append(inv_nulls(ln.slot, l_end, lhi))
        pre.append(inv_nulls(rn.slot, r_end, rhi))
        pre.append(Not(And(O.is_null(ln.slot[l_end]), O.is_null(rn.slot[0]))))
        x, c = u64("x")
        pre += [c, llo <= x, x <= rhi]
        return pre, {"left": ln, "right": rn, "min": llo, "lmax": lhi, "max": rhi, "x": x}

    def body(st, case):
        l_end, r_end = case
        ln, rn, lo, lhi, hi, x = st["left"], st["right"], st["min"], st["lmax"], st["max"], st["x"]
        saved = O.mas_mab_cp
        O.mas_mab_cp = cp
        try:
            b = merge_siblings(ln.pivot, ln.slot, None, l_end, lhi, rn.pivot, rn.slot, None, hi, BIG)
        finally:
            O.mas_mab_cp = saved
        st["big"] = b
        old = If(x <= lhi, lookup(ln.pivot, ln.slot, l_end, lhi, x),
                 lookup(rn.pivot, rn.slot, r_end, hi, x))
        if b.b_end < RANGE_SLOTS:
            one = O.mab_mas_cp(b, 0, b.b_end, RANGE_SLOTS, True, False)
            st["node"] = one
            return And(node_ok(one.pivots, one.slots, one.end, lo, hi),
                       one.max == hi,
                       lookup(one.pivots, one.slots, one.end, hi, x) == old)
        nodes, splits = split_big_node(b, RANGE_SLOTS, min_slots, True, False)
        st["nodes"] = nodes
        conds = []
        read = None
        start = lo
        for k, nd in enumerate(nodes):
            if nd.end >= RANGE_SLOTS:
                return False
            conds.append(node_ok(nd.pivots, nd.slots, nd.end, start, nd.max))
            here = lookup(nd.pivots, nd.slots, nd.end, nd.max, x)
            read = here if read is None else If(x >= start, here, read)
            start = nd.max + 1
        return And(nodes[-1].max == hi, read == old, *conds)
    return prove(_merge_cases(), setup, body)


lemma("rebalance_merge", "node_ops.mas_mab_cp + mab_calc_split + mab_mas_cp, as mas_rebalance "
      "runs them (all run in the tree: big_node.py)",
      O.mas_mab_cp, M.mas_mab_cp_skip_last,
      "an insufficient leaf and its sibling merged (mas_mab_cp of both) and rebuilt as one node "
      "or split in two: valid nodes over the pair's range with the same contents")(_merge)


# ------------------------------------------------------------------ dup

def _dup_copy(parent_fn, child_fn):
    def setup():
        p, q, a, na = bv("src_parent_addr"), bv("new_parent_addr"), bv("child_addr"), bv("new_child_addr")
        s, t = bv("slot"), bv("child_type")
        return ([aligned(p), aligned(q), aligned(a), aligned(na), z3.ULT(s, RANGE_SLOTS),
                 z3.ULE(t, 3)],
                {"src_parent_addr": p, "new_parent_addr": q, "slot": s, "child_addr": a,
                 "new_child_addr": na, "child_type": t})

    def body(st):
        w = N.ma_parent_ptr(st["src_parent_addr"], st["slot"])
        nw = parent_fn(w, st["new_parent_addr"])
        e = N.mt_mk_node(st["child_addr"], st["child_type"])
        ne = child_fn(e, st["new_child_addr"])
        st["new_parent_word"], st["new_child"] = nw, ne
        return z3.And(N.ma_parent_addr(nw) == st["new_parent_addr"],
                      N.ma_parent_slot(nw) == N.ma_parent_slot(w),
                      N.ma_parent_type(nw, True) == N.ma_parent_type(w, True),
                      N.ma_parent_type(nw, False) == N.ma_parent_type(w, False),
                      z3.Not(N.ma_is_root_parent(nw)),
                      N.mte_to_node(ne) == st["new_child_addr"],
                      N.mte_node_type(ne) == st["child_type"],
                      (ne & 0xFF) == (e & 0xFF))
    return single(setup, body)


lemma("dup_parent_repoint", "node_ops.dup_parent_word / dup_child_enode (runs in the tree: dup.py)",
      (O.dup_parent_word, O.dup_child_enode), (M.dup_parent_word_mask7, O.dup_child_enode),
      "__mt_dup: the copy's parent word, re-pointed at the new parent, decodes to the same slot "
      "and parent type; each new child pointer keeps the source child's type and low byte")(
    lambda fns: _dup_copy(*fns))
lemma("dup_child_type", "node_ops.dup_child_enode (runs in the tree: dup.py)",
      (O.dup_parent_word, O.dup_child_enode), (O.dup_parent_word, M.dup_child_enode_no_type),
      "__mt_dup: a new child enode = new address | the source slot's low byte: same type, leaf-ness")(
    lambda fns: _dup_copy(*fns))


def _dup_layout(copy):
    def setup(case):
        t, end = case
        node, lo, hi, pre = sym_layout("n", t, end)
        node.parent = z3.Int("parent_word")
        if t == maple_arange_64:
            node.gap, pre_g = u64s("g", ARANGE_SLOTS)
            pre += pre_g
            node.meta_gap = z3.Int("meta_gap")
        return pre, {"node": node, "min": lo, "max": hi, "type": t, "end": end}

    def body(st, case):
        t, end = case
        src = st["node"]
        new = MapleNode(GEO, t)
        copy(new, src)
        st["copy"] = new
        conds = [ma_data_end(new, t, st["max"]) == end]
        conds += [a == b for a, b in zip(new.pivot, src.pivot)]
        conds += [a == b for a, b in zip(new.slot, src.slot)]
        if t == maple_arange_64:
            conds += [a == b for a, b in zip(new.gap, src.gap)]
            conds += [new.meta_gap == src.meta_gap]
        return And(*conds)
    cases = [(t, e) for t in (maple_leaf_64, maple_arange_64) for e in range(GEO.slots[t])]
    return prove(cases, setup, body)


def _copy_real(new, src):
    new.copy_from(src)


def _copy_bad(new, src):
    """copies pivots and slots but not the arange meta: data end lost."""
    new.pivot[:] = src.pivot
    new.slot[:] = src.slot
    if src.gap is not None:
        new.gap[:] = src.gap


lemma("dup_node_copy", "node.MapleNode.copy_from", _copy_real, _copy_bad,
      "__mt_dup's node copy: pivots, slots, gaps, meta and therefore the data end are those "
      "of the source, for every type and data end")(_dup_layout)


# ------------------------------------------------------------------ replace

def _replace(fn):
    def setup(case):
        end, off = case
        node, lo, hi, pre = sym_layout("n", maple_leaf_64, end)
        pre.append(inv_nulls(node.slot, end, hi))
        e = z3.Int("entry")
        pre += [e > 0, node.slot[off] > 0]   # replace: a non-NULL entry over a non-NULL one
        return pre, {"node": node, "min": lo, "max": hi, "entry": e}

    def body(st, case):
        end, off = case
        node = st["node"]
        slots, upd = fn(list(node.slot), off, st["entry"])  # the tree's store is in place
        st["after_slots"] = slots
        new = MapleNode(GEO, maple_leaf_64)
        new.pivot, new.slot = node.pivot, slots
        changed = [i for i in range(len(slots)) if i != off]
        return And(slots[off] == st["entry"],
                   *[slots[i] == node.slot[i] for i in changed],
                   ma_data_end(new, maple_leaf_64, st["max"]) == end,
                   node_ok(node.pivot, slots, end, st["min"], st["max"]),
                   Not(upd) if not isinstance(upd, bool) else not upd)
    cases = [(e, o) for e in range(RANGE_SLOTS) for o in range(e + 1)]
    if not FULL:
        cases = [(e, o) for (e, o) in cases if e in (0, 1, 7, 14, 15) and o in (0, e // 2, e)]
    return prove(cases, setup, body)


lemma("replace_one_slot", "node_ops.exact_fit_layout (runs in the tree: replace.py)", O.exact_fit_layout,
      M.exact_fit_layout_two,
      "replace (exact fit, non-NULL over non-NULL): exactly one slot changes, pivots, data end "
      "and metadata stay, the node stays valid, and no gap update is asked for")(_replace)


def _replace_gap(fn):
    def setup():
        a, b = z3.Int("old"), z3.Int("new")
        return [a >= 0, b >= 0], {"old": a, "new": b}

    def body(st):
        slots = [z3.Int(f"s{i}") for i in range(RANGE_SLOTS)]
        slots[3] = st["old"]
        _s, upd = fn(slots, 3, st["new"])
        return upd == ((st["old"] == 0) != (st["new"] == 0))
    return single(setup, body)


lemma("replace_gap_iff_nullness",
      "node_ops.exact_fit_layout update_gap (runs in the tree: replace.py)", O.exact_fit_layout,
      M.exact_fit_layout_always_gap,
      "an exact-fit write asks for a gap update exactly when one of old and new entry is NULL")(
    _replace_gap)
