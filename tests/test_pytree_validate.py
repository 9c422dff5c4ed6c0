# SPDX-License-Identifier: GPL-2.0-or-later
"""Every invariant of properties/invariants.py catches a deliberate corruption (each check can fail)."""

from __future__ import annotations

import pytest

from maplecheck.impl.pytree import PyFactory
from maplecheck.properties import invariants as inv
from maplecheck.tree import MAX, MT_FLAGS_ALLOC_RANGE, xa_mk_value

from pytree_helpers import build

V = xa_mk_value


def plain_b():
    """Shape B: root 0-MAX:7 over leaves 0-14 ... 75-89 (15 each) and 90-MAX:11."""
    t = PyFactory().create(0)
    build(t, [(i, i, V(i)) for i in range(100)])
    assert t.validate() == []
    return t


def alloc_a():
    """Shape A: an alloc tree of height 3."""
    t = PyFactory().create(MT_FLAGS_ALLOC_RANGE)
    build(t, [(10 * i, 10 * i + 5, V(i)) for i in range(135)])
    assert t.validate() == []
    return t


def node(t, *path):
    """(enode, node object) at a slot path from the root."""
    nodes = t.mt.alloc.nodes
    e = t.mt.ma_root & ~2
    for off in path:
        e = nodes[e >> 8].slot[off]
    return e, nodes[e >> 8]


def shrink_first_leaf(t):
    e, n = node(t, 0)  # leaf 0-14 -> 4 slots, still consistent
    n.pivot[:] = [0, 1, 2, 14] + [0] * 11
    n.slot[:] = n.slot[:4] + [None] * 11 + [3]


def c_dead(t):
    e, n = node(t, 2)
    n.parent = e & ~0xFF


def c_parent_slot(t):
    e, n = node(t, 2)
    n.parent = (n.parent & ~0xF8) | (3 << 3)


def c_pivot_nonzero(t):
    node(t, 0)[1].pivot[1] = 0


def c_pivot_ordered(t):
    node(t, 1)[1].pivot[3] = 16


def c_pivot_in_range(t):
    node(t, 1)[1].pivot[0] = 10


def c_data_end(t):
    node(t, 6)[1].slot[-1] = 9  # right-most leaf 90-MAX has end 10


def c_beyond_slots(t):
    node(t, 6)[1].slot[12] = V(5)


def c_beyond_pivots(t):
    node(t, 6)[1].pivot[12] = 5


def c_child_slot(t):
    e, n = node(t, 4)
    n.parent = (n.parent & ~0xFF00) ^ 0x100 | (n.parent & 0xFF)  # another parent address


def c_gap_bounded(t):
    node(t, 0)[1].gap[0] = 10 ** 6


def c_meta_gap(t):
    node(t)[1].meta_gap = 0


def c_gaps_beyond(t):
    e, n = node(t, 1)  # 716-MAX: end 7
    n.gap[9] = 1


def c_max_gap_within(t):
    node(t, 0)[1].gap[0] = 10 ** 6


def c_parent_gap(t):
    node(t)[1].gap[1] = 5


def c_nulls(t):
    node(t, 0, 1)[1].slot[1] = None  # leaf 76-155 starts NULL|79 V|85 -> two NULLs


CASES = [
    ("node_not_dead", plain_b, c_dead),
    ("node_occupancy", plain_b, shrink_first_leaf),
    ("parent_slot", plain_b, c_parent_slot),
    ("pivot_nonzero", plain_b, c_pivot_nonzero),
    ("pivot_ordered", plain_b, c_pivot_ordered),
    ("pivot_in_range", plain_b, c_pivot_in_range),
    ("data_end_matches", plain_b, c_data_end),
    ("beyond_end_slots_null", plain_b, c_beyond_slots),
    ("beyond_end_pivots_zero", plain_b, c_beyond_pivots),
    ("child_slot", plain_b, c_child_slot),
    ("arange_gap_bounded", alloc_a, c_gap_bounded),
    ("meta_gap_valid", alloc_a, c_meta_gap),
    ("gaps_beyond_end_zero", alloc_a, c_gaps_beyond),
    ("max_gap_within_node", alloc_a, c_max_gap_within),
    ("parent_gap_equal", alloc_a, c_parent_gap),
    ("no_consecutive_nulls", alloc_a, c_nulls),
]


def test_every_invariant_has_a_case():
    assert {f.__name__ for f in inv.INVARIANTS} == {name for name, *_ in CASES}


@pytest.mark.parametrize("name,make,corrupt", CASES, ids=[c[0] for c in CASES])
def test_corruption_is_reported(name, make, corrupt):
    t = make()
    corrupt(t)
    report = t.validate()
    assert any(r.startswith(name + ":") for r in report), report
    hit = next(r for r in report if r.startswith(name + ":"))
    assert "path=[" in hit


def test_predicates_run_on_z3_terms():
    import z3
    piv = [z3.Int(f"p{i}") for i in range(4)]
    mx, mn, end = z3.Int("max"), z3.Int("min"), z3.Int("end")
    for f in (inv.pivot_nonzero(piv, mx), inv.pivot_ordered(piv, mx),
              inv.pivot_in_range(piv, mn, mx), inv.data_end_matches(piv, mx, end)):
        assert isinstance(f, z3.BoolRef)
    # sanity: with ordered pivots ending at max, some data end satisfies the definition
    s = z3.Solver()
    s.add(inv.pivot_ordered(piv, mx), inv.data_end_matches(piv, mx, end), piv[0] == 5, mx == 9)
    assert s.check() == z3.sat
