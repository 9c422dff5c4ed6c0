# SPDX-License-Identifier: GPL-2.0-or-later
"""Dead nodes under a moving cursor: the steps re-walk and carry on, as in RCU mode.

Between two cursor calls the leaf (or its parent) the state points at is
replaced by a copy and marked dead, as an RCU writer would do.  Every call
must return what it returns on the untouched tree.
"""

from __future__ import annotations

import random

import pytest

from maplecheck.tree import MA_ACTIVE, MAX, xa_mk_value
from maplecheck.impl.pytree.iterate import MasNullNode
from maplecheck.impl.pytree.node import LINUX_64, SMALL, ma_parent_ptr, mt_mk_root

from test_pytree_read_build import CURSOR_CALLS, PyCursor, tree_from_ranges


def _replace(tree, enode: int) -> int:
    """Replace node ``enode`` by a copy (children re-parented), mark it dead; return the copy."""
    alloc = tree.alloc
    old = alloc.node(enode)
    type = (enode >> 3) & 0xF
    new_enode = alloc.alloc(type)
    new = alloc.node(new_enode)
    new.copy_from(old)
    if old.parent & 1:  # the root
        tree.ma_root = mt_mk_root(new_enode)
    else:
        parent = alloc.node(old.parent & ~0xFF)
        slot = (old.parent & 0xF8) >> 3
        parent.slot[slot] = new_enode
    if type >= 2:  # internal: children now hang off the copy
        end = new.meta_end if type == 3 else None
        for off, child in enumerate(new.slot):
            if child is None or (end is not None and off > end):
                continue
            if type == 2 and not (child & 0x04 and child > 4096 and alloc.nodes[child >> 8] is not None):
                continue  # the metadata overlay in the last slot
            c = alloc.node(child)
            if (c.parent & ~0xFF) == (enode & ~0xFF):
                c.parent = ma_parent_ptr(new_enode & ~0xFF, off)
    old.parent = enode & ~0xFF  # dead: points at itself
    return new_enode


def _parent_enode(tree, enode: int):
    node = tree.alloc.node(enode)
    if node.parent & 1:
        return None
    p = node.parent & ~0xFF
    t = 3 if tree.ma_flags & 1 else 2
    return p | (t << 3) | 0x04


@pytest.mark.parametrize("geo", [LINUX_64, SMALL], ids=["linux64", "small"])
@pytest.mark.parametrize("flags", [0, 1])
@pytest.mark.parametrize("kill", ["leaf", "parent"])
def test_cursor_survives_dead_nodes(geo, flags, kill):
    rng = random.Random(hash((geo.range_slots, flags, kill)) & 0xFFFF)
    ranges = [(7 * i, 7 * i + rng.randrange(1, 5), xa_mk_value(i % 5))
              for i in range(400) if rng.random() < 0.85]
    clean = PyCursor(tree_from_ranges(ranges, flags, geo))
    dirty = PyCursor(tree_from_ranges(ranges, flags, geo))
    killed = 0
    for _ in range(3000):
        r = rng.random()
        if r < 0.08:
            idx = rng.choice((0, MAX, rng.randrange(3000)))
            clean.mas_set(idx)
            dirty.mas_set(idx)
            continue
        op = rng.choice(CURSOR_CALLS)
        lim = rng.choice((0, MAX, clean.mas.index, min(MAX, max(0, clean.mas.index + rng.randrange(-60, 60)))))
        mas = dirty.mas
        if mas.node is not None and mas.status == MA_ACTIVE:
            target = mas.node if kill == "leaf" else _parent_enode(dirty.tree, mas.node)
            if target is not None:
                _replace(dirty.tree, target)
                killed += 1
        try:
            a = getattr(clean, op)(lim)
        except MasNullNode:
            with pytest.raises(MasNullNode):
                getattr(dirty, op)(lim)
            clean.mas_set(0)
            dirty.mas_set(0)
            continue
        b = getattr(dirty, op)(lim)
        assert a == b, (op, lim)
    assert killed > 500


@pytest.mark.parametrize("flags", [0, 1])
@pytest.mark.parametrize("seed", range(4))
def test_results_do_not_depend_on_geometry(flags, seed):
    """The same ranges in 4-slot nodes (height 4+) and in Linux's 16/10-slot nodes give
    the same cursor results and the same gap-search results (reverse searches
    ending at MAX excepted: their result depends on the root's first pivot)."""
    rng = random.Random(seed)
    ranges = [(5 * i, 5 * i + rng.randrange(0, 4), rng.choice((xa_mk_value(i % 3), 0x8000)))
              for i in range(300) if rng.random() < 0.8]
    big = PyCursor(tree_from_ranges(ranges, flags, LINUX_64))
    small = PyCursor(tree_from_ranges(ranges, flags, SMALL))
    assert small.tree.mt_height() >= 4
    for _ in range(3000):
        r = rng.random()
        if r < 0.08:
            idx = rng.choice((0, MAX, rng.randrange(1600)))
            big.mas_set(idx)
            small.mas_set(idx)
            continue
        if r < 0.1:
            big.mas_pause()
            small.mas_pause()
            continue
        if r < 0.2 and flags:
            lo = rng.randrange(1600)
            hi = rng.choice((lo + rng.randrange(80), rng.randrange(lo, 1700)))
            size = rng.choice((1, 2, 3, 6))
            assert big.empty_area(lo, hi, size) == small.empty_area(lo, hi, size)
            assert big.empty_area_rev(lo, hi, size) == small.empty_area_rev(lo, hi, size)
            assert big.empty_area(lo, MAX, size) == small.empty_area(lo, MAX, size)
            continue
        op = rng.choice(CURSOR_CALLS)
        cur = big.mas.index
        lim = rng.choice((0, MAX, cur, min(MAX, max(0, cur + rng.randrange(-30, 30)))))
        try:
            a = getattr(big, op)(lim)
        except MasNullNode:
            with pytest.raises(MasNullNode):
                getattr(small, op)(lim)
            continue
        assert a == getattr(small, op)(lim), (op, lim)
