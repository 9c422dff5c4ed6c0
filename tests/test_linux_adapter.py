# SPDX-License-Identifier: GPL-2.0-or-later
"""The Linux adapter: the real lib/maple_tree.c behind the Tree protocol.

These tests build the adapter for real, once per kernel of
$MAPLECHECK_TEST_KERNELS (default 6.12 and 7.3: Debian's linux-source packages,
fetched into the cache).  A build failure is a test failure, never a skip.
Tests of node shapes say which write path they expect (by detected feature).
"""

from __future__ import annotations

import random

import pytest

from maplecheck.impl.linux.adapter import LinuxFactory, LinuxSession
from maplecheck.ops import Session, TraceError
from maplecheck.tree import (EEXIST, EINVAL, ENOENT, ENOMEM, MA_ACTIVE, MA_NONE, MA_OVERFLOW,
                             MA_ROOT, MA_UNDERFLOW, MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU,
                             XA_ZERO_ENTRY, Alloc, Area, MapleUsageError, MasResult, Tree,
                             TreeFactory, Walk, xa_mk_value)
from pytree_helpers import build, levels  # shared with the Python tree's tests

V = xa_mk_value


@pytest.fixture(scope="module")
def factory(linux_kernel) -> LinuxFactory:
    return LinuxFactory(kernel=linux_kernel)  # fetched + cached on first use


@pytest.fixture
def tree(factory):
    trees = []

    def make(flags=0):
        t = factory.create(flags)
        trees.append(t)
        return t

    base = factory.live_nodes()
    yield make
    for t in trees:
        if t._h is not None:
            t.destroy()
    assert factory.live_nodes() == base



# ------------------------------------------------------------------ protocol & basics

def test_protocol(factory, tree):
    assert isinstance(factory, TreeFactory)
    assert factory.name == "linux"
    assert isinstance(tree(), Tree)


def test_store_load_walk_erase_insert(tree):
    t = tree()
    assert t.load(5) is None
    assert t.walk(5) == Walk(None, 0, MAX)
    assert t.store_range(10, 15, V(1)) == 0
    assert t.load(10) == V(1) and t.load(15) == V(1) and t.load(16) is None
    assert t.walk(12) == Walk(V(1), 10, 15)
    assert t.walk(3) == Walk(None, 0, 9)
    assert t.walk(16) == Walk(None, 16, MAX)
    assert t.insert_range(12, 20, V(2)) == -EEXIST
    assert t.insert_range(16, 20, V(2)) == 0
    assert t.erase(11) == V(1)
    assert t.load(11) is None and t.load(17) == V(2)
    assert t.erase(100) is None
    assert t.store_range(5, 4, V(3)) == -EINVAL           # last < first
    assert t.store_range(1, 1, 0x402) == -EINVAL           # advanced entry refused
    assert t.store_range(30, 30, XA_ZERO_ENTRY) == 0        # the zero entry is accepted...
    assert t.load(30) is None                                # ...and reads as NULL
    assert t.walk(30) == Walk(XA_ZERO_ENTRY, 30, 30)
    assert t.insert_range(30, 30, V(9)) == -EEXIST
    assert t.validate() == []
    assert t.height() == 1 and t.flags() & 0x7C == 1 << 2


def test_root_pointer_cases(tree):
    t = tree()
    assert t.dump() == {"flags": 0, "height": 0, "root": {"kind": "empty"}, "nodes": []}
    assert t.store_range(0, 0, 0x1000) == 0
    assert t.dump() == {"flags": 0, "height": 0, "root": {"kind": "entry", "value": 0x1000}, "nodes": []}
    assert t.walk(0) == Walk(0x1000, 0, 0) and t.walk(7) == Walk(None, 1, MAX)
    assert t.store_range(3, 3, None) == 0                    # NULL elsewhere: nothing happens
    assert t.dump()["root"] == {"kind": "entry", "value": 0x1000}
    assert t.store_range(5, 9, 0x2000) == 0                 # root expansion
    d = t.dump()
    assert d["height"] == 1
    assert d["nodes"] == [{"type": "leaf_64", "min": 0, "max": MAX, "end": 3, "pivots": [0, 4, 9, MAX],
                           "slots": [0x1000, None, 0x2000, None], "parent_slot": None}]
    # an internal-looking entry at 0 cannot live in the root pointer
    u = tree()
    assert u.store_range(0, 0, 0x1002) == 0
    assert u.dump()["height"] == 1 and u.dump()["root"] == {"kind": "node"}
    # NULL over index 0 of a root-pointer tree clears the root
    w = tree()
    w.store_range(0, 0, V(7))
    assert w.erase(0) == V(7)
    assert w.dump()["root"] == {"kind": "empty"}


def test_cursor_state_handling(tree):
    """facts §3.3/§3.4, from check_state_handling."""
    t = tree()
    build(t, [(0x1000, 0x1500, V(1)), (0x2000, 0x2500, V(2)), (0x3000, 0x3500, V(3))])
    t.mas_set(0x2000)
    assert t.mas_find(MAX) == MasResult(V(2), 0x2000, 0x2500, MA_ACTIVE)
    assert t.mas_next(0x2999) == MasResult(None, 0x2501, 0x2FFF, MA_OVERFLOW)
    assert t.mas_next(MAX) == MasResult(V(3), 0x3000, 0x3500, MA_ACTIVE)
    assert t.mas_next(MAX) == MasResult(None, 0x3501, MAX, MA_OVERFLOW)
    assert t.mas_next(MAX) == MasResult(None, 0x3501, MAX, MA_OVERFLOW)
    t.mas_set(0x2000)
    assert t.mas_prev(0x1600) == MasResult(None, 0x1501, 0x1FFF, MA_UNDERFLOW)
    t.mas_set(0)
    assert t.mas_find_range(MAX) == MasResult(V(1), 0x1000, 0x1500, MA_ACTIVE)
    t.mas_set(0x3200)
    assert t.mas_find_rev(0) == MasResult(V(3), 0x3000, 0x3500, MA_ACTIVE)
    assert t.mas_find_rev(0) == MasResult(V(2), 0x2000, 0x2500, MA_ACTIVE)
    t.mas_pause()
    assert t.mas_find(MAX) == MasResult(V(3), 0x3000, 0x3500, MA_ACTIVE)
    # a write resets the cursor with mas_set(cursor.index)
    assert t.store_range(0x4000, 0x4000, V(4)) == 0
    assert t.mas_find(MAX) == MasResult(V(3), 0x3000, 0x3500, MA_ACTIVE)
    # empty and root-pointer trees
    e = tree()
    assert e.mas_find(MAX) == MasResult(None, 0, MAX, MA_NONE)
    r = tree()
    r.store_range(0, 0, V(5))
    assert r.mas_find(MAX) == MasResult(V(5), 0, 0, MA_ROOT)


def test_gap_api(tree):
    t = tree(MT_FLAGS_ALLOC_RANGE)
    build(t, [(0, 9, V(1)), (20, 29, V(2))])
    assert t.empty_area(0, 100, 5) == Area(0, 10, 14)
    assert t.empty_area_rev(0, 100, 5) == Area(0, 96, 100)
    assert t.empty_area(0, 35, 12) == Area(-16, 0, 0)  # -EBUSY, normalised
    assert t.empty_area(0, 25, 50) == Area(-EINVAL, 0, 0)  # window smaller than size
    assert t.alloc_range(3, V(3), 0, 100) == Alloc(0, 10)
    assert t.load(12) == V(3)
    assert t.alloc_rrange(4, V(4), 0, 100) == Alloc(0, 97)
    assert t.alloc_range(3, 0x402, 0, 100) == Alloc(-EINVAL, 0)
    assert t.validate() == []


def test_replace(tree):
    t = tree()
    build(t, [(10, 15, V(1)), (20, 25, V(2))])
    before = t.dump()
    assert t.replace(12, V(9)) == (0, V(1))
    after = t.dump()
    assert t.walk(10) == Walk(V(9), 10, 15)
    before["nodes"][0]["slots"][1] = V(9)
    assert after == before                     # exact fit: nothing else changed
    assert t.replace(17, V(3)) == (-ENOENT, None)
    assert t.replace(12, None) == (-EINVAL, None)
    assert t.replace(12, 0x402) == (-EINVAL, None)
    assert t.dump() == after


def test_rcu_mode_and_flags(factory, tree):
    t = tree(MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU)
    for i in range(200):
        assert t.store_range(10 * i, 10 * i + 5, V(i)) == 0
    assert t.flags() & 3 == 3
    t.set_rcu(False)
    assert t.flags() & 3 == 1
    t.set_rcu(True)
    for i in range(0, 200, 3):
        assert t.erase(10 * i) == V(i)
    assert t.validate() == []
    t.destroy()


# ------------------------------------------------------------------ reference shapes (facts §11)

def test_shape_a(tree):
    t = tree(MT_FLAGS_ALLOC_RANGE)
    build(t, [(10 * i, 10 * i + 5, V(i)) for i in range(135)])
    d = t.dump()
    lv = levels(d)
    assert d["height"] == 3 and d["flags"] == MT_FLAGS_ALLOC_RANGE
    assert lv[0] == ["0-MAX:2"]
    assert lv[1] == ["0-715:9", "716-MAX:8"]
    assert lv[2] == ["0-75:15"] + [f"{76 + 80 * k}-{155 + 80 * k}:16" for k in range(15)] + ["1276-MAX:15"]
    assert all(n["type"] == "arange_64" for n in d["nodes"] if n["type"] != "leaf_64")
    assert t.validate() == []
    p = tree(0)
    build(p, [(10 * i, 10 * i + 5, V(i)) for i in range(135)])
    assert levels(p.dump())[-1] == lv[-1]


def test_shape_b(tree, linux_kernel_info):
    """Appending 100 indices: 6.12 fills leaves to 15; the maple_copy write path (7.x) ends 13/13."""
    t = tree(0)
    build(t, [(i, i, V(i)) for i in range(100)])
    d = t.dump()
    assert d["height"] == 2
    if linux_kernel_info["features"]["maple_copy"]:
        tail = ["75-87:13", "88-MAX:13"]
    else:
        tail = ["75-89:15", "90-MAX:11"]
    assert levels(d) == [["0-MAX:7"], [f"{15 * k}-{15 * k + 14}:15" for k in range(5)] + tail]
    leaf = d["nodes"][1]
    assert leaf["pivots"] == list(range(15)) and leaf["slots"] == [V(i) for i in range(15)]
    assert leaf["parent_slot"] == 0 and d["nodes"][2]["parent_slot"] == 1


# ------------------------------------------------------------------ dup & allocation failure

@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU])
def test_dup_equal(tree, flags):
    t = tree(flags)
    build(t, [(10 * i, 10 * i + 5, V(i)) for i in range(135)])
    ret, n = t.dup()
    assert ret == 0
    assert n.dump() == t.dump() and n.flags() == t.flags()
    assert n.validate() == []
    n.destroy()
    # root pointer and empty trees
    for setup in ([], [(0, 0, V(1))]):
        s = tree(flags)
        build(s, setup)
        ret, c = s.dup()
        assert ret == 0 and c.dump() == s.dump()
        c.destroy()


def test_dup_fail_at_every_node(factory, tree):
    t = tree(MT_FLAGS_ALLOC_RANGE)
    build(t, [(10 * i, 10 * i + 5, V(i)) for i in range(135)])
    src = t.dump()
    nodes = len(src["nodes"])
    assert nodes == 20
    base = factory.live_nodes()
    for k in range(1, nodes + 2):
        ret, n = t.dup(fail_at=k)
        if k <= nodes:
            assert ret == -ENOMEM, k
            assert n.dump() == {"flags": MT_FLAGS_ALLOC_RANGE, "height": 0, "root": {"kind": "empty"},
                                "nodes": []}
            assert n.flags() == MT_FLAGS_ALLOC_RANGE
            assert factory.live_nodes() == base, k
        else:
            assert ret == 0 and n.dump() == src
            assert factory.live_nodes() == base + nodes
        assert t.dump() == src
        n.destroy()
        assert factory.live_nodes() == base


def test_destroy_frees_everything(factory):
    base = factory.live_nodes()
    trees = [factory.create(f) for f in (0, 1, 2, 3)]
    for t in trees:
        build(t, [(7 * i, 7 * i + 3, V(i)) for i in range(300)])
    assert factory.live_nodes() > base
    for t in trees:
        t.destroy()
    assert factory.live_nodes() == base
    with pytest.raises(MapleUsageError):
        trees[0].load(1)


# ------------------------------------------------------------------ validate must be able to fail

def test_validate_detects_corruption(tree):
    t = tree(MT_FLAGS_ALLOC_RANGE)
    build(t, [(10 * i, 10 * i + 5, V(i)) for i in range(40)])
    assert t.validate() == []
    assert t._test_corrupt_pivot() == 0
    msgs = t.validate()
    assert msgs, "mt_validate must report a corrupted pivot"
    assert any("mas_validate_limits" in m for m in msgs)
    # the harness survives: further reads still work and validation is repeatable
    assert t.validate() == msgs or t.validate()


# ------------------------------------------------------------------ usage errors

@pytest.mark.parametrize("call", [
    lambda t: t.load(-1), lambda t: t.load(2 ** 64), lambda t: t.store_range(0, 2 ** 64, V(1)),
    lambda t: t.store_range(0, 1, 0), lambda t: t.insert_range(-1, 1, V(1)),
    lambda t: t.replace(1, 2 ** 64), lambda t: t.mas_find(-5), lambda t: t.walk(1.0),
    lambda t: t.empty_area(0, 10, -1), lambda t: t.dup(0), lambda t: t.set_rcu(1),
])
def test_usage_errors(tree, call):
    t = tree()
    t.store_range(1, 2, V(1))
    before = t.dump()
    with pytest.raises(MapleUsageError):
        call(t)
    assert t.dump() == before


def test_bad_create_flags(factory):
    with pytest.raises(MapleUsageError):
        factory.create(0x4)


# ------------------------------------------------------------------ batch == step

def random_ops(seed: int, n: int, ntrees_max: int = 4) -> list[tuple]:
    rng = random.Random(seed)
    ops: list[tuple] = []
    live = [0]
    total = 1

    def idx():
        r = rng.random()
        if r < 0.05:
            return rng.choice([0, 1, MAX, MAX - 1])
        return rng.randrange(0, 2000)

    def ent():
        r = rng.random()
        if r < 0.15:
            return None
        if r < 0.2:
            return XA_ZERO_ENTRY
        if r < 0.3:
            return 0x1000 * rng.randrange(1, 50)
        return V(rng.randrange(0, 30))

    for _ in range(n):
        t = rng.choice(live)
        r = rng.random()
        if r < 0.35:
            a = idx()
            b = min(MAX, a + rng.choice([0, 0, 1, 5, 40, 300]))
            ops.append(("store_range", t, a, b, ent()))
        elif r < 0.42:
            a = idx()
            ops.append(("insert_range", t, a, min(MAX, a + rng.randrange(0, 20)), ent()))
        elif r < 0.5:
            ops.append(("erase", t, idx()))
        elif r < 0.53:
            ops.append(("replace", t, idx(), ent()))
        elif r < 0.6:
            ops.append((rng.choice(["load", "walk"]), t, idx()))
        elif r < 0.63:
            ops.append(("mas_set", t, rng.randrange(1, 2000)))
        elif r < 0.64:
            ops.append(("mas_pause", t))
        elif r < 0.8:
            name = rng.choice(["mas_find", "mas_find_range", "mas_next", "mas_next_range", "mas_prev",
                               "mas_prev_range", "mas_find_rev", "mas_find_range_rev"])
            # In 6.12 a limit already passed on a state that was never walked (status start,
            # pause or none) sets overflow/underflow with no node; a later call with a looser
            # limit resumes as active and dereferences NULL (see test_linux_worker.py::
            # test_real_crash_limit_passed_before_walk).  Limits here are the extremes so this
            # equivalence test stays about batching.
            ops.append((name, t, 0 if "prev" in name or "rev" in name else MAX))
        elif r < 0.86:
            a = idx()
            ops.append((rng.choice(["empty_area", "empty_area_rev"]), t, a, min(MAX, a + rng.randrange(0, 3000)),
                        rng.randrange(1, 50)))
        elif r < 0.9:
            a = idx()
            ops.append((rng.choice(["alloc_range", "alloc_rrange"]), t, rng.randrange(1, 30), ent(), a,
                        min(MAX, a + rng.randrange(0, 3000))))
        elif r < 0.92:
            ops.append(("set_rcu", t, rng.random() < 0.5))
        elif r < 0.95 and len(live) < ntrees_max:
            ops.append(("dup", t, rng.choice([None, None, 1, 2, 3, 7])))
            live.append(total)
            total += 1
        elif r < 0.96 and len(live) > 1:
            ops.append(("destroy", t))
            live.remove(t)
        else:
            ops.append(("load", t, idx()))
    return ops


@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU])
def test_batch_equals_step(factory, flags):
    base = factory.live_nodes()
    for seed in range(2):
        ops = random_ops(seed * 10 + flags, 1200)
        a = Session(factory, flags)
        step_results = [a.step(op) for op in ops]
        step_dumps = [(i, t.dump()) for i, t in a.live_trees()]
        b = LinuxSession(factory, flags)
        batch_results = b.run(ops)
        batch_dumps = [(i, t.dump()) for i, t in b.live_trees()]
        assert batch_results == step_results
        assert batch_dumps == step_dumps
        c = LinuxSession(factory, flags)
        assert c.run_checked(ops) == (step_results, None, [])
        for s in (a, b, c):
            for _, t in s.live_trees():
                assert t.validate() == []
            s.close()
    assert factory.live_nodes() == base


def test_batch_errors_like_step(factory):
    base = factory.live_nodes()
    s = LinuxSession(factory, 0)
    with pytest.raises(TraceError):
        s.run([("store_range", 0, 1, 2, V(1)), ("load", 3, 1)])
    assert s.run([("load", 0, 1)]) == [V(1)]          # the op before the bad one ran
    with pytest.raises(MapleUsageError):
        s.run([("store_range", 0, 5, 5, V(2)), ("load", 0, -1)])
    assert s.run([("load", 0, 5)]) == [V(2)]
    assert s.run([("dup", 0, None), ("destroy", 1), ("load", 0, 5)]) == [0, None, V(2)]
    assert s.trees[1] is None
    with pytest.raises(TraceError):
        s.run([("load", 1, 5)])
    s.close()
    assert factory.live_nodes() == base


def test_run_checked_reports_first_bad_op(factory):
    s = LinuxSession(factory, MT_FLAGS_ALLOC_RANGE)
    s.run([("store_range", 0, 10 * i, 10 * i + 5, V(i)) for i in range(40)])
    s.trees[0]._test_corrupt_pivot()
    res, bad, msgs = s.run_checked([("load", 0, 3), ("store_range", 0, 5000, 5001, V(1)), ("load", 0, 7)])
    assert bad == 1 and len(res) == 2 and msgs
    s.close()


def test_shape_e_and_leaf_growth(tree):
    t = tree(0)
    build(t, [(i, i, V(i)) for i in range(300)])
    assert levels(t.dump())[-1][-1] == "285-MAX:16"
    for i in range(250):
        assert t.erase(i) == V(i)
    d = t.dump()
    assert d["height"] == 2
    assert levels(d) == [["0-MAX:4"], ["0-259:11", "260-269:10", "270-284:15", "285-MAX:16"]]
    u = tree(0)
    build(u, [(i, i, V(i)) for i in range(15)])
    assert levels(u.dump()) == [["0-MAX:16"]]
    build(u, [(15, 15, V(15))])
    assert levels(u.dump()) == [["0-MAX:2"], ["0-8:9", "9-MAX:8"]]


def test_cli_build_returns_optimised_adapter():
    from maplecheck.impl.linux.build import cli_build

    p = cli_build(None)
    assert p.is_file() and "-opt-" in p.name
