# SPDX-License-Identifier: GPL-2.0-or-later
"""The fork simulation (maplecheck/fork.py) on the model, our tree and Linux."""

from __future__ import annotations

import pytest

from maplecheck import fork
from maplecheck.fork import VM_DONTCOPY, Vma, child_word, parent_word
from maplecheck.impl.pytree import SMALL, PyFactory
from maplecheck.model.mtree import ModelFactory
from maplecheck.properties import dup_props
from maplecheck.properties.dup_props import contents, node_count, prop_fork
from maplecheck.tree import ENOMEM, MAX, MM_MT_FLAGS, XA_ZERO_ENTRY


@pytest.fixture(scope="module")
def linux_factory():
    from maplecheck.impl.linux.adapter import LinuxFactory
    return LinuxFactory()


@pytest.fixture(params=["model", "python", "linux"])
def factory(request, linux_factory):
    return {"model": ModelFactory, "python": PyFactory,
            "linux": lambda: linux_factory}[request.param]()


def test_fork_small_geometry_without_dontcopy():
    """4-slot nodes make deep trees from few VMAs (no DONTCOPY: NULL stores are the write path's
    business, and the small geometry's occupancy rule is still being settled there)."""
    f = PyFactory(SMALL)
    vmas = fork.make_vmas(60, seed=1, dontcopy=0.0)
    assert prop_fork(f, vmas) == []
    for k in (1, 2, 30, 59, 60, 61):
        for kind in ("dup", "pages"):
            assert prop_fork(f, vmas, fail_copy_at=k, fail_kind=kind) == [], (k, kind)
    parent = fork.build_parent(f, vmas)
    n = node_count(parent)
    fork.exit_mmap(parent)
    assert n > 20
    for k in range(1, n + 2):
        assert prop_fork(f, vmas, dup_fail_at=k) == [], k


def small_space():
    """Ten VMAs, two DONTCOPY (one between adjacent VMAs, one at the end), one at index 0."""
    P = 4096
    spec = [(0, 1, 0), (16, 20, 0), (20, 21, VM_DONTCOPY), (21, 30, 0), (40, 41, 0),
            (41, 42, 0), (100, 164, 0), (200, 201, VM_DONTCOPY), (300, 302, 0), (400, 480, 0)]
    return [Vma(a * P if a else 0, b * P, fl) for a, b, fl in spec]


def test_expected_fork_by_hand():
    vmas = small_space()
    exp = fork.expected_fork(vmas)
    assert exp.ret == 0 and exp.rcu == 2
    entries = [e for _, _, e in exp.ranges if e is not None]
    assert entries == [child_word(v) for v in fork._numbered(vmas) if not v.dontcopy]
    exp = fork.expected_fork(vmas, fail_copy_at=3)  # the third copied VMA is vmas[3]
    got = {a: e for a, _, e in exp.ranges}
    nv = fork._numbered(vmas)
    assert got[nv[3].start] == XA_ZERO_ENTRY
    assert got[nv[2].start] is None  # DONTCOPY before the failure: cleared
    assert got[nv[7].start] == parent_word(nv[7])  # DONTCOPY after it: still the parent's
    assert exp.freed == [child_word(nv[0]), child_word(nv[1])] and exp.rcu == 0
    exp = fork.expected_fork(vmas, fail_copy_at=8, fail_kind="pages")  # last VMA: no next
    assert exp.ret == -ENOMEM and XA_ZERO_ENTRY not in [e for *_, e in exp.ranges]


def test_fork_success_every_impl(factory):
    for seed in range(3):
        vmas = fork.make_vmas(40, seed=seed, dontcopy=0.2)
        assert prop_fork(factory, vmas) == []
    assert prop_fork(factory, small_space()) == []


def test_fork_copy_failure_at_every_vma(factory):
    vmas = small_space()
    ncopy = sum(not v.dontcopy for v in vmas)
    for k in range(1, ncopy + 2):
        for kind in ("dup", "pages"):
            assert prop_fork(factory, vmas, fail_copy_at=k, fail_kind=kind) == [], (k, kind)


def test_fork_dup_failure(factory):
    vmas = fork.make_vmas(120, seed=7)
    parent = fork.build_parent(factory, vmas)
    n = node_count(parent)
    fork.exit_mmap(parent)
    for k in sorted({1, 2, max(1, n // 2), n, n + 1} - {0}):
        assert prop_fork(factory, vmas, dup_fail_at=k) == [], k


def test_fork_many_vmas_sampled_failures(factory):
    vmas = fork.make_vmas(300, seed=11, dontcopy=0.15)
    for k in (1, 37, 150, 280):
        assert prop_fork(factory, vmas, fail_copy_at=k) == [], k


def test_fork_child_contents_agree_across_impls(linux_factory):
    vmas = fork.make_vmas(200, seed=3, dontcopy=0.2)
    outs = []
    for f in (ModelFactory(), PyFactory(), linux_factory):
        parent = fork.build_parent(f, vmas)
        res = fork.dup_mmap(parent, vmas, fail_copy_at=90)
        outs.append((res.ret, contents(res.child), res.copied, res.marker))
        fork.exit_mmap(res.child)
        fork.exit_mmap(parent)
    assert outs[0] == outs[1] == outs[2]


def test_old_fork_path_has_the_same_contents(factory):
    vmas = fork.make_vmas(150, seed=5, dontcopy=0.2)
    parent = fork.build_parent(factory, vmas)
    res = fork.dup_mmap(parent, vmas)
    old = fork.old_fork_path(factory, vmas)
    assert res.ret == 0
    assert contents(old) == contents(res.child) == fork.expected_fork(vmas).ranges
    assert old.flags() & ~0x7C == res.child.flags() & ~0x7C == MM_MT_FLAGS
    for t in (old, res.child, parent):
        fork.exit_mmap(t)


def test_bad_address_space_is_refused():
    with pytest.raises(ValueError):
        fork.build_parent(ModelFactory(), [Vma(10, 20), Vma(15, 30)])
    with pytest.raises(ValueError):
        fork.dup_mmap(ModelFactory().create(0), [], fail_kind="oops")


# ------------------------------------------------------------------ the property catches mutants


def test_prop_fork_catches_replace_that_does_not_write(monkeypatch):
    from maplecheck.impl.pytree.tree import PyTree

    def lazy(self, index, entry):
        w = self.walk(index)
        return (0, w.entry) if w.entry is not None else (-2, None)

    monkeypatch.setattr(PyTree, "replace", lazy)
    assert prop_fork(PyFactory(), small_space())


def test_prop_fork_catches_teardown_past_the_marker(monkeypatch):
    real = fork.exit_mmap

    def greedy(tree):  # frees everything, the parent's VMAs after the marker too
        tree.mas_set(0)
        freed = []
        r = tree.mas_find(MAX)
        while r.entry is not None:
            if r.entry != XA_ZERO_ENTRY:
                freed.append(r.entry)
            r = tree.mas_find(MAX)
        tree.destroy()
        return freed

    monkeypatch.setattr(fork, "exit_mmap", greedy)
    probs = prop_fork(PyFactory(), small_space(), fail_copy_at=3)
    assert any("exit_mmap freed" in p for p in probs)
    monkeypatch.setattr(fork, "exit_mmap", real)
    assert prop_fork(PyFactory(), small_space(), fail_copy_at=3) == []


def test_prop_fork_catches_missing_marker(monkeypatch):
    from maplecheck.impl.linux.adapter import LinuxTree
    real_store = LinuxTree.store_range

    def no_marker(self, first, last, entry):
        if entry == XA_ZERO_ENTRY:
            return 0
        return real_store(self, first, last, entry)

    monkeypatch.setattr(LinuxTree, "store_range", no_marker)
    from maplecheck.impl.linux.adapter import LinuxFactory
    assert prop_fork(LinuxFactory(), small_space(), fail_copy_at=2)


def test_fork_dup_failure_leaves_child_empty_with_flags():
    f = PyFactory()
    vmas = small_space()
    parent = fork.build_parent(f, vmas)
    base = f.live_nodes()
    res = fork.dup_mmap(parent, vmas, dup_fail_at=1)
    assert res.ret == -ENOMEM and res.child.dump()["root"] == {"kind": "empty"}
    assert res.child.flags() == MM_MT_FLAGS and f.live_nodes() == base
    assert dup_props.contents(res.child) == [(0, MAX, None)]


def test_fork_root_pointer_address_space(factory):
    """One VMA covering [0, 0]: the parent is a bare root pointer (no node)."""
    for flags in (0, VM_DONTCOPY):
        vmas = [Vma(0, 1, flags)]
        assert prop_fork(factory, vmas) == []
        assert prop_fork(factory, vmas, fail_copy_at=1) == []
        assert prop_fork(factory, vmas, fail_copy_at=1, fail_kind="pages") == []
        assert prop_fork(factory, vmas, dup_fail_at=1) == []
    assert prop_fork(factory, []) == []
