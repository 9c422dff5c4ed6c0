# SPDX-License-Identifier: GPL-2.0-or-later
"""Gap upkeep on writes (alloc-range trees).

* A leaf's largest gap is computed on demand (:func:`mas_leaf_max_gap`), with
  the kernel's shortcuts: the slot after a NULL is skipped (two NULLs never
  touch), and the implied last range of the right-most leaf is checked first.
* An arange node stores ``gap[i]`` per child and ``meta.gap`` = the offset of
  the largest.  A rescan (:func:`.node_ops.ma_max_gap`) goes from the end down with a
  strict ``>``, so among equal gaps the highest offset wins, and with all gaps
  zero the offset is the end.
* :func:`mas_update_gap` writes a changed child gap into the parent and climbs
  while the parent's largest gap changes (:func:`mas_parent_gap`).
"""

from __future__ import annotations

from maplecheck.tree import MAX

from . import node_ops as O
from .node import ma_data_end, ma_is_root_parent, ma_parent_slot, mte_node_type


def mas_leaf_max_gap(mas) -> int:
    """The largest gap of the leaf at mas (limits mas.min, mas.max)."""
    return ma_leaf_max_gap(mas.tree.alloc.nodes[mas.node >> 8], mte_node_type(mas.node),
                           mas.min, mas.max)


def ma_leaf_max_gap(node, type: int, min: int, max: int) -> int:
    """ma_leaf_max_gap(): the largest NULL range of a leaf spanning [min, max].

    The rule is the proven :func:`.node_ops.leaf_max_gap`; only the one-slot
    leaf (a root holding [0, MAX], where C would read past the node) is
    answered here: the slot's size if NULL, else 0.
    """
    end = ma_data_end(node, type, max)
    if end == 0:
        return 0 if node.slot[0] is not None else (max - min + 1) & MAX
    return O.leaf_max_gap(node.pivot, node.slot, end, min, max)


def mas_max_gap(mas) -> int:
    if mte_node_type(mas.node) < 2:
        return mas_leaf_max_gap(mas)
    node = mas.tree.alloc.nodes[mas.node >> 8]
    return node.gap[node.meta_gap]


def mas_parent_gap(mas, offset: int, new: int) -> None:
    """mas_parent_gap(): write a child's new largest gap into its parent and climb.

    Each level is the proven :func:`.node_ops.parent_gap_step` on the parent's own
    gap list; the climb stops when a node's largest gap is unchanged or at the root.
    """
    nodes = mas.tree.alloc.nodes
    pnode = nodes[nodes[mas.node >> 8].parent >> 8]
    while True:
        _gaps, pnode.meta_gap, new = O.parent_gap_step(pnode.gap, pnode.meta_end, pnode.meta_gap,
                                                       offset, new)
        if new is None or ma_is_root_parent(pnode.parent):
            return
        offset = ma_parent_slot(pnode.parent)
        pnode = nodes[pnode.parent >> 8]


def mas_update_gap(mas) -> None:
    if not mas.tree.ma_flags & 1:
        return
    nodes = mas.tree.alloc.nodes
    node = nodes[mas.node >> 8]
    if ma_is_root_parent(node.parent):
        return
    max_gap = mas_max_gap(mas)
    pword = node.parent
    pslot = ma_parent_slot(pword)
    if nodes[pword >> 8].gap[pslot] != max_gap:
        mas_parent_gap(mas, pslot, max_gap)
