# SPDX-License-Identifier: GPL-2.0-or-later
"""Descending the tree: mas_start, mtree_range_walk, mas_walk, mtree_lookup_walk.

Every walk relies on the explicit max pivot: the last used slot of a node that
is not full has a pivot equal to the node max, so scanning pivots for the first
one >= index always stops inside the data.
"""

from __future__ import annotations

from maplecheck.tree import MA_ACTIVE, MA_NONE, MA_ROOT, MAX, XA_ZERO_ENTRY, xa_is_node

from .node import (MAPLE_NODE_SLOTS, ma_data_end, ma_dead, mte_node_type,
                   mte_safe_root, mte_to_node)
from .state import MaState


def mas_start(mas: MaState):
    """Set up a state in start status at the root; return the root entry if it is the answer.

    Node tree -> active at the root, depth 1.  Empty tree -> none.  Root
    pointer -> root status, returning the entry only when index is 0.  Any
    status but start is left alone.
    """
    if mas.status != 1:  # MA_START
        return None
    mas.min = 0
    mas.max = MAX
    mas.depth = 0
    root = mas.tree.ma_root
    if root is not None and xa_is_node(root):
        mas.depth = 0 if mas.tree.v7 else 1  # the root's depth: 0 since 7.x
        mas.status = MA_ACTIVE
        mas.node = mte_safe_root(root)
        mas.offset = 0
        return None
    mas.node = None
    mas.offset = MAPLE_NODE_SLOTS
    if root is None:
        mas.status = MA_NONE
        return None
    mas.status = MA_ROOT
    return root if mas.index == 0 else None


def mtree_range_walk(mas: MaState):
    """Walk from ``mas.node`` down to the leaf slot holding ``mas.index``.

    On return the state describes that leaf (node, min, max, end, offset) and
    ``index``/``last`` are the slot's range; the slot's content is returned.
    A dead node resets the state to start and returns None.
    """
    nodes = mas.tree.alloc.nodes
    index = mas.index
    enode = mas.node
    min_ = mas.min
    max_ = mas.max
    while True:
        last_enode = enode
        node = nodes[enode >> 8]
        type = mte_node_type(enode)
        pivots = node.pivot
        end = ma_data_end(node, type, max_)
        prev_min, prev_max = min_, max_
        if pivots[0] >= index:
            offset = 0
            max_ = pivots[0]
        else:
            offset = 1
            while offset < end:
                if pivots[offset] >= index:
                    max_ = pivots[offset]
                    break
                offset += 1
            min_ = pivots[offset - 1] + 1
        enode = node.slot[offset]
        if ma_dead(node.parent, mte_to_node(last_enode)):
            mas.reset()
            return None
        if type < 2:  # leaf
            break
        mas.depth += 1
    mas.end = end
    mas.offset = offset
    mas.index = min_
    mas.last = max_
    mas.min = prev_min
    mas.max = prev_max
    mas.node = last_enode
    return enode


def mas_state_walk(mas: MaState):
    """mas_state_walk(): mas_start, then a range walk if the tree has nodes."""
    entry = mas_start(mas)
    if mas.status == MA_NONE or mas.status == MA_ROOT:
        return entry
    return mtree_range_walk(mas)


def mas_walk(mas: MaState):
    """mas_walk(): re-walk from the root and return the content of the range at index.

    Empty tree: NULL, range [0, MAX], status none.  Root pointer: index 0 gives
    the entry over [0, 0]; any other index gives NULL over [1, MAX], status none.
    """
    while True:
        mas.reset()
        entry = mas_state_walk(mas)
        if mas.status == 1:  # dead node met: retry
            continue
        break
    if mas.status == MA_NONE:
        mas.index = 0
        mas.last = MAX
    elif mas.status == MA_ROOT:
        if mas.index == 0:
            mas.last = 0
            return entry
        mas.index = 1
        mas.last = MAX
        mas.status = MA_NONE
        mas.offset = MAPLE_NODE_SLOTS
        return None
    return entry


DEAD_NODE = object()
"""What mtree_lookup_walk returns when a node on its way died under it."""


def mtree_lookup_walk(nodes, enode: int, index: int):
    """The lookup behind mtree_load: the leaf entry at index below enode, or DEAD_NODE.

    It scans pivots without reading the data end: correct only because a node
    that is not full ends with an explicit pivot equal to its max, so the scan
    stops inside the data.  Each node is checked for death after its slot is
    read, so an entry is returned only from a node that was live when read.
    """
    while True:
        node = nodes[enode >> 8]
        pivots = node.pivot
        npiv = len(pivots)
        offset = 0
        while offset < npiv and pivots[offset] < index:
            offset += 1
        entry = node.slot[offset]
        if ma_dead(node.parent, mte_to_node(enode)):
            return DEAD_NODE
        if mte_node_type(enode) < 2:  # leaf
            return entry
        enode = entry


def mtree_load(tree, index: int):
    """mtree_load(): the entry at index; XA_ZERO_ENTRY reads as NULL.

    mas_start without an ma_state, then mtree_lookup_walk; a walk that met a
    dead node starts again from the root.
    """
    while True:
        root = tree.ma_root
        if root is None:
            return None
        if root & 3 != 2 or root <= 4096:  # the root pointer
            return root if index == 0 else None
        entry = mtree_lookup_walk(tree.alloc.nodes, root & ~2, index)
        if entry is not DEAD_NODE:
            return None if entry == XA_ZERO_ENTRY else entry
