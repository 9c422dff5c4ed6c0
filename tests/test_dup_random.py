# SPDX-License-Identifier: GPL-2.0-or-later
"""Seeded random trees: dup and replace of our tree against Linux (and the model), in lockstep."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, strategies as st

from maplecheck.dump import dump_diff
from maplecheck.impl.pytree import SMALL, PyFactory
from maplecheck.properties import dup_props as P
from maplecheck.tree import MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU, XA_ZERO_ENTRY, xa_mk_value


@pytest.fixture(scope="module")
def linux_factory():
    from maplecheck.impl.linux.adapter import LinuxFactory
    return LinuxFactory()


def random_ops(rng: random.Random, n: int, span: int):
    ops = []
    for _ in range(n):
        a = rng.randrange(0, span)
        b = min(MAX, a + rng.choice((0, 0, 1, 5, 9, 30, 200)))
        r = rng.random()
        if r < 0.15:
            ops.append(("store_range", a, b, None))
        elif r < 0.2:
            ops.append(("erase", a))
        else:
            e = rng.choice((xa_mk_value(rng.randrange(30)), 0x4000 + 4 * rng.randrange(500),
                            XA_ZERO_ENTRY))
            ops.append(("store_range", a, b, e))
    if rng.random() < 0.3:
        ops.append(("store_range", MAX - rng.randrange(50), MAX, 0x9000))
    return ops


@pytest.mark.parametrize("seed", range(12))
def test_random_trees_dup_like_linux(seed, linux_factory):
    rng = random.Random(seed)
    flags = rng.choice((0, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU))
    pf = PyFactory()
    p, l = pf.create(flags), linux_factory.create(flags)
    for name, *args in random_ops(rng, rng.choice((5, 60, 400)), rng.choice((100, 3000, 100000))):
        assert getattr(p, name)(*args) == getattr(l, name)(*args)
    assert p.dump() == l.dump()
    n = len(l.dump()["nodes"])
    for k in [None] + sorted(rng.sample(range(1, n + 2), min(n + 1, 6))):
        rp, cp = p.dup(k)
        rl, cl = l.dup(k)
        assert rp == rl, k
        assert cp.dump() == cl.dump(), dump_diff(cl.dump(), cp.dump(), ("linux", "python"))
        for idx in rng.sample(range(0, 3000), 10) + [0, MAX]:
            e = rng.choice((None, 0x402, xa_mk_value(7), 0x6000 + 4 * (idx % 4096), XA_ZERO_ENTRY))
            assert cp.replace(idx, e) == cl.replace(idx, e)
        assert cp.dump() == cl.dump()
        assert p.dump() == l.dump()  # the sources never moved
        cp.destroy()
        cl.destroy()
    assert P.prop_dup_independent(p) == []
    p.destroy()
    l.destroy()
    assert pf.live_nodes() == 0


@given(st.lists(st.tuples(st.integers(1, 9), st.integers(0, 6), st.integers(1, 40)), max_size=90),
       st.sampled_from([0, MT_FLAGS_ALLOC_RANGE]), st.booleans())
def test_dup_enomem_small_geometry_hypothesis(steps, flags, at_zero):
    """Deep 4-slot trees (built bottom-up, valid by construction) from short descriptions:
    every failure point of the dup, the copy, then replace on the copy."""
    f = PyFactory(SMALL)
    t = f.create(flags)
    pairs, pos = [], 0 if at_zero else 1
    for gap, length, v in steps:  # gap 1 = adjacent ranges
        first = pos + gap - 1
        pairs.append((first, first + length, xa_mk_value(v)))
        pos = first + length + 1
    P.build_pytree(t.mt, pairs)
    assert t.validate() == []
    assert P.prop_dup_enomem(f, t) == []
    assert P.prop_dup_copies(t) == []
    for idx in (0, 5, 100, 401):
        assert P.prop_replace_one_slot(t, idx, 0x7000 + 4 * idx) == []
    t.destroy()
    assert f.live_nodes() == 0
