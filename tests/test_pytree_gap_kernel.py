# SPDX-License-Identifier: GPL-2.0-or-later
"""Gap search on our tree: the kernel's expectations, and Linux differential checks.

Kernel tests pinned (lib/test_maple_tree.c, Linux 6.12): check_empty_area_window,
the hole searches and allocation requests of check_alloc_range and
check_alloc_rev_range (their /proc/self/maps-like table is reproduced as data).

Until the Python write path exists the insert after a search is done by
:class:`RebuildStore`, which rebuilds the tree bottom-up with the new range;
the search itself (what gap.py implements) runs on real nodes every time.
"""

from __future__ import annotations

import random

import pytest

from maplecheck.dump import dump_diff
from maplecheck.tree import (EBUSY, EEXIST, EINVAL, MAX, MT_FLAGS_ALLOC_RANGE, XA_ZERO_ENTRY,
                             xa_mk_value)
from maplecheck.impl.pytree.gap import (ma_max_gap, mas_empty_area, mas_empty_area_rev,
                                        mas_leaf_max_gap, mtree_alloc_cyclic,
                                        mtree_alloc_range, mtree_alloc_rrange)
from maplecheck.impl.pytree.node import ma_root_parent
from maplecheck.impl.pytree.state import MaState

from test_pytree_read_build import (all_ranges, dump_from_ranges, needs_linux, tree_from_dump,
                                    tree_from_ranges)

ALLOC = MT_FLAGS_ALLOC_RANGE
MTREE_ALLOC_MAX = 0x2000000000000


# ------------------------------------------------------------------ a stand-in write side

class RebuildStore:
    """Stores by rebuilding the whole tree (same MapleTree object) from its ranges."""

    def __init__(self, tree):
        self.tree = tree

    def ranges(self):
        return [r for r in all_ranges(self.tree) if r[2] is not None]

    def _reload(self, ranges):
        t = self.tree
        new = tree_from_dump(dump_from_ranges(ranges, t.ma_flags & ~0x7C, t.alloc.geo), t.alloc.geo,
                             t.alloc)
        t.ma_root = new.ma_root
        t.ma_flags = new.ma_flags
        root = t.root_enode()
        if root is not None:
            t.alloc.node(root).parent = ma_root_parent(t.addr)

    def store(self, first, last, entry):
        keep = []
        for a, b, e in self.ranges():
            if b < first or a > last:
                keep.append((a, b, e))
                continue
            if a < first:
                keep.append((a, first - 1, e))
            if b > last:
                keep.append((last + 1, b, e))
        if entry is not None:
            keep.append((first, last, entry))
        self._reload(keep)

    def insert(self, first, last, entry) -> int:
        for a, b, e in self.ranges():
            if not (b < first or a > last):
                return -EEXIST
        self.store(first, last, entry)
        return 0

    def erase(self, index):
        for a, b, e in self.ranges():
            if a <= index <= b:
                self.store(a, b, None)
                return e
        return None

    # the mas_insert the allocation functions call
    def mas_insert(self, mas, entry):
        if self.insert(mas.index, mas.last, entry):
            mas.set_err(-EEXIST)


def alloc_range(tree, size, entry, lo, hi, rev=False):
    w = RebuildStore(tree)
    fn = mtree_alloc_rrange if rev else mtree_alloc_range
    return fn(tree, size, entry, lo, hi, insert=w.mas_insert, nomem=lambda m: False,
              destroy=lambda m: None)


# ------------------------------------------------------------------ check_empty_area_window

def _window_tree():
    r = [(i * 10, i * 10 + 9, xa_mk_value(i)) for i in range(1, 21)]
    r = [x for x in r if x[0] != 160]  # mtree_store_range(160, 169, NULL)
    return tree_from_ranges(r, ALLOC)


def _area(t, rev, lo, hi, size):
    mas = MaState(t, 0, 0)
    fn = mas_empty_area_rev if rev else mas_empty_area
    ret = fn(mas, lo, hi, size)
    return ret, mas.index, mas.last


def test_empty_area_window():
    t = _window_tree()
    assert _area(t, True, 5, 90, 10)[0] == -EBUSY
    assert _area(t, True, 6, 90, 5)[0] == -EBUSY
    assert _area(t, True, 5, 90, 5) == (0, 5, 9)
    assert _area(t, True, 5, 217, 9) == (0, 161, 169)
    assert _area(t, True, 100, 218, 3) == (0, 216, 218)
    assert _area(t, True, 100, 218, 16)[0] == -EBUSY
    assert _area(t, True, 167, 200, 4)[0] == -EBUSY
    assert _area(t, True, 100, 162, 4)[0] == -EBUSY
    assert _area(t, False, 0, 100, 9) == (0, 0, 8)
    assert _area(t, False, 0, 100, 4) == (0, 0, 3)
    assert _area(t, False, 0, 100, 11)[0] == -EBUSY
    assert _area(t, False, 5, 100, 6)[0] == -EBUSY
    assert _area(t, False, 0, 8, 10)[0] == -EINVAL
    _area(t, False, 100, 165, 3)
    assert _area(t, False, 100, 163, 6)[0] == -EBUSY


def test_plain_tree_cannot_descend():
    """Without MT_FLAGS_ALLOC_RANGE internal nodes have no gaps: above one leaf every
    search fails with -EBUSY, even where a hole exists (as on Linux)."""
    r = [(i * 10, i * 10 + 9, xa_mk_value(i)) for i in range(1, 21)]
    plain = tree_from_ranges(r)
    assert plain.mt_height() == 2
    for rev in (False, True):
        assert _area(plain, rev, 0, 100, 5)[0] == -EBUSY
        assert _area(plain, rev, 300, MAX, 5)[0] == -EBUSY
    one_leaf = tree_from_ranges(r[:5])
    assert _area(one_leaf, False, 0, 100, 5) == (0, 0, 4)
    assert _area(one_leaf, True, 0, 100, 5) == (0, 96, 100)


def test_empty_area_bad_requests():
    t = _window_tree()
    for rev in (False, True):
        assert _area(t, rev, 10, 5, 1)[0] == -EINVAL
        assert _area(t, rev, 0, 10, 0)[0] == -EINVAL
        assert _area(t, rev, 0, 10, 12)[0] == -EINVAL
        assert _area(t, rev, 0, MAX, MAX)[0] in (0, -EBUSY)


def test_empty_area_sparse_trees():
    empty = tree_from_ranges([], ALLOC)
    assert _area(empty, False, 0, 100, 10) == (0, 0, 9)
    assert _area(empty, True, 0, 100, 10) == (0, 91, 100)
    ptr = tree_from_ranges([(0, 0, 0x4000)], ALLOC)
    assert ptr.ma_root == 0x4000
    assert _area(ptr, False, 0, 100, 10) == (0, 1, 10)  # min bumped past the root entry
    assert _area(ptr, True, 0, 100, 10) == (0, 91, 100)
    assert _area(ptr, False, 0, 9, 10)[0] == -EBUSY
    assert _area(ptr, False, 0, 0, 1)[0] == -EBUSY
    assert _area(ptr, False, 5, 100, 10) == (0, 5, 14)


# ------------------------------------------------------------------ check_alloc_range / _rev_range

RANGE = [  # /proc/self/maps of the kernel test: inclusive start, exclusive end
    0x565234af2000, 0x565234af4000, 0x565234af4000, 0x565234af9000,
    0x565234af9000, 0x565234afb000, 0x565234afc000, 0x565234afd000,
    0x565234afd000, 0x565234afe000, 0x565235def000, 0x565235e10000,
    0x7f36d4bfd000, 0x7f36d4ee2000, 0x7f36d4ee2000, 0x7f36d4f04000,
    0x7f36d4f04000, 0x7f36d504c000, 0x7f36d504c000, 0x7f36d5098000,
    0x7f36d5098000, 0x7f36d5099000, 0x7f36d5099000, 0x7f36d509d000,
    0x7f36d509d000, 0x7f36d509f000, 0x7f36d509f000, 0x7f36d50a5000,
    0x7f36d50b9000, 0x7f36d50db000, 0x7f36d50db000, 0x7f36d50dc000,
    0x7f36d50dc000, 0x7f36d50fa000, 0x7f36d50fa000, 0x7f36d5102000,
    0x7f36d5102000, 0x7f36d5103000, 0x7f36d5103000, 0x7f36d5104000,
    0x7f36d5104000, 0x7f36d5105000, 0x7fff5876b000, 0x7fff5878d000,
    0x7fff5878e000, 0x7fff58791000, 0x7fff58791000, 0x7fff58793000,
]
HOLES = [  # start of hole (inclusive), end of hole (exclusive), size
    0x565234afb000, 0x565234afc000, 0x1000,
    0x565234afe000, 0x565235def000, 0x12F1000,
    0x565235e10000, 0x7f36d4bfd000, 0x28E49EDED000,
]
M1 = MAX  # the kernel table's -1
REQ_FWD = [  # min, max, size, expected, ret  (all shifted right by 12 before use)
    (0x565234af9000, 0x7fff58791000, 0x1000, 0x565234afb000, 0),
    (0x0, 0x7fff58791000, 0x1F00, 0x0, 0),
    (34148797436 << 12, 0x7fff587AF000, 0x3000, 34148798629 << 12, 0),
    (34148798623 << 12, 34148798683 << 12, 0x15000, 0, -EBUSY),
    (34148798623 << 12, 0x7fff587AF000, 0x10000, 34148798632 << 12, 0),
    (0, M1, M1, 0, -EBUSY),
    (0, M1, 4503599618982063 << 12, 34359052178 << 12, -EBUSY),
    (34148798648 << 12, 34148798648 << 12, 4096, 34148798648 << 12, 0),
]
REQ_REV = [
    (0x565234af9000, 0x7fff58791000, 0x1000, 0x7fff5878d << 12, 0),
    (0x0, 0x565234AF0 << 12, 0x3000, 0x565234AEE << 12, 0),
    (0x0, M1, 0x1000, 562949953421311 << 12, 0),
    (0x0, 0x7F36D5109 << 12, 0x4000, 0x7F36D5106 << 12, 0),
    (0x0, 34148798628 << 12, 19 << 12, 34148797418 << 12, 0),
    (0x0, 18446744073709551615, 562915594369134 << 12, 0x0, -EBUSY),
    (34148798725 << 12, 34148798725 << 12, 1 << 12, 34148798725 << 12, 0),
]


def _maps_tree():
    t = tree_from_ranges([(MTREE_ALLOC_MAX, MAX, XA_ZERO_ENTRY)], ALLOC)
    w = RebuildStore(t)
    for i in range(0, len(RANGE), 2):
        assert w.insert(RANGE[i] >> 12, (RANGE[i + 1] >> 12) - 1, xa_mk_value(RANGE[i] >> 12)) == 0
    return t


def test_alloc_range_holes_and_requests():
    t = _maps_tree()
    assert t.mt_height() >= 2
    lo = 0x565234af2000
    for i in range(0, len(HOLES), 3):
        ret, index, _ = _area(t, False, lo >> 12, HOLES[i + 1] >> 12, HOLES[i + 2] >> 12)
        assert ret == 0 and index == HOLES[i] >> 12
        lo = HOLES[i + 1]
    for n, (a, b, size, expect, eret) in enumerate(REQ_FWD):
        ret, start = alloc_range(t, size >> 12, xa_mk_value(a >> 12), a >> 12, b >> 12)
        assert ret == eret, f"request {n}"
        if not ret:
            assert start == expect >> 12, f"request {n}: {start:#x}"


def test_alloc_rev_range_holes_and_requests():
    t = _maps_tree()
    lo = 0
    for i in range(0, len(HOLES), 3):
        ret, index, last = _area(t, True, lo, HOLES[i + 1] >> 12, HOLES[i + 2] >> 12)
        assert ret == 0
        assert last + 1 == HOLES[i + 1] >> 12
        assert index == (HOLES[i + 1] >> 12) - (HOLES[i + 2] >> 12)
        lo = HOLES[i + 1] >> 12
    for n, (a, b, size, expect, eret) in enumerate(REQ_REV):
        ret, start = alloc_range(t, size >> 12, xa_mk_value(a >> 12), a >> 12, b >> 12, rev=True)
        assert ret == eret, f"request {n}"
        if not ret:
            assert start == expect >> 12, f"request {n}: {start:#x}"
    w = RebuildStore(t)
    w.erase(34148798727)
    w.erase(34148798725)
    assert alloc_range(t, 210253414, 0x10000, 0, 34359052173, rev=True) == (0, 34148798725)


def test_alloc_refusals():
    plain = tree_from_ranges([(5, 9, xa_mk_value(1))])
    assert mtree_alloc_range(plain, 1, xa_mk_value(1), 0, 100) == (-EINVAL, 0)
    assert mtree_alloc_rrange(plain, 1, xa_mk_value(1), 0, 100) == (-EINVAL, 0)
    t = _window_tree()
    for reserved in (2, 6, 0x402, 0x406 - 4, 4094):
        assert alloc_range(t, 1, reserved, 0, 100) == (-EINVAL, 0)
    # XA_ZERO_ENTRY (0x406) is reserved too
    assert alloc_range(t, 1, XA_ZERO_ENTRY, 0, 100) == (-EINVAL, 0)
    assert alloc_range(t, 3, xa_mk_value(7), 0, 100) == (0, 0)
    assert alloc_range(t, 3, xa_mk_value(7), 0, 100) == (0, 3)


def test_alloc_cyclic():
    t = tree_from_ranges([], ALLOC)
    w = RebuildStore(t)
    nxt = 0
    for i in range(30):
        ret, start, nxt = mtree_alloc_cyclic(t, 0x8000, 2, MAX, nxt, insert=w.mas_insert,
                                             nomem=lambda m: False, destroy=lambda m: None)
        assert (ret, start, nxt) == (0, i + 2, i + 3)
    t = tree_from_ranges([], ALLOC)
    w = RebuildStore(t)
    kw = dict(insert=w.mas_insert, nomem=lambda m: False, destroy=lambda m: None)
    nxt = MAX - 1
    r1 = mtree_alloc_cyclic(t, 0x8000, 2, MAX, nxt, **kw)
    assert r1[0] == 0 and r1[1] == MAX - 1
    r2 = mtree_alloc_cyclic(t, 0x8000, 2, MAX, r1[2], **kw)
    assert r2[0] == 0 and r2[1] == MAX and r2[2] == 0
    r3 = mtree_alloc_cyclic(t, 0x8000, 2, MAX, r2[2], **kw)
    assert r3[0] == 1 and r3[1] == 2


# ------------------------------------------------------------------ gap values

def test_leaf_and_node_gaps():
    t = tree_from_ranges([(10, 19, 1), (40, 49, 3), (100, 100, 5)], ALLOC)
    mas = MaState(t, 0, 0)
    mas.node = t.root_enode()
    mas.min, mas.max = 0, MAX
    assert mas_leaf_max_gap(mas) == MAX - 100
    t = tree_from_ranges([(10, 19, 1), (40, 49, 3), (100, MAX, 5)], ALLOC)
    mas = MaState(t, 0, 0)
    mas.node = t.root_enode()
    assert mas_leaf_max_gap(mas) == 50
    big = tree_from_ranges([(3 * i, 3 * i + 1, xa_mk_value(i)) for i in range(400)]
                           + [(5000, 5999, 7)], ALLOC)
    root = big.alloc.node(big.root_enode())
    g, off = ma_max_gap(root.gap, root.meta_end)
    assert g == MAX - 5999 and off == root.meta_end


# ------------------------------------------------------------------ against Linux

def _rand_tree(f, rng, flags, span):
    lt = f.create(flags)
    step = rng.choice((2, 3, 5, 17))
    for i in range(0, span, step):
        if rng.random() < 0.8:
            lt.store_range(i, i + rng.randrange(1, step), xa_mk_value(i & 0xFF))
    for _ in range(rng.randrange(0, 40)):
        a = rng.randrange(span)
        lt.store_range(a, a + rng.choice((0, 1, 5, 30, 300)), None)
    return lt


@pytest.mark.parametrize("seed", range(8))
def test_alloc_requests_match_linux(seed):
    """Linux serves a stream of alloc_range/alloc_rrange; before each, our search on
    the same nodes must predict its result (0 and start, or the errno)."""
    f = needs_linux()
    rng = random.Random(seed)
    span = rng.choice((60, 700, 5000))
    lt = _rand_tree(f, rng, ALLOC, span)
    try:
        for n in range(150):
            t = tree_from_dump(lt.dump())
            rev = rng.random() < 0.5
            lo = rng.randrange(span) if rng.random() < 0.8 else 0
            hi = rng.choice((MAX, lo + rng.randrange(300), rng.randrange(span + 50)))
            size = rng.choice((1, 1, 2, 3, 4, 7, 30, 1000))
            entry = xa_mk_value(n)
            fn = mtree_alloc_rrange if rev else mtree_alloc_range
            # the search decides the result; Linux does the insert, and the next
            # step starts again from its dump
            ours = fn(t, size, entry, lo, hi, insert=lambda m, e: None,
                      nomem=lambda m: False, destroy=lambda m: None)
            theirs = lt.alloc_rrange(size, entry, lo, hi) if rev else lt.alloc_range(size, entry, lo, hi)
            assert tuple(theirs) == ours, f"step {n} rev={rev} ({lo:#x},{hi:#x},{size})"
            if not ours[0]:
                assert lt.load(ours[1]) == entry
    finally:
        lt.destroy()


def test_alloc_refusals_match_linux():
    f = needs_linux()
    plain = f.create(0)
    a = f.create(ALLOC)
    try:
        assert tuple(plain.alloc_range(1, xa_mk_value(1), 0, 100)) == (-EINVAL, 0)
        assert tuple(a.alloc_range(1, XA_ZERO_ENTRY, 0, 100)) == (-EINVAL, 0)
        assert tuple(a.alloc_rrange(1, 6, 0, 100)) == (-EINVAL, 0)
    finally:
        plain.destroy()
        a.destroy()


# ------------------------------------------------------------------ check_empty_area_fill

def test_empty_area_fill():
    """check_empty_area_fill, literally: empty_area then mas_store_gfp on the same state
    (through the Python write path), 5 x 5000 times until the window is full."""
    from maplecheck.impl.pytree.tree import PyFactory
    from maplecheck.impl.pytree.write import mas_store_gfp
    top = 0x25D78000
    pt = PyFactory().create(ALLOC)
    mt = pt.mt
    mas = MaState(mt, 0, 0)
    for shift in range(12, 17):
        size = 1 << shift
        for _ in range(5000):
            mas.set(0)
            assert mas_empty_area(mas, 0, top, size) == 0
            assert mas.last == mas.index + size - 1
            assert mas_store_gfp(mas, size) == 0
            mas.reset()
    assert mas_empty_area(mas, 0, top, 0x1000) == -EBUSY
    for i in range(629440511, 629440801, 6):
        assert pt.store_range(i, i + 5, i) == 0
    pt.erase(631668735)
    pt.erase(629506047)
    mas.reset()
    assert mas_empty_area(mas, 629506048, 690000000, 0x5000) == 0
    assert pt.validate() == []
    f = needs_linux()
    lt = f.create(ALLOC)
    try:
        # Linux through alloc_range (the same search, then an insert on the same state)
        for shift in range(12, 17):
            for _ in range(5000):
                assert lt.alloc_range(1 << shift, 1 << shift, 0, top).ret == 0
        for i in range(629440511, 629440801, 6):
            lt.store_range(i, i + 5, i)
        lt.erase(631668735)
        lt.erase(629506047)
        assert dump_diff(lt.dump(), pt.dump(), ("linux", "python")) is None
        assert tuple(lt.empty_area(629506048, 690000000, 0x5000)) == tuple(
            pt.empty_area(629506048, 690000000, 0x5000))
    finally:
        lt.destroy()


@pytest.mark.parametrize("rev", [False, True], ids=["alloc_range", "alloc_rrange"])
def test_maps_requests_through_pytree_and_linux(rev):
    """check_alloc_(rev_)range end to end: PyTree (real write path) and Linux build the
    same tree, serve the same requests with the same results, and stay identical."""
    from maplecheck.impl.pytree.tree import PyFactory
    f = needs_linux()
    pt = PyFactory().create(ALLOC)
    lt = f.create(ALLOC)
    try:
        for t in (pt, lt):
            assert t.store_range(MTREE_ALLOC_MAX, MAX, XA_ZERO_ENTRY) == 0
            for i in range(0, len(RANGE), 2):
                assert t.insert_range(RANGE[i] >> 12, (RANGE[i + 1] >> 12) - 1,
                                      xa_mk_value(RANGE[i] >> 12)) == 0
        assert dump_diff(lt.dump(), pt.dump()) is None
        for n, (a, b, size, expect, eret) in enumerate(REQ_REV if rev else REQ_FWD):
            args = (size >> 12, xa_mk_value(a >> 12), a >> 12, b >> 12)
            got = pt.alloc_rrange(*args) if rev else pt.alloc_range(*args)
            assert got == (lt.alloc_rrange(*args) if rev else lt.alloc_range(*args))
            assert got.ret == eret and (eret or got.start == expect >> 12), f"request {n}"
            assert dump_diff(lt.dump(), pt.dump()) is None, f"request {n}"
        if rev:
            for t in (pt, lt):
                t.erase(34148798727)
                t.erase(34148798725)
            args = (210253414, 0x10000, 0, 34359052173)
            assert pt.alloc_rrange(*args) == lt.alloc_rrange(*args) == (0, 34148798725)
        assert pt.validate() == [] and lt.validate() == []
    finally:
        lt.destroy()
        pt.destroy()
