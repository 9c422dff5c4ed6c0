# SPDX-License-Identifier: GPL-2.0-or-later
"""Seeded random op streams: contents equal the model's, and the tree validates, after every op."""

from __future__ import annotations

import random

import pytest

from maplecheck.dump import dump_ranges
from maplecheck.impl.pytree import SMALL, PyFactory
from maplecheck.model import ModelTree
from maplecheck.tree import MAX


def random_ops(rng, n, span):
    for _ in range(n):
        a = rng.randrange(span)
        r = rng.random()
        b = a + (rng.choice([0, 1, 3, 10, 50, 300]) if r < 0.7 else rng.randrange(span))
        if rng.random() < 0.02:
            b = MAX
        if rng.random() < 0.02:
            a = 0
        b = min(b, MAX)
        e = rng.choice([None, None, 2 * rng.randrange(20) + 1, 4096 * rng.randrange(1, 5)])
        k = rng.random()
        if k < 0.55:
            yield ("store_range", a, b, e)
        elif k < 0.7:
            yield ("insert_range", a, b, e or 3)
        elif k < 0.95:
            yield ("erase", a)
        else:
            yield ("set_rcu", rng.random() < 0.5)


@pytest.mark.parametrize("geo", [None, SMALL], ids=["linux64", "small"])
@pytest.mark.parametrize("flags", [0, 1, 2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_random_ops_match_model(seed, flags, geo):
    rng = random.Random(1000 * seed + flags)
    fac = PyFactory(geo) if geo else PyFactory()
    t = fac.create(flags)
    m = ModelTree(flags)
    for k, (op, *args) in enumerate(random_ops(rng, 400, 3000)):
        r1 = getattr(t, op)(*args)
        r2 = getattr(m, op)(*args)
        assert r1 == r2, (k, op, args)
        assert dump_ranges(t.dump()) == m.ranges(), (k, op, args)
        if k % 5 == 0:
            assert t.validate() == [], (k, op, args)
    assert t.validate() == []
    t.destroy()
    assert fac.live_nodes() == 0
