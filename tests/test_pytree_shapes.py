# SPDX-License-Identifier: GPL-2.0-or-later
"""Reference shapes of Linux 6.12 (facts §11) reproduced node for node by our Python tree."""

from __future__ import annotations

import pytest

from maplecheck.impl.pytree import SMALL, PyFactory
from maplecheck.tree import MAX, MT_FLAGS_ALLOC_RANGE, xa_mk_value

from pytree_helpers import build, levels

V = xa_mk_value


@pytest.fixture
def fac():
    f = PyFactory()
    yield f


def test_shape_a(fac):
    t = fac.create(MT_FLAGS_ALLOC_RANGE)
    build(t, [(10 * i, 10 * i + 5, V(i)) for i in range(135)])
    d = t.dump()
    lv = levels(d)
    assert d["height"] == 3 and d["flags"] == MT_FLAGS_ALLOC_RANGE
    assert lv[0] == ["0-MAX:2"]
    assert lv[1] == ["0-715:9", "716-MAX:8"]
    assert lv[2] == ["0-75:15"] + [f"{76 + 80 * k}-{155 + 80 * k}:16" for k in range(15)] + \
        ["1276-MAX:15"]
    assert all(n["type"] == "arange_64" for n in d["nodes"] if n["type"] != "leaf_64")
    assert t.validate() == []
    p = fac.create(0)
    build(p, [(10 * i, 10 * i + 5, V(i)) for i in range(135)])
    assert levels(p.dump())[-1] == lv[-1]
    assert p.validate() == []
    t.destroy()
    p.destroy()
    assert fac.live_nodes() == 0


def test_shape_b(fac):
    t = fac.create(0)
    build(t, [(i, i, V(i)) for i in range(100)])
    d = t.dump()
    assert d["height"] == 2
    assert levels(d) == [["0-MAX:7"], [f"{15 * k}-{15 * k + 14}:15" for k in range(6)] + ["90-MAX:11"]]
    assert t.validate() == []


def test_shape_c(fac):
    t = fac.create(0)
    build(t, [(10 * i, 10 * i + 5, V(i)) for i in range(134, -1, -1)])
    lv = levels(t.dump())
    assert t.height() == 3
    assert lv[1] == ["0-785:12", "786-MAX:8"]
    assert lv[2][:2] == ["0-45:9", "46-85:8"]
    assert all(x.endswith(":14") for x in lv[2][2:19]) and len(lv[2]) == 20
    assert lv[2][-1] == "1276-MAX:15"
    assert t.validate() == []


def test_shape_d_height_reduction(fac):
    t = fac.create(MT_FLAGS_ALLOC_RANGE)
    build(t, [(10 * i, 10 * i + 5, V(i)) for i in range(1000)])
    lv = levels(t.dump())
    assert t.height() == 4 and lv[1] == ["0-4315:6", "4316-MAX:8"]
    assert t.store_range(2000, 7005, None) == 0
    lv = levels(t.dump())
    assert t.height() == 3
    assert lv[0] == ["0-MAX:7"]
    assert lv[1][:3] == ["0-715:9", "716-1435:9", "1436-7195:10"]
    assert "1996-7065:12" in lv[2] and "7066-7115:10" in lv[2]
    i = lv[2].index("1996-7065:12")
    assert lv[2][i + 1] == "7066-7115:10"
    assert t.validate() == []


def test_shape_e(fac):
    t = fac.create(0)
    build(t, [(i, i, V(i)) for i in range(300)])
    assert levels(t.dump())[-1][-1] == "285-MAX:16"
    for i in range(250):
        assert t.erase(i) == V(i)
    lv = levels(t.dump())
    assert t.height() == 2
    assert lv == [["0-MAX:4"], ["0-259:11", "260-269:10", "270-284:15", "285-MAX:16"]]
    assert t.validate() == []


def test_single_leaf_growth(fac):
    t = fac.create(0)
    build(t, [(i, i, V(i)) for i in range(15)])
    assert levels(t.dump()) == [["0-MAX:16"]]
    build(t, [(15, 15, V(15))])
    assert levels(t.dump()) == [["0-MAX:2"], ["0-8:9", "9-MAX:8"]]
    p = fac.create(0)
    build(p, [(10 * i, 10 * i + 5, V(i)) for i in range(1, 8)])
    assert levels(p.dump()) == [["0-MAX:15"]]
    build(p, [(80, 85, V(8))])
    assert levels(p.dump()) == [["0-MAX:2"], ["0-55:10", "56-MAX:7"]]


def test_rebalance_example(fac):
    t = fac.create(MT_FLAGS_ALLOC_RANGE)
    build(t, [(10 * i, 10 * i + 5, V(i)) for i in range(60)])
    lv = levels(t.dump())
    assert lv[1][1:3] == ["76-155:16", "156-235:16"]
    for i in range(8, 14):  # six entries of 76-155
        assert t.erase(10 * i) == V(i)
    lv = levels(t.dump())
    assert lv[1][1:3] == ["76-185:10", "186-235:10"]
    assert t.validate() == []


def test_root_expand_example(fac):
    t = fac.create(0)
    r = 0x2000
    assert t.store_range(0, 0, r) == 0
    assert t.dump()["root"] == {"kind": "entry", "value": r}
    assert t.store_range(5, 9, V(1)) == 0
    n = t.dump()["nodes"][0]
    assert n["slots"] == [r, None, V(1), None] and n["pivots"] == [0, 4, 9, MAX]
    assert n["end"] == 3 and t.height() == 1


@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE])
def test_small_geometry_grows_and_validates(flags):
    f = PyFactory(SMALL)
    t = f.create(flags)
    for i in range(200):
        assert t.store_range(3 * i, 3 * i + 1, V(i)) == 0
        if i % 10 == 0:
            assert t.validate() == []
    assert t.height() >= 4
    for i in range(0, 200, 3):
        t.erase(3 * i)
    assert t.validate() == []
    assert t.store_range(50, 400, None) == 0
    assert t.validate() == []
    t.destroy()
    assert f.live_nodes() == 0
