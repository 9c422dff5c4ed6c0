# SPDX-License-Identifier: GPL-2.0-or-later
"""The canonical structure hash is the same in C and Python, and sees a one-field change."""

from __future__ import annotations

import copy
import random

import pytest

from maplecheck.dump import dump_ranges
from maplecheck.hashing import dump_hash, ranges_hash
from maplecheck.impl.linux.adapter import LinuxFactory
from maplecheck.impl.pytree import PyFactory
from maplecheck.impl.pytree.checker import WriteChecker, tree_hash_of
from maplecheck.tree import MT_FLAGS_ALLOC_RANGE, xa_mk_value


def _fill(tree, n, seed):
    rng = random.Random(seed)
    for i in range(n):
        a = rng.randrange(1 << 14)
        tree.store_range(a, a + rng.randrange(40), xa_mk_value(rng.randrange(5)) if rng.random() < 0.8 else None)


@pytest.fixture(scope="module")
def linux_factory():
    return LinuxFactory()


@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE])
def test_c_and_python_hash_equal_trees_equally(linux_factory, flags):
    for n in (0, 1, 30, 600):
        c, p = linux_factory.create(flags), PyFactory().create(flags)
        if n == 1:
            c.store_range(0, 0, 0x5000), p.store_range(0, 0, 0x5000)
        else:
            _fill(c, n, n), _fill(p, n, n)
        d = p.dump()
        assert c.dump() == d
        assert c.tree_hash() == dump_hash(d) == tree_hash_of(p.mt)
        assert c.ranges_hash() == ranges_hash(dump_ranges(d))
        c.destroy(), p.destroy()


def test_one_field_change_changes_the_hash():
    p = PyFactory().create(MT_FLAGS_ALLOC_RANGE)
    _fill(p, 300, 3)
    d = p.dump()
    h = dump_hash(d)
    leaf = next(i for i, n in enumerate(d["nodes"]) if n["type"] == "leaf_64")
    inner = next(i for i, n in enumerate(d["nodes"]) if n["type"] != "leaf_64")
    for path in [("nodes", leaf, "pivots", 0), ("nodes", leaf, "slots", 1), ("nodes", inner, "gaps", 0),
                 ("nodes", inner, "meta_gap"), ("nodes", leaf, "parent_slot"), ("height",), ("flags",)]:
        e = copy.deepcopy(d)
        obj = e
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = (obj[path[-1]] or 0) + 1
        assert dump_hash(e) != h, path


@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE])
def test_incremental_check_agrees_with_full(flags):
    """After each write, the path-only check and hash equal a full validation and hash."""
    rng = random.Random(5)
    p = PyFactory().create(flags)
    chk = WriteChecker(p.mt)
    chk.full()
    for k in range(600):
        a = rng.randrange(1 << 13)
        b = a + rng.randrange(300 if k % 50 == 0 else 20)
        if rng.random() < 0.2:
            old = p.walk(a)
            p.erase(a)
            a, b = old[1], old[2]
        else:
            p.store_range(a, b, xa_mk_value(rng.randrange(3)) if rng.random() < 0.7 else None)
        problems, h = chk.after_write(a, b)
        assert problems == [] and h == dump_hash(p.dump()), k
