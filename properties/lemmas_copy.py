# SPDX-License-Identifier: GPL-2.0-or-later
"""Lemmas for the Linux 7.3 copy-node helpers (impl/pytree/maple_copy.py).

* ``copy_split_point``: :func:`cp_split_point` (what ``dst_setup`` runs) gives
  every destination at most a node's worth of entries, leaves room for the
  NULL move of ``cp_data_write`` and never leaves a two-way leaf split on a
  NULL when the data fills two leaves exactly.
* ``copy_node_copy``: :func:`node_copy` copies the slots and pivots into the
  destination, returns the last copied pivot (or the source max past the
  source's pivots) and stores it where the destination has a pivot.
* ``copy_node_finalise``: a leaf written with ``end`` entries (the last pivot
  is the node max) and finalised by :func:`node_finalise` reads back data end
  ``end - 1`` through ``ma_data_end``, whatever was in the rest of the node.
"""

from __future__ import annotations

import z3

from maplecheck.impl.pytree import maple_copy as C
from maplecheck.impl.pytree.node import MapleNode, ma_data_end, maple_leaf_64

from . import mutants as M
from .lemma_base import GEO, RANGE_SLOTS, entries, lemma, runs, u64, u64s
from .symexec import prove

N_LEAF = RANGE_SLOTS


@lemma("copy_split_point", "maple_copy.cp_split_point (runs in the tree: dst_setup)",
       runs(C, "cp_split_point"), M.cp_split_point_ignores_null)
def _split_point(fn):
    """For every data size up to 45 (three leaves' worth less the room that a 3-way
    split at (data + 2) / 3 needs; the write paths bring at most about two nodes
    and a copy node) and any entry at the split: one node
    when it fits; two with both halves <= 16 (and room for the NULL move below
    two full leaves, and a non-NULL last entry at exactly two); else three
    destinations of 1..16 entries each."""
    n = N_LEAF

    def setup(data):
        e = z3.Int("e")
        return [e >= 0], {"e": e}

    def body(st, data):
        d, split = fn(data, n, True, lambda _off: st["e"])
        if d == 1:
            return data <= n and split == data - 1
        if d == 2:
            ok = 1 <= split + 1 <= n and 1 <= data - split - 1 <= n
            if data < 2 * n:
                return ok and data - split <= n
            return z3.And(ok, st["e"] != 0) if data == 2 * n else False
        third = data - 2 * (split + 1)
        return d == 3 and split + 1 <= n and 1 <= third <= n
    return prove(range(1, 3 * n - 2), setup, body)


class _Geo:
    """The bits of a write state node_copy reads: the tree's geometry."""
    def __init__(self):
        self.tree = type("T", (), {})()
        self.tree.alloc = type("A", (), {"geo": GEO, "nodes": None})()


def _copy_cases():
    for start in (0, 1, 7, N_LEAF - 1):
        for size in range(1, N_LEAF - start + 1):
            for d_start in (0, 5):
                if d_start + size <= N_LEAF:
                    yield start, size, d_start


@lemma("copy_node_copy", "maple_copy.node_copy (runs in the tree: cp_data_write)",
       runs(C, "node_copy"), M.node_copy_no_last_pivot)
def _node_copy(fn):
    """node_copy(src[start:start+size] -> dst[d_start:]) for leaves: slots and the
    first size-1 pivots copied, the returned max is the last source pivot (the
    source max past its 15 pivots), stored when the destination has a pivot there."""
    def setup(case):
        src = MapleNode(GEO, maple_leaf_64)
        src.pivot, pre = u64s("sp", GEO.pivots[maple_leaf_64])
        src.slot, pre_s = entries("ss", N_LEAF)
        s_max, c = u64("smax")
        dst = MapleNode(GEO, maple_leaf_64)
        dst.pivot, pre_d = u64s("dp", GEO.pivots[maple_leaf_64])
        return pre + pre_s + pre_d + [c], {"src": src, "dst": dst, "smax": s_max}

    def body(st, case):
        start, size, d_start = case
        src, dst = st["src"], st["dst"]
        got = fn(_Geo(), src, start, size, st["smax"], maple_leaf_64, dst, None, d_start,
                 maple_leaf_64)
        last = start + size - 1
        want = src.pivot[last] if last < GEO.pivots[maple_leaf_64] else st["smax"]
        conds = [got == want]
        conds += [dst.slot[d_start + i] == src.slot[start + i] for i in range(size)]
        conds += [dst.pivot[d_start + i] == src.pivot[start + i] for i in range(size - 1)]
        if d_start + size <= GEO.pivots[maple_leaf_64]:
            conds.append(dst.pivot[d_start + size - 1] == want)
        return z3.And(*conds)
    return prove(list(_copy_cases()), setup, body)


@lemma("copy_node_finalise", "maple_copy.node_finalise (runs in the tree: cp_data_write)",
       runs(C, "node_finalise"), M.node_finalise_meta_size)
def _node_finalise(fn):
    """A leaf holding ``end`` entries with increasing pivots ending at the node max
    (the implied pivot when full), finalised: ma_data_end reads end - 1."""
    def setup(end):
        node = MapleNode(GEO, maple_leaf_64)
        node.pivot, pre = u64s("p", GEO.pivots[maple_leaf_64])
        node.slot, pre_s = entries("s", N_LEAF)
        mx, c = u64("max")
        pre += pre_s + [c]
        pre += [node.pivot[i] < node.pivot[i + 1] for i in range(min(end, N_LEAF - 1) - 1)]
        if end <= GEO.pivots[maple_leaf_64]:
            pre.append(node.pivot[end - 1] == mx)
        else:
            pre.append(node.pivot[N_LEAF - 2] < mx)
        return pre, {"node": node, "max": mx}

    def body(st, end):
        fn(st["node"], maple_leaf_64, GEO, end)
        return ma_data_end(st["node"], maple_leaf_64, st["max"]) == end - 1
    return prove(range(1, N_LEAF + 1), setup, body)
