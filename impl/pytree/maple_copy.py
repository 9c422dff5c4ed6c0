# SPDX-License-Identifier: GPL-2.0-or-later
"""The Linux 7.3 write path for stores that rebuild nodes: ``struct maple_copy``.

Since the maple_copy rewrite (7.3), split, rebalance and spanning stores no
longer go through a big node.  They all run one loop, level by level from the
leaf up:

1. the new data of this level sits in a small *copy node* ``cp`` (at most three
   slots: the leaf's write with its left/right remainders, then the one to
   three nodes built on the level below);
2. ``*_data`` counts the data (a size: left part of the node, ``cp``, right
   part) and picks a sibling to take in (``sib``) when the data is too much
   (push into a sibling with room) or too little (absorb a neighbour);
3. ``multi_src_setup`` lists the sources in key order (sibling, left part,
   ``cp``, right part, sibling) and ``dst_setup`` chooses one, two or three
   destinations and the split point;
4. ``cp_data_write`` copies the sources into the destinations (``node_copy``),
   moving a split that would end a leaf on NULL by one, and finalises each
   (``node_finalise``);
5. ``*_ascend`` turns the destinations into ``cp``'s slots for the next level
   and stops at a new root or when one destination replaces one node.

The rebuilt subtree is then published by :func:`mas_wmb_replace`.  Node words,
pools and the topiary are the shared ones (nav.py, topiary.py).
"""

from __future__ import annotations

from maplecheck.tree import MAX

from .gaps_update import ma_leaf_max_gap, mas_parent_gap
from .nav import mas_ascend, mas_data_end, mas_descend, mas_mn, mas_pop_node, mte_is_root
from .node_ops import br, is_null, safe_min, safe_pivot
from .node import (MAPLE_PARENT_RANGE64, MAPLE_PARENT_SLOT_SHIFT, ma_data_end, ma_is_leaf,
                   ma_parent_slot, ma_set_meta,
                   maple_arange_64, maple_range_64, mte_node_type, mte_to_node)
from .topiary import mas_topiary_replace
from .wr_state import WrState

#: the copy node's type number and size (mt_slots / mt_pivots of maple_copy)
maple_copy = 4
CP_SLOTS = 3


def mt_pivots(geo, mt: int) -> int:
    return CP_SLOTS if mt == maple_copy else geo.pivots[mt]


class CpSrc:
    __slots__ = ("node", "mt", "max", "start", "end")

    def __init__(self, node, mt: int, max: int, start: int, end: int) -> None:
        self.node, self.mt, self.max, self.start, self.end = node, mt, max, start, end


class CpDst:
    __slots__ = ("node", "enode", "mt", "max")

    def __init__(self) -> None:
        self.node = self.enode = None
        self.mt = 0
        self.max = 0


class MapleCopy:
    """``struct maple_copy``.  ``max`` shares its word with ``pivot[2]`` as in C."""

    __slots__ = ("slot", "pivot", "gap", "min", "end", "height", "data", "split", "d_count",
                 "s_count", "src", "dst")

    def __init__(self) -> None:
        self.slot = [None] * CP_SLOTS
        self.pivot = [0] * CP_SLOTS
        self.gap = [0] * CP_SLOTS
        self.min = 0
        self.end = 0
        self.height = 0
        self.data = 0
        self.split = 0
        self.d_count = 0
        self.s_count = 0
        self.src: list[CpSrc] = []
        self.dst = [CpDst(), CpDst(), CpDst()]

    @property
    def max(self) -> int:
        return self.pivot[2]

    @max.setter
    def max(self, value: int) -> None:
        self.pivot[2] = value


# ------------------------------------------------------------------ node helpers


def node_copy(mas, src, start: int, size: int, s_max: int, s_mt: int, dst, d_enode: int,
              d_start: int, d_mt: int) -> int:
    """Copy ``size`` (>= 1) slots from ``src[start:]`` to ``dst[d_start:]``.

    Gaps follow when the destination has them; children copied out of the copy
    node get their parent words here.  The last copied pivot is the source's
    pivot, or ``s_max`` past the source's pivots; it is stored when the
    destination has a pivot there.  Returns that last pivot (the max so far).
    """
    geo = mas.tree.alloc.geo
    dst.slot[d_start:d_start + size] = src.slot[start:start + size]
    if not ma_is_leaf(d_mt) and s_mt == maple_copy:
        mas_set_parent_slots(mas, d_enode, dst.slot, d_start, size)
    if dst.gap is not None:
        dst.gap[d_start:d_start + size] = src.gap[start:start + size]
    if start + size - 1 < mt_pivots(geo, s_mt):
        d_max = src.pivot[start + size - 1]
    else:
        d_max = s_max
    if d_start + size <= mt_pivots(geo, d_mt):
        dst.pivot[d_start + size - 1] = d_max
    size -= 1
    if size:
        dst.pivot[d_start:d_start + size] = src.pivot[start:start + size]
    return d_max


def mas_set_parent_slots(mas, parent: int, slots, start: int, count: int) -> None:
    """Point each child in ``slots[start:start+count]`` at ``parent`` with its slot."""
    nodes = mas.tree.alloc.nodes
    base = mte_to_node(parent) | MAPLE_PARENT_RANGE64
    for i in range(start, start + count):
        nodes[slots[i] >> 8].parent = base | (i << MAPLE_PARENT_SLOT_SHIFT)


def node_finalise(node, mt: int, geo, end: int) -> None:
    """Zero the area from ``end`` (a size) on and write the metadata (end - 1, gap slot)."""
    max_end = geo.slots[mt]
    if end < max_end - 1:
        size = max_end - end
        node.slot[end:] = [None] * size
        if node.gap is not None:
            node.gap[end:] = [0] * size
        size -= 1
        if size:
            node.pivot[end:end + size] = [0] * size
    gap_slot = 0
    if node.gap is not None and not ma_is_leaf(mt):
        max_gap = 0
        # the kernel reads gap[end] too: zero (or, past a full node, the zeroed meta)
        for i in range(min(end + 1, len(node.gap))):
            if node.gap[i] > max_gap:
                gap_slot = i
                max_gap = node.gap[i]
    if mt == maple_arange_64 or end <= max_end - 1:
        ma_set_meta(node, mt, gap_slot, end - 1)


# ------------------------------------------------------------------ the copy node


def cp_leaf_init(cp: MapleCopy, mas, l_wr: WrState, r_wr: WrState) -> None:
    """The leaf level's new data: left remainder, the entry, right remainder."""
    end = 0
    cp.height = 1
    if l_wr.r_min < mas.index:
        end += 1
        cp.slot[0] = l_wr.content
        cp.pivot[0] = mas.index - 1
    cp.slot[end] = l_wr.entry
    cp.pivot[end] = mas.last
    if r_wr.end_piv > mas.last:
        end += 1
        cp.slot[end] = r_wr.slots[r_wr.offset_end]
        cp.pivot[end] = r_wr.end_piv
    cp.min = l_wr.r_min
    cp.max = cp.pivot[end]
    cp.end = end


def cp_data_calc(cp: MapleCopy, l_wr: WrState, r_wr: WrState) -> None:
    """cp.data = left part (offset) + cp (end + 1) + right part (end - offset_end)."""
    cp.data = l_wr.mas.offset + cp.end + 1 + r_wr.mas.end - r_wr.offset_end


def data_fits(sib, mas, cp: MapleCopy) -> bool:
    """The sibling takes the data with one slot to spare over two nodes."""
    space = 2 * mas.tree.alloc.geo.slots[mte_node_type(mas.node)]
    return sib.end + 1 + cp.data < space


def push_data_sib(cp: MapleCopy, mas, sib, parent) -> None:
    """Find a sibling (left first) that fits the data with it; sib.end = 0 for none."""
    if not mte_is_root(mas, mas.node):
        sib.assign(parent)
        if sib.offset:
            sib.offset -= 1
            mas_descend(sib)
            sib.end = mas_data_end(sib)
            if data_fits(sib, mas, cp):
                return
            sib.assign(parent)
        if sib.offset < sib.end:
            sib.offset += 1
            mas_descend(sib)
            sib.end = mas_data_end(sib)
            if data_fits(sib, mas, cp):
                return
    sib.end = 0


def rebalance_sib(parent, sib) -> None:
    """The right neighbour when there is one, else the left."""
    sib.assign(parent)
    if sib.offset < sib.end:
        sib.offset += 1
    else:
        sib.offset -= 1
    mas_descend(sib)
    sib.end = mas_data_end(sib)


def spanning_sib(l_wr: WrState, r_wr: WrState, nneighbour) -> None:
    """The leaf-level (same depth) neighbour right of r, else left of l."""
    l_tmp = l_wr.mas.copy()
    r_tmp = r_wr.mas.copy()
    depth = 0
    while True:
        mas_ascend(r_tmp)
        mas_ascend(l_tmp)
        depth += 1
        if r_tmp.offset < mas_data_end(r_tmp):
            r_tmp.offset += 1
            mas_descend(r_tmp)
            r_tmp.offset = 0
            depth -= 1
            while depth:
                mas_descend(r_tmp)
                depth -= 1
            r_tmp.end = mas_data_end(r_tmp)
            nneighbour.assign(r_tmp)
            return
        if l_tmp.offset:
            l_tmp.offset -= 1
            while True:
                mas_descend(l_tmp)
                l_tmp.offset = mas_data_end(l_tmp)
                depth -= 1
                if not depth:
                    break
            l_tmp.end = l_tmp.offset
            nneighbour.assign(l_tmp)
            return
        if mte_is_root(r_tmp, r_tmp.node):
            raise AssertionError("spanning_sib: no neighbour below the root")


def split_data(cp: MapleCopy, wr: WrState, sib, parent) -> None:
    cp_data_calc(cp, wr, wr)
    if cp.data <= wr.mas.tree.alloc.geo.slots[wr.type]:
        sib.end = 0
        return
    push_data_sib(cp, wr.mas, sib, parent)
    if sib.end:
        cp.data += sib.end + 1


def rebalance_data(cp: MapleCopy, wr: WrState, sib, parent) -> None:
    geo = wr.mas.tree.alloc.geo
    cp_data_calc(cp, wr, wr)
    sib.end = 0
    if cp.data > geo.slots[wr.type]:
        push_data_sib(cp, wr.mas, sib, parent)
        if sib.end:
            cp.data += sib.end + 1
    elif cp.data <= geo.min_slots[wr.type]:
        if wr.mas.min != 0 or wr.mas.max != MAX:
            rebalance_sib(parent, sib)
            cp.data += sib.end + 1


def spanning_data(cp: MapleCopy, l_wr: WrState, r_wr: WrState, sib) -> None:
    cp_data_calc(cp, l_wr, r_wr)
    if ((l_wr.mas.min != 0 or r_wr.mas.max != MAX)
            and cp.data <= l_wr.mas.tree.alloc.geo.min_slots[l_wr.type]):
        spanning_sib(l_wr, r_wr, sib)
        cp.data += sib.end + 1
    else:
        sib.end = 0


def cp_split_point(data: int, nslots: int, leaf: bool, entry_at) -> tuple[int, int]:
    """(destination count, split) for ``data`` entries; ``entry_at(i)`` is the i-th
    entry (0-based over all sources).  Runs on z3 entries too (lemmas_copy).

    One node when it fits; else two, split at (data - 1) / 2; at exactly two
    full nodes of leaf data the split moves one right off a NULL, or two left
    when that overfills; three nodes split at (data + 2) / 3 otherwise.
    """
    if data <= nslots:
        return 1, data - 1
    split = (data - 1) // 2
    if data < nslots * 2:
        return 2, split
    if data == nslots * 2:
        if not leaf or not br(is_null(entry_at(split))):
            return 2, split
        split += 1
        if split < nslots:
            return 2, split
        split -= 2
        if data - 2 - split < nslots:
            return 2, split
    return 3, (data + 2) // 3


def dst_setup(cp: MapleCopy, mas, mt: int) -> None:
    """Choose the destinations (:func:`cp_split_point`) and take their nodes."""
    geo = mas.tree.alloc.geo

    def entry_at(off: int):
        s = 0
        while s < cp.s_count:
            s_off = cp.src[s].end - cp.src[s].start
            if s_off >= off:
                break
            off -= s_off + 1
            s += 1
        src = cp.src[s]
        return src.node.slot[off + src.start]

    cp.d_count, cp.split = cp_split_point(cp.data, geo.slots[mt], ma_is_leaf(mt), entry_at)
    for i in range(cp.d_count):
        d = cp.dst[i]
        d.mt = mt
        d.enode = mas_pop_node(mas, mt)
        d.node = mas.tree.alloc.nodes[d.enode >> 8]


def append_mas_cp(cp: MapleCopy, mas, start: int, end: int) -> None:
    node = mas_mn(mas)
    mt = mte_node_type(mas.node)
    mx = mas.max if mas.end <= end else node.pivot[end]
    cp.src.append(CpSrc(node, mt, mx, start, end))
    cp.s_count += 1


def append_wr_mas_cp(cp: MapleCopy, wr: WrState, start: int, end: int) -> None:
    mx = wr.mas.max if wr.mas.end <= end else wr.pivots[end]
    cp.src.append(CpSrc(wr.node, wr.type, mx, start, end))
    cp.s_count += 1


def init_cp_src(cp: MapleCopy) -> None:
    cp.src.append(CpSrc(cp, maple_copy, cp.max, 0, cp.end))
    cp.s_count += 1


def multi_src_setup(cp: MapleCopy, l_wr: WrState, r_wr: WrState, sib) -> None:
    """Sources in key order: left sibling, left part, cp, right part, right sibling."""
    cp.s_count = 0
    cp.src = []
    if sib.end and sib.max < l_wr.mas.min:
        append_mas_cp(cp, sib, 0, sib.end)
    if l_wr.mas.offset:
        append_wr_mas_cp(cp, l_wr, 0, l_wr.mas.offset - 1)
        cp.src[-1].max = cp.min - 1
    init_cp_src(cp)
    if r_wr.mas.end != r_wr.offset_end:
        append_wr_mas_cp(cp, r_wr, r_wr.offset_end + 1, r_wr.mas.end)
    if sib.end and sib.min > r_wr.mas.max:
        append_mas_cp(cp, sib, 0, sib.end)


def cp_data_write(cp: MapleCopy, mas) -> None:
    """Copy the sources into the destinations, ``split + 1`` entries for each but
    the last; a non-final leaf destination never ends on NULL (the NULL moves on)."""
    geo = mas.tree.alloc.geo
    data_offset = 0
    s = d = 0
    src = cp.src[s]
    s_offset = src.start
    split = cp.split
    while True:
        dst_offset = 0
        d_max = 0
        dst = cp.dst[d]
        dst_size = split + 1
        while dst_size:
            size = min(src.end - s_offset + 1, dst_size)
            d_max = node_copy(mas, src.node, s_offset, size, src.max, src.mt, dst.node,
                              dst.enode, dst_offset, dst.mt)
            dst_offset += size
            s_offset += size
            if s_offset > src.end:
                s += 1
                if s >= cp.s_count:
                    dst.max = d_max
                    node_finalise(dst.node, dst.mt, geo, dst_offset)
                    return
                src = cp.src[s]
                s_offset = src.start
            dst_size -= size
            data_offset += size
        split = cp.split
        dst.max = d_max
        if dst.max != MAX and not dst.node.slot[dst_offset - 1]:
            if s_offset == src.start:
                s -= 1
                src = cp.src[s]
                s_offset = src.end
            else:
                s_offset -= 1
            split += 1
            data_offset -= 1
            dst_offset -= 1
            dst.max = dst.node.pivot[dst_offset - 1]
        node_finalise(dst.node, dst.mt, geo, dst_offset)
        d += 1
        if d == cp.d_count - 1:
            split = cp.data - data_offset
        if d >= cp.d_count:
            return
        if data_offset > cp.data:
            return


def cp_dst_to_slots(cp: MapleCopy, min: int, max: int, mas) -> None:
    """The destinations become cp's slots (with their max gaps) for the next level."""
    slot_min = min
    alloc = mas.tree.ma_flags & 1
    for d in range(cp.d_count):
        dst = cp.dst[d]
        slot_max = dst.max
        cp.slot[d] = dst.enode
        cp.pivot[d] = slot_max
        if alloc:
            if ma_is_leaf(dst.mt):
                cp.gap[d] = ma_leaf_max_gap(dst.node, dst.mt, slot_min, slot_max)
            elif dst.node.gap is not None:
                cp.gap[d] = dst.node.gap[dst.node.meta_gap]
        slot_min = slot_max + 1
    cp.end = cp.d_count - 1
    cp.min = min
    cp.max = max


def cp_is_new_root(cp: MapleCopy, mas) -> bool:
    """cp covers the whole key space: its node (or a new node over its slots) is the root."""
    if cp.min or cp.max != MAX:
        return False
    tree = mas.tree
    if cp.d_count != 1:
        mt = maple_arange_64 if tree.ma_flags & 1 else maple_range_64
        cp.data = cp.d_count
        cp.s_count = 0
        cp.src = []
        dst_setup(cp, mas, mt)
        init_cp_src(cp)
        d0 = cp.dst[0]
        node_copy(mas, cp, 0, cp.data, cp.max, maple_copy, d0.node, d0.enode, 0, mt)
        node_finalise(d0.node, mt, tree.alloc.geo, cp.end + 1)
        cp.slot[0] = d0.enode
        cp.height += 1
    cp.dst[0].node.parent = tree.addr | 1
    mas.min = 0
    mas.max = MAX
    mas.depth = 0
    mas.node = tree.ma_root & ~2
    return True


def cp_converged(cp: MapleCopy, mas, sib) -> bool:
    """One destination replacing one node: it takes that node's parent word; done."""
    if cp.d_count != 1 or sib.end:
        return False
    cp.dst[0].node.parent = mas_mn(mas).parent
    return True


def copy_tree_location(src, dst) -> None:
    dst.node, dst.offset, dst.min, dst.max = src.node, src.offset, src.min, src.max
    dst.end, dst.depth = src.end, src.depth


def wr_mas_setup(wr: WrState, mas) -> None:
    """The write state over mas's node at mas.offset."""
    node = wr.node = mas_mn(mas)
    wr.type = mte_node_type(mas.node)
    pivots = wr.pivots = node.pivot
    wr.slots = node.slot
    wr.r_min = safe_min(pivots, mas.offset, mas.min)
    wr.r_max = safe_pivot(pivots, mas.offset, mas.max)


def wr_mas_ascend(wr: WrState) -> None:
    mas = wr.mas
    mas_ascend(mas)
    wr_mas_setup(wr, mas)
    mas.end = ma_data_end(wr.node, wr.type, mas.max)
    wr.end_piv = wr.r_max
    wr.offset_end = mas.offset


# ------------------------------------------------------------------ ascending


def split_ascend(cp: MapleCopy, wr: WrState, sib, parent) -> bool:
    mas = wr.mas
    min_, max_ = mas.min, mas.max
    wr.offset_end = parent.offset
    if sib.end:
        if sib.max < mas.min:
            min_ = sib.min
            parent.offset -= 1
        else:
            max_ = sib.max
            wr.offset_end += 1
    return _ascend_to(cp, wr, sib, parent, min_, max_)


def _ascend_to(cp: MapleCopy, wr: WrState, sib, parent, min_: int, max_: int) -> bool:
    """Shared tail of split_ascend / rebalance_ascend: slots for [min_, max_], stop at
    a new root or a converged level, else move the write state to the parent."""
    mas = wr.mas
    cp_dst_to_slots(cp, min_, max_, mas)
    if cp_is_new_root(cp, mas) or cp_converged(cp, mas, sib):
        return False
    cp.height += 1
    copy_tree_location(parent, mas)
    wr_mas_setup(wr, mas)
    return True


def rebalance_ascend(cp: MapleCopy, wr: WrState, sib, parent) -> bool:
    mas = wr.mas
    if not sib.end:
        min_, max_ = mas.min, mas.max
    elif sib.min > mas.max:
        min_, max_ = mas.min, sib.max
        wr.offset_end = parent.offset + 1
    else:
        min_, max_ = sib.min, mas.max
        wr.offset_end = parent.offset
        parent.offset -= 1
    return _ascend_to(cp, wr, sib, parent, min_, max_)


def spanning_ascend(cp: MapleCopy, mas, l_wr: WrState, r_wr: WrState, sib) -> bool:
    if sib.end:
        if sib.max < l_wr.mas.min:
            l_wr.mas.assign(sib)
        else:
            r_wr.mas.assign(sib)
    cp_dst_to_slots(cp, l_wr.mas.min, r_wr.mas.max, mas)
    if cp_is_new_root(cp, mas):
        return False
    if cp.d_count == 1 and l_wr.mas.node == r_wr.mas.node:
        cp.dst[0].node.parent = mas_mn(mas).parent
        return False
    cp.height += 1
    wr_mas_ascend(l_wr)
    wr_mas_ascend(r_wr)
    return True


# ------------------------------------------------------------------ the stores


def mas_update_gap_known(mas, gap: int) -> None:
    pword = mas_mn(mas).parent
    pslot = ma_parent_slot(pword)
    if mas.tree.alloc.nodes[pword >> 8].gap[pslot] != gap:
        mas_parent_gap(mas, pslot, gap)


def mas_wmb_replace(mas, cp: MapleCopy) -> None:
    """Publish cp.slot[0] in place of mas.node, then fix the parent's gap."""
    old_enode = mas.node
    mas.node = cp.slot[0]
    mas_topiary_replace(mas, old_enode, cp.height)
    if mas.tree.ma_flags & 1 and not mte_is_root(mas, mas.node):
        mas_update_gap_known(mas, cp.gap[0])


def _level_loop(wr: WrState, data_fn, ascend_fn) -> None:
    mas = wr.mas
    parent = mas.copy()
    sib = mas.copy()
    cp = MapleCopy()
    cp_leaf_init(cp, mas, wr, wr)
    while True:
        if not mte_is_root(parent, parent.node):
            mas_ascend(parent)
            parent.end = mas_data_end(parent)
        data_fn(cp, wr, sib, parent)
        multi_src_setup(cp, wr, wr, sib)
        dst_setup(cp, mas, wr.type)
        cp_data_write(cp, mas)
        if not ascend_fn(cp, wr, sib, parent):
            break
    mas_wmb_replace(mas, cp)


def mas_wr_split(wr: WrState) -> None:
    """A leaf over-full after the write: split it, pushing into a sibling with room."""
    _level_loop(wr, split_data, split_ascend)


def mas_wr_rebalance(wr: WrState) -> None:
    """A leaf under-full after the write: take in (or merge with) a neighbour."""
    _level_loop(wr, rebalance_data, rebalance_ascend)


def mas_wr_spanning_store(wr: WrState) -> None:
    """A write over node boundaries: left and right leaves joined level by level."""
    from .spanning import mas_extend_spanning_null, mas_new_root, spanning_right  # noqa: PLC0415
    from .wr_state import mas_wr_walk_index  # noqa: PLC0415
    mas = wr.mas
    if not mas.index and mas.last == MAX:
        mas_new_root(mas, wr.entry)
        return
    r_wr = spanning_right(wr)
    r_mas = r_wr.mas
    r_wr.end_piv = r_wr.r_max
    mas_wr_walk_index(wr)
    if not wr.entry:
        mas_extend_spanning_null(wr, r_wr)
        mas.last = r_mas.last
    if not mas.index and r_mas.last == MAX:
        mas.set_range(0, MAX)
        mas_new_root(mas, wr.entry)
        return
    cp = MapleCopy()
    sib = mas.copy()
    cp_leaf_init(cp, mas, wr, r_wr)
    while True:
        spanning_data(cp, wr, r_wr, sib)
        multi_src_setup(cp, wr, r_wr, sib)
        dst_setup(cp, mas, wr.type)
        cp_data_write(cp, mas)
        if not spanning_ascend(cp, mas, wr, r_wr, sib):
            break
    mas_wmb_replace(mas, cp)
