# SPDX-License-Identifier: GPL-2.0-or-later
"""The dup/replace properties (properties/dup_props.py): hold on every implementation, and each
one catches a deliberate bug."""

from __future__ import annotations

import pytest

from maplecheck.impl.pytree import SMALL, PyFactory
from maplecheck.impl.pytree import dup as dupmod
from maplecheck.impl.pytree.node import MapleNode
from maplecheck.model.mtree import ModelFactory
from maplecheck.properties import dup_props as P
from maplecheck.tree import (ENOMEM, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_LOCK_EXTERN, MT_FLAGS_USE_RCU,
                             xa_mk_value)


@pytest.fixture(scope="module")
def linux_factory():
    from maplecheck.impl.linux.adapter import LinuxFactory
    return LinuxFactory()


def pairs(n):
    return [(10 * i, 10 * i + 5, xa_mk_value(i)) for i in range(n)]


CASES = [(0, 0), (0, 2), (MT_FLAGS_ALLOC_RANGE, 1), (MT_FLAGS_ALLOC_RANGE, 20),
         (MT_FLAGS_ALLOC_RANGE, 135), (0, 135), (MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN, 300)]


@pytest.mark.parametrize("impl", ["model", "python", "python-small", "linux"])
@pytest.mark.parametrize("flags,n", CASES)
def test_all_properties_hold(impl, flags, n, linux_factory):
    f = {"model": ModelFactory, "python": PyFactory, "python-small": lambda: PyFactory(SMALL),
         "linux": lambda: linux_factory}[impl]()
    src_pairs = [(0, 0, 0x2000)] if n == 1 else pairs(n)
    out = P.run_all(f, flags, src_pairs)
    assert {k: v for k, v in out.items() if v} == {}


def test_properties_hold_in_rcu_mode(linux_factory):
    for f in (PyFactory(), linux_factory):
        out = P.run_all(f, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU, pairs(60))
        assert {k: v for k, v in out.items() if v} == {}


def test_enomem_sampling_for_large_trees():
    f = PyFactory()
    src = P.build(f, MT_FLAGS_ALLOC_RANGE, pairs(3000))
    n = P.node_count(src)
    pts = P.dup_fail_points(n)
    assert len(pts) < n and {1, 2, n, n + 1} <= set(pts)
    assert P.prop_dup_enomem(f, src, pts) == []


# ------------------------------------------------------------------ each property catches a mutant


@pytest.fixture
def py_src():
    f = PyFactory()
    return f, P.build(f, MT_FLAGS_ALLOC_RANGE, pairs(135))


def test_mutant_dup_forgets_a_parent_word(monkeypatch, py_src):
    """mas_copy_node without the parent fix for one node: the copy's parent word names the source."""
    f, src = py_src
    real = dupmod.dup_parent_word
    calls = []

    def forgetful(src_parent, new_parent_addr):
        calls.append(1)
        return src_parent if len(calls) == 3 else real(src_parent, new_parent_addr)

    monkeypatch.setattr(dupmod, "dup_parent_word", forgetful)
    probs = P.prop_dup_copies(src)
    assert any("parent word" in p for p in probs), probs
    calls.clear()
    assert any("parent word" in p for p in P.prop_dup_independent(src))


def test_mutant_dup_loses_gaps(monkeypatch, py_src):
    """A node copy that skips the gap array: the dumps differ."""
    f, src = py_src
    real = MapleNode.copy_from

    def no_gaps(self, other):
        saved = None if self.gap is None else list(self.gap)
        real(self, other)
        if saved is not None:
            self.gap[:] = saved

    monkeypatch.setattr(MapleNode, "copy_from", no_gaps)
    probs = P.prop_dup_copies(src)
    assert any("gaps" in p for p in probs), probs


def test_mutant_dup_shares_a_leaf(monkeypatch, py_src):
    """A dup that links one of the source's leaves into the copy: not independent."""
    f, src = py_src
    real = dupmod.mt_dup

    def sharing(s, new, fail_at=None):
        ret = real(s, new, fail_at)
        if ret == 0 and new.ma_root is not None and new.ma_root & 3 == 2:
            nodes = new.alloc.nodes
            sroot, nroot = nodes[s.ma_root >> 8], nodes[new.ma_root >> 8]
            if nroot.gap is not None or nroot.slot[0] is not None:
                sl = nodes[sroot.slot[0] >> 8]
                nl = nodes[nroot.slot[0] >> 8]
                nl.slot[0] = sl.slot[0]  # the copy's first child of child 0 is the source's
        return ret

    monkeypatch.setattr(dupmod, "mt_dup", sharing)
    probs = P.prop_dup_independent(src)
    assert any("shared" in p or "changed the" in p for p in probs), probs


def test_mutant_dup_leaks_a_node_on_failure(monkeypatch, py_src):
    """mas_dup_free that forgets the last node of one bulk free: the live count shows it."""
    f, src = py_src
    real_free = type(f.alloc).free_node
    state = {"skip": True}

    def leaky(new, path, failed):
        alloc = new.alloc
        cls = type(alloc)

        def free_once(self, e):
            if state["skip"]:
                state["skip"] = False
                return
            real_free(self, e)

        monkeypatch.setattr(cls, "free_node", free_once)
        try:
            real_dup_free(new, path, failed)
        finally:
            monkeypatch.setattr(cls, "free_node", real_free)
            state["skip"] = True

    real_dup_free = dupmod.mas_dup_free
    monkeypatch.setattr(dupmod, "mas_dup_free", leaky)
    probs = P.prop_dup_enomem(f, src, [2, 5])
    assert any("live nodes" in p for p in probs), probs


def test_mutant_dup_keeps_partial_root_on_failure(monkeypatch, py_src):
    """A dup that publishes its partial copy before failing: the target is not empty."""
    f, src = py_src
    real = dupmod._dup_build

    def publishing(s, new):
        ret, path, failed = real(s, new)
        if ret == -ENOMEM:
            new.ma_root = 0x2000  # a stale root left behind
        return ret, path, failed

    monkeypatch.setattr(dupmod, "_dup_build", publishing)
    probs = P.prop_dup_enomem(f, src, [3])
    assert any("not empty" in p for p in probs), probs


def test_mutant_dup_wrong_failure_threshold(monkeypatch, py_src):
    """A dup that asks for one node too many (e.g. allocates the root twice): fails at k = n+1."""
    f, src = py_src
    real = dupmod._dup_build

    def greedy(s, new):
        extra = new.alloc.alloc(1)
        if extra is None:
            return -ENOMEM, None, None
        new.alloc.free_node(extra)
        return real(s, new)

    monkeypatch.setattr(dupmod, "_dup_build", greedy)
    n = P.node_count(src)
    probs = P.prop_dup_enomem(f, src, [n + 1])
    assert any("expected 0" in p for p in probs), probs


def test_mutant_linux_dup_drops_an_entry(monkeypatch, linux_factory):
    """At protocol level on Linux: a dup whose copy misses an entry is caught."""
    from maplecheck.impl.linux.adapter import LinuxTree
    real = LinuxTree.dup

    def lossy(self, fail_at=None):
        ret, c = real(self, fail_at)
        if ret == 0:
            c.erase(20)
        return ret, c

    src = P.build(linux_factory, MT_FLAGS_ALLOC_RANGE, pairs(135))
    monkeypatch.setattr(LinuxTree, "dup", lossy)
    try:
        assert P.prop_dup_copies(src)
    finally:
        monkeypatch.undo()
        src.destroy()


def test_mutant_model_dup_shares_state(monkeypatch):
    """Model at protocol level: a dup that aliases the source's range lists is not independent."""
    from maplecheck.model.mtree import ModelTree
    real = ModelTree.dup

    def aliasing(self, fail_at=None):
        ret, c = real(self, fail_at)
        c._lasts, c._entries = self._lasts, self._entries
        return ret, c

    f = ModelFactory()
    src = P.build(f, MT_FLAGS_ALLOC_RANGE, pairs(40))
    monkeypatch.setattr(ModelTree, "dup", aliasing)
    assert any("changed the" in p for p in P.prop_dup_independent(src))
