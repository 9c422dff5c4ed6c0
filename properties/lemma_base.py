# SPDX-License-Identifier: GPL-2.0-or-later
"""The lemma registry and the symbolic building blocks every catalog part uses.

:data:`LEMMAS` and :func:`lemma` register a proof; ``u64``/``entries``/``bv``
make symbols; :func:`sym_layout` a symbolic node satisfying the pivot
invariants.  The catalog parts (``lemmas``, ``lemmas_write``, ``lemmas_split``,
``lemmas_gaps``) import this module and never each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import z3

from maplecheck.impl.pytree.node import LINUX_64, MapleNode, ULONG_MAX, maple_arange_64

from .lemma_preds import inv_limits, inv_ranges
from .symexec import Outcome, prove

import os

#: MAPLECHECK_PROVE_FULL=1: every structural case for the write/split lemmas
FULL = os.environ.get("MAPLECHECK_PROVE_FULL", "") not in ("", "0")

U64 = ULONG_MAX
GEO = LINUX_64
RANGE_SLOTS = GEO.range_slots      # 16
ARANGE_SLOTS = GEO.arange_slots    # 10


@dataclass
class Lemma:
    name: str
    helper: str                      # what it covers, e.g. "node.ma_data_end"
    check: Callable[[object], Outcome]  # check(impl) with impl the helper (or mutant)
    real: object
    mutant: object
    statement: str = ""


LEMMAS: dict[str, Lemma] = {}


def runs(module, name: str):
    """The helper ``module.name`` as the tree calls it: looked up in its module at each
    call, so a lemma proves whatever function the tree runs at that moment (a test
    that replaces the helper in its module sees the lemma fail on the replacement)."""
    def helper(*args, **kwargs):
        return getattr(module, name)(*args, **kwargs)
    helper.__name__ = helper.__qualname__ = name
    return helper


def lemma(name: str, helper: str, real, mutant, statement: str = ""):
    def deco(fn):
        LEMMAS[name] = Lemma(name, helper, fn, real, mutant, statement or (fn.__doc__ or "").strip())
        return fn
    return deco


# ------------------------------------------------------------------ symbols

def u64(name: str):
    v = z3.Int(name)
    return v, z3.And(v >= 0, v <= U64)


def u64s(prefix: str, n: int):
    vs = [z3.Int(f"{prefix}{i}") for i in range(n)]
    return vs, [z3.And(v >= 0, v <= U64) for v in vs]


def entries(prefix: str, n: int):
    vs = [z3.Int(f"{prefix}{i}") for i in range(n)]
    return vs, [v >= 0 for v in vs]


def bv(name: str, bits: int = 64):
    return z3.BitVec(name, bits)


def aligned(a):
    return (a & 0xFF) == 0


def single(setup, body):
    return prove([None], lambda _c: setup(), lambda st, _c: body(st))


def sym_layout(prefix: str, t: int, end: int, min=None, max=None):
    """A symbolic node of type ``t`` with data end ``end`` satisfying the pivot
    invariants, and its metadata as the writers leave it.  Returns (node, pre)."""
    nslots = GEO.slots[t]
    npiv = GEO.pivots[t]
    pivots, pre = u64s(f"{prefix}p", npiv)
    slots, pre_s = entries(f"{prefix}s", nslots)
    pre += pre_s
    if min is None:
        min, c = u64(f"{prefix}min")
        pre.append(c)
    if max is None:
        max, c = u64(f"{prefix}max")
        pre.append(c)
    pre.append(min <= max)
    node = MapleNode(GEO, t)
    node.pivot = pivots
    node.slot = slots
    pre.append(inv_limits(pivots, slots, end, min, max))
    pre.append(inv_ranges(pivots, end, min, max))
    if t == maple_arange_64:
        node.meta_end = end
    elif end < nslots - 1:
        pre.append(slots[-1] == end)  # the overlay word: end, gap 0
    return node, min, max, pre
