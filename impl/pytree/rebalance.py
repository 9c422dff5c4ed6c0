# SPDX-License-Identifier: GPL-2.0-or-later
"""Rebalancing: ``mas_rebalance`` and ``mas_spanning_rebalance``.

``mas_rebalance`` (a leaf left with too little data) merges the leaf's big
node with its next sibling, else its previous one, and hands over to
``mas_spanning_rebalance``, which the spanning store uses too.  That routine
works upwards: split the big node into one, two or three new nodes; stop when
they cover 0..MAX (new root, possibly a lower tree); otherwise rebuild the
parent level's big node around them (parent slots left of the old left side,
the new nodes, parent slots right of the old right side), pulling in a
neighbour (right first) whenever the data is too thin for one node.
"""

from __future__ import annotations

from maplecheck.tree import MAX

from .node import mte_node_type
from .big_node import (geo_min_slots, geo_slots, mab_calc_split, mab_mas_cp, mab_shift_right,
                       mas_mab_cp)
from .nav import (mas_ascend, mas_data_end, mas_descend, mas_next_sibling, mas_pop_node,
                  mas_prev_sibling, mas_set_parent, mte_is_root)
from .split import Mast, mab_set_b_end, mas_set_split_parent
from .state import MaState
from .topiary import mas_wmb_replace
from .walk import mtree_range_walk
from .wr_state import WrState, mas_wr_node_walk

MA_NONE = 3
MA_ACTIVE = 0


def _type(enode) -> int:
    return mte_node_type(enode)


def mas_is_root_limits(mas) -> bool:
    return not mas.min and mas.max == MAX


def mast_rebalance_next(mast: Mast) -> None:
    b_end = mast.bn.b_end
    r = mast.orig_r
    mas_mab_cp(r, 0, geo_slots(r, _type(r.node)), mast.bn, b_end)
    r.last = r.max


def mast_rebalance_prev(mast: Mast) -> None:
    l = mast.orig_l
    end = mas_data_end(l) + 1
    b_end = mast.bn.b_end
    mab_shift_right(mast.bn, end)
    mas_mab_cp(l, 0, end - 1, mast.bn, 0)
    mast.l.min = l.min
    l.index = l.min
    mast.bn.b_end = end + b_end
    mast.l.offset += end


def mast_spanning_rebalance(mast: Mast) -> bool:
    """Pull the nearest neighbour (right first) into the big node."""
    r_tmp = mast.orig_r.copy()
    l_tmp = mast.orig_l.copy()
    depth = 0
    while True:
        mas_ascend(mast.orig_r)
        mas_ascend(mast.orig_l)
        depth += 1
        if mast.orig_r.offset < mas_data_end(mast.orig_r):
            mast.orig_r.offset += 1
            while True:
                mas_descend(mast.orig_r)
                mast.orig_r.offset = 0
                depth -= 1
                if not depth:
                    break
            mast_rebalance_next(mast)
            mast.orig_l.assign(l_tmp)
            return True
        elif mast.orig_l.offset != 0:
            mast.orig_l.offset -= 1
            while True:
                mas_descend(mast.orig_l)
                mast.orig_l.offset = mas_data_end(mast.orig_l)
                depth -= 1
                if not depth:
                    break
            mast_rebalance_prev(mast)
            mast.orig_r.assign(r_tmp)
            return True
        if mte_is_root(mast.orig_r, mast.orig_r.node):
            break
    mast.orig_r.assign(r_tmp)
    mast.orig_l.assign(l_tmp)
    return False


def mast_ascend(mast: Mast) -> None:
    mas_ascend(mast.orig_l)
    mas_ascend(mast.orig_r)
    r = mast.orig_r
    r.offset = 0
    r.index = mast.r.max
    if r.last < r.index:
        r.last = r.index
    wr = WrState(r, None)
    wr.type = _type(r.node)
    mas_wr_node_walk(wr)
    l = mast.orig_l
    l.offset = 0
    l.index = mast.l.min
    wr.mas = l
    wr.type = _type(l.node)
    mas_wr_node_walk(wr)
    mast.bn.type = wr.type


def mas_mab_to_node(mas, b):
    """(split, left, right, middle, mid_split): new nodes for the big node's data."""
    slot_count = geo_slots(mas, b.type)
    left = mas_pop_node(mas, b.type)
    right = middle = None
    mid_split = 0
    if b.b_end < slot_count:
        split = b.b_end
    else:
        split, mid_split = mab_calc_split(mas, b)
        right = mas_pop_node(mas, b.type)
    if mid_split:
        middle = mas_pop_node(mas, b.type)
    return split, left, right, middle, mid_split


def _mid_split_check(l, r, right, slot, split, mid_split):
    if r == right:
        return l, r, split
    if slot < mid_split:
        return l, r, split
    return r, right, mid_split


def mast_set_split_parents(mast: Mast, left, middle, right, split: int, mid_split: int) -> None:
    if mast.l.status == MA_NONE:
        return
    l = left
    r = right
    if middle:
        r = middle
    slot = mast.l.offset
    l, r, split = _mid_split_check(l, r, right, slot, split, mid_split)
    slot = mas_set_split_parent(mast.l, l, r, slot, split)
    l, r, split = _mid_split_check(l, r, right, slot, split, mid_split)
    slot = mas_set_split_parent(mast.m, l, r, slot, split)
    l, r, split = _mid_split_check(l, r, right, slot, split, mid_split)
    mas_set_split_parent(mast.r, l, r, slot, split)


def _node_or_none(mas, enode) -> None:
    if enode:
        mas.node = enode
        mas.status = MA_ACTIVE
    else:
        mas.node = None
        mas.status = MA_NONE


def mast_cp_to_nodes(mast: Mast, left, middle, right, split: int, mid_split: int) -> None:
    b = mast.bn
    new_lmax = True
    _node_or_none(mast.l, left)
    _node_or_none(mast.m, middle)
    _node_or_none(mast.r, right)
    mast.l.min = mast.orig_l.min
    if split == b.b_end:
        mast.l.max = mast.orig_r.max
        new_lmax = False
    mab_mas_cp(b, 0, split, mast.l, new_lmax)
    if middle:
        mab_mas_cp(b, 1 + split, mid_split, mast.m, True)
        mast.m.min = b.pivot[split] + 1
        split = mid_split
    mast.r.max = mast.orig_r.max
    if right:
        mab_mas_cp(b, 1 + split, b.b_end, mast.r, False)
        mast.r.min = b.pivot[split] + 1


def mast_combine_cp_left(mast: Mast) -> None:
    l_slot = mast.orig_l.offset
    if not l_slot:
        return
    mas_mab_cp(mast.orig_l, 0, l_slot - 1, mast.bn, 0)


def mast_combine_cp_right(mast: Mast) -> None:
    b = mast.bn
    r = mast.orig_r
    if b.pivot[b.b_end - 1] >= r.max:
        return
    mas_mab_cp(r, r.offset + 1, geo_slots(r, _type(r.node)), b, b.b_end)
    r.last = r.max


def mas_spanning_rebalance(mas, mast: Mast, count: int) -> None:
    tree = mas.tree
    slot = 0
    left = middle = right = None
    l_mas = MaState(tree, mas.index, mas.index)
    r_mas = MaState(tree, mas.index, mas.last)
    m_mas = MaState(tree, mas.index, mas.index)
    mast.l, mast.m, mast.r = l_mas, m_mas, r_mas
    l_mas.status = r_mas.status = m_mas.status = MA_NONE
    b = mast.bn

    if (mast.orig_l.min != 0 or mast.orig_r.max != MAX) and \
            b.b_end <= geo_min_slots(mas, b.type):
        mast_spanning_rebalance(mast)

    l_mas.depth = 0
    new_root = False
    while count:
        count -= 1
        b.b_end -= 1
        b.type = _type(mast.orig_l.node)
        split, left, right, middle, mid_split = mas_mab_to_node(mas, b)
        mast_set_split_parents(mast, left, middle, right, split, mid_split)
        mast_cp_to_nodes(mast, left, middle, right, split, mid_split)
        b.reset()
        b.type = _type(left)
        l_mas.depth += 1
        if mas_is_root_limits(mast.l):
            new_root = True
            break
        mast_ascend(mast)
        mast_combine_cp_left(mast)
        l_mas.offset = b.b_end
        mab_set_b_end(b, l_mas, left)
        mab_set_b_end(b, m_mas, middle)
        mab_set_b_end(b, r_mas, right)
        mast_combine_cp_right(mast)
        mast.orig_l.last = mast.orig_l.max
        if b.b_end > geo_min_slots(mas, _type(mast.orig_l.node)):  # mast_sufficient
            continue
        if b.b_end >= geo_slots(mas, _type(mast.orig_l.node)):  # mast_overflow
            continue
        if mas_is_root_limits(mast.orig_l):
            break
        mast_spanning_rebalance(mast)
        if not count:
            count += 1

    nodes = tree.alloc.nodes
    if not new_root:
        l_mas.node = mas_pop_node(mas, _type(mast.orig_l.node))
        l_mas.depth += 1
        mab_mas_cp(b, 0, geo_slots(mas, b.type) - 1, l_mas, True)
        mas_set_parent(mas, left, l_mas.node, slot)
        if middle:
            slot += 1
            mas_set_parent(mas, middle, l_mas.node, slot)
        if right:
            slot += 1
            mas_set_parent(mas, right, l_mas.node, slot)

    if new_root or mas_is_root_limits(mast.l):
        nodes[mast.l.node >> 8].parent = tree.addr | 1
        while not mte_is_root(mast.orig_l, mast.orig_l.node):
            mast_ascend(mast)
    else:
        nodes[l_mas.node >> 8].parent = nodes[mast.orig_l.node >> 8].parent

    old_enode = mast.orig_l.node
    mas.depth = l_mas.depth
    mas.node = l_mas.node
    mas.min = l_mas.min
    mas.max = l_mas.max
    mas.offset = l_mas.offset
    mas_wmb_replace(mas, old_enode)
    mtree_range_walk(mas)


def mas_rebalance(mas, b) -> None:
    tree = mas.tree
    empty_count = tree.mt_height()
    b.b_end += 1
    b_end = b.b_end
    l_mas = mas.copy()
    r_mas = mas.copy()
    mast = Mast(b, orig_l=l_mas, orig_r=r_mas)
    b.type = _type(mas.node)
    if mas_next_sibling(r_mas):
        mas_mab_cp(r_mas, 0, geo_slots(r_mas, _type(r_mas.node)), b, b_end)
        r_mas.last = r_mas.index = r_mas.max
    else:
        mas_prev_sibling(l_mas)
        shift = mas_data_end(l_mas) + 1
        mab_shift_right(b, shift)
        mas.offset += shift
        mas_mab_cp(l_mas, 0, shift - 1, b, 0)
        b.b_end = shift + b_end
        l_mas.index = l_mas.last = l_mas.min
    mas_spanning_rebalance(mas, mast, empty_count)
