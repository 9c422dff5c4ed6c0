# SPDX-License-Identifier: GPL-2.0-or-later
"""Differential tests: our read path and gap search against Linux 6.12, on the same nodes.

Linux builds each tree (random stores through the adapter); we rebuild the
exact structure from its dump (``tree_from_dump``), so these tests check
iterate.py and gap.py alone, whatever state the Python write path is in.
Every cursor call's MasResult and every empty_area(_rev) Area must match.
"""

from __future__ import annotations

import random

import pytest

from maplecheck.tree import MAX, MT_FLAGS_ALLOC_RANGE, XA_ZERO_ENTRY, xa_mk_value

from maplecheck.impl.pytree.iterate import MasNullNode

from test_pytree_read_build import CURSOR_CALLS, PyCursor, needs_linux, tree_from_dump

SEEDS = range(12)
#: (random stores, index span): empty, tiny, one leaf, and dense trees of height 2-4
SHAPES = ((0, 100), (1, 4), (3, 50), (30, 400), (100, 3000), (300, 20000))

#: how many calls were compared, and how many were predicted NULL dereferences
stats = {"calls": 0, "null_node": 0, "areas": 0}


def _entry(rng: random.Random):
    r = rng.random()
    if r < 0.6:
        return xa_mk_value(rng.randrange(8))
    if r < 0.7:
        return XA_ZERO_ENTRY
    if r < 0.85:
        return None
    return 4096 * rng.randrange(2, 50)


def _index(rng: random.Random, span: int) -> int:
    r = rng.random()
    if r < 0.05:
        return 0
    if r < 0.1:
        return MAX
    if r < 0.15:
        return MAX - rng.randrange(4)
    return rng.randrange(span)


def _build(f, rng: random.Random, flags: int, nops: int, span: int):
    """A Linux tree: for big spans a dense base of small ranges (height 2-4),
    then ``nops`` random stores (some NULL, some wide, some at the top)."""
    lt = f.create(flags)
    if span >= 1000:
        step = rng.choice((2, 3, 10))
        width = rng.randrange(1, step)
        for i in range(0, span, step):
            lt.store_range(i, i + width - 1, xa_mk_value(i & 0xFF))
    wide = 0.1 if span < 1000 else 0.005
    for _ in range(nops):
        a = _index(rng, span)
        widths = (0, 0, 1, 3, 9, 40, span // 10) if span < 1000 else (0, 0, 1, 3, 9, 40, 200)
        b = a + rng.choice(widths) if rng.random() > wide else MAX
        b = min(b, MAX)
        lt.store_range(a, b, _entry(rng))
    return lt


def _limit(rng: random.Random, cur: int, span: int) -> int:
    r = rng.random()
    if r < 0.2:
        return MAX
    if r < 0.3:
        return 0
    if r < 0.5:
        return cur
    if r < 0.7:
        return max(0, min(MAX, cur + rng.randrange(-30, 30)))
    return rng.randrange(span)


def _cursor_session(lt, pt, rng: random.Random, span: int, steps: int):
    log = []
    cur = 0
    for _ in range(steps):
        r = rng.random()
        if r < 0.12:
            idx = _index(rng, span)
            lt.mas_set(idx)
            pt.mas_set(idx)
            log.append(("mas_set", idx))
            cur = idx
            continue
        if r < 0.17:
            lt.mas_pause()
            pt.mas_pause()
            log.append(("mas_pause",))
            continue
        op = rng.choice(CURSOR_CALLS)
        lim = _limit(rng, cur, span)
        log.append((op, lim))
        try:
            b = getattr(pt, op)(lim)
        except MasNullNode:
            # Linux would dereference NULL (it segfaults): skip the call and
            # restart both cursors, counting the prediction.
            stats["null_node"] += 1
            idx = _index(rng, span)
            lt.mas_set(idx)
            pt.mas_set(idx)
            log.append(("mas_set", idx))
            continue
        a = getattr(lt, op)(lim)
        stats["calls"] += 1
        assert a == b, f"{op}({lim:#x}) linux={a} python={b}\nsequence={log}"
        cur = a.index


def _areas(lt, pt, rng: random.Random, span: int, count: int, is_alloc: bool):
    for _ in range(count):
        lo = _index(rng, span) if rng.random() < 0.8 else 0
        hi = rng.choice((MAX, lo + rng.randrange(0, 200), _index(rng, span)))
        hi = min(hi, MAX)
        size = rng.choice((1, 1, 2, 3, 5, 8, 20, 100, rng.randrange(1, 1 << 20), MAX))
        for name in ("empty_area", "empty_area_rev"):
            a = getattr(lt, name)(lo, hi, size)
            b = getattr(pt, name)(lo, hi, size)
            stats["areas"] += 1
            assert a == b, f"{name}({lo:#x}, {hi:#x}, {size:#x}) alloc={is_alloc} linux={a} python={b}"


@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE], ids=["plain", "alloc"])
@pytest.mark.parametrize("seed", SEEDS)
def test_cursor_sequences_match_linux(flags, seed):
    f = needs_linux()
    rng = random.Random(seed * 7 + flags)
    for nops, span in SHAPES:
        lt = _build(f, rng, flags, nops, span)
        try:
            pt = PyCursor(tree_from_dump(lt.dump()))
            lt.mas_set(0)
            _cursor_session(lt, pt, rng, span, 300)
        finally:
            lt.destroy()


@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE], ids=["plain", "alloc"])
@pytest.mark.parametrize("seed", SEEDS)
def test_empty_area_matches_linux(flags, seed):
    f = needs_linux()
    rng = random.Random(seed * 11 + flags)
    for nops, span in SHAPES:
        lt = _build(f, rng, flags, nops, span)
        try:
            pt = PyCursor(tree_from_dump(lt.dump()))
            _areas(lt, pt, rng, span, 200, bool(flags))
        finally:
            lt.destroy()


@pytest.mark.parametrize("flags", [0, MT_FLAGS_ALLOC_RANGE], ids=["plain", "alloc"])
@pytest.mark.parametrize("seed", range(4))
def test_full_sweeps_match_linux(flags, seed):
    """Walk every range forwards and backwards (crossing every leaf), plain and _range."""
    f = needs_linux()
    rng = random.Random(seed * 13 + flags)
    lt = _build(f, rng, flags, 150, 12000)
    try:
        pt = PyCursor(tree_from_dump(lt.dump()))
        assert lt.dump()["height"] >= 3
        for fwd, back in (("mas_next", "mas_prev"), ("mas_next_range", "mas_prev_range"),
                          ("mas_find", "mas_find_rev"), ("mas_find_range", "mas_find_range_rev")):
            for start, step_fwd in ((0, True), (MAX, False)):
                lt.mas_set(start)
                pt.mas_set(start)
                for n in range(20000):
                    op = fwd if step_fwd else back
                    lim = MAX if step_fwd else 0
                    if n % 97 == 5:
                        lt.mas_pause()
                        pt.mas_pause()
                    a = getattr(lt, op)(lim)
                    b = getattr(pt, op)(lim)
                    stats["calls"] += 1
                    assert a == b, f"{op} step {n}: linux={a} python={b}"
                    if a.status in (5, 6) or (a.entry is None and a.status != 0) or \
                            (step_fwd and a.last == MAX) or (not step_fwd and a.index == 0):
                        break
                else:
                    raise AssertionError("sweep did not end")
    finally:
        lt.destroy()


def test_mt_find_next_prev_match_linux():
    """mt_find / mt_next / mt_prev against Linux's cursor results on the same nodes."""
    from maplecheck.impl.pytree.iterate import mt_next, mt_prev

    f = needs_linux()
    rng = random.Random(5)
    for flags in (0, MT_FLAGS_ALLOC_RANGE):
        lt = _build(f, rng, flags, 100, 5000)
        try:
            t = tree_from_dump(lt.dump())
            for _ in range(500):
                i = _index(rng, 5000)
                lim = _limit(rng, i, 5000)
                lt.mas_set(i)
                assert mt_next(t, i, lim) == lt.mas_next(lim).entry
                lt.mas_set(i)
                assert mt_prev(t, i, lim) == lt.mas_prev(lim).entry
        finally:
            lt.destroy()
