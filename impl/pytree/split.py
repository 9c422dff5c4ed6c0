# SPDX-License-Identifier: GPL-2.0-or-later
"""Splitting upwards (``mas_split``) with push-left / push-right into siblings.

The big node holds the overfull leaf.  Level by level: if it fits one node,
build that node (a new root of internal type when the old top was the root,
which is how the tree grows) and stop; else try to push into the previous,
then the next sibling (that ends the split); else split in two
(:func:`mab_calc_split`) and rebuild the parent's big node around the two new
nodes.  Finally the new top replaces the old one (:func:`mas_wmb_replace`).
"""

from __future__ import annotations

from maplecheck.tree import MAX

from . import node_ops as O
from .node import mte_node_type
from .big_node import (geo_min_slots, geo_slots, mab_calc_split, mab_mas_cp, mab_shift_right,
                       mas_mab_cp)
from .gaps_update import mas_max_gap
from .nav import (internal_type, mas_ascend, mas_data_end, mas_next_sibling, mas_pop_node,
                  mas_prev_sibling, mas_set_parent, mte_is_root, mte_parent_slot)
from .state import MaState
from .topiary import mas_wmb_replace
from .walk import mtree_range_walk


class Mast:
    """struct maple_subtree_state."""

    __slots__ = ("orig_l", "orig_r", "l", "m", "r", "bn")

    def __init__(self, bn, orig_l=None, orig_r=None, l=None, m=None, r=None) -> None:
        self.bn = bn
        self.orig_l = orig_l
        self.orig_r = orig_r
        self.l = l
        self.m = m
        self.r = r


def mab_set_b_end(b, mas, entry) -> None:
    if not entry:
        return
    b.slot[b.b_end] = entry
    if mas.tree.ma_flags & 1:
        b.gap[b.b_end] = mas_max_gap(mas)
    b.pivot[b.b_end] = mas.max
    b.b_end += 1


def mas_set_split_parent(mas, left, right, slot: int, split: int) -> int:
    if mas.status == 3:  # none
        return slot
    if slot <= split:
        mas_set_parent(mas, mas.node, left, slot)
    elif right:
        mas_set_parent(mas, mas.node, right, slot - split - 1)
    return slot + 1


def mas_split_final_node(mast: Mast, mas, height: int) -> None:
    b = mast.bn
    if mte_is_root(mas, mas.node):
        b.type = internal_type(mas)
        mas.depth = height
    ancestor = mas_pop_node(mas, b.type)
    mas_set_parent(mas, mast.l.node, ancestor, mast.l.offset)
    mas_set_parent(mas, mast.r.node, ancestor, mast.r.offset)
    nodes = mas.tree.alloc.nodes
    nodes[ancestor >> 8].parent = nodes[mas.node >> 8].parent
    mast.l.node = ancestor
    mab_mas_cp(b, 0, geo_slots(mas, b.type) - 1, mast.l, True)
    mas.offset = b.b_end - 1


def mast_fill_bnode(mast: Mast, mas, skip: int) -> None:
    b = mast.bn
    b.reset()
    if mte_is_root(mas, mas.node):
        cp = False
    else:
        cp = True
        mas_ascend(mas)
        mas.offset = mte_parent_slot(mas, mas.node)
    if cp and mast.l.offset:
        mas_mab_cp(mas, 0, mast.l.offset - 1, b, 0)
    split = b.b_end
    mab_set_b_end(b, mast.l, mast.l.node)
    mast.r.offset = b.b_end
    mab_set_b_end(b, mast.r, mast.r.node)
    if b.pivot[b.b_end - 1] == mas.max:
        cp = False
    if cp:
        mas_mab_cp(mas, split + skip, geo_slots(mas, mte_node_type(mas.node)) - 1, b, b.b_end)
    b.b_end -= 1
    b.type = mte_node_type(mas.node)


def mast_split_data(mast: Mast, mas, split: int) -> None:
    b = mast.bn
    mab_mas_cp(b, 0, split, mast.l, True)
    rnode = mas.tree.alloc.nodes[mast.r.node >> 8]
    rnode.pivot[0] = mast.r.max
    mab_mas_cp(b, split + 1, b.b_end, mast.r, False)
    mast.l.offset = mte_parent_slot(mas, mas.node)
    mast.l.max = b.pivot[split]
    mast.r.min = mast.l.max + 1
    if mte_node_type(mas.node) < 2:
        return
    p_slot = mast.orig_l.offset
    p_slot = mas_set_split_parent(mast.orig_l, mast.l.node, mast.r.node, p_slot, split)
    mas_set_split_parent(mast.orig_r, mast.l.node, mast.r.node, p_slot, split)


def mas_push_data(mas, height: int, mast: Mast, left: bool) -> bool:
    b = mast.bn
    slot_total = b.b_end
    tmp = mas.copy()
    tmp.depth = mast.l.depth
    if left:
        if not mas_prev_sibling(tmp):
            return False
    elif not mas_next_sibling(tmp):
        return False
    end = mas_data_end(tmp)
    slot_total += end
    slot_count = geo_slots(mas, mte_node_type(mas.node))
    space = 2 * slot_count - 2
    if b.type < 2:
        space -= 1
    if mas.max == MAX:
        space -= 1
    if slot_total >= space:
        return False
    b.b_end += 1
    if left:
        mab_shift_right(b, end + 1)
        mas_mab_cp(tmp, 0, end, b, 0)
        b.b_end = slot_total + 1
    else:
        mas_mab_cp(tmp, 0, end, b, b.b_end)
    split = geo_slots(mas, b.type) - 2
    if left:
        mas.assign(tmp)
        tmp.node = mast.l.node
        mast.l.assign(tmp)
    else:
        tmp.node = mast.r.node
        mast.r.assign(tmp)
        split = slot_total - split
    split = O.mab_no_null_split(b.slot, b.b_end, split, geo_slots(mas, b.type),
                                geo_min_slots(mas, b.type))
    if left:
        mast.orig_l.offset += end + 1
    mast_split_data(mast, mas, split)
    mast_fill_bnode(mast, mas, 2)
    mas_split_final_node(mast, mas, height + 1)
    return True


def mas_split(mas, b) -> None:
    tree = mas.tree
    height = 0
    mas.depth = tree.mt_height()
    l_mas = MaState(tree, mas.index, mas.last)
    r_mas = MaState(tree, mas.index, mas.last)
    prev_l = MaState(tree, mas.index, mas.last)
    prev_r = MaState(tree, mas.index, mas.last)
    mast = Mast(b, orig_l=prev_l, orig_r=prev_r, l=l_mas, r=r_mas)
    while True:
        go = height <= mas.depth
        height += 1
        if not go:
            break
        if geo_slots(mas, b.type) > b.b_end:
            mas_split_final_node(mast, mas, height)
            break
        l_mas.assign(mas)
        r_mas.assign(mas)
        l_mas.node = mas_pop_node(mas, b.type)
        r_mas.node = mas_pop_node(mas, b.type)
        if mas_push_data(mas, height, mast, True):
            break
        if mas_push_data(mas, height, mast, False):
            break
        split, _mid = mab_calc_split(mas, b)
        mast_split_data(mast, mas, split)
        mast.r.max = mas.max
        mast_fill_bnode(mast, mas, 1)
        prev_l.assign(mast.l)
        prev_r.assign(mast.r)
    old = mas.node
    mas.node = l_mas.node
    mas_wmb_replace(mas, old)
    mtree_range_walk(mas)
