# SPDX-License-Identifier: GPL-2.0-or-later
"""CrossHair contracts on the node helpers, at the SMALL geometry (4 slots).

Each function below is a thin harness: it builds a node of the 4-slot
geometry :data:`SMALL` (4 slots, 3 pivots) from
plain int arguments, runs the real helper from impl/pytree/node.py or
impl/pytree/node_ops.py, and states pre/postconditions in PEP 316 docstring
form.  ``crosshair check --analysis_kind=PEP316`` explores every path of the
helper at this size; at 4 slots it usually exhausts them (a confirmation), at
16 slots it would be a bug finder only, which is what the z3 lemmas are for.

Entries are ints: 0 is NULL (turned into None before the helper sees it).
Every harness has a mutant twin in :mod:`maplecheck.properties.contracts_mutants`
running a deliberately wrong helper under the same contract; CrossHair must
refute it (tests/test_prove_contracts.py).
"""

from __future__ import annotations

from maplecheck.impl.pytree import node as N
from maplecheck.impl.pytree import node_ops as O
from maplecheck.impl.pytree.node import Geometry, MapleNode, maple_leaf_64

#: 4-slot leaf/range and arange nodes.  (node.SMALL is the tree's scaled-down
#: geometry, currently 5/4; the architecture note caps CrossHair's exhaustive
#: confirmation at 4 slots, so the contracts fix 4/4 here.)
SMALL = Geometry(range_slots=4, arange_slots=4)

NSLOTS = SMALL.range_slots          # 4
NPIV = NSLOTS - 1                   # 3
MAXV = (1 << 64) - 1

# the helpers under contract; contracts_mutants swaps them
H = {
    "ma_data_end": N.ma_data_end,
    "ma_parent_slot": N.ma_parent_slot,
    "leaf_write_setup": O.leaf_write_setup,
    "leaf_write_layout": O.leaf_write_layout,
    "mab_calc_split": O.mab_calc_split,
    "leaf_max_gap": O.leaf_max_gap,
}


def _valid(piv, slots, end, lo, hi, leaf=True) -> bool:
    """The node rules at SMALL size: pivots strictly increasing from lo, the
    data ending at hi (explicit when end < NPIV), zeros past the end, no two
    NULLs in a row, a leaf ends in NULL only at the top."""
    if not (0 <= lo <= hi <= MAXV):
        return False
    for e in range(NSLOTS):          # concrete offsets: no symbolic list index
        if e != end:
            continue
        full = list(piv) + [hi]
        prev = lo
        for i in range(e + 1):
            p = full[i]
            if p < prev or p > hi or (i < e and p == hi):
                return False
            prev = p + 1
        if full[e] != hi:
            return False
        for i in range(e + 1, NPIV):
            if piv[i] != 0:
                return False
        for i in range(e + 1, NSLOTS - 1):
            if slots[i]:
                return False
        for i in range(e):
            if not slots[i] and not slots[i + 1]:
                return False
        if leaf and not slots[e] and hi != MAXV:
            return False
        return True
    return False


def _read(piv, slots, end, hi, x):
    for i in range(end):
        if x <= piv[i]:
            return slots[i] or 0
    return slots[end] or 0


def _node(piv, slots, end):
    n = MapleNode(SMALL, maple_leaf_64)
    n.pivot = list(piv)
    n.slot = [s if s else None for s in slots]
    if end < NSLOTS - 1:
        n.slot[-1] = end
    return n


def data_end_small(p0: int, p1: int, p2: int, lo: int, hi: int, end: int) -> int:
    """ma_data_end on a valid 4-slot leaf is its data end.

    pre: 0 <= end < 4
    pre: _valid([p0, p1, p2], [1, 1, 1, 1], end, lo, hi)
    post: __return__ == end
    """
    return _data_end(H, p0, p1, p2, lo, hi, end)


def _data_end(h, p0, p1, p2, lo, hi, end):
    return h["ma_data_end"](_node([p0, p1, p2], [1, 1, 1, 1], end), maple_leaf_64, hi)


def parent_slot_small(paddr: int, slot: int) -> int:
    """The parent word of a child at ``slot`` decodes to ``slot``.

    pre: 0 <= paddr < 2 ** 20 and paddr % 256 == 0
    pre: 0 <= slot < 4
    post: __return__ == slot
    """
    return _parent_slot(H, paddr, slot)


def _parent_slot(h, paddr, slot):
    return h["ma_parent_slot"](N.ma_parent_ptr(paddr, slot))


def leaf_write_small(p0: int, p1: int, p2: int, s0: int, s1: int, s2: int, s3: int, end: int,
                     lo: int, hi: int, offset: int, index: int, last: int, entry: int) -> bool:
    """A leaf write that stays in the node keeps the node valid and refines the map.

    pre: 0 <= end < 4 and 0 <= offset <= end
    pre: min(s0, s1, s2, s3, entry) >= 0
    pre: _valid([p0, p1, p2], [s0, s1, s2, s3], end, lo, hi)
    pre: lo <= index <= last <= hi
    pre: (lo if offset == 0 else [p0, p1, p2][offset - 1] + 1) <= index <= ([p0, p1, p2, hi][offset])
    pre: last < hi or entry != 0 or hi == 2 ** 64 - 1
    post: __return__
    """
    return _leaf_write(H, p0, p1, p2, s0, s1, s2, s3, end, lo, hi, offset, index, last, entry)


def _leaf_write(H, p0, p1, p2, s0, s1, s2, s3, end, lo, hi, offset, index, last, entry):
    piv = [p0, p1, p2]
    slots = [s if s else None for s in (s0, s1, s2, s3)]
    if end < NSLOTS - 1:
        slots[-1] = end
    ent = entry if entry else None
    min_slots = SMALL.min_slots[maple_leaf_64]
    w = H["leaf_write_setup"](piv, slots, end, offset, index, last, ent, lo, hi, min_slots,
                              NSLOTS, False, False)
    lay = H["leaf_write_layout"](piv, slots, end, w, ent, hi, False)
    if lay is None:
        return True  # split, rebalance, new root: not an in-node write
    new_slots = [x if x else 0 for x in lay.slots]
    if lay.end < NSLOTS - 1:
        new_slots[-1] = 0
    old_slots = [x if x else 0 for x in slots]
    if end < NSLOTS - 1:
        old_slots[-1] = 0
    if not _valid(lay.pivots, new_slots, lay.end, lo, hi):
        return False
    # piecewise-constant maps agree everywhere iff they agree at every range start
    points = [lo, index, last, min(last + 1, hi)]
    points += [min(p + 1, hi) for p in piv[:end]] + [min(p + 1, hi) for p in lay.pivots[:lay.end]]
    for x in points:   # a list, not a set: hashing would make CrossHair pick concrete values
        want = (entry if index <= x <= last else _read(piv, old_slots, end, hi, x))
        if _read(lay.pivots, new_slots, lay.end, hi, x) != want:
            return False
    return True


def split_small(s0: int, s1: int, s2: int, s3: int, s4: int, s5: int, b_end: int) -> int:
    """The split point of a 5..6-entry big node (4-slot nodes) leaves a non-NULL
    last slot on the left and two halves that fit.

    pre: 4 <= b_end <= 5
    pre: min(s0, s1, s2, s3, s4, s5) >= 0
    pre: all(([s0, s1, s2, s3, s4, s5][i] or [s0, s1, s2, s3, s4, s5][i + 1]) for i in range(b_end))
    post: [s0, s1, s2, s3, s4, s5][__return__] != 0 and __return__ + 1 <= 4 and b_end - __return__ <= 4
    """
    return _split(H, s0, s1, s2, s3, s4, s5, b_end)


def _split(h, s0, s1, s2, s3, s4, s5, b_end):
    slots = [s if s else None for s in (s0, s1, s2, s3, s4, s5)]
    split, mid, _rb = h["mab_calc_split"](slots, b_end, NSLOTS, SMALL.min_slots[maple_leaf_64], True)
    return split


def leaf_max_gap_small(p0: int, p1: int, p2: int, s0: int, s1: int, s2: int, s3: int, end: int,
                       lo: int, hi: int) -> int:
    """mas_leaf_max_gap equals the largest NULL range of a valid 4-slot leaf.

    pre: 1 <= end < 4
    pre: min(s0, s1, s2, s3) >= 0
    pre: _valid([p0, p1, p2], [s0, s1, s2, s3], end, lo, hi)
    post: __return__ == _spec_gap([p0, p1, p2], [s0, s1, s2, s3], end, lo, hi)
    """
    return _leaf_gap(H, p0, p1, p2, s0, s1, s2, s3, end, lo, hi)


def _leaf_gap(h, p0, p1, p2, s0, s1, s2, s3, end, lo, hi):
    slots = [s if s else None for s in (s0, s1, s2, s3)]
    return h["leaf_max_gap"]([p0, p1, p2], slots, end, lo, hi)


def _spec_gap(piv, slots, end, lo, hi):
    best = 0
    start = lo
    for i in range(end + 1):
        p = piv[i] if i < NPIV else hi
        if not slots[i]:
            best = max(best, p - start + 1)
        start = p + 1
    return best


CONTRACTS = ("data_end_small", "parent_slot_small", "leaf_write_small", "split_small",
             "leaf_max_gap_small")
