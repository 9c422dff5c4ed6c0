# SPDX-License-Identifier: GPL-2.0-or-later
"""The big node (``struct maple_big_node``) and the copies in and out of it.

A big node is the scratch space of every rebuilding write: room for two full
nodes plus two (34 slots; 21 gaps in the kernel, where the gap array overlays
the upper slots — here it is a separate list, which changes nothing the
kernel reads).  ``b_end`` is sometimes the last used index and sometimes the
next free one, exactly as in the kernel; the copy-out stops at a zero pivot,
so every list here starts zeroed.

Copy in: :func:`mas_mab_cp` (a node range), :func:`mas_store_b_node` (a leaf
with the write applied).  Copy out: :func:`mab_mas_cp`.  Split points:
:func:`mab_calc_split`, which runs the proven :func:`.node_ops.mab_calc_split`
(with :func:`.node_ops.mab_middle_node` and :func:`.node_ops.mab_no_null_split`).
"""

from __future__ import annotations

from maplecheck.tree import MAX

from . import node_ops as O
from .node import ma_set_meta, mte_node_type

BIG_SLOTS = 36  # the kernel's 34, plus guard room for the one-past reads


class BigNode:
    __slots__ = ("pivot", "slot", "gap", "b_end", "type")

    def __init__(self) -> None:
        self.pivot = [0] * BIG_SLOTS
        self.slot = [None] * BIG_SLOTS
        self.gap = [0] * BIG_SLOTS
        self.b_end = 0
        self.type = 0

    def reset(self) -> None:
        """memset(bn, 0)."""
        self.pivot = [0] * BIG_SLOTS
        self.slot = [None] * BIG_SLOTS
        self.gap = [0] * BIG_SLOTS
        self.b_end = 0
        self.type = 0


def geo_slots(mas, type: int) -> int:
    return mas.tree.alloc.geo.slots[type]


def geo_pivots(mas, type: int) -> int:
    return mas.tree.alloc.geo.pivots[type]


def geo_min_slots(mas, type: int) -> int:
    return mas.tree.alloc.geo.min_slots[type]


def mab_shift_right(b: BigNode, shift: int) -> None:
    size = b.b_end
    b.pivot[shift:shift + size] = b.pivot[0:size]
    b.slot[shift:shift + size] = b.slot[0:size]
    if b.type == 3:
        b.gap[shift:shift + size] = b.gap[0:size]
    _fix_len(b)


def _fix_len(b: BigNode) -> None:
    for lst, fill in ((b.pivot, 0), (b.slot, None), (b.gap, 0)):
        if len(lst) < BIG_SLOTS:
            lst.extend([fill] * (BIG_SLOTS - len(lst)))


def mab_calc_split(mas, b: BigNode) -> tuple[int, int]:
    """(split, mid_split); mid_split is 0 unless a 3-way split is needed.

    The rule is :func:`.node_ops.mab_calc_split` (the proven one); this maps the
    big node and the ma_state onto it and raises MA_STATE_REBALANCE when the
    bulk path asks for it (bulk is not reachable through the protocol).
    """
    split, mid_split, set_rebalance = O.mab_calc_split(
        b.slot, b.b_end, geo_slots(mas, b.type), geo_min_slots(mas, b.type), b.type < 2,
        bool(mas.mas_flags & 1))
    if set_rebalance:
        mas.mas_flags |= 2
    return split, mid_split


def mas_mab_cp(mas, mas_start: int, mas_end: int, b: BigNode, mab_start: int) -> None:
    """Copy slots [mas_start, mas_end] of mas.node into b at mab_start; b_end = next free.

    The copy is the proven :func:`.node_ops.mas_mab_cp` (into the big node's lists).
    """
    enode = mas.node
    node = mas.tree.alloc.nodes[enode >> 8]
    gaps = node.gap if mte_node_type(enode) >= 2 and mas.tree.ma_flags & 1 else None
    b.b_end = O.mas_mab_cp(node.pivot, node.slot, gaps, mas.max, mas_start, mas_end,
                           b.pivot, b.slot, b.gap, mab_start)
    # the copy never reads past the node, so the big node keeps its size
    assert len(b.slot) == BIG_SLOTS and len(b.gap) == BIG_SLOTS


def mab_mas_cp(b: BigNode, mab_start: int, mab_end: int, mas, new_max: bool) -> None:
    """mab_mas_cp(): b[mab_start..mab_end] (stopping at a zero pivot) into the fresh node mas.node.

    The copy is the proven :func:`.node_ops.mab_mas_cp`; this writes its fields into
    the node: pivots, slots, and the arange gaps with their metadata (or the
    last-slot metadata), and the node's max into mas when ``new_max``.
    """
    enode = mas.node
    type = mte_node_type(enode)
    node = mas.tree.alloc.nodes[enode >> 8]
    alloc = type >= 2 and bool(mas.tree.ma_flags & 1)
    nd = O.mab_mas_cp(O.BigNode(b.pivot, b.slot, b.gap, b.b_end), mab_start, mab_end,
                      len(node.slot), type < 2, alloc)
    node.pivot[:] = nd.pivots
    node.slot[:] = nd.slots
    if new_max:
        mas.max = nd.max
    if alloc:
        node.gap[:] = nd.gaps
        ma_set_meta(node, type, nd.meta_gap, nd.end)


def mas_store_b_node(wr, b: BigNode, offset_end: int) -> None:
    """Copy the leaf wr.mas.node into b with [index, last] = entry applied."""
    mas = wr.mas
    b.type = wr.type
    b_end = 0
    slot = mas.offset
    if slot:
        mas_mab_cp(mas, 0, slot - 1, b, 0)
        b_end = b.b_end
        piv = b.pivot[b_end - 1]
    else:
        piv = (mas.min - 1) & MAX
    if ((piv + 1) & MAX) < mas.index:
        b.slot[b_end] = wr.content
        if not wr.content:
            b.gap[b_end] = (mas.index - 1 - piv) & MAX
        b.pivot[b_end] = mas.index - 1
        b_end += 1
    mas.offset = b_end
    b.slot[b_end] = wr.entry
    b.pivot[b_end] = mas.last
    if mas.last >= mas.max:
        b.b_end = b_end
        return
    pivots = wr.pivots
    piv = pivots[offset_end] if offset_end < len(pivots) else mas.max
    if piv > mas.last:
        if offset_end != slot:
            wr.content = wr.slots[offset_end]
        b_end += 1
        b.slot[b_end] = wr.content
        if not wr.content:
            b.gap[b_end] = piv - mas.last + 1
        b.pivot[b_end] = piv
    slot = offset_end + 1
    if slot > mas.end:
        b.b_end = b_end
        return
    b_end += 1
    mas_mab_cp(mas, slot, mas.end + 1, b, b_end)
    b.b_end -= 1
