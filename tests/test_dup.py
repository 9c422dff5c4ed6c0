# SPDX-License-Identifier: GPL-2.0-or-later
"""``__mt_dup`` / ``mtree_dup`` of our tree (impl/pytree/dup.py), below and through the protocol."""

from __future__ import annotations

import pytest

from maplecheck.dump import dump_diff, empty_dump
from maplecheck.impl.pytree import dup as dupmod
from maplecheck.impl.pytree import PyFactory
from maplecheck.impl.pytree.alloc import NodeAllocator
from maplecheck.impl.pytree.dup import LOCK_TRACE, TreeLock, mt_dup, mtree_dup
from maplecheck.impl.pytree.mtree import MapleTree
from maplecheck.impl.pytree.node import LINUX_64, SMALL
from maplecheck.impl.pytree.write import mtree_store_range
from maplecheck.properties.dup_props import (build_pytree, node_addrs, parent_word_problems,
                                             raw_dump)
from maplecheck.tree import (EINVAL, ENOMEM, MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_LOCK_EXTERN,
                             MT_FLAGS_USE_RCU, mt_attr, xa_mk_value)

FLAGS = (0, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU | MT_FLAGS_LOCK_EXTERN)
SIZES = (0, 1, 2, 5, 17, 60, 135, 400)


def pairs(n):
    return [(10 * i, 10 * i + 5, xa_mk_value(i)) for i in range(n)]


def built(geo, flags, n, stores=False):
    alloc = NodeAllocator(geo)
    src = MapleTree(alloc, flags)
    if stores:  # through the write path: the kernel's shapes
        for f, l, e in pairs(n):
            assert mtree_store_range(src, f, l, e) == 0
    else:
        build_pytree(src, pairs(n))
    return alloc, src


@pytest.mark.parametrize("geo", [LINUX_64, SMALL], ids=["16", "small"])
@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("stores", [False, True], ids=["built", "stored"])
def test_dup_copies_node_for_node(geo, flags, n, stores):
    alloc, src = built(geo, flags, n, stores)
    d = raw_dump(src)
    live = alloc.live
    new = MapleTree(alloc, mt_attr(flags))
    assert mt_dup(src, new) == 0
    assert raw_dump(new) == d, dump_diff(d, raw_dump(new), ("source", "copy"))
    assert new.ma_flags == src.ma_flags  # height included
    assert alloc.live == live + len(d["nodes"])
    assert not node_addrs(src) & node_addrs(new)
    assert parent_word_problems(new) == []
    assert raw_dump(src) == d
    assert alloc._fail_at is None


def test_dup_empty_and_root_pointer_copy_the_raw_root():
    alloc = NodeAllocator(LINUX_64)
    for root in (None, 0x2000, xa_mk_value(7)):
        src = MapleTree(alloc, MT_FLAGS_ALLOC_RANGE)
        src.ma_root = root
        new = MapleTree(alloc, MT_FLAGS_ALLOC_RANGE)
        assert mt_dup(src, new, fail_at=1) == 0  # needs no node, so k=1 cannot fail it
        assert new.ma_root == root and new.ma_flags == src.ma_flags
    assert alloc.live == 0


@pytest.mark.parametrize("src_flags,new_flags", [
    (0, MT_FLAGS_ALLOC_RANGE), (MT_FLAGS_ALLOC_RANGE, 0),
    (MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU),
    (MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN),
])
def test_dup_einval_on_attr_mismatch(src_flags, new_flags):
    alloc, src = built(LINUX_64, src_flags, 40)
    d = raw_dump(src)
    live = alloc.live
    new = MapleTree(alloc, new_flags)
    assert mt_dup(src, new, fail_at=3) == -EINVAL
    assert mtree_dup(src, new) == -EINVAL
    assert new.ma_root is None and new.ma_flags == new_flags
    assert raw_dump(src) == d and alloc.live == live and alloc._fail_at is None


@pytest.mark.parametrize("target", ["root_pointer", "node"])
def test_dup_einval_on_non_empty_target(target):
    alloc, src = built(LINUX_64, 1, 40)
    other = MapleTree(alloc, 1)
    build_pytree(other, [(0, 0, 0x3000)] if target == "root_pointer" else pairs(30))
    before = raw_dump(other)
    live = alloc.live
    assert mt_dup(src, other) == -EINVAL
    assert raw_dump(other) == before and alloc.live == live


@pytest.mark.parametrize("geo", [LINUX_64, SMALL], ids=["16", "small"])
@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("n", (2, 17, 135, 400))
def test_dup_enomem_at_every_node(geo, flags, n):
    """k = 1..nodes+1: -ENOMEM iff k <= nodes; source untouched; target empty, flags intact; no leak."""
    alloc, src = built(geo, flags, n, stores=True)
    d = raw_dump(src)
    nodes = len(d["nodes"])
    base = alloc.live
    for k in range(1, nodes + 2):
        new = MapleTree(alloc, mt_attr(flags))
        ret = mt_dup(src, new, fail_at=k)
        assert alloc._fail_at is None
        if k <= nodes:
            assert ret == -ENOMEM, k
            assert new.ma_root is None and new.ma_flags == mt_attr(flags)
            assert raw_dump(new) == empty_dump(mt_attr(flags))
            assert alloc.live == base, (k, alloc.live, base)
        else:
            assert ret == 0
            assert raw_dump(new) == d
            for enode in node_addrs(new):
                alloc.free_node(enode)
        assert raw_dump(src) == d


def test_dup_free_order_is_reverse_preorder(monkeypatch):
    """The partial copy is freed as mas_dup_free does: per internal node, in reverse pre-order,
    its children in slot order (right siblings never filled included), the root last."""
    allocs, frees = [], []
    real_alloc, real_bulk, real_free = (NodeAllocator.alloc, NodeAllocator.alloc_bulk,
                                        NodeAllocator.free_node)

    def alloc(self, t):
        e = real_alloc(self, t)
        if e is not None:
            allocs.append([e & ~0xFF])
        return e

    def bulk(self, types):
        es = real_bulk(self, types)
        if es is not None:
            allocs.append([e & ~0xFF for e in es])
        return es

    def free(self, e):
        frees.append(e & ~0xFF)
        real_free(self, e)

    monkeypatch.setattr(NodeAllocator, "alloc", alloc)
    monkeypatch.setattr(NodeAllocator, "alloc_bulk", bulk)
    monkeypatch.setattr(NodeAllocator, "free_node", free)
    for geo, n in ((SMALL, 135), (LINUX_64, 1000)):
        a, src = built(geo, MT_FLAGS_ALLOC_RANGE, n)
        nodes = len(raw_dump(src)["nodes"])
        for k in range(2, nodes + 1):
            allocs.clear()
            frees.clear()
            new = MapleTree(a, MT_FLAGS_ALLOC_RANGE)
            assert mt_dup(src, new, fail_at=k) == -ENOMEM
            root, bulks = allocs[0], allocs[1:]
            want = [addr for b in reversed(bulks) for addr in b] + root
            assert frees == want, k


def test_mtree_dup_takes_locks_new_then_source(monkeypatch):
    alloc, src = built(LINUX_64, 1, 200)
    monkeypatch.setattr(TreeLock, "tracing", True)
    for k in (None, 1, 5):
        LOCK_TRACE.clear()
        new = MapleTree(alloc, 1)
        ret = mtree_dup(src, new, fail_at=k)
        assert ret == (0 if k is None else -ENOMEM)
        assert LOCK_TRACE == [("lock", new.addr, 0), ("lock", src.addr, 1),
                              ("unlock", src.addr, 0), ("unlock", new.addr, 0)]
    assert dupmod.tree_lock(src).held is False


def test_fail_at_armed_only_during_dup():
    alloc, src = built(LINUX_64, 1, 135)
    new = MapleTree(alloc, 1)
    assert mt_dup(src, new, fail_at=10**6) == 0
    assert alloc._fail_at is None
    other = MapleTree(alloc, 1)
    assert mtree_store_range(other, 5, 6, 0x2000) == 0  # no injection leaks into later writes


# ------------------------------------------------------------------ through the protocol


def test_protocol_dup_python_equals_linux(linux_factory):
    """Same store sequence on both: the copies' dumps are equal and fail at the same k."""
    pf = PyFactory()
    for flags in (0, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN):
        for n in (1, 2, 20, 135, 300):
            p, l = pf.create(flags), linux_factory.create(flags)
            for f, la, e in pairs(n):
                p.store_range(f, la, e)
                l.store_range(f, la, e)
            nodes = len(l.dump()["nodes"])
            for k in [None] + sorted({1, 2, nodes // 2 + 1, nodes, nodes + 1} - {0}):
                rp, cp = p.dup(k)
                rl, cl = l.dup(k)
                assert rp == rl, (flags, n, k)
                assert cp.dump() == cl.dump(), dump_diff(cl.dump(), cp.dump(), ("linux", "python"))
                assert cp.flags() == cl.flags()
                cp.destroy()
                cl.destroy()
            p.destroy()
            l.destroy()
    assert pf.live_nodes() == 0


def test_check_mtree_dup_random_budget(linux_factory):
    """The kernel's check_mtree_dup random-budget loop (seed 17 LCG), python against linux."""
    pf = PyFactory()
    seed = 17
    failures = 0
    for i in range(0, 1000, 37):
        flags = 0 if i % 2 else MT_FLAGS_ALLOC_RANGE
        p, l = pf.create(flags), linux_factory.create(flags)
        for j in range(i):
            p.store_range(10 * j, 10 * j + 5, xa_mk_value(j))
            l.store_range(10 * j, 10 * j + 5, xa_mk_value(j))
        seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
        budget = (seed // 65536) % 128
        k = budget + 1  # a budget of b nodes: the (b+1)-th request fails
        base = pf.live_nodes()
        rp, cp = p.dup(k)
        rl, cl = l.dup(k)
        assert rp == rl and cp.dump() == cl.dump(), (i, k)
        if rp:
            failures += 1
            assert pf.live_nodes() == base
        for t in (p, l, cp, cl):
            t.destroy()
    assert failures >= 1
    assert pf.live_nodes() == 0


@pytest.fixture(scope="module")
def linux_factory():
    from maplecheck.impl.linux.adapter import LinuxFactory
    return LinuxFactory()


def test_dup_keeps_max_alloc_wrapped_and_height_bits():
    alloc, src = built(LINUX_64, MT_FLAGS_ALLOC_RANGE, 1000)
    src.ma_flags |= 0x800  # MT_FLAGS_ALLOC_WRAPPED is part of mt_attr
    new = MapleTree(alloc, MT_FLAGS_ALLOC_RANGE)
    assert mt_dup(src, new) == -EINVAL
    new = MapleTree(alloc, MT_FLAGS_ALLOC_RANGE | 0x800)
    assert mt_dup(src, new) == 0
    assert new.ma_flags == src.ma_flags and new.mt_height() == src.mt_height() >= 3


def test_dup_index_space_top():
    """Entries up to MAX: the last leaf is the one whose max is ULONG_MAX."""
    alloc = NodeAllocator(SMALL)
    src = MapleTree(alloc, 1)
    build_pytree(src, [(MAX - 100 + 3 * i, MAX - 100 + 3 * i + 1, 0x2000 + 4 * i) for i in range(33)]
                 + [(MAX, MAX, 0x9000)])
    new = MapleTree(alloc, 1)
    assert mt_dup(src, new) == 0
    assert raw_dump(new) == raw_dump(src)
