# SPDX-License-Identifier: GPL-2.0-or-later
"""Node-level write steps: the layouts the write paths put into a node.

Every function here works on a node's plain fields (pivot list, slot list,
gaps, data end, limits) and on the write's position in the node (``offset``,
``offset_end``, ``r_min``, ``end_piv``, ... as the kernel's ``ma_wr_state``
holds them).  The steps the kernel does in place (exact fit, slot store,
append, one level of the parent-gap climb) write into the lists they are
given, as the tree needs; the others build new lists.  The tree code
(impl/pytree/write*.py, split, rebalance, dup, replace) calls these to build
the node contents, and the lemmas in properties/lemmas*.py run *the same
functions* on z3 terms (on copies where a step works in place), so a proof is
about the code that runs.

Conventions
-----------
* ``pivots`` has ``nslots - 1`` entries, ``slots`` has ``nslots`` entries; a
  NULL slot is ``None`` (or a z3 term equal to 0 in a lemma).
* Structural arguments (offsets, data ends, slot counts) are Python ints.
  Values (indices, pivots, entries) may be ints or z3 terms.
* A branch on a value is written ``if br(cond):``.  On Python values ``br`` is
  the identity; during a proof the lemma engine installs an oracle that forks
  the run on a symbolic condition and records the path condition
  (see :mod:`maplecheck.properties.symexec`).  That is what lets kernel-shaped
  code with ``if`` and loops run symbolically.
* Branches on structural ints stay plain ``if``.
"""

from __future__ import annotations

from typing import NamedTuple

from maplecheck.logic import And, If, Implies, Not, Or

from .node import MAPLE_NODE_MASK, ULONG_MAX, ma_meta_word, safe_pivot
from .rcu import rcu_point

# ------------------------------------------------------------------ branching

#: installed by :mod:`maplecheck.properties.symexec` while a lemma runs
_oracle = None


def br(cond):
    """A value-dependent branch: identity on Python values, a fork on z3 terms."""
    if _oracle is None or cond is True or cond is False:
        return cond
    return _oracle(cond)


def set_oracle(oracle) -> None:
    global _oracle
    _oracle = oracle


def is_null(x):
    """A NULL slot: None on Python values, ``x == 0`` on a z3 term (NULL is 0)."""
    if x is None:
        return True
    return x == 0


# ------------------------------------------------------------------ node reads

def safe_min(pivots, offset: int, min):
    """mas_safe_min(): the first index of slot ``offset``: the node min, or the
    previous pivot + 1.  One past a full node C reads the word after the pivots
    (slot 0); no path uses that value, 0 stands for it."""
    if offset == 0:
        return min
    if type(offset) is int and offset > len(pivots):
        return 0
    return pivots[offset - 1] + 1


class Layout(NamedTuple):
    """What a write step leaves in a node (the lists it wrote; ``end`` = data end)."""

    pivots: list
    slots: list
    end: int
    offset: object = 0        # the offset the written entry ended up in
    update_gap: object = False  # whether the kernel calls mas_update_gap afterwards


# ------------------------------------------------------------------ write setup

def wr_end_piv(pivots, end: int, offset_end: int, last, max):
    """mas_wr_end_piv(): the slot holding ``last`` and its end, from ``offset_end`` on.

    Returns ``(offset_end, end_piv)``.  ``offset_end`` stays a Python int: the
    loop forks on the pivot comparison.
    """
    while offset_end < end and br(last > pivots[offset_end]):
        offset_end += 1
    end_piv = pivots[offset_end] if offset_end < end else max
    return offset_end, end_piv


def wr_extend_null(pivots, slots, end: int, offset: int, offset_end: int, index, last,
                   r_min, r_max, end_piv, min, max):
    """mas_wr_extend_null(): widen a NULL write over the neighbouring NULL slots.

    Returns ``(offset, offset_end, index, last, r_min, r_max, end_piv)``.
    """
    if br(is_null(slots[offset_end])):
        # this one is NULL, so the next one is not
        last = end_piv
    elif offset_end != end and br(last == end_piv) and br(is_null(slots[offset_end + 1])):
        offset_end += 1
        last = max if offset_end == end else pivots[offset_end]
        end_piv = last

    if br(is_null(slots[offset])):
        index = r_min
    elif offset and br(index == r_min) and br(is_null(slots[offset - 1])):
        offset -= 1
        r_min = index = safe_min(pivots, offset, min)
        r_max = pivots[offset]
    return offset, offset_end, index, last, r_min, r_max, end_piv


def wr_new_end(end: int, offset: int, offset_end: int, r_min, index, end_piv, last) -> int:
    """mas_wr_new_end(): the data end after the write."""
    new_end = end + 2 - (offset_end - offset)
    if br(r_min == index):
        new_end -= 1
    if br(end_piv == last):
        new_end -= 1
    return new_end


def is_span_wr(r_max, last, node_max, leaf: bool, entry):
    """mas_is_span_wr(): does a write ending at ``last`` cross this node's bound?

    A pure predicate (no branches): True/False on ints, a z3 bool on terms.
    """
    bound = node_max if leaf else r_max
    inside = last < (r_max if not leaf else node_max)
    return And(Not(inside), Implies(last == bound, Not(Or(Not(is_null(entry)), last == ULONG_MAX))))


# enum store_type values (impl/pytree/state.py has the same numbers)
WR_EXACT_FIT, WR_NEW_ROOT, WR_REBALANCE, WR_NODE_STORE, WR_SPLIT_STORE, WR_APPEND, WR_SLOT_STORE = (
    3, 1, 6, 8, 5, 7, 9)


class LeafWrite(NamedTuple):
    """The leaf part of mas_wr_store_type(): where the write lands and how."""

    store_type: int
    offset: int
    offset_end: int
    index: object
    last: object
    r_min: object
    r_max: object
    end_piv: object
    content: object
    new_end: int


def leaf_write_setup(pivots, slots, end: int, offset: int, index, last, entry, min, max,
                     min_slots: int, nslots: int, is_root: bool, rcu: bool, bulk: bool = False,
                     v7: bool = False):
    """From the walk's slot ``offset`` (the slot holding ``index``) to the store type.

    mas_wr_end_piv, mas_wr_extend_null for a NULL entry, mas_wr_new_end, then
    the classification of mas_wr_store_type in the kernel's order.  The write
    must not be spanning (:func:`is_span_wr`).  ``v7``: the 7.3 choice (bulk
    mode no longer blocks a rebalance; an under-full root outside RCU mode may
    still append or slot-store).
    """
    r_min = safe_min(pivots, offset, min)
    r_max = safe_pivot(pivots, offset, max)
    offset_end, end_piv = wr_end_piv(pivots, end, offset, last, max)
    if br(is_null(entry)):
        offset, offset_end, index, last, r_min, r_max, end_piv = wr_extend_null(
            pivots, slots, end, offset, offset_end, index, last, r_min, r_max, end_piv, min, max)
    content = slots[offset]
    new_end = wr_new_end(end, offset, offset_end, r_min, index, end_piv, last)
    if br(r_min == index) and br(r_max == last):
        st = WR_EXACT_FIT
    elif br(index == 0) and br(last == ULONG_MAX):
        st = WR_NEW_ROOT
    elif new_end < min_slots:
        if not is_root and (v7 or not bulk):
            st = WR_REBALANCE
        elif v7 and not rcu and offset == end:
            st = WR_APPEND
        elif v7 and not rcu and new_end == end and offset_end - offset == 1:
            st = WR_SLOT_STORE
        else:
            st = WR_NODE_STORE
    elif new_end >= nslots:
        st = WR_SPLIT_STORE
    elif not rcu and offset == end:
        st = WR_APPEND
    elif new_end == end and (not rcu or offset_end - offset == 1):
        st = WR_SLOT_STORE
    else:
        st = WR_NODE_STORE
    return LeafWrite(st, offset, offset_end, index, last, r_min, r_max, end_piv, content, new_end)


def leaf_write_layout(pivots, slots, end: int, w: LeafWrite, entry, max, rcu: bool = False):
    """The in-node layout for an exact_fit, slot_store, append or node_store write.

    Runs the tree's own in-leaf steps on copies of the node's lists (the tree runs
    them on the node itself), so the caller's lists are left as they were.
    """
    st = w.store_type
    pivots = list(pivots)
    slots = list(slots)
    if st == WR_EXACT_FIT:
        new_slots, upd = exact_fit_layout(slots, w.offset, entry)
        return Layout(pivots, new_slots, end, w.offset, upd)
    if st == WR_SLOT_STORE:
        return slot_store_layout(pivots, slots, end, w.offset, w.offset_end, w.index, w.last,
                                 entry, w.r_min, rcu)
    if st == WR_APPEND:
        return append_layout(pivots, slots, end, w.new_end, w.index, w.last, w.r_max, entry)
    if st == WR_NODE_STORE:
        return node_store_layout(pivots, slots, end, w.offset, w.offset_end, w.index, w.last,
                                 entry, w.r_min, w.end_piv, max, w.new_end)
    return None


# ------------------------------------------------------------------ in-leaf stores

def slot_store_layout(pivots, slots, end: int, offset: int, offset_end: int, index, last,
                      entry, r_min, rcu: bool = False):
    """mas_wr_slot_store(): overwrite two (or, not in RCU mode, three) slots in place.

    Writes into the lists it is given (the node's own, in the tree), entry before
    pivot as the kernel does, with an RCU point after each published entry.  The
    slot count is unchanged.  Returns a :class:`Layout` over the same lists, or
    None when the kernel declines (a three-slot write in RCU mode goes to node store).
    """
    gap = Or2(is_null(slots[offset]), is_null(slots[offset + 1]))
    if offset_end - offset == 1:
        if br(index == r_min):
            # the whole first range and part of the next
            slots[offset] = entry
            rcu_point("assign")
            pivots[offset] = last
        else:
            # part of the first range and the whole next one
            slots[offset + 1] = entry
            rcu_point("assign")
            pivots[offset] = index - 1
            offset += 1
    elif not rcu:
        # the new range sits inside three: shrink the outer two
        gap = Or2(gap, is_null(slots[offset + 2]))
        slots[offset + 1] = entry
        pivots[offset] = index - 1
        pivots[offset + 1] = last
        offset += 1
    else:
        return None
    return Layout(pivots, slots, end, offset, Or2(is_null(entry), gap))


def Or2(a, b):
    """a or b, symbolic when either is."""
    if (a is True or a is False) and (b is True or b is False):
        return a or b
    return Or(a, b)


def node_store_layout(pivots, slots, end: int, offset: int, offset_end: int, index, last,
                      entry, r_min, end_piv, max, new_end: int, leaf: bool = True):
    """mas_wr_node_store(): rebuild the node's layout around the new range.

    Builds into a zeroed node (pivots 0, slots NULL), as the kernel does both
    for the on-stack copy (non-RCU) and the new node (RCU).  ``new_end`` is the
    value of :func:`wr_new_end` for this write.  Sets the last-slot metadata
    of a leaf when the node is not full.
    """
    nslots = len(slots)
    node_pivots = len(pivots)
    if br(last == end_piv):
        offset_end += 1  # that slot is wholly overwritten: don't copy it
    dst_p = [0] * node_pivots
    dst_s = [None] * nslots
    dst_p[:offset] = pivots[:offset]
    dst_s[:offset] = slots[:offset]
    if br(r_min < index):
        # the old content keeps [r_min, index - 1]
        dst_s[offset] = slots[offset]
        dst_p[offset] = index - 1
        offset += 1
    if offset < node_pivots:
        dst_p[offset] = last
    dst_s[offset] = entry
    if offset_end <= end:
        dst_offset = offset + 1
        copy_size = end - offset_end + 1
        dst_s[dst_offset:dst_offset + copy_size] = slots[offset_end:offset_end + copy_size]
        n_piv = copy_size - 1
        dst_p[dst_offset:dst_offset + n_piv] = pivots[offset_end:offset_end + n_piv]
        if new_end < node_pivots:
            dst_p[new_end] = max
    if leaf and new_end < nslots - 1:
        dst_s[-1] = ma_meta_word(new_end, 0)
    return Layout(dst_p, dst_s, new_end, offset, True)


def append_layout(pivots, slots, end: int, new_end: int, index, last, r_max, entry,
                  leaf: bool = True):
    """mas_wr_append(): a write that starts in the last slot, done in place.

    Writes into the lists it is given (the node's own, in the tree) in the
    kernel's order, with an RCU point after each published slot; only slots past
    the old data end are written before the pivot that exposes them.  ``new_end``
    is ``end + 1`` or ``end + 2`` (:func:`wr_new_end`).
    """
    content = slots[end]
    node_pivots = len(pivots)
    if new_end < node_pivots:
        pivots[new_end] = pivots[end]
        if leaf:
            slots[-1] = ma_meta_word(new_end, 0)
    offset = end
    if new_end == end + 1:
        if br(last == r_max):
            # the new range ends the old one
            slots[new_end] = entry
            rcu_point("assign")
            pivots[end] = index - 1
            offset = new_end
        else:
            # the new range starts the old one
            slots[new_end] = content
            rcu_point("assign")
            pivots[end] = last
            slots[end] = entry
            rcu_point("assign")
    else:
        # the new range sits inside the old one
        slots[new_end] = content
        rcu_point("assign")
        pivots[end + 1] = last
        slots[end + 1] = entry
        rcu_point("assign")
        pivots[end] = index - 1
        offset = end + 1
    return Layout(pivots, slots, new_end, offset, Or2(is_null(content), is_null(entry)))


def exact_fit_layout(slots, offset: int, entry):
    """The exact-fit store (and mas_replace_entry): one slot changes, nothing else.

    Writes the entry into the list it is given (the node's own, in the tree: the
    kernel's rcu_assign_pointer) and returns ``(slots, update_gap)``; the gap is
    updated only when exactly one of the old and the new entry is NULL.
    """
    old = slots[offset]
    slots[offset] = entry
    rcu_point("assign")
    return slots, is_null(old) != is_null(entry)


# ------------------------------------------------------------------ big node

class BigNode(NamedTuple):
    """A maple_big_node: ``b_end`` is the inclusive last offset here."""

    pivots: list
    slots: list
    gaps: list
    b_end: int


def mas_mab_cp(pivots, slots, gaps, max, mas_start: int, mas_end: int,
               b_pivots: list, b_slots: list, b_gaps: list, mab_start: int) -> int:
    """mas_mab_cp(): append node slots ``mas_start..mas_end`` to a big node.

    Mutates only the big-node lists passed in (scratch space).  Returns the
    big node's ``b_end`` as the kernel leaves it (the next free offset).
    """
    npiv = len(pivots)
    i, j = mas_start, mab_start
    done = False
    if i == 0:
        b_pivots[j] = pivots[i]
        i += 1
        if i > mas_end:
            done = True
        else:
            j += 1
    if not done:
        piv_end = mas_end if mas_end < npiv else npiv
        while i < piv_end:
            b_pivots[j] = pivots[i]
            if br(b_pivots[j] == 0):
                break
            if br(max == b_pivots[j]):
                done = True
                break
            i += 1
            j += 1
        if not done and i <= mas_end:
            b_pivots[j] = safe_pivot(pivots, i, max)
    j += 1
    n = j - mab_start
    b_slots[mab_start:mab_start + n] = slots[mas_start:mas_start + n]
    if gaps is not None:
        b_gaps[mab_start:mab_start + n] = gaps[mas_start:mas_start + n]
    return j


# ------------------------------------------------------------------ split

def mab_middle_node(b_slots, b_end: int, split: int, slot_count: int):
    """mab_middle_node(): does this big node need a three-way split?"""
    if b_end >= 2 * slot_count:
        return True
    if b_end >= 2 * slot_count - 1 and br(is_null(b_slots[split])):
        return True
    return False


def mab_no_null_split(b_slots, b_end: int, split: int, slot_count: int, min_slots: int) -> int:
    """mab_no_null_split(): move a split point off a NULL slot (left end never NULL)."""
    if br(is_null(b_slots[split])):
        if split < slot_count - 1 and b_end - split > min_slots:
            split += 1
        else:
            split -= 1
    return split


def mab_calc_split(b_slots, b_end: int, slot_count: int, min_slots: int, leaf: bool,
                   bulk: bool = False):
    """mab_calc_split(): ``(split, mid_split, set_rebalance)`` for a big node.

    ``split`` is the last offset of the left node; ``mid_split`` (0 if none) the
    last offset of the middle node of a three-way split.  ``set_rebalance`` is
    the MA_STATE_REBALANCE flag that bulk mode raises at a leaf.
    """
    split = b_end // 2
    if bulk:
        split = b_end - min_slots
        if not leaf:
            return split, 0, False
        if br(is_null(b_slots[split])):
            split -= 1
        return split, 0, True
    if mab_middle_node(b_slots, b_end, split, slot_count):
        split = b_end // 3
        mid_split = split * 2
    else:
        mid_split = 0
    split = mab_no_null_split(b_slots, b_end, split, slot_count, min_slots)
    if mid_split:
        mid_split = mab_no_null_split(b_slots, b_end, mid_split, slot_count, min_slots)
    return split, mid_split, False


class NodeFields(NamedTuple):
    """A node built from a big node: lists, data end, max, and (arange) gaps + meta gap."""

    pivots: list
    slots: list
    end: int
    max: object
    gaps: list | None = None
    meta_gap: object = 0


def mab_mas_cp(b: BigNode, mab_start: int, mab_end: int, nslots: int, leaf: bool,
               alloc: bool) -> NodeFields:
    """mab_mas_cp(): copy big-node offsets ``mab_start..mab_end`` into a fresh node.

    Stops early at a 0 pivot (the kernel's end-of-data marker in a big node).
    The node's max is the last pivot copied.  Leaves get the overlay metadata
    when not full; arange nodes get gaps and ``meta_gap`` (the highest offset
    holding the largest gap, falling back to 0).
    """
    npiv = nslots - 1
    pivots = [0] * npiv
    slots = [None] * nslots
    if mab_end - mab_start > npiv:
        mab_end -= 1
    i = mab_start
    j = 0
    while True:
        if j < npiv:
            pivots[j] = b.pivots[i]
        j += 1
        i += 1
        if not (i <= mab_end and br(b.pivots[i] != 0)):
            break
    slots[:i - mab_start] = b.slots[mab_start:i]
    node_max = b.pivots[i - 1]
    end = j - 1
    if not leaf and alloc:
        gaps = [0] * nslots
        max_gap = 0
        offset = 0
        while j:
            j -= 1
            i -= 1
            gaps[j] = b.gaps[i]
            better = gaps[j] > max_gap
            offset = If(better, j, offset)
            max_gap = If(better, gaps[j], max_gap)
        return NodeFields(pivots, slots, end, node_max, gaps, offset)
    if end < nslots - 1:
        slots[-1] = ma_meta_word(end, 0)
    return NodeFields(pivots, slots, end, node_max)


# ------------------------------------------------------------------ gaps

def leaf_max_gap(pivots, slots, end: int, min, max):
    """mas_leaf_max_gap(): the largest NULL range of a (range/leaf) leaf.

    Slot 0 NULL counts ``pivot[0] - min + 1``; a middle NULL slot counts
    ``pivot[i] - pivot[i-1]``; a NULL last slot counts only in the right-most
    leaf (max == ULONG_MAX), as ``ULONG_MAX - pivot[end-1]``, and ends the scan
    early when nothing to its left could be larger.  The slot after a counted
    NULL is skipped (no two NULLs in a row).

    The kernel's loop, written as data flow (``skip`` and ``early`` are the
    kernel's ``i++`` after a gap and its early return), so it runs on ints and
    on z3 terms without forking per slot.
    """
    null0 = is_null(slots[0])
    max_gap = If(null0, pivots[0] - min + 1, 0)
    max_piv = end - 1
    if max_piv < 0:  # a one-slot leaf (the kernel's unsigned char would wrap)
        return max_gap
    top = And(max == ULONG_MAX, is_null(slots[max_piv + 1]))
    top_gap = ULONG_MAX - pivots[max_piv]
    with_top = If(top, _max2(max_gap, top_gap), max_gap)
    early = And(top, with_top > pivots[max_piv] - min)
    best = with_top
    skip = null0           # slot 1 is skipped when slot 0 was a gap
    for i in range(1, max_piv + 1):
        counted = And(is_null(slots[i]), Not(skip))
        best = If(counted, _max2(best, pivots[i] - pivots[i - 1]), best)
        skip = counted
    return If(early, with_top, best)


def _max2(a, b):
    return If(b > a, b, a)


def ma_max_gap(gaps, end: int):
    """ma_max_gap(): ``(max_gap, offset)``; scans high to low with a strict ``>``,
    so ties go to the highest offset, and all-zero gaps give the end."""
    offset = i = end
    max_gap = 0
    while True:
        better = gaps[i] > max_gap
        offset = If(better, i, offset)
        max_gap = If(better, gaps[i], max_gap)
        if i == 0:
            break
        i -= 1
    return max_gap, offset


def select(seq, k):
    """seq[k] for an int or a symbolic offset."""
    if type(k) is int:
        return seq[k]
    out = seq[0]
    for i in range(1, len(seq)):
        out = If(k == i, seq[i], out)
    return out


def parent_gap_step(gaps, end: int, meta_gap, offset: int, new):
    """One level of mas_parent_gap(): set ``gaps[offset] = new`` and fix ``meta_gap``.

    Writes into the gap list it is given (the node's own, in the tree).  Returns
    ``(gaps, meta_gap, up)``: ``up`` is the node's largest gap when it may have
    changed (the kernel climbs and writes it into the next parent), else None.
    """
    old_max = select(gaps, meta_gap)
    gaps[offset] = new
    if br(old_max == new):
        return gaps, meta_gap, None
    if br(offset != meta_gap):
        if br(old_max > new):
            return gaps, meta_gap, None
        return gaps, offset, new
    if br(new < old_max):
        new, meta_gap = ma_max_gap(gaps, end)
    return gaps, meta_gap, new


# ------------------------------------------------------------------ dup

def dup_parent_word(src_parent, new_parent_addr):
    """mas_copy_node(): the copy's parent word keeps the low byte (slot and type bits)."""
    return (src_parent & MAPLE_NODE_MASK) | new_parent_addr


def dup_child_enode(src_enode, new_child_addr):
    """mas_dup_alloc(): a new child pointer keeps the source slot's low byte (type, bit 2)."""
    return new_child_addr | (src_enode & MAPLE_NODE_MASK)
