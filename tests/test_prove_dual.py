# SPDX-License-Identifier: GPL-2.0-or-later
"""The proven helpers are the ones that run: the int fast paths of node.py agree
with the symbolic paths the lemmas prove, and node_ops agrees with the tree's
own copies of the same kernel functions (until those route through node_ops)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import z3

from maplecheck.impl.pytree import node as N
from maplecheck.impl.pytree import node_ops as O
from maplecheck.impl.pytree.node import LINUX_64, MapleNode, ULONG_MAX, maple_leaf_64

R = random.Random(1234)


def _leaf(end, lo, hi, nulls=True):
    """A valid random leaf with data end ``end`` over [lo, hi]."""
    n = MapleNode(LINUX_64, maple_leaf_64)
    cuts = set()
    while len(cuts) < end:
        cuts.add(lo + R.randrange(min(hi - lo, 10**7)))
    cuts = sorted(cuts)
    for i, c in enumerate(cuts):
        n.pivot[i] = c
    if end < 15:
        n.pivot[end] = hi
    prev_null = False
    for i in range(end + 1):
        null = nulls and not prev_null and R.random() < 0.4
        n.slot[i] = None if null else 2 * i + 1
        prev_null = null
    if hi != ULONG_MAX and n.slot[end] is None:
        n.slot[end] = 99
    if end < 15:
        N.ma_set_meta(n, maple_leaf_64, 0, end)
    return n


def _z3_eval(x):
    return z3.simplify(x).as_long() if isinstance(x, z3.ExprRef) else x


def test_data_end_int_path_equals_symbolic_path():
    for _ in range(300):
        end = R.randrange(16)
        hi = R.choice([ULONG_MAX, R.randrange(100, 10**6)])
        n = _leaf(end, 0, hi)
        got = N.ma_data_end(n, maple_leaf_64, hi)
        s = MapleNode(LINUX_64, maple_leaf_64)
        s.pivot = [z3.IntVal(p) for p in n.pivot]
        s.slot = [z3.IntVal(x or 0) for x in n.slot]
        assert got == end == _z3_eval(N.ma_data_end(s, maple_leaf_64, z3.IntVal(hi)))


def test_parent_word_int_path_equals_bitvector_path():
    for _ in range(200):
        addr = R.randrange(1, 1 << 40) << 8
        slot = R.randrange(16)
        w = N.ma_parent_ptr(addr, slot)
        bw = z3.BitVecVal(w, 64)
        assert N.ma_parent_slot(w) == slot == _z3_eval(N.ma_parent_slot(bw))
        for alloc in (False, True):
            assert N.ma_parent_type(w, alloc) == _z3_eval(N.ma_parent_type(bw, alloc))
    root = N.ma_root_parent(0x1000)
    assert N.ma_parent_slot(root) == 0 == _z3_eval(N.ma_parent_slot(z3.BitVecVal(root, 64)))


def test_leaf_max_gap_matches_the_trees_copy():
    from maplecheck.impl.pytree.gaps_update import mas_leaf_max_gap
    for _ in range(300):
        end = R.randrange(1, 16)
        lo = R.randrange(0, 1000)
        hi = R.choice([ULONG_MAX, lo + R.randrange(100, 10**6)])
        n = _leaf(end, lo, hi)
        alloc = SimpleNamespace(nodes=[None, n], geo=LINUX_64)
        mas = SimpleNamespace(tree=SimpleNamespace(alloc=alloc, ma_flags=1),
                              node=N.mt_mk_node(256, maple_leaf_64), min=lo, max=hi)
        assert O.leaf_max_gap(n.pivot, n.slot, end, lo, hi) == mas_leaf_max_gap(mas)


def test_split_point_matches_the_trees_copy():
    from maplecheck.impl.pytree import big_node as B
    for _ in range(300):
        b_end = R.randrange(16, 31)
        bn = B.BigNode()
        prev_null = False
        for i in range(b_end + 1):
            null = not prev_null and R.random() < 0.4
            bn.slot[i] = None if null else 2 * i + 1
            prev_null = null
        bn.b_end = b_end
        bn.type = maple_leaf_64
        mas = SimpleNamespace(tree=SimpleNamespace(alloc=SimpleNamespace(geo=LINUX_64)),
                              mas_flags=0)
        split, mid = B.mab_calc_split(mas, bn)
        assert O.mab_calc_split(bn.slot, b_end, 16, LINUX_64.min_slots[maple_leaf_64], True)[:2] == (split, mid)


def test_leaf_writes_match_the_trees_write_path():
    """node_ops' leaf write step (the proven one) predicts exactly the leaf the
    tree's own write path leaves, for random in-node writes on a one-leaf tree."""
    from maplecheck.impl.pytree.alloc import NodeAllocator
    from maplecheck.impl.pytree.mtree import MapleTree
    from maplecheck.impl.pytree.write import mtree_store_range
    kinds = {O.WR_EXACT_FIT, O.WR_SLOT_STORE, O.WR_APPEND, O.WR_NODE_STORE}
    checked = {k: 0 for k in kinds}
    for _ in range(600):
        alloc = NodeAllocator(LINUX_64)
        t = MapleTree(alloc, 0)
        for _k in range(R.randrange(1, 7)):
            a = R.randrange(1, 200)
            b = a + R.randrange(0, 20)
            assert mtree_store_range(t, a, b, 2 * R.randrange(50) + 1) == 0
        if t.mt_height() != 1:
            continue
        enode = t.root_enode()
        node = alloc.nodes[enode >> 8]
        end = N.ma_data_end(node, maple_leaf_64, ULONG_MAX)
        index = R.randrange(0, 260)
        last = index + R.choice([0, 0, 1, 3, 10, 40])
        entry = None if R.random() < 0.3 else 2 * R.randrange(50) + 1
        offset = 0
        while offset < end and node.pivot[offset] < index:
            offset += 1
        piv, slots = list(node.pivot), list(node.slot)
        w = O.leaf_write_setup(piv, slots, end, offset, index, last, entry, 0, ULONG_MAX,
                               LINUX_64.min_slots[maple_leaf_64], 16, True, False)
        if w.store_type not in kinds:
            continue
        lay = O.leaf_write_layout(piv, slots, end, w, entry, ULONG_MAX)
        assert mtree_store_range(t, index, last, entry) == 0
        assert t.root_enode() == enode            # in place (non-RCU)
        assert N.ma_data_end(node, maple_leaf_64, ULONG_MAX) == lay.end
        assert node.pivot == lay.pivots, (w, piv, slots)
        assert node.slot[:lay.end + 1] == lay.slots[:lay.end + 1], (w, piv, slots)
        checked[w.store_type] += 1
    assert all(v >= 5 for v in checked.values()), checked
