# SPDX-License-Identifier: GPL-2.0-or-later
"""``mas_replace_entry`` and the protocol's ``replace`` (impl/pytree/replace.py)."""

from __future__ import annotations

import random

import pytest

from maplecheck.dump import dump_diff, dump_ranges
from maplecheck.impl.pytree import PyFactory
from maplecheck.impl.pytree import replace as repmod
from maplecheck.impl.pytree.iterate import mas_find
from maplecheck.impl.pytree.state import MaState
from maplecheck.impl.pytree.walk import mas_walk
from maplecheck.model.mtree import ModelFactory
from maplecheck.properties.dup_props import (contents, node_addrs, prop_replace_one_slot,
                                             replace_cases)
from maplecheck.tree import (EINVAL, ENOENT, MA_PAUSE, MAX, MT_FLAGS_ALLOC_RANGE,
                             MT_FLAGS_USE_RCU, XA_RETRY_ENTRY, XA_ZERO_ENTRY, xa_mk_value)

V = xa_mk_value


@pytest.fixture(scope="module")
def linux_factory():
    from maplecheck.impl.linux.adapter import LinuxFactory
    return LinuxFactory()


def py_tree(flags=MT_FLAGS_ALLOC_RANGE, n=135):
    f = PyFactory()
    t = f.create(flags)
    for i in range(n):
        t.store_range(10 * i, 10 * i + 5, V(i))
    return f, t


# ------------------------------------------------------------------ mas_replace_entry


def test_mas_replace_entry_writes_one_slot_in_place():
    f, t = py_tree()
    mt = t.mt
    d0 = t.dump()
    addrs = node_addrs(mt)
    live, requested = f.alloc.live, f.alloc.requested
    mas = MaState(mt, 0, 0)
    e = mas_find(mas, MAX)
    count = 0
    while e is not None:
        assert repmod.mas_replace_entry(mas, e + 0x1000) == 0
        count += 1
        e = mas_find(mas, MAX)
    assert count == 135
    d1 = t.dump()
    # structure identical, only leaf entries changed
    assert [(n["type"], n["min"], n["max"], n["pivots"], n.get("gaps")) for n in d0["nodes"]] == \
        [(n["type"], n["min"], n["max"], n["pivots"], n.get("gaps")) for n in d1["nodes"]]
    assert [(a, b, None if e is None else e + 0x1000) for a, b, e in dump_ranges(d0)] == dump_ranges(d1)
    assert node_addrs(mt) == addrs and f.alloc.live == live and f.alloc.requested == requested


@pytest.mark.parametrize("entry", [None, XA_RETRY_ENTRY, 2, 0x3FE])
def test_mas_replace_entry_refuses_bad_entries(entry):
    _, t = py_tree()
    d0 = t.dump()
    mas = MaState(t.mt, 20, 20)
    assert mas_walk(mas) == V(2)
    assert repmod.mas_replace_entry(mas, entry) == -EINVAL
    assert t.dump() == d0


def test_mas_replace_entry_accepts_zero_entry_and_node_like_words():
    _, t = py_tree()
    for idx, e in ((20, XA_ZERO_ENTRY), (30, 0x1002)):
        mas = MaState(t.mt, idx, idx)
        mas_walk(mas)
        assert repmod.mas_replace_entry(mas, e) == 0
        assert t.walk(idx).entry == e
    assert t.load(20) is None  # XA_ZERO_ENTRY reads as NULL through mtree_load


def test_mas_replace_entry_state_errors():
    _, t = py_tree()
    d0 = t.dump()
    mt = t.mt
    fresh = MaState(mt, 20, 20)  # status start: points at nothing
    assert repmod.mas_replace_entry(fresh, V(9)) == -ENOENT
    null = MaState(mt, 7, 7)
    assert mas_walk(null) is None  # [6, 9] is NULL
    assert repmod.mas_replace_entry(null, V(9)) == -ENOENT
    part = MaState(mt, 20, 20)
    mas_walk(part)
    part.index, part.last = 21, 25  # not the whole slot: not an exact fit
    assert repmod.mas_replace_entry(part, V(9)) == -EINVAL
    part.index, part.last = 20, 26
    assert repmod.mas_replace_entry(part, V(9)) == -EINVAL
    paused = MaState(mt, 20, 20)
    mas_walk(paused)
    paused.status = MA_PAUSE
    assert repmod.mas_replace_entry(paused, V(9)) == -ENOENT
    f2 = PyFactory()
    empty = f2.create(0)
    m = MaState(empty.mt, 0, 0)
    mas_walk(m)
    assert repmod.mas_replace_entry(m, V(1)) == -ENOENT
    rp = f2.create(0)
    rp.store_range(0, 0, 0x2000)
    m = MaState(rp.mt, 0, 0)
    assert mas_walk(m) == 0x2000  # status root: no node to write into
    assert repmod.mas_replace_entry(m, V(1)) == -ENOENT
    assert t.dump() == d0


def test_mas_replace_entry_refuses_dead_node_in_rcu_mode():
    f, t = py_tree(MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU, 10)
    mas = MaState(t.mt, 20, 20)
    mas_walk(mas)
    old_leaf = mas.node & ~0xFF
    t.store_range(21, 22, V(50))  # RCU node store: a new leaf replaces the old one
    assert old_leaf not in node_addrs(t.mt)
    assert repmod.mas_replace_entry(mas, V(9)) == -ENOENT  # dead (or already freed)
    assert t.walk(20).entry == V(2)


# ------------------------------------------------------------------ protocol replace


def test_replace_protocol_results():
    f, t = py_tree(n=20)
    assert t.replace(20, None) == (-EINVAL, None)
    assert t.replace(20, XA_RETRY_ENTRY) == (-EINVAL, None)
    assert t.replace(7, V(1)) == (-ENOENT, None)
    assert t.replace(MAX, V(1)) == (-ENOENT, None)
    assert t.replace(23, V(99)) == (0, V(2))
    assert t.walk(20) == (V(99), 20, 25)
    e = f.create(0)
    assert e.replace(0, V(1)) == (-ENOENT, None)
    assert e.dump()["root"] == {"kind": "empty"}


@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU])
@pytest.mark.parametrize("n", [1, 2, 14, 135, 400])
def test_replace_changes_exactly_one_slot(flags, n):
    _, t = py_tree(flags, n)
    for index, entry in replace_cases(t):
        assert prop_replace_one_slot(t, index, entry) == [], (index, entry)


@pytest.mark.parametrize("new", [0x3000, V(5), XA_ZERO_ENTRY, 0x1002, 0x2002])
def test_replace_root_pointer_matches_linux(linux_factory, new):
    """[0,0] bare root: stays bare unless the new entry ends in 10, then a one-leaf tree."""
    for flags in (0, MT_FLAGS_ALLOC_RANGE):
        trees = [PyFactory().create(flags), linux_factory.create(flags), ModelFactory().create(flags)]
        for t in trees:
            assert t.store_range(0, 0, 0x2000) == 0
        res = [t.replace(0, new) for t in trees]
        assert res[0] == res[1] == res[2] == (0, 0x2000)
        assert trees[0].dump() == trees[1].dump(), dump_diff(trees[1].dump(), trees[0].dump())
        assert contents(trees[0]) == contents(trees[2])
        assert trees[0].validate() == []
        assert prop_replace_one_slot(trees[0], 0, new + 4 if new & 3 == 0 else new) == []
        for t in trees:
            assert t.replace(1, new) == (-ENOENT, None)
            t.destroy()


def test_replace_equals_linux_and_model(linux_factory):
    """Random trees, random replaces: results, dumps (python vs linux) and contents (vs model) agree."""
    rng = random.Random(5)
    for flags in (0, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU):
        trees = [PyFactory().create(flags), linux_factory.create(flags), ModelFactory().create(flags)]
        for step in range(400):
            if rng.random() < 0.5:
                a = rng.randrange(0, 3000)
                b = a + rng.randrange(0, 40)
                e = rng.choice([None, V(rng.randrange(50)), 0x4000 + 4 * rng.randrange(100)])
                rs = [t.store_range(a, b, e) for t in trees]
            else:
                idx = rng.choice([rng.randrange(0, 3100), 0, MAX])
                e = rng.choice([None, XA_RETRY_ENTRY, XA_ZERO_ENTRY, V(rng.randrange(50)),
                                0x8000 + 4 * rng.randrange(100), 0x1002])
                rs = [t.replace(idx, e) for t in trees]
            assert rs[0] == rs[1] == rs[2], (step, rs)
            assert trees[0].dump() == trees[1].dump(), step
            assert contents(trees[0]) == contents(trees[2]), step
        for t in trees:
            t.destroy()


def test_replace_keeps_nodes_in_rcu_mode():
    f, t = py_tree(MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU, 135)
    addrs = node_addrs(t.mt)
    live = f.alloc.live
    for i in range(135):
        assert t.replace(10 * i + 3, 0x4000 + 4 * i) == (0, V(i))
    assert node_addrs(t.mt) == addrs and f.alloc.live == live


# ------------------------------------------------------------------ the property catches a mutant


def test_prop_replace_one_slot_catches_pivot_bump(monkeypatch):
    """A replace that also bumps a pivot must be caught."""
    real = repmod.mas_replace_entry

    def buggy(mas, entry):
        ret = real(mas, entry)
        if ret == 0:
            node = mas.tree.alloc.nodes[mas.node >> 8]
            if mas.offset < len(node.pivot) and mas.offset < mas.end:
                node.pivot[mas.offset] -= 1
        return ret

    monkeypatch.setattr(repmod, "mas_replace_entry", buggy)
    _, t = py_tree(MT_FLAGS_ALLOC_RANGE, 135)
    probs = prop_replace_one_slot(t, 20, V(77))
    assert probs and "more than one slot" in probs[-1]


def test_prop_replace_one_slot_catches_wrong_slot(monkeypatch):
    real = repmod.mas_replace_entry

    def buggy(mas, entry):
        mas.offset += 1  # writes the neighbour (a NULL slot): caught as ENOENT or a diff
        mas.index = mas.last + 1
        node = mas.tree.alloc.nodes[mas.node >> 8]
        mas.last = node.pivot[mas.offset] if mas.offset < len(node.pivot) else mas.max
        node.slot[mas.offset] = entry
        return 0

    monkeypatch.setattr(repmod, "mas_replace_entry", buggy)
    _, t = py_tree(MT_FLAGS_ALLOC_RANGE, 135)
    assert prop_replace_one_slot(t, 20, V(77))
