# SPDX-License-Identifier: GPL-2.0-or-later
"""Support for the read-path and gap tests of impl/pytree, plus tests of that support.

* :func:`tree_from_dump` builds our Python tree node for node from a canonical
  dump (for instance one taken from the Linux adapter), so our read path runs
  on exactly the structure Linux built.
* :func:`tree_from_ranges` builds a valid multi-level tree bottom-up from a
  list of ranges (no write path needed), with the geometry as a parameter.
* :class:`PyCursor` gives a bare :class:`MapleTree` the protocol's cursor and
  gap methods, calling :mod:`iterate` and :mod:`gap` directly.
* :func:`linux_factory` returns a shared ``LinuxFactory`` or None.
"""

from __future__ import annotations

import functools

import pytest

from maplecheck.tree import (MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_HEIGHT_OFFSET, Area,
                             MasResult, Walk, xa_mk_value)
from maplecheck.impl.pytree import gap, iterate
from maplecheck.impl.pytree.alloc import NodeAllocator
from maplecheck.impl.pytree.mtree import MapleTree
from maplecheck.impl.pytree.node import (LINUX_64, SMALL, Geometry, ma_parent_ptr,
                                         ma_root_parent, ma_set_meta, maple_arange_64,
                                         maple_leaf_64, maple_range_64, mt_mk_root)
from maplecheck.impl.pytree.state import MaState
from maplecheck.impl.pytree.walk import mas_walk

TYPES = {"leaf_64": maple_leaf_64, "range_64": maple_range_64, "arange_64": maple_arange_64}
TYPE_NAMES = {v: k for k, v in TYPES.items()}


# ------------------------------------------------------------------ dump -> tree

def tree_from_dump(d: dict, geo: Geometry = LINUX_64, alloc: NodeAllocator | None = None
                   ) -> MapleTree:
    """Our tree with exactly the structure of the canonical dump ``d``."""
    alloc = alloc or NodeAllocator(geo)
    tree = MapleTree(alloc, d["flags"])
    tree.mt_set_height(d["height"])
    kind = d["root"]["kind"]
    if kind == "empty":
        return tree
    if kind == "entry":
        tree.ma_root = d["root"]["value"]
        return tree
    nodes = d["nodes"]
    enodes = [alloc.alloc(TYPES[n["type"]]) for n in nodes]
    for i, n in enumerate(nodes):
        type = TYPES[n["type"]]
        node = alloc.node(enodes[i])
        end = n["end"]
        for off, piv in enumerate(n["pivots"]):
            node.pivot[off] = piv
        if type == maple_arange_64:
            node.meta_end = end
            node.meta_gap = n["meta_gap"]
            for off, g in enumerate(n["gaps"]):
                node.gap[off] = g
        elif end < len(node.slot) - 1:
            ma_set_meta(node, type, 0, end)
        for off, s in enumerate(n["slots"]):
            if type == maple_leaf_64:
                node.slot[off] = s
            else:
                node.slot[off] = enodes[s]
                alloc.node(enodes[s]).parent = ma_parent_ptr(enodes[i] & ~0xFF, off)
    alloc.node(enodes[0]).parent = ma_root_parent(tree.addr)
    tree.ma_root = mt_mk_root(enodes[0])
    return tree


# ------------------------------------------------------------------ ranges -> dump

def normalise(ranges) -> list[tuple[int, int, object]]:
    """Sorted, gap-filled (NULL), NULL-merged ranges covering [0, MAX]."""
    out: list[list] = []
    pos = 0
    for first, last, entry in sorted(ranges):
        assert first >= pos and last >= first, "ranges overlap"
        if first > pos:
            out.append([pos, first - 1, None])
        out.append([first, last, entry])
        pos = last + 1
    if pos <= MAX:
        out.append([pos, MAX, None])
    merged: list[list] = []
    for r in out:
        if merged and r[2] is None and merged[-1][2] is None:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [tuple(r) for r in merged]


def _split(n: int, per: int) -> list[int]:
    k = -(-n // per)
    base, extra = divmod(n, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def dump_from_ranges(ranges, flags: int = 0, geo: Geometry = LINUX_64) -> dict:
    """A canonical dump of a valid tree holding ``ranges`` (built bottom-up, not by writes).

    Leaves are filled evenly to about ``slots - 1``, and no leaf but the last
    ends in NULL.  Internal nodes are filled evenly; arange nodes get the
    gaps of their children and ``meta_gap`` as ``ma_max_gap`` computes it.
    """
    rs = normalise(ranges)
    alloc_tree = bool(flags & MT_FLAGS_ALLOC_RANGE)
    if rs == [(0, MAX, None)]:
        return {"flags": flags, "height": 0, "root": {"kind": "empty"}, "nodes": []}
    if len(rs) == 2 and rs[0][:2] == (0, 0) and rs[0][2] & 3 != 2:
        return {"flags": flags, "height": 0, "root": {"kind": "entry", "value": rs[0][2]},
                "nodes": []}
    lslots = geo.range_slots
    sizes = _split(len(rs), lslots - 1)
    # no leaf but the last may end in NULL: move such a slot to the next leaf
    pos = 0
    for i in range(len(sizes) - 1):
        pos += sizes[i]
        if rs[pos - 1][2] is None:
            sizes[i] -= 1
            sizes[i + 1] += 1
            pos -= 1
    level = []  # (node dict, children) per node; leaves have no children
    pos = 0
    for sz in sizes:
        chunk = rs[pos:pos + sz]
        pos += sz
        lo, hi = chunk[0][0], chunk[-1][1]
        end = len(chunk) - 1
        pivots = [r[1] for r in chunk][:lslots - 1]
        g = 0
        for a, b, e in chunk:
            if e is None:
                g = max(g, b - a + 1)
        level.append(({"type": "leaf_64", "min": lo, "max": hi, "end": end, "pivots": pivots,
                       "slots": [r[2] for r in chunk]}, [], g))
    itype = "arange_64" if alloc_tree else "range_64"
    islots = geo.arange_slots if alloc_tree else geo.range_slots
    height = 1
    while len(level) > 1:
        height += 1
        nxt = []
        pos = 0
        for sz in _split(len(level), islots):
            kids = level[pos:pos + sz]
            pos += sz
            lo, hi = kids[0][0]["min"], kids[-1][0]["max"]
            node = {"type": itype, "min": lo, "max": hi, "end": sz - 1,
                    "pivots": [k[0]["max"] for k in kids][:islots - 1], "slots": []}
            g = max(k[2] for k in kids)
            if alloc_tree:
                gaps = [k[2] for k in kids]
                mg, off = 0, sz - 1
                for j in range(sz - 1, -1, -1):
                    if gaps[j] > mg:
                        mg, off = gaps[j], j
                node["gaps"] = gaps
                node["meta_gap"] = off
            nxt.append((node, kids, g))
        level = nxt
    # flatten in DFS pre-order
    nodes: list[dict] = []

    def visit(item, parent_slot):
        node, kids, _ = item
        idx = len(nodes)
        node = dict(node)
        node["parent_slot"] = parent_slot
        nodes.append(node)
        if kids:
            node["slots"] = [visit(k, off) for off, k in enumerate(kids)]
        return idx

    visit(level[0], None)
    # the dump key order of the canonical format
    order = ("type", "min", "max", "end", "pivots", "slots", "gaps", "meta_gap", "parent_slot")
    nodes = [{k: n[k] for k in order if k in n} for n in nodes]
    return {"flags": flags, "height": height, "root": {"kind": "node"}, "nodes": nodes}


def tree_from_ranges(ranges, flags: int = 0, geo: Geometry = LINUX_64) -> MapleTree:
    return tree_from_dump(dump_from_ranges(ranges, flags, geo), geo)


# ------------------------------------------------------------------ cursor wrapper

class PyCursor:
    """A MapleTree plus one ma_state, with the protocol's read methods."""

    def __init__(self, tree: MapleTree):
        self.tree = tree
        self.mas = MaState(tree, 0, 0)

    def _r(self, entry) -> MasResult:
        m = self.mas
        return MasResult(entry, m.index, m.last, m.status)

    def mas_set(self, index: int) -> None:
        self.mas.set(index)

    def mas_pause(self) -> None:
        iterate.mas_pause(self.mas)

    def mas_find(self, max): return self._r(iterate.mas_find(self.mas, max))
    def mas_find_range(self, max): return self._r(iterate.mas_find_range(self.mas, max))
    def mas_next(self, max): return self._r(iterate.mas_next(self.mas, max))
    def mas_next_range(self, max): return self._r(iterate.mas_next_range(self.mas, max))
    def mas_prev(self, min): return self._r(iterate.mas_prev(self.mas, min))
    def mas_prev_range(self, min): return self._r(iterate.mas_prev_range(self.mas, min))
    def mas_find_rev(self, min): return self._r(iterate.mas_find_rev(self.mas, min))
    def mas_find_range_rev(self, min): return self._r(iterate.mas_find_range_rev(self.mas, min))

    def walk(self, index: int) -> Walk:
        mas = MaState(self.tree, index, index)
        e = mas_walk(mas)
        return Walk(e, mas.index, mas.last)

    def empty_area(self, min, max, size) -> Area:
        return self._area(gap.mas_empty_area, min, max, size)

    def empty_area_rev(self, min, max, size) -> Area:
        return self._area(gap.mas_empty_area_rev, min, max, size)

    def _area(self, fn, min, max, size) -> Area:
        mas = MaState(self.tree, 0, 0)
        ret = fn(mas, min, max, size)
        return Area(ret, 0, 0) if ret else Area(ret, mas.index, mas.last)


CURSOR_CALLS = ("mas_find", "mas_find_range", "mas_next", "mas_next_range",
                "mas_prev", "mas_prev_range", "mas_find_rev", "mas_find_range_rev")


@functools.lru_cache(maxsize=1)
def linux_factory():
    """The Linux adapter's factory; building it must work here (CI installs what it needs)."""
    from maplecheck.impl.linux.adapter import LinuxFactory
    return LinuxFactory()


def needs_linux():
    return linux_factory()


# ------------------------------------------------------------------ tests of the support

def all_ranges(tree: MapleTree):
    """Every range by mas_walk, left to right (NULL ranges included)."""
    out = []
    idx = 0
    while True:
        mas = MaState(tree, idx, idx)
        e = mas_walk(mas)
        out.append((mas.index, mas.last, e))
        if mas.last == MAX:
            return out
        idx = mas.last + 1


@pytest.mark.parametrize("geo", [LINUX_64, SMALL], ids=["linux64", "small"])
@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE])
@pytest.mark.parametrize("n", [0, 1, 3, 15, 16, 40, 300, 2000])
def test_builder_walks_back(geo, flags, n):
    ranges = [(10 * i, 10 * i + 5, xa_mk_value(i)) for i in range(n)]
    t = tree_from_ranges(ranges, flags, geo)
    assert all_ranges(t) == normalise(ranges)


def test_builder_root_pointer_and_empty():
    t = tree_from_ranges([(0, 0, 0x1000)])
    assert t.ma_root == 0x1000 and t.mt_height() == 0
    t = tree_from_ranges([])
    assert t.ma_root is None
    # an internal-looking entry at 0 needs a node
    t = tree_from_ranges([(0, 0, 0x1002)])
    assert t.mt_height() == 1


def test_builder_height_grows():
    t = tree_from_ranges([(2 * i, 2 * i, xa_mk_value(i)) for i in range(5000)],
                         MT_FLAGS_ALLOC_RANGE)
    assert t.mt_height() >= 4
    assert (t.ma_flags >> MT_FLAGS_HEIGHT_OFFSET) & 0x1F == t.mt_height()


def test_builder_matches_linux_dump():
    """A Linux dump rebuilt in Python walks to the same ranges as Linux."""
    f = needs_linux()
    for flags in (0, MT_FLAGS_ALLOC_RANGE):
        lt = f.create(flags)
        try:
            for i in range(300):
                lt.store_range(10 * i, 10 * i + 5, xa_mk_value(i))
            t = tree_from_dump(lt.dump())
            for idx in (0, 5, 6, 9, 10, 1000, 2995, 2996, MAX):
                assert PyCursor(t).walk(idx) == lt.walk(idx)
        finally:
            lt.destroy()
