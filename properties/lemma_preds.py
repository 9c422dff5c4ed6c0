# SPDX-License-Identifier: GPL-2.0-or-later
"""Node-level invariant predicates over plain fields, for the lemmas.

These are the per-node rules of ``mt_validate`` (linux-6.12-facts.md §2) stated
over a node's plain fields (pivot list, slot list, data end, limits, gaps),
written with the dual connectives of :mod:`maplecheck.logic` so the
same predicate runs on ints and on z3 terms.  Names follow §2:

* :func:`inv_limits`      (d) mas_validate_limits, with the data end given;
* :func:`inv_data_end`    (d) "BUG unless data end == that i" (ma_data_end);
* :func:`inv_nulls`       mt_validate_nulls inside one node, plus the leaf rule
  "only the right-most leaf may end in NULL" the writers keep (§4.4);
* :func:`inv_children`    (e) internal slots up to the end are non-NULL;
* :func:`inv_gaps`        (f) an arange node's meta gap and gaps past the end.

The rules themselves are properties/invariants.py's predicates (core's, the
ones the validator runs); this module only bundles them per node and adds the
node-local rules the lemmas need that invariants.py does not state yet
(:func:`last_pivot_zero_past_end`, :func:`inv_ranges`, the leaf-end NULL rule).
"""

from __future__ import annotations

from maplecheck.impl.pytree.node import ULONG_MAX, MapleNode, ma_data_end
from maplecheck.impl.pytree.node_ops import is_null, safe_pivot

from . import invariants as I
from maplecheck.logic import If, Implies, Not


def And(*xs):
    """logic.And, with a fast path for long symbolic conjunctions.

    Python bools are folded away first (True dropped, False wins), so on plain
    values it is ``all(xs)``; on z3 terms it builds one n-ary ``and`` through
    the C API instead of z3.And's per-argument coercion (the lemmas build
    tens of thousands of these).
    """
    terms = []
    for x in xs:
        if x is True:
            continue
        if x is False:
            return False
        if type(x) is bool:
            if not x:
                return False
            continue
        terms.append(x)
    if not terms:
        return True
    if len(terms) == 1:
        return terms[0]
    import z3
    ctx = terms[0].ctx
    arr = (z3.Ast * len(terms))()
    for i, t in enumerate(terms):
        arr[i] = t.as_ast()
    return z3.BoolRef(z3.Z3_mk_and(ctx.ref(), len(terms), arr), ctx)


def _z(slots):
    """invariants.py's convention: a NULL slot is 0."""
    return [0 if x is None else x for x in slots]


def inv_limits(pivots, slots, end: int, min, max, meta_slot: bool = True):
    """(d) as properties/invariants.py states it (pivot_nonzero, pivot_ordered,
    pivot_in_range, data_end_matches, beyond_end_slots_null,
    beyond_end_pivots_zero), plus :func:`last_pivot_zero_past_end`."""
    z = _z(slots)
    return And(I.pivot_nonzero(pivots, max), I.pivot_ordered(pivots, max),
               I.pivot_in_range(pivots, min, max), I.data_end_matches(pivots, max, end),
               I.beyond_end_slots_null(z, end), I.beyond_end_pivots_zero(pivots, end),
               last_pivot_zero_past_end(pivots, end),
               True if meta_slot or end >= len(slots) - 1 else z[-1] == 0)


def last_pivot_zero_past_end(pivots, end: int):
    """The last pivot is 0 unless the data reaches it.

    The kernel only *warns* about a stray last pivot (mas_validate_limits), but
    ma_data_end reads it first: a non-zero pivot[14] past the end makes the node
    report a wrong data end.  (Found by lemma data_end_leaf when stated with
    beyond_end_pivots_zero alone.)
    """
    n = len(pivots)
    return True if end >= n - 1 else pivots[n - 1] == 0


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
    """No two NULL slots in a row (invariants.no_consecutive_nulls over the node's
    slots); a leaf ends in NULL only at the top (max == ULONG_MAX)."""
    z = _z(slots)
    conds = [I.no_consecutive_nulls(z[i], z[i + 1]) for i in range(end)]
    if leaf:
        conds.append(Implies(is_null(slots[end]), max == ULONG_MAX))
    return And(*conds)


def inv_children(slots, end: int):
    """(e): every child slot of an internal node up to the end is non-NULL."""
    return And(*[Not(is_null(slots[i])) for i in range(end + 1)])


def inv_gaps(gaps, end: int, meta_gap):
    """(f) for one arange node: invariants.meta_gap_valid and gaps_beyond_end_zero."""
    return And(meta_gap >= 0, I.meta_gap_valid(gaps, end, meta_gap), I.gaps_beyond_end_zero(gaps, end))


def _select(seq, k):
    if isinstance(k, int):
        return seq[k]
    from maplecheck.logic import If
    out = seq[0]
    for i in range(1, len(seq)):
        out = If(k == i, seq[i], out)
    return out


def lookup(pivots, slots, end: int, max, x):
    """The entry a walk finds for index ``x`` in this node (0 for NULL on z3 terms)."""
    from maplecheck.logic import If
    out = _val(slots[end])
    for i in range(end - 1, -1, -1):
        out = If(x <= pivots[i], _val(slots[i]), out)
    return out


def _val(x):
    return 0 if x is None else x


def spec_max_gap(pivots, slots, end, min, max):
    """The largest NULL range of a leaf, by definition: invariants.leaf_max_gap."""
    return I.leaf_max_gap(pivots, _z(slots), min, max)


def node_ok(pivots, slots, end: int, min, max, leaf: bool = True):
    """The leaf/range rules a write must keep: limits, non-empty ranges, nulls (or children)."""
    body = inv_nulls(slots, end, max) if leaf else inv_children(slots, end)
    return And(inv_limits(pivots, slots, end, min, max), inv_ranges(pivots, end, min, max), body)


__all__ = ["inv_limits", "inv_ranges", "inv_data_end", "inv_nulls", "inv_children",
           "inv_gaps", "lookup", "node_ok", "spec_max_gap"]
