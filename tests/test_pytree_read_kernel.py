# SPDX-License-Identifier: GPL-2.0-or-later
"""The kernel's own read-path expectations (lib/test_maple_tree.c, Linux 6.12), on our tree.

Trees are built bottom-up from ranges (no write path needed); the expected
values are the ones the kernel's tests assert.  Where a kernel test changes
the tree between checks, the tree is rebuilt with the new contents.
"""

from __future__ import annotations

import pytest

from maplecheck.tree import (MA_ACTIVE, MA_NONE, MA_OVERFLOW, MA_PAUSE, MA_ROOT, MA_START,
                             MA_UNDERFLOW, MAX, XA_ZERO_ENTRY, xa_mk_value)
from maplecheck.impl.pytree.iterate import (mas_find, mas_find_range, mas_find_rev, mas_next,
                                            mas_pause, mas_prev, mas_prev_range, mt_find,
                                            mt_find_after, mt_next, mt_prev)
from maplecheck.impl.pytree.node import LINUX_64, SMALL
from maplecheck.impl.pytree.state import MaState
from maplecheck.impl.pytree.walk import mas_walk

from test_pytree_read_build import tree_from_ranges

PTR = 0x1234500
PTR2 = 0x7FFC0000_1000
PTR3 = 0x7FFC0000_2000


def chk(mas, entry, got, index, last, status):
    assert (got, mas.index, mas.last, mas.status) == (entry, index, last, status), mas


# ------------------------------------------------------------------ check_state_handling

def test_state_handling_root_pointer():
    t = tree_from_ranges([(0, 0, PTR)])
    assert t.ma_root == PTR
    mas = MaState(t, 0, 0)

    e = mas_prev(mas, 0)
    assert e is None and mas.status == MA_UNDERFLOW
    mas.set(10)
    chk(mas, PTR, mas_prev(mas, 0), 0, 0, MA_ROOT)
    mas.set(10)
    mas_pause(mas)
    chk(mas, PTR, mas_prev(mas, 0), 0, 0, MA_ROOT)

    mas.set(0)
    chk(mas, None, mas_next(mas, MAX), 1, MAX, MA_NONE)
    mas.set(10)
    chk(mas, None, mas_next(mas, MAX), 1, MAX, MA_NONE)

    mas.set(0)
    chk(mas, PTR, mas_find(mas, MAX), 0, 0, MA_ROOT)
    chk(mas, None, mas_find(mas, MAX), 1, MAX, MA_NONE)
    chk(mas, None, mas_find(mas, MAX), 1, MAX, MA_NONE)
    mas.set(10)
    chk(mas, None, mas_find(mas, MAX), 1, MAX, MA_NONE)

    chk(mas, PTR, mas_find_rev(mas, 0), 0, 0, MA_ROOT)
    mas.set(0)
    chk(mas, PTR, mas_find_rev(mas, 0), 0, 0, MA_ROOT)
    chk(mas, None, mas_find_rev(mas, 0), 0, 0, MA_NONE)
    chk(mas, None, mas_find_rev(mas, 0), 0, 0, MA_NONE)
    mas.set(10)
    chk(mas, PTR, mas_find_rev(mas, 0), 0, 0, MA_ROOT)

    mas.set(10)
    chk(mas, None, mas_walk(mas), 1, MAX, MA_NONE)
    mas.set(10)
    mas_pause(mas)
    chk(mas, None, mas_walk(mas), 1, MAX, MA_NONE)
    mas.index = mas.last = 10
    chk(mas, None, mas_walk(mas), 1, MAX, MA_NONE)
    chk(mas, None, mas_walk(mas), 1, MAX, MA_NONE)
    mas.set(0)
    chk(mas, PTR, mas_walk(mas), 0, 0, MA_ROOT)
    mas.set(0)
    mas_pause(mas)
    chk(mas, PTR, mas_walk(mas), 0, 0, MA_ROOT)
    mas.status = MA_NONE
    chk(mas, PTR, mas_walk(mas), 0, 0, MA_ROOT)
    chk(mas, PTR, mas_walk(mas), 0, 0, MA_ROOT)
    mas.set(10)
    chk(mas, None, mas_walk(mas), 1, MAX, MA_NONE)
    mas.index = mas.last = 0
    chk(mas, PTR, mas_walk(mas), 0, 0, MA_ROOT)


STATE_RANGES = [(0x1000, 0x1500, PTR), (0x2000, 0x2500, PTR2), (0x3000, 0x3500, PTR3)]


@pytest.mark.parametrize("spread", [False, True], ids=["one-leaf", "multi-level"])
def test_state_handling_node_tree(spread):
    ranges = list(STATE_RANGES)
    if spread:
        # The same three entries in a 4-slot geometry, so that they sit in
        # different leaves, padded (above MAX/2 only, which leaves every answer
        # below unchanged) to a tree of height >= 3.
        ranges += [(MAX // 2 + 2 * i, MAX // 2 + 2 * i, xa_mk_value(i)) for i in range(60)]
        t = tree_from_ranges(ranges, 0, SMALL)
        assert t.mt_height() >= 3
    else:
        t = tree_from_ranges(ranges)
    top = MAX // 2 - 1 if spread else MAX  # the end of the NULL range after 0x3500
    mas = MaState(t, 0, 0)

    mas.set(0)
    chk(mas, PTR, mas_next(mas, MAX), 0x1000, 0x1500, MA_ACTIVE)
    mas.set(0)
    mas_pause(mas)
    chk(mas, PTR, mas_next(mas, MAX), 0x1000, 0x1500, MA_ACTIVE)
    mas.index = mas.last = 0
    mas.offset = 0
    mas.status = MA_NONE
    chk(mas, PTR, mas_next(mas, MAX), 0x1000, 0x1500, MA_ACTIVE)
    chk(mas, PTR2, mas_next(mas, 0x2100), 0x2000, 0x2500, MA_ACTIVE)
    chk(mas, None, mas_next(mas, 0x2999), 0x2501, 0x2FFF, MA_OVERFLOW)
    chk(mas, PTR3, mas_next(mas, MAX), 0x3000, 0x3500, MA_ACTIVE)
    if not spread:
        chk(mas, None, mas_next(mas, MAX), 0x3501, MAX, MA_OVERFLOW)
        chk(mas, None, mas_next(mas, MAX), 0x3501, MAX, MA_OVERFLOW)
    else:
        chk(mas, xa_mk_value(0), mas_next(mas, MAX), MAX // 2 + 0, MAX // 2 + 0, MA_ACTIVE)
        mas.set(0x3000)
        mas_walk(mas)
        chk(mas, None, mas_next(mas, 0x4000), 0x3501, top, MA_OVERFLOW)
    chk(mas, PTR3, mas_prev(mas, 0), 0x3000, 0x3500, MA_ACTIVE)

    mas.set(0)
    mas_next(mas, MAX)
    mas.status = MA_NONE
    mas.offset = 0
    chk(mas, PTR2, mas_next(mas, MAX), 0x2000, 0x2500, MA_ACTIVE)
    chk(mas, PTR, mas_prev(mas, 0), 0x1000, 0x1500, MA_ACTIVE)

    mas_next(mas, MAX)
    chk(mas, PTR, mas_prev(mas, 0x1200), 0x1000, 0x1500, MA_ACTIVE)
    chk(mas, None, mas_prev(mas, 0x1200), 0x1000, 0x1500, MA_UNDERFLOW)
    chk(mas, None, mas_prev(mas, 0x0100), 0, 0x0FFF, MA_UNDERFLOW)
    chk(mas, None, mas_prev(mas, 0), 0, 0x0FFF, MA_UNDERFLOW)
    chk(mas, None, mas_prev(mas, 0), 0, 0x0FFF, MA_UNDERFLOW)
    chk(mas, PTR, mas_next(mas, MAX), 0x1000, 0x1500, MA_ACTIVE)
    chk(mas, None, mas_prev(mas, 0x1000), 0x1000, 0x1500, MA_UNDERFLOW)
    chk(mas, PTR, mas_find(mas, MAX), 0x1000, 0x1500, MA_ACTIVE)

    mas.set(0x3600)
    assert mas_prev(mas, 0) == PTR3
    mas_pause(mas)
    chk(mas, PTR2, mas_prev(mas, 0), 0x2000, 0x2500, MA_ACTIVE)
    chk(mas, None, mas_prev(mas, 0x1600), 0x1501, 0x1FFF, MA_UNDERFLOW)
    chk(mas, PTR, mas_prev(mas, 0), 0x1000, 0x1500, MA_ACTIVE)

    mas.set(0)
    chk(mas, PTR, mas_find(mas, MAX), 0x1000, 0x1500, MA_ACTIVE)
    mas.set(0)
    mas_pause(mas)
    chk(mas, PTR, mas_find(mas, MAX), 0x1000, 0x1500, MA_ACTIVE)
    mas.set(1200)
    chk(mas, PTR, mas_find(mas, MAX), 0x1000, 0x1500, MA_ACTIVE)
    chk(mas, PTR2, mas_find(mas, MAX), 0x2000, 0x2500, MA_ACTIVE)
    chk(mas, None, mas_find(mas, 0x2700), 0x2501, 0x2FFF, MA_ACTIVE)
    chk(mas, PTR3, mas_find(mas, 0x5000), 0x3000, 0x3500, MA_ACTIVE)
    if not spread:
        chk(mas, None, mas_find(mas, MAX), 0x3501, MAX, MA_ACTIVE)
    else:
        chk(mas, None, mas_find(mas, 0x4000), 0x3501, top, MA_ACTIVE)
    chk(mas, PTR3, mas_find_rev(mas, 0), 0x3000, 0x3500, MA_ACTIVE)
    chk(mas, PTR2, mas_find_rev(mas, 0), 0x2000, 0x2500, MA_ACTIVE)
    mas_pause(mas)
    chk(mas, PTR, mas_find_rev(mas, 0), 0x1000, 0x1500, MA_ACTIVE)
    chk(mas, None, mas_find_rev(mas, 0), 0, 0x0FFF, MA_UNDERFLOW)
    mas.set(0x1200)
    chk(mas, PTR, mas_find_rev(mas, 0), 0x1000, 0x1500, MA_ACTIVE)

    for prep in ("start", "pause", "none"):
        for idx, entry, lo, hi in ((0x1200, PTR, 0x1000, 0x1500), (0x1600, None, 0x1501, 0x1FFF)):
            mas.set(idx)
            if prep == "pause":
                mas_pause(mas)
            elif prep == "none":
                mas.status = MA_NONE
            chk(mas, entry, mas_walk(mas), lo, hi, MA_ACTIVE)
    mas.index = mas.last = 0x1200
    mas.offset = 0
    chk(mas, PTR, mas_walk(mas), 0x1000, 0x1500, MA_ACTIVE)
    mas.index = mas.last = 0x1600
    chk(mas, None, mas_walk(mas), 0x1501, 0x1FFF, MA_ACTIVE)


# ------------------------------------------------------------------ next_prev_test

def _np_tree(geo=None):
    ranges = [(i * 10, i * 10 + 5, xa_mk_value(i)) for i in range(201)]
    return tree_from_ranges(ranges) if geo is None else tree_from_ranges(ranges, 0, geo)


@pytest.mark.parametrize("small", [False, True], ids=["linux64", "small-geometry"])
def test_next_prev(small):
    t = _np_tree(SMALL if small else None)
    mas = MaState(t, 0, 0)
    count = 0
    mas.set(0)
    while mas_find(mas, 1000) is not None:
        count += 1
    assert count == 101
    mas.set(0)
    count = 0
    while mas_find(mas, 1000) is not None:
        mas_pause(mas)
        count += 1
    assert count == 101

    mas.set(686)
    assert mas_walk(mas) is None
    chk(mas, xa_mk_value(69), mas_next(mas, 1000), 690, 695, MA_ACTIVE)
    chk(mas, xa_mk_value(68), mas_prev(mas, 0), 680, 685, MA_ACTIVE)
    chk(mas, xa_mk_value(69), mas_next(mas, 1000), 690, 695, MA_ACTIVE)
    chk(mas, xa_mk_value(70), mas_next(mas, 1000), 700, 705, MA_ACTIVE)

    mas.set(70)
    chk(mas, xa_mk_value(7), mas_walk(mas), 70, 75, MA_ACTIVE)
    chk(mas, xa_mk_value(8), mas_next(mas, 1000), 80, 85, MA_ACTIVE)
    chk(mas, xa_mk_value(7), mas_prev(mas, 70), 70, 75, MA_ACTIVE)

    # across two levels (707..725 on the kernel's own 64-bit shape)
    mas.set(707)
    assert mas_walk(mas) is None
    chk(mas, xa_mk_value(71), mas_next(mas, 1000), 710, 715, MA_ACTIVE)
    chk(mas, xa_mk_value(72), mas_next(mas, 1000), 720, 725, MA_ACTIVE)
    chk(mas, xa_mk_value(71), mas_prev(mas, 0), 710, 715, MA_ACTIVE)

    mas.set(2000)
    chk(mas, xa_mk_value(200), mas_walk(mas), 2000, 2005, MA_ACTIVE)
    chk(mas, None, mas_next(mas, MAX), 0x7D6, MAX, MA_OVERFLOW)
    chk(mas, xa_mk_value(200), mas_prev(mas, 0), 2000, 2005, MA_ACTIVE)

    mas.set(10)
    chk(mas, xa_mk_value(1), mas_walk(mas), 10, 15, MA_ACTIVE)
    chk(mas, xa_mk_value(0), mas_prev(mas, 0), 0, 5, MA_ACTIVE)
    chk(mas, None, mas_prev(mas, 0), 0, 5, MA_UNDERFLOW)

    # after clearing [0, 5]
    t2 = tree_from_ranges([(i * 10, i * 10 + 5, xa_mk_value(i)) for i in range(1, 201)],
                          0, SMALL if small else LINUX_64)
    mas = MaState(t2, 10, 10)
    mas_walk(mas)
    chk(mas, None, mas_prev(mas, 0), 0, 9, MA_UNDERFLOW)

    t3 = tree_from_ranges([(0, 0, xa_mk_value(0)), (5, 5, xa_mk_value(5))])
    mas = MaState(t3, 5, 5)
    assert mas_prev(mas, 4) is None


def test_next_prev_node_changes_across_levels():
    """In the kernel's 64-bit shape 707->710->720 crosses a leaf (mas.node changes)."""
    t = _np_tree()
    mas = MaState(t, 707, 707)
    mas_walk(mas)
    mas_next(mas, 1000)
    n1 = mas.node
    mas_next(mas, 1000)
    # our bottom-up shape need not split at the same place; the node must
    # change at some step while walking 707..1000
    seen = {n1, mas.node}
    while mas_next(mas, 1000) is not None:
        seen.add(mas.node)
    assert len(seen) > 1


# ------------------------------------------------------------------ check_rev_find

def test_rev_find():
    t = tree_from_ranges([(i * 10, i * 10 + 5, xa_mk_value(i)) for i in range(201)])
    mas = MaState(t, 0, 0)
    mas.set(1000)
    assert mas_find_rev(mas, 1000) == xa_mk_value(100)
    assert mas_find_rev(mas, 1000) is None
    mas.set(999)
    assert mas_find_rev(mas, 997) is None
    mas.set(1000)
    assert mas_find_rev(mas, 900) == xa_mk_value(100)
    assert mas_find_rev(mas, 900) == xa_mk_value(99)
    mas.set(20)
    assert mas_find_rev(mas, 0) == xa_mk_value(2)
    assert mas_find_rev(mas, 0) == xa_mk_value(1)
    assert mas_find_rev(mas, 0) == xa_mk_value(0)
    assert mas_find_rev(mas, 0) is None


# ------------------------------------------------------------------ check_find

def _find_ranges(with_max: bool):
    """check_find's contents: 0, then 1, 4, 16, ... 4**20 (64 holds XA_ZERO_ENTRY)."""
    r = [(0, 0, xa_mk_value(0))]
    val = 1
    for _ in range(21):
        r.append((val, val, XA_ZERO_ENTRY if val == 64 else xa_mk_value(val)))
        val <<= 2
    if with_max:
        r.append((MAX, MAX, xa_mk_value(MAX >> 1)))  # xa_mk_value(LONG_MAX) as a word
    return r


def _expected_vals(top_entry: bool):
    vals = [0]
    v = 1
    for _ in range(21):
        vals.append(v)
        v <<= 2
    return vals + ([MAX] if top_entry else [])


@pytest.mark.parametrize("small", [False, True], ids=["linux64", "small-geometry"])
def test_find(small):
    geo = SMALL if small else None
    mk = (lambda r: tree_from_ranges(r, 0, geo)) if small else tree_from_ranges
    t = mk(_find_ranges(False))
    mas = MaState(t, 0, 0)
    got = []
    while (e := mas_find(mas, 268435456)) is not None:
        got.append(e)
    want = [XA_ZERO_ENTRY if v == 64 else xa_mk_value(v) for v in _expected_vals(False)
            if v <= 268435456]
    assert got == want

    for pause in (False, True):
        mas.set(0)
        got = []
        while (e := mas_find(mas, MAX)) is not None:
            got.append(e)
            if pause:
                mas_pause(mas)
        assert got == [XA_ZERO_ENTRY if v == 64 else xa_mk_value(v) for v in _expected_vals(False)]

    # mt_for_each skips the zero entry
    got, index = [], 0
    e, index = mt_find(t, index, 300)
    while e is not None:
        got.append(e)
        e, index = mt_find_after(t, index, 300)
    assert got == [xa_mk_value(v) for v in (0, 1, 4, 16, 256)]

    t = mk(_find_ranges(True))
    got, index = [], 0
    e, index = mt_find(t, index, MAX)
    while e is not None:
        got.append(e)
        e, index = mt_find_after(t, index, MAX)
    assert index == 0  # wrapped past MAX
    assert got == [xa_mk_value(MAX >> 1) if v == MAX else xa_mk_value(v)
                   for v in _expected_vals(True) if v != 64]

    t = mk(_find_ranges(False))
    assert mt_find(t, 17, 512) == (xa_mk_value(256), 257)
    assert mt_find(t, 17, 20) == (None, 17)

    t = mk(_find_ranges(True))
    mas = MaState(t, 0, 0)
    got = []
    while (e := mas_find(mas, MAX)) is not None:
        got.append(e)
        mas_pause(mas)
    assert len(got) == 23 and got[-1] == xa_mk_value(MAX >> 1)
    mas.set(1048576)
    assert mas_find(mas, 1048576) is not None

    # the last value: find at MAX then prev, versus prev from MAX without the top entry
    mas.reset()
    mas.index = MAX
    mas_find(mas, MAX)
    entry = mas_prev(mas, 0)
    index, last = mas.index, mas.last
    t = mk(_find_ranges(False))
    mas = MaState(t, MAX, MAX)
    entry2 = mas_prev(mas, 0)
    assert (entry2, mas.index, mas.last) == (entry, index, last)
    mas.status = MA_NONE
    mas.index = mas.last = MAX
    assert mas_prev(mas, 0) == entry
    mas.set(0)
    assert mas_prev(mas, 0) is None


# ------------------------------------------------------------------ check_find_2

def test_find_2():
    t = tree_from_ranges([])
    mas = MaState(t, 0, 0)
    assert mas_find(mas, MAX) is None
    for i in (0, 1, 2, 15, 16, 17, 100, 255):
        t = tree_from_ranges([(j, j, xa_mk_value(j)) for j in range(i + 1)])
        mas = MaState(t, 0, 0)
        got = []
        while (e := mas_find(mas, MAX)) is not None:
            got.append(e)
        assert got == [xa_mk_value(j) for j in range(i + 1)]
    for i in (0, 1, 100, 254):
        t = tree_from_ranges([(j, j, xa_mk_value(j)) for j in range(i + 1, 256)])
        mas = MaState(t, 0, 0)
        got = []
        while (e := mas_find(mas, MAX)) is not None:
            got.append(e)
        assert got == [xa_mk_value(j) for j in range(i + 1, 256)]


# ------------------------------------------------------------------ odds and ends

def test_empty_tree_calls():
    t = tree_from_ranges([])
    mas = MaState(t, 0, 0)
    chk(mas, None, mas_find(mas, MAX), 0, MAX, MA_NONE)
    mas = MaState(t, 5, 5)
    chk(mas, None, mas_prev(mas, 0), 0, MAX, MA_NONE)  # the walk resets index to 0
    mas = MaState(t, 5, 5)
    chk(mas, None, mas_next(mas, MAX), 0, MAX, MA_NONE)
    mas = MaState(t, 5, 5)
    chk(mas, None, mas_find_rev(mas, 0), 0, 0, MA_ROOT)
    assert mt_find(t, 0, MAX) == (None, 0)
    assert mt_next(t, 0, MAX) is None and mt_prev(t, 7, 0) is None


def test_find_range_stops_on_null_and_keeps_overflow():
    t = tree_from_ranges([(10, 19, xa_mk_value(1)), (30, 39, xa_mk_value(3))])
    # (expectations read from Linux 6.12 through the adapter)
    mas = MaState(t, 0, 0)
    # the first call does not return the NULL range it starts in
    chk(mas, xa_mk_value(1), mas_find_range(mas, MAX), 10, 19, MA_ACTIVE)
    chk(mas, None, mas_find_range(mas, MAX), 20, 29, MA_ACTIVE)
    chk(mas, None, mas_find_range(mas, 25), 20, 29, MA_ACTIVE)  # last >= max: no move
    mas = MaState(t, 15, 15)
    mas_walk(mas)
    chk(mas, None, mas_prev_range(mas, 0), 0, 9, MA_ACTIVE)
    chk(mas, None, mas_prev_range(mas, 0), 0, 9, MA_UNDERFLOW)


def test_mt_find_index_wraps_at_max():
    t = tree_from_ranges([(MAX - 3, MAX, xa_mk_value(9))])
    assert mt_find(t, 5, MAX) == (xa_mk_value(9), 0)
    assert mt_find_after(t, 0, MAX) == (None, 0)
    assert mt_find(t, 9, 5) == (None, 9)


def test_status_start_index_above_max():
    t = tree_from_ranges([(10, 19, xa_mk_value(1))])
    mas = MaState(t, 50, 50)
    chk(mas, None, mas_find(mas, 20), 50, 50, MA_START)
    mas_pause(mas)
    assert mas.status == MA_PAUSE and mas.node is None
