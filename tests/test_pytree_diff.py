# SPDX-License-Identifier: GPL-2.0-or-later
"""Differential tests: our Python tree against the real Linux 6.12 code, dump for dump.

Each seeded stream is applied to a PyTree and a LinuxTree; return values and the
canonical dumps must be equal after every operation (dump_diff explains the first
difference).  Builds the adapter like tests/test_linux_adapter.py does.
"""

from __future__ import annotations

import random

import pytest

from maplecheck.dump import dump_diff
from maplecheck.impl.pytree import PyFactory
from maplecheck.tree import MAX, MT_FLAGS_ALLOC_RANGE, xa_mk_value

V = xa_mk_value


@pytest.fixture(scope="module")
def linux():
    from maplecheck.impl.linux.adapter import LinuxFactory
    return LinuxFactory()


def check(lt, pt, what):
    d = dump_diff(lt.dump(), pt.dump(), ("linux", "python"))
    assert d is None, f"{what}\n{d}"


def stream(rng, n, span, alloc_ops=False):
    for _ in range(n):
        a = rng.randrange(span)
        r = rng.random()
        if r < 0.5:
            b = a + rng.choice([0, 0, 1, 2, 5, 10, 30, 100, 400])
        elif r < 0.6:
            b = a + rng.randrange(span)
        else:
            b = a
        if rng.random() < 0.02:
            b = MAX
        if rng.random() < 0.02:
            a = 0
        b = min(b, MAX)
        e = rng.choice([None, None, V(rng.randrange(50)), V(rng.randrange(50)),
                        4096 * rng.randrange(1, 9)])
        k = rng.random()
        if alloc_ops and k < 0.1:
            size = rng.choice([1, 2, 7, 50, 1000])
            lo = rng.randrange(span)
            yield (rng.choice(["alloc_range", "alloc_rrange"]), size, e or V(1), lo,
                   lo + rng.choice([size, 5 * size, span]))
        elif k < 0.55:
            yield ("store_range", a, b, e)
        elif k < 0.7:
            yield ("insert_range", a, b, e or V(1))
        elif k < 0.95:
            yield ("erase", a)
        else:
            yield ("set_rcu", rng.random() < 0.5)


def run(linux, seed, flags, n, span, alloc_ops=False):
    rng = random.Random(seed)
    pf = PyFactory()
    lt, pt = linux.create(flags), pf.create(flags)
    try:
        for k, (op, *args) in enumerate(stream(rng, n, span, alloc_ops)):
            r1 = getattr(lt, op)(*args)
            r2 = getattr(pt, op)(*args)
            assert r1 == r2, f"seed {seed} op {k} {op}{tuple(args)}: linux {r1} python {r2}"
            check(lt, pt, f"seed {seed} op {k} {op}{tuple(args)}")
        assert pt.validate() == []
    finally:
        lt.destroy()
        pt.destroy()
    assert pf.live_nodes() == 0


@pytest.mark.parametrize("flags", [0, 1, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_random_stream_equals_linux(linux, seed, flags):
    run(linux, 100 * seed + flags, flags, 600, 3000)


@pytest.mark.parametrize("seed", range(3))
def test_random_stream_with_alloc_range_equals_linux(linux, seed):
    run(linux, 7000 + seed, MT_FLAGS_ALLOC_RANGE, 400, 5000, alloc_ops=True)


SHAPES = [
    (MT_FLAGS_ALLOC_RANGE, [(10 * i, 10 * i + 5, V(i)) for i in range(135)]),
    (0, [(i, i, V(i)) for i in range(100)]),
    (0, [(10 * i, 10 * i + 5, V(i)) for i in range(134, -1, -1)]),
    (MT_FLAGS_ALLOC_RANGE, [(10 * i, 10 * i + 5, V(i)) for i in range(1000)]
     + [(2000, 7005, None)]),
    (0, [(i, i, V(i)) for i in range(300)] + [(i, i, None) for i in range(250)]),
]


@pytest.mark.parametrize("flags,ops", SHAPES, ids=list("ABCDE"))
def test_reference_shapes_equal_linux(linux, flags, ops):
    lt, pt = linux.create(flags), PyFactory().create(flags)
    for a, b, e in ops:
        assert lt.store_range(a, b, e) == pt.store_range(a, b, e) == 0
    check(lt, pt, "shape")
    lt.destroy()
    pt.destroy()


@pytest.mark.parametrize("seed", range(4))
def test_tall_trees_spanning_and_rebalance_equal_linux(linux, seed):
    """Bulk-built trees of height 3-4, then wide NULL / entry spanning stores and erases."""
    rng = random.Random(500 + seed)
    flags = seed % 2
    n = rng.choice([300, 1000, 2000])
    step, width = rng.choice([(1, 0), (2, 0), (10, 5), (10, 1)])
    lt, pt = linux.create(flags), PyFactory().create(flags)
    order = list(range(n))
    if seed >= 2:
        order.reverse()
    for i in order:
        a = i * step
        assert lt.store_range(a, a + width, V(i % 97)) == pt.store_range(a, a + width, V(i % 97))
    check(lt, pt, "build")
    span = n * step
    for k in range(120):
        a = rng.randrange(span + 10)
        b = min(a + rng.choice([0, 3, 20, 100, 500, 3000, span // 2]), MAX)
        e = None if rng.random() < 0.6 else V(rng.randrange(40))
        if rng.random() < 0.8:
            r1, r2 = lt.store_range(a, b, e), pt.store_range(a, b, e)
        else:
            r1, r2 = lt.erase(a), pt.erase(a)
        assert r1 == r2
        check(lt, pt, f"seed {seed} op {k} ({a}, {b}, {e})")
    lt.destroy()
    pt.destroy()
