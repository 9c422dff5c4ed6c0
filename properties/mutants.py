# SPDX-License-Identifier: GPL-2.0-or-later
"""Deliberately wrong node helpers: every lemma's must-fail variant.

Each mutant is one small, plausible mistake in the helper a lemma covers.  The
lemma run on the mutant must end in a z3 counterexample; tests/test_prove*.py
checks that, so a lemma that cannot tell right from wrong is caught.
"""

from __future__ import annotations

from maplecheck.impl.pytree import node as N
from maplecheck.impl.pytree import maple_copy as C
from maplecheck.impl.pytree import node_ops as O
from maplecheck.impl.pytree.node_ops import BigNode, Layout, br, is_null
from maplecheck.logic import If

# ------------------------------------------------------------------ encodings


def mt_mk_node_shift2(addr, type):
    """type shifted by 2 instead of 3."""
    return addr | (type << 2) | N.MAPLE_ENODE_NULL


def mt_mk_node_no_null_bit(addr, type):
    """forgets MAPLE_ENODE_NULL (bit 2)."""
    return addr | (type << 3)


def mt_mk_root_bit0(enode):
    """root marked with bit 0 instead of bit 1."""
    return enode | 0x01


def ma_parent_slot_shift2(parent):
    """parent slot read with shift 2 (the 16-bit-slot encoding) instead of 3."""
    import z3
    return If(N.ma_is_root_parent(parent), z3.BitVecVal(0, 64), z3.LShR(parent & 0xFC, 2))


def ma_parent_slot_no_root_test(parent):
    """forgets that the root's parent word has no slot."""
    import z3
    return z3.LShR(parent & N.MAPLE_PARENT_SLOT_MASK, 3)


def ma_dead_enode(parent, addr):
    """compares the parent word with the encoded node instead of its address."""
    return N.ma_parent_addr(parent) == (addr | N.MAPLE_ENODE_NULL)


def ma_set_meta_gap_shift4(node, type, gap, end):
    """packs the overlay as end | gap << 4."""
    if type == N.maple_arange_64:
        node.meta_end, node.meta_gap = end, gap
    elif N._is_bv(end):
        node.slot[-1] = end | (gap << 4)
    else:
        node.slot[-1] = end + gap * 16


def ma_set_meta_arange_overlay(node, type, gap, end):
    """treats arange like range: writes the overlay over slot 9 too."""
    node.meta_end, node.meta_gap = end, gap
    node.slot[-1] = end + gap * 256


def ma_data_end_off_by_one(node, type, max):
    """a last pivot equal to max reads as a full node; arange: a full node reads one short."""
    if type == N.maple_arange_64:
        return If(node.meta_end >= 9, node.meta_end - 1, node.meta_end)
    npiv = len(node.pivot)
    last = node.pivot[npiv - 1]
    return If(last == 0, N._meta_byte(node.slot[-1], 0), npiv)


def mas_safe_pivot_off_by_one(node, offset, max):
    """the implied max is used one offset too early."""
    if isinstance(offset, int):
        return max if offset >= len(node.pivot) - 1 else node.pivot[offset]
    return O_select(node.pivot[:-1], offset, max)


def O_select(seq, offset, default):
    out = default
    for i in range(len(seq) - 1, -1, -1):
        out = If(offset == i, seq[i], out)
    return out


# ------------------------------------------------------------------ write steps

# the real steps, bound now: a lemma swaps the module attribute for the mutant
_SLOT_STORE = O.slot_store_layout
_NODE_STORE = O.node_store_layout
_MAS_MAB_CP = O.mas_mab_cp

def wr_new_end_no_exact_end(end, offset, offset_end, r_min, index, end_piv, last):
    """forgets that a write ending exactly on a pivot does not add a slot."""
    return end + 2 - (offset_end - offset) - If(r_min == index, 1, 0)


def wr_extend_null_no_prev(pivots, slots, end, offset, offset_end, index, last, r_min, r_max,
                           end_piv, min, max):
    """does not absorb a NULL previous slot."""
    if br(is_null(slots[offset_end])):
        last = end_piv
    elif offset_end != end and br(last == end_piv) and br(is_null(slots[offset_end + 1])):
        offset_end += 1
        last = max if offset_end == end else pivots[offset_end]
        end_piv = last
    if br(is_null(slots[offset])):
        index = r_min
    return offset, offset_end, index, last, r_min, r_max, end_piv


def slot_store_layout_bad(pivots, slots, end, offset, offset_end, index, last, entry, r_min,
                          rcu=False):
    """two-slot store that writes pivot index instead of index - 1."""
    pivots = list(pivots)
    slots = list(slots)
    if offset_end - offset == 1:
        if br(index == r_min):
            slots[offset] = entry
            pivots[offset] = last
        else:
            slots[offset + 1] = entry
            pivots[offset] = index
            offset += 1
    elif not rcu:
        slots[offset + 1] = entry
        pivots[offset] = index - 1
        pivots[offset + 1] = last
        offset += 1
    else:
        return None
    return Layout(pivots, slots, end, offset, True)


def slot_store_layout_no_gap(pivots, slots, end, offset, offset_end, index, last, entry, r_min,
                             rcu=False):
    """right layout, but asks for a gap update only when the new entry is NULL."""
    lay = _SLOT_STORE(pivots, slots, end, offset, offset_end, index, last, entry, r_min, rcu)
    return lay._replace(update_gap=is_null(entry))


def node_store_layout_no_max(pivots, slots, end, offset, offset_end, index, last, entry, r_min,
                             end_piv, max, new_end, leaf=True):
    """node store that forgets the explicit max pivot after the copied tail."""
    lay = _NODE_STORE(pivots, slots, end, offset, offset_end, index, last, entry, r_min,
                      end_piv, max, new_end, leaf)
    p = list(lay.pivots)
    if new_end < len(p) and new_end > lay.offset:
        p[new_end] = 0 if new_end else p[new_end]
    return lay._replace(pivots=p)


def append_layout_bad(pivots, slots, end, new_end, index, last, r_max, entry, leaf=True):
    """append that does not move the max pivot to the new end."""
    pivots = list(pivots)
    slots = list(slots)
    content = slots[end]
    if new_end < len(pivots) and leaf:
        slots[-1] = O.ma_meta_word(new_end, 0)
    offset = end
    if new_end == end + 1:
        if br(last == r_max):
            slots[new_end] = entry
            pivots[end] = index - 1
            offset = new_end
        else:
            slots[new_end] = content
            pivots[end] = last
            slots[end] = entry
    else:
        slots[new_end] = content
        pivots[end + 1] = last
        slots[end + 1] = entry
        pivots[end] = index - 1
        offset = end + 1
    return Layout(pivots, slots, new_end, offset, True)


def exact_fit_layout_two(slots, offset, entry):
    """replace that also clears the next slot's NULL-ness bookkeeping: writes two slots."""
    old = slots[offset]
    slots = list(slots)
    slots[offset] = entry
    if offset + 1 < len(slots) - 1:
        slots[offset + 1] = entry
    return slots, is_null(old) != is_null(entry)


def exact_fit_layout_always_gap(slots, offset, entry):
    """asks for a gap update only when the new entry is NULL (misses NULL -> entry)."""
    old = slots[offset]
    slots = list(slots)
    slots[offset] = entry
    return slots, is_null(entry)


# ------------------------------------------------------------------ split

def mab_no_null_split_none(b_slots, b_end, split, slot_count, min_slots):
    """no adjustment: the left node may end on a NULL."""
    return split


def mab_calc_split_no_null_fix(b_slots, b_end, slot_count, min_slots, leaf, bulk=False):
    split = b_end // 2
    if O.mab_middle_node(b_slots, b_end, split, slot_count):
        split = b_end // 3
    return split, 0, False


def mab_mas_cp_keep_zero(b: BigNode, mab_start, mab_end, nslots, leaf, alloc):
    """copy-out that takes one slot too many (ignores the end offset by one)."""
    return O.mab_mas_cp(b, mab_start, mab_end + 1, nslots, leaf, alloc)


def mas_mab_cp_skip_last(pivots, slots, gaps, max, mas_start, mas_end, b_pivots, b_slots, b_gaps,
                         mab_start):
    """copy-in that stops one slot early."""
    return _MAS_MAB_CP(pivots, slots, gaps, max, mas_start, max_end_minus(mas_end), b_pivots,
                        b_slots, b_gaps, mab_start)


def max_end_minus(mas_end):
    return mas_end - 1 if mas_end > 0 else mas_end


# ------------------------------------------------------------------ gaps

def leaf_max_gap_plus_one(pivots, slots, end, min, max):
    """a middle NULL slot counts pivot[i] - pivot[i-1] + 1 (one too many)."""
    null0 = is_null(slots[0])
    max_gap = If(null0, pivots[0] - min + 1, 0)
    max_piv = end - 1
    if max_piv < 0:
        return max_gap
    top = O.And(max == N.ULONG_MAX, is_null(slots[max_piv + 1]))
    with_top = If(top, O._max2(max_gap, N.ULONG_MAX - pivots[max_piv]), max_gap)
    early = O.And(top, with_top > pivots[max_piv] - min)
    best = with_top
    skip = null0
    for i in range(1, max_piv + 1):
        counted = O.And(is_null(slots[i]), O.Not(skip))
        best = If(counted, O._max2(best, pivots[i] - pivots[i - 1] + 1), best)
        skip = counted
    return If(early, with_top, best)


def ma_max_gap_low_wins(gaps, end):
    """scans low to high with '>': ties go to the lowest offset."""
    offset = 0
    max_gap = 0
    for i in range(end + 1):
        better = gaps[i] > max_gap
        offset = If(better, i, offset)
        max_gap = If(better, gaps[i], max_gap)
    return max_gap, offset


def parent_gap_step_no_rescan(gaps, end, meta_gap, offset, new):
    """never rescans when the largest gap shrinks."""
    old_max = O.select(gaps, meta_gap)
    gaps[offset] = new
    if br(old_max == new):
        return gaps, meta_gap, None
    if br(offset != meta_gap):
        if br(old_max > new):
            return gaps, meta_gap, None
        return gaps, offset, new
    return gaps, meta_gap, new


# ------------------------------------------------------------------ dup

def dup_parent_word_mask7(src_parent, new_parent_addr):
    """keeps only the low 3 bits: loses the parent slot."""
    return (src_parent & 0x07) | new_parent_addr


def dup_child_enode_no_type(src_enode, new_child_addr):
    """keeps only bit 2: loses the child's type."""
    return new_child_addr | (src_enode & 0x04)


# ------------------------------------------------------------------ 7.3 copy-node helpers

# the real helpers, bound once: a test swaps the tree's own for these mutants
_cp_split_point, _node_copy, _node_finalise = C.cp_split_point, C.node_copy, C.node_finalise


def cp_split_point_ignores_null(data, nslots, leaf, entry_at):
    """never moves a two-full-leaves split off a NULL."""
    return _cp_split_point(data, nslots, False, entry_at)


def node_copy_no_last_pivot(mas, src, start, size, s_max, s_mt, dst, d_enode, d_start, d_mt):
    """returns the max but forgets to store the last copied pivot."""
    keep = dst.pivot[d_start + size - 1] if d_start + size - 1 < len(dst.pivot) else None
    d_max = _node_copy(mas, src, start, size, s_max, s_mt, dst, d_enode, d_start, d_mt)
    if keep is not None and size > 0:
        dst.pivot[d_start + size - 1] = keep
    return d_max


def node_finalise_meta_size(node, mt, geo, end):
    """records the size (end) in the metadata instead of the last offset (end - 1)."""
    _node_finalise(node, mt, geo, end + 1 if end + 1 <= geo.slots[mt] - 1 else end)
