# SPDX-License-Identifier: GPL-2.0-or-later
"""The structural invariants of a maple tree, one predicate each (facts §2, ``mt_validate``).

Every predicate is a pure function of a node's *plain fields* (ints and lists
of ints; a NULL slot is 0) and uses only comparisons, arithmetic and the
connectives of :mod:`maplecheck.logic`, so the same function runs
on ints (the validator, ``impl/pytree/validate.py``) and on z3 terms (the
lemmas).  List lengths (the geometry) are structure, not values: loops over
``range(len(...))`` are fine; branching on a *value* is not.

Notation: ``piv(i)`` = ``pivots[i]`` for ``i < len(pivots)``, else the node max
(the implied max of a full node).  ``stop`` = the first ``i`` with
``piv(i) == max`` (the kernel's validator stops there); it always exists
because ``piv(len(pivots)) == max``.

Names follow the kernel's checks; :data:`INVARIANTS` lists them all.
"""

from __future__ import annotations

from maplecheck.logic import And, If, Implies, Max, Not, Or, concrete_cache

ULONG_MAX = (1 << 64) - 1


def _piv(pivots, i: int, max_):
    return pivots[i] if i < len(pivots) else max_


def _before_stops(pivots, max_):
    """b[i] is true iff no pivot before offset i equals max (so i <= stop), i = 0..len(pivots)."""
    out = [True]
    for j in range(len(pivots)):
        out.append(And(out[-1], pivots[j] != max_))
    return out


# ------------------------------------------------------------------ (a) dead node

def node_not_dead(parent_addr, addr):
    """(a) A node in the tree is not dead: its parent word does not point at itself."""
    return parent_addr != addr


# ------------------------------------------------------------------ (b) size

def node_occupancy(end, max_, min_slots):
    """(b) A node holds at least mt_min_slots (end >= min_slots) unless its max is ULONG_MAX."""
    return Or(end >= min_slots, max_ == ULONG_MAX)


# ------------------------------------------------------------------ (c) parent slot

@concrete_cache
def parent_slot(parent_slots, pslot, enode, parent_addr, addr):
    """(c) Non-root: parent != node; parent.slot[pslot] is this enode; no other parent slot is."""
    n = len(parent_slots)
    return And(parent_addr != addr,
               pslot < n,
               *[If(pslot == i, parent_slots[i] == enode, parent_slots[i] != enode)
                 for i in range(n)])


# ------------------------------------------------------------------ (d) limits

@concrete_cache
def pivot_nonzero(pivots, max_):
    """(d) Up to the stop, no pivot after offset 0 is zero."""
    b = _before_stops(pivots, max_)
    return And(*[Implies(b[i], _piv(pivots, i, max_) != 0) for i in range(1, len(pivots) + 1)])


@concrete_cache
def pivot_ordered(pivots, max_):
    """(d) Up to the stop, pivots never decrease."""
    b = _before_stops(pivots, max_)
    return And(*[Implies(b[i], _piv(pivots, i, max_) >= _piv(pivots, i - 1, max_))
                 for i in range(1, len(pivots) + 1)])


@concrete_cache
def pivot_in_range(pivots, min_, max_):
    """(d) Up to the stop, every pivot lies within [node min, node max]."""
    b = _before_stops(pivots, max_)
    return And(*[Implies(b[i], And(_piv(pivots, i, max_) >= min_, _piv(pivots, i, max_) <= max_))
                 for i in range(len(pivots) + 1)])


@concrete_cache
def data_end_matches(pivots, max_, end):
    """(d) The data end equals the first offset whose pivot (or implied max) is the node max."""
    b = _before_stops(pivots, max_)
    return Or(*[And(b[i], _piv(pivots, i, max_) == max_, end == i)
                for i in range(len(pivots) + 1)])


@concrete_cache
def beyond_end_slots_null(slots, end):
    """(d) Slots after the data end are NULL (the last slot may hold the metadata overlay)."""
    return And(*[Implies(i > end, slots[i] == 0) for i in range(len(slots) - 1)])


@concrete_cache
def beyond_end_pivots_zero(pivots, end):
    """(d) Pivots after the data end are zero (the kernel warns below the last pivot)."""
    return And(*[Implies(i > end, pivots[i] == 0) for i in range(len(pivots) - 1)])


# ------------------------------------------------------------------ (e) child slot

def child_slot(child, i, child_pslot, child_parent_addr, addr):
    """(e) Internal slot i holds a child whose parent word names this node and slot i."""
    return And(child != 0, child_pslot == i, child_parent_addr == addr)


# ------------------------------------------------------------------ (f) gaps

@concrete_cache
def leaf_max_gap(pivots, slots, min_, max_):
    """(f) The largest NULL range of a leaf, up to the stop (a value, not a predicate)."""
    best = 0
    start = min_
    b = _before_stops(pivots, max_)
    for i in range(len(pivots) + 1):
        p = _piv(pivots, i, max_)
        live = b[i]
        best = If(And(live, slots[i] == 0), Max(best, p - start + 1), best)
        start = p + 1
    return best


@concrete_cache
def arange_gap_bounded(pivots, slots, gaps, min_, max_, end):
    """(f) arange: each used slot has a child and gap[i] fits in the slot's range."""
    out = []
    start = min_
    for i in range(len(slots)):
        p = _piv(pivots, i, max_)
        out.append(Implies(i <= end, And(slots[i] != 0, gaps[i] <= p - start + 1)))
        start = p + 1
    return And(*out)


@concrete_cache
def arange_max_gap(gaps, end):
    """(f) The largest of gap[0..end] (a value)."""
    best = 0
    for i in range(len(gaps)):
        best = If(i <= end, Max(best, gaps[i]), best)
    return best


@concrete_cache
def meta_gap_valid(gaps, end, meta_gap):
    """(f) meta.gap points inside the data at a largest gap."""
    m = arange_max_gap(gaps, end)
    return And(meta_gap <= end,
               *[Implies(meta_gap == i, gaps[i] == m) for i in range(len(gaps))])


@concrete_cache
def gaps_beyond_end_zero(gaps, end):
    """(f) Gaps after the data end are zero."""
    return And(*[Implies(i > end, gaps[i] == 0) for i in range(len(gaps))])


def max_gap_within_node(max_gap, max_):
    """(f) A non-root node's largest gap does not exceed its max."""
    return max_gap <= max_


@concrete_cache
def parent_gap_equal(parent_gaps, pslot, max_gap):
    """(f) The parent's gap[pslot] equals this node's largest gap exactly."""
    return And(*[Implies(pslot == i, parent_gaps[i] == max_gap) for i in range(len(parent_gaps))])


# ------------------------------------------------------------------ mt_validate_nulls

def no_consecutive_nulls(prev_entry, entry):
    """No two NULL slots in a row across the leaves, left to right."""
    return Not(And(prev_entry == 0, entry == 0))


INVARIANTS = (
    node_not_dead, node_occupancy, parent_slot, pivot_nonzero, pivot_ordered, pivot_in_range,
    data_end_matches, beyond_end_slots_null, beyond_end_pivots_zero, child_slot,
    arange_gap_bounded, meta_gap_valid, gaps_beyond_end_zero, max_gap_within_node,
    parent_gap_equal, no_consecutive_nulls,
)
