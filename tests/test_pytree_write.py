# SPDX-License-Identifier: GPL-2.0-or-later
"""Write-path classification (facts §4.2 observed table), node identity, root and insert cases."""

from __future__ import annotations

import pytest

from maplecheck.impl.pytree import PyFactory
from maplecheck.impl.pytree.state import STORE_TYPE_NAMES
from maplecheck.impl.pytree.write import STORE_TYPE_COUNTS
from maplecheck.tree import (EEXIST, EINVAL, MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU,
                             XA_RETRY_ENTRY, XA_ZERO_ENTRY, xa_mk_value)

from pytree_helpers import build, leaf_addr, levels, root_node

V = xa_mk_value
X = V(99)


def store_type(t, a, b, e):
    """Store and return (ret, store type name) of that one write."""
    before = list(STORE_TYPE_COUNTS)
    ret = t.store_range(a, b, e)
    ran = [i for i, (x, y) in enumerate(zip(before, STORE_TYPE_COUNTS)) if x != y]
    assert len(ran) == 1, ran
    return ret, STORE_TYPE_NAMES[ran[0]]


def table_tree(fac, rcu):
    t = fac.create(MT_FLAGS_USE_RCU if rcu else 0)
    build(t, [(0, 5, V(0)), (10, 15, V(1)), (20, 25, V(2)), (30, 35, V(3))])
    d = t.dump()
    assert d["height"] == 1 and d["nodes"][0]["end"] == 7
    return t


TABLE = [
    ((10, 15, X), "exact_fit", "exact_fit"),
    ((10, 12, X), "node_store", "node_store"),
    ((12, 15, X), "node_store", "node_store"),
    ((12, 13, X), "node_store", "node_store"),
    ((12, 18, X), "node_store", "node_store"),
    ((10, 18, X), "slot_store", "slot_store"),
    ((12, 21, X), "slot_store", "node_store"),
    ((40, 45, X), "append", "node_store"),
    ((36, 100, X), "append", "node_store"),
    ((100, 200, X), "append", "node_store"),
    ((10, 15, None), "node_store", "node_store"),
    ((0, MAX, X), "new_root", "new_root"),
]


@pytest.mark.parametrize("rcu", [False, True])
@pytest.mark.parametrize("write,plain,in_rcu", TABLE)
def test_classification_table(write, plain, in_rcu, rcu):
    fac = PyFactory()
    t = table_tree(fac, rcu)
    old_root = root_node(t)
    ret, kind = store_type(t, *write)
    assert ret == 0
    assert kind == (in_rcu if rcu else plain)
    assert t.validate() == []
    new_root = root_node(t)
    if kind in ("exact_fit", "slot_store", "append"):
        assert new_root == old_root  # in place
    if kind == "node_store":
        assert (new_root != old_root) == rcu  # new node only in RCU mode
    t.destroy()
    assert fac.live_nodes() == 0


def test_null_write_widens_and_erase_range():
    fac = PyFactory()
    t = table_tree(fac, False)
    assert t.erase(12) == V(1)
    w = t.walk(12)
    assert (w.first, w.last, w.entry) == (6, 19, None)
    assert levels(t.dump()) == [["0-MAX:6"]]


def test_node_identity_split_always_new():
    for rcu in (False, True):
        fac = PyFactory()
        t = fac.create(MT_FLAGS_USE_RCU if rcu else 0)
        build(t, [(i, i, V(i)) for i in range(15)])
        r = root_node(t)
        ret, kind = store_type(t, 15, 15, V(15))
        assert kind == "split_store" and root_node(t) != r and t.height() == 2


def test_leaf_identity_inner_node_store():
    fac = PyFactory()
    for rcu in (False, True):
        t = fac.create(MT_FLAGS_ALLOC_RANGE | (MT_FLAGS_USE_RCU if rcu else 0))
        build(t, [(i, i, V(i)) for i in range(100)])
        leaf = leaf_addr(t, 33)
        ret, kind = store_type(t, 33, 34, X)
        assert kind == "node_store"
        assert (leaf_addr(t, 33) != leaf) == rcu
        assert t.validate() == []


def test_root_pointer_cases():
    fac = PyFactory()
    t = fac.create(0)
    assert store_type(t, 0, 0, 0x2000) == (0, "store_root")
    assert t.dump()["root"] == {"kind": "entry", "value": 0x2000} and t.height() == 0
    assert t.store_range(5, 5, None) == 0  # NULL beyond 0 on a root pointer: nothing
    assert t.dump()["root"]["kind"] == "entry"
    assert t.store_range(0, 0, None) == 0
    assert t.dump()["root"] == {"kind": "empty"}
    assert t.store_range(0, 0, 0x1002) == 0  # an internal-looking entry cannot be the root
    assert t.dump()["root"]["kind"] == "node" and t.height() == 1
    assert t.store_range(0, MAX, None) == 0
    assert t.dump()["root"] == {"kind": "empty"} and t.height() == 0
    assert fac.live_nodes() == 0


def test_einval_and_insert():
    fac = PyFactory()
    t = fac.create(0)
    assert t.store_range(5, 4, X) == -EINVAL
    assert t.store_range(1, 2, XA_RETRY_ENTRY) == -EINVAL
    assert t.insert_range(1, 2, XA_ZERO_ENTRY) == 0
    assert t.insert_range(2, 3, X) == -EEXIST
    assert t.insert_range(3, 3, X) == 0
    assert t.load(1) is None and t.walk(1).entry == XA_ZERO_ENTRY
    assert t.insert_range(0, 0, X) == 0
    assert t.insert_range(0, 0, X) == -EEXIST


def test_insert_quirk_new_root():
    fac = PyFactory()
    t = fac.create(0)
    build(t, [(10, 15, V(1)), (20, 25, V(2))])
    assert t.insert_range(0, MAX, X) == 0  # new_root skips the -EEXIST checks
    assert t.walk(5) == (X, 0, MAX)
    p = fac.create(0)
    build(p, [(i, i, V(i)) for i in range(40)])
    assert p.insert_range(0, MAX, X) == -EEXIST  # spanning on a taller tree


def test_destroy_rcu_and_plain_free_everything():
    fac = PyFactory()
    for flags in (0, 1, 2, 3):
        t = fac.create(flags)
        build(t, [(3 * i, 3 * i + 1, V(i)) for i in range(2000)])
        t.store_range(100, 4000, None)
        t.destroy()
        assert t.height() == 0 and t.flags() == flags
    assert fac.live_nodes() == 0
