# SPDX-License-Identifier: GPL-2.0-or-later
"""Node-level invariant predicates over plain fields, for the lemmas.

These are the per-node rules of ``mt_validate`` (linux-6.12-facts.md §2) stated
over a node's plain fields (pivot list, slot list, data end, limits, gaps),
written with the dual connectives of :mod:`maplecheck.properties.logic` so the
same predicate runs on ints and on z3 terms.  Names follow §2:

* :func:`inv_limits`      (d) mas_validate_limits, with the data end given;
* :func:`inv_data_end`    (d) "BUG unless data end == that i" (ma_data_end);
* :func:`inv_nulls`       mt_validate_nulls inside one node, plus the leaf rule
  "only the right-most leaf may end in NULL" the writers keep (§4.4);
* :func:`inv_children`    (e) internal slots up to the end are non-NULL;
* :func:`inv_gaps`        (f) an arange node's meta gap and gaps past the end.

The tree-wide validator in properties/invariants.py owns the walking; these are
the node-local rules the lemmas quantify over.
"""

from __future__ import annotations

from maplecheck.impl.pytree.node import ULONG_MAX, MapleNode, ma_data_end
from maplecheck.impl.pytree.node_ops import is_null, safe_pivot

from .logic import And, Implies, Not, Or


def inv_limits(pivots, slots, end: int, min, max, meta_slot: bool = True):
    """(d): pivots non-zero past slot 0, non-decreasing, inside [min, max]; the
    first pivot equal to max is at ``end`` (explicit if end < len(pivots));
    past the end every pivot is 0 and every slot NULL (the last slot may hold
    the metadata overlay when ``meta_slot``)."""
    npiv = len(pivots)
    nslots = len(slots)
    conds = []
    prev = 0
    for i in range(end + 1):
        piv = safe_pivot(pivots, i, max)
        if i:
            conds.append(piv != 0)
        conds.append(prev <= piv)
        conds.append(min <= piv)
        conds.append(piv <= max)
        if i < end:
            conds.append(piv != max)
        prev = piv
    conds.append(safe_pivot(pivots, end, max) == max)
    for i in range(end + 1, nslots):
        if i < npiv:
            conds.append(pivots[i] == 0)
        if i != nslots - 1 or not meta_slot:
            conds.append(is_null(slots[i]))
    return And(*conds)


def inv_ranges(pivots, end: int, min, max):
    """Every used slot covers a non-empty range: pivots strictly increase from min."""
    conds = []
    lo = min
    for i in range(end + 1):
        piv = safe_pivot(pivots, i, max)
        conds.append(lo <= piv)
        lo = piv + 1
    return And(*conds)


def inv_data_end(node: MapleNode, type: int, end: int, max):
    """The data end the node reports (ma_data_end) is ``end``."""
    return ma_data_end(node, type, max) == end


def inv_nulls(slots, end: int, max, leaf: bool = True):
    """No two NULL slots in a row; a leaf ends in NULL only at the top (max == ULONG_MAX)."""
    conds = [Not(And(is_null(slots[i]), is_null(slots[i + 1]))) for i in range(end)]
    if leaf:
        conds.append(Implies(is_null(slots[end]), max == ULONG_MAX))
    return And(*conds)


def inv_children(slots, end: int):
    """(e): every child slot of an internal node up to the end is non-NULL."""
    return And(*[Not(is_null(slots[i])) for i in range(end + 1)])


def inv_gaps(gaps, end: int, meta_gap):
    """(f) for one arange node: meta.gap within the data, holding the largest
    gap, and every gap past the end 0."""
    conds = [meta_gap <= end, meta_gap >= 0]
    picked = _select(gaps, meta_gap)
    for i in range(end + 1):
        conds.append(gaps[i] <= picked)
    for i in range(end + 1, len(gaps)):
        conds.append(gaps[i] == 0)
    return And(*conds)


def _select(seq, k):
    if isinstance(k, int):
        return seq[k]
    from maplecheck.properties.logic import If
    out = seq[0]
    for i in range(1, len(seq)):
        out = If(k == i, seq[i], out)
    return out


def lookup(pivots, slots, end: int, max, x):
    """The entry a walk finds for index ``x`` in this node (0 for NULL on z3 terms)."""
    from maplecheck.properties.logic import If
    out = _val(slots[end])
    for i in range(end - 1, -1, -1):
        out = If(x <= pivots[i], _val(slots[i]), out)
    return out


def _val(x):
    return 0 if x is None else x


def node_ok(pivots, slots, end: int, min, max, leaf: bool = True):
    """The leaf/range rules a write must keep: limits, non-empty ranges, nulls (or children)."""
    body = inv_nulls(slots, end, max) if leaf else inv_children(slots, end)
    return And(inv_limits(pivots, slots, end, min, max), inv_ranges(pivots, end, min, max), body)


__all__ = ["inv_limits", "inv_ranges", "inv_data_end", "inv_nulls", "inv_children",
           "inv_gaps", "lookup", "node_ok", "Or"]
