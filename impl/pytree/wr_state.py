# SPDX-License-Identifier: GPL-2.0-or-later
"""``struct ma_wr_state`` and the write walks (``mas_wr_node_walk``, ``mas_wr_walk``).

A write walk descends like a read walk but keeps the slot's range in
``r_min``/``r_max`` and stops early at the node where the write *spans*
(:func:`mas_is_span_wr`): ``last`` beyond the slot (internal node) or beyond
the node (leaf), or a NULL ending exactly on a boundary other than MAX.
"""

from __future__ import annotations

from .node import ma_data_end, ma_is_root_parent, mte_node_type
from . import node_ops as O
from .node_ops import safe_min


class WrState:
    __slots__ = ("mas", "node", "type", "pivots", "slots", "r_min", "r_max", "content",
                 "entry", "offset_end", "end_piv", "vacant_height", "sufficient_height")

    def __init__(self, mas, entry) -> None:
        self.mas = mas
        self.node = None
        self.type = 0
        self.pivots = None
        self.slots = None
        self.r_min = 0
        self.r_max = 0
        self.content = None
        self.entry = entry
        self.offset_end = 0
        self.end_piv = 0
        # 7.3: the deepest levels the walk saw with a free slot / above minimum
        self.vacant_height = 0
        self.sufficient_height = 0


def mas_wr_node_walk(wr: WrState) -> None:
    mas = wr.mas
    node = wr.node = mas.tree.alloc.nodes[mas.node >> 8]
    pivots = wr.pivots = node.pivot
    count = mas.end = ma_data_end(node, wr.type, mas.max)
    offset = mas.offset
    index = mas.index
    while offset < count and index > pivots[offset]:
        offset += 1
    wr.r_max = pivots[offset] if offset < count else mas.max
    wr.r_min = safe_min(pivots, offset, mas.min)
    wr.offset_end = mas.offset = offset


def mas_wr_walk_descend(wr: WrState) -> None:
    wr.type = mte_node_type(wr.mas.node)
    mas_wr_node_walk(wr)
    wr.slots = wr.node.slot


def mas_wr_walk_traverse(wr: WrState) -> None:
    mas = wr.mas
    mas.max = wr.r_max
    mas.min = wr.r_min
    mas.node = wr.content
    mas.offset = 0
    mas.depth += 1


def mas_is_span_wr(wr: WrState) -> bool:
    """mas_is_span_wr(): the proven :func:`.node_ops.is_span_wr` on the write state."""
    return O.is_span_wr(wr.r_max, wr.mas.last, wr.mas.max, wr.type < 2, wr.entry)


def mas_wr_walk(wr: WrState) -> bool:
    """Descend to the leaf; False when the write spans at the current node."""
    mas = wr.mas
    while True:
        mas_wr_walk_descend(wr)
        if mas_is_span_wr(wr):
            return False
        wr.content = wr.slots[mas.offset]
        if wr.type < 2:
            return True
        mas_wr_walk_heights(wr)
        mas_wr_walk_traverse(wr)


def mas_wr_walk_heights(wr: WrState) -> None:
    """7.3 preallocation bookkeeping at an internal node of the write walk."""
    mas = wr.mas
    geo = mas.tree.alloc.geo
    if mas.end < geo.slots[wr.type] - 1:
        wr.vacant_height = mas.depth + 1
    if ma_is_root_parent(wr.node.parent):
        if mas.end > 2:
            wr.sufficient_height = 1
    elif mas.end > geo.min_slots[wr.type] + 1:
        wr.sufficient_height = mas.depth + 1


def mas_wr_walk_index(wr: WrState) -> None:
    mas = wr.mas
    while True:
        mas_wr_walk_descend(wr)
        wr.content = wr.slots[mas.offset]
        if wr.type < 2:
            return
        mas_wr_walk_traverse(wr)
