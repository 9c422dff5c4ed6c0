# SPDX-License-Identifier: GPL-2.0-or-later
"""The spanning store (``mas_wr_spanning_store``) and ``mas_new_root``.

A write that does not fit in one leaf slot range of one node: walk a right
state to the leaf holding last+1 and a left state to the leaf holding index,
widen a NULL write over neighbouring NULLs, build one big node from the left
leaf (with the write applied) and the right leaf's tail, and let
``mas_spanning_rebalance`` rebuild the affected subtree (height + 1 levels at
most), which may also lower the tree.
"""

from __future__ import annotations

from maplecheck.tree import MAX

from .big_node import BigNode, mas_mab_cp, mas_store_b_node
from .nav import mas_pop_node, mte_destroy_walk
from .rcu import rcu_point
from .node import maple_leaf_64
from .rebalance import mas_spanning_rebalance
from .split import Mast
from .wr_state import WrState, mas_wr_walk_index

MA_ACTIVE, MA_START = 0, 1


def mas_new_root(mas, entry) -> None:
    """Replace the whole tree by one leaf [0, MAX] = entry (or by nothing for NULL)."""
    tree = mas.tree
    root = tree.ma_root
    if not entry and not mas.index and mas.last == MAX:
        mas.depth = 0
        tree.mt_set_height(0)
        tree.ma_root = None
        rcu_point("assign")
        mas.status = MA_START
    else:
        enode = mas_pop_node(mas, maple_leaf_64)
        node = tree.alloc.nodes[enode >> 8]
        node.parent = tree.addr | 1
        mas.node = enode
        mas.status = MA_ACTIVE
        node.slot[0] = entry
        node.pivot[0] = mas.last
        mas.depth = 1
        tree.mt_set_height(1)
        tree.ma_root = enode | 2
        rcu_point("assign")
    if root is not None and root & 3 == 2 and root > 4096:
        mte_destroy_walk(mas, root & ~2)


def mas_extend_spanning_null(l_wr: WrState, r_wr: WrState) -> None:
    l_mas = l_wr.mas
    r_mas = r_wr.mas
    l_slot = l_mas.offset
    if not l_wr.content:
        l_mas.index = l_wr.r_min
    if l_mas.index == l_wr.r_min and l_slot and not l_wr.slots[l_slot - 1]:
        if l_slot > 1:
            l_mas.index = l_wr.pivots[l_slot - 2] + 1
        else:
            l_mas.index = l_mas.min
        l_mas.offset = l_slot - 1
        if l_mas.tree.v7:
            l_wr.r_min = l_mas.index
    if not r_wr.content:
        if r_mas.last < r_wr.r_max:
            r_mas.last = r_wr.r_max
        r_mas.offset += 1
    elif (r_mas.last == r_wr.r_max and r_mas.last < r_mas.max
          and not r_wr.slots[r_mas.offset + 1]):
        # Unreachable: the right state was walked to last + 1, so last < r_max.
        # (Linux 6.12 passes mas_safe_pivot()'s arguments in the wrong order
        # here; being unreachable, it changes nothing.)
        pivots = r_wr.pivots
        off = r_mas.offset + 1
        r_mas.last = pivots[off] if off < len(pivots) else r_mas.max
        r_mas.offset += 1


def spanning_right(wr: WrState) -> WrState:
    """The right side of a spanning store: a copy of the state walked to the leaf
    holding last + 1 (last itself at MAX), then given the range [last, last]."""
    mas = wr.mas
    r_mas = mas.copy()
    if r_mas.last != MAX:
        r_mas.last += 1
    r_mas.index = r_mas.last
    r_wr = WrState(r_mas, wr.entry)
    mas_wr_walk_index(r_wr)
    r_mas.last = r_mas.index = mas.last
    return r_wr


def mas_wr_spanning_store(wr: WrState) -> None:
    mas = wr.mas
    if not mas.index and mas.last == MAX:
        mas_new_root(mas, wr.entry)
        return
    height = mas.tree.mt_height()
    r_wr = spanning_right(wr)
    r_mas = r_wr.mas

    l_mas = mas.copy()
    l_wr = WrState(l_mas, wr.entry)
    mas_wr_walk_index(l_wr)

    if not wr.entry:
        mas_extend_spanning_null(l_wr, r_wr)
        mas.offset = l_mas.offset
        mas.index = l_mas.index
        mas.last = l_mas.last = r_mas.last

    if not l_mas.index and r_mas.last == MAX:
        mas.index, mas.last = 0, MAX
        mas.status = MA_START
        mas.node = None
        mas_new_root(mas, wr.entry)
        return

    b = BigNode()
    mas_store_b_node(l_wr, b, l_mas.end)
    if r_mas.max > r_mas.last:
        mas_mab_cp(r_mas, r_mas.offset, r_mas.end, b, b.b_end + 1)
    else:
        b.b_end += 1
    l_mas.index = l_mas.last = mas.index
    mast = Mast(b, orig_l=l_mas, orig_r=r_mas)
    mas_spanning_rebalance(mas, mast, height + 1)
