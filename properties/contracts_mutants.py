# SPDX-License-Identifier: GPL-2.0-or-later
"""The CrossHair contracts of :mod:`maplecheck.properties.contracts`, run on
deliberately wrong helpers: CrossHair must find a counterexample for each.

Each function keeps its twin's contract (the docstring) and runs the twin's
harness body with one helper replaced.  (The harness bodies are uncontracted
functions: CrossHair assumes a contracted callee's postcondition instead of
running it.)
"""

from __future__ import annotations

from maplecheck.impl.pytree import node_ops as O
from maplecheck.properties import contracts as C
from maplecheck.properties.contracts import _spec_gap, _valid  # noqa: F401  (used by the contracts)


def _bad_data_end(node, type, max):
    """a last pivot equal to max reads as a full node."""
    last = node.pivot[-1]
    if last == 0:
        return (node.slot[-1] or 0) & 0xFF
    return len(node.pivot)


def _bad_parent_slot(parent):
    """slot read with shift 2."""
    if parent & 1:
        return 0
    return (parent & 0xFC) >> 2


_REAL_SLOT_STORE = O.slot_store_layout


def _bad_layout(piv, slots, end, w, entry, hi, rcu=False):
    """append/node store that forgets to keep the old content before ``index``:
    the new entry starts at the slot's first index (writes too wide)."""
    w = w._replace(r_min=w.index)
    return O.leaf_write_layout(piv, slots, end, w, entry, hi, rcu)


def _bad_calc(slots, b_end, nslots, min_slots, leaf, bulk=False):
    """no NULL adjustment."""
    return b_end // 2, 0, False


def _bad_gap(pivots, slots, end, min, max):
    from maplecheck.properties import mutants as M
    return M.leaf_max_gap_plus_one(pivots, slots, end, min, max)


def _bad(key, fn):
    """The contracts' helper table with one helper replaced."""
    h = dict(C.H)
    h[key] = fn
    return h


def data_end_small(p0: int, p1: int, p2: int, lo: int, hi: int, end: int) -> int:
    """
    pre: 0 <= end < 4
    pre: _valid([p0, p1, p2], [1, 1, 1, 1], end, lo, hi)
    post: __return__ == end
    """
    return C._data_end(_bad("ma_data_end", _bad_data_end), p0, p1, p2, lo, hi, end)


def parent_slot_small(paddr: int, slot: int) -> int:
    """
    pre: 0 <= paddr < 2 ** 20 and paddr % 256 == 0
    pre: 0 <= slot < 4
    post: __return__ == slot
    """
    return C._parent_slot(_bad("ma_parent_slot", _bad_parent_slot), paddr, slot)


def leaf_write_small(p0: int, p1: int, p2: int, s0: int, s1: int, s2: int, s3: int, end: int,
                     lo: int, hi: int, offset: int, index: int, last: int, entry: int) -> bool:
    """
    pre: 0 <= end < 4 and 0 <= offset <= end
    pre: min(s0, s1, s2, s3, entry) >= 0
    pre: _valid([p0, p1, p2], [s0, s1, s2, s3], end, lo, hi)
    pre: lo <= index <= last <= hi
    pre: (lo if offset == 0 else [p0, p1, p2][offset - 1] + 1) <= index <= ([p0, p1, p2, hi][offset])
    pre: last < hi or entry != 0 or hi == 2 ** 64 - 1
    post: __return__
    """
    return C._leaf_write(_bad("leaf_write_layout", _bad_layout),
                         p0, p1, p2, s0, s1, s2, s3, end, lo, hi, offset, index, last, entry)


def split_small(s0: int, s1: int, s2: int, s3: int, s4: int, s5: int, b_end: int) -> int:
    """
    pre: 4 <= b_end <= 5
    pre: min(s0, s1, s2, s3, s4, s5) >= 0
    pre: all(([s0, s1, s2, s3, s4, s5][i] or [s0, s1, s2, s3, s4, s5][i + 1]) for i in range(b_end))
    post: [s0, s1, s2, s3, s4, s5][__return__] != 0 and __return__ + 1 <= 4 and b_end - __return__ <= 4
    """
    return C._split(_bad("mab_calc_split", _bad_calc), s0, s1, s2, s3, s4, s5, b_end)


def leaf_max_gap_small(p0: int, p1: int, p2: int, s0: int, s1: int, s2: int, s3: int, end: int,
                       lo: int, hi: int) -> int:
    """
    pre: 1 <= end < 4
    pre: min(s0, s1, s2, s3) >= 0
    pre: _valid([p0, p1, p2], [s0, s1, s2, s3], end, lo, hi)
    post: __return__ == _spec_gap([p0, p1, p2], [s0, s1, s2, s3], end, lo, hi)
    """
    return C._leaf_gap(_bad("leaf_max_gap", _bad_gap), p0, p1, p2, s0, s1, s2, s3, end, lo, hi)
