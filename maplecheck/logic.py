# SPDX-License-Identifier: GPL-2.0-or-later
"""Connectives that run on Python values and on z3 terms alike.

Invariant predicates and node helpers are written with these (and plain
comparisons and arithmetic), so the validator runs them on ints and the lemmas
run the *same* functions on symbolic z3 nodes: a proof is about the code that
runs.  With no z3 term among the arguments nothing touches z3 at all, which
keeps the validator's hot path plain Python.

They live here, below both ``impl`` and ``properties``: the tree's helpers
(impl/pytree/node_ops.py) use them without importing ``properties``.
"""

from __future__ import annotations

from functools import reduce, wraps

try:  # z3 is a dependency, but the validator must not pay for importing it
    import z3 as _z3
except ImportError:  # pragma: no cover
    _z3 = None


_ExprRef = _z3.ExprRef if _z3 is not None else ()


_PLAIN = frozenset((int, bool))


def _symbolic(*xs) -> bool:
    """Is any argument a z3 term?  Plain ints and bools are the fast path (a C-level scan)."""
    if _PLAIN.issuperset(map(type, xs)):
        return False
    return any(isinstance(x, _ExprRef) for x in xs)


def And(*xs):
    if _PLAIN.issuperset(map(type, xs)):
        return all(xs)
    if _symbolic(*xs):
        return _z3.And(*xs)
    return all(xs)


def Or(*xs):
    if _PLAIN.issuperset(map(type, xs)):
        return any(xs)
    if _symbolic(*xs):
        return _z3.Or(*xs)
    return any(xs)


def Not(x):
    t = type(x)
    if t is bool or t is int or not _symbolic(x):
        return not x
    return _z3.Not(x)


def Implies(a, b):
    ta, tb = type(a), type(b)
    if (ta is bool or ta is int) and (tb is bool or tb is int):
        return (not a) or b
    if _symbolic(a, b):
        return _z3.Implies(a, b)
    return (not a) or b


def If(c, a, b):
    """c ? a : b, symbolic when any part is."""
    if _PLAIN.issuperset(map(type, (c, a, b))):
        return a if c else b
    if _symbolic(c, a, b):
        return _z3.If(c, a, b)
    return a if c else b


def Max(*xs):
    return reduce(lambda a, b: If(a >= b, a, b), xs)


def Min(*xs):
    return reduce(lambda a, b: If(a <= b, a, b), xs)


def concrete_cache(fn):
    """Memoize a predicate over plain values; call it straight through on z3 terms.

    The validator evaluates every invariant on every node after every write,
    but a write changes a handful of nodes: the rest hit this cache.  Lists
    (pivots, slots, gaps) are keyed by their contents, so a changed node is
    always evaluated afresh.  Any z3 term among the arguments bypasses the
    cache, so the lemmas see the predicate itself.
    """
    cache: dict = {}

    @wraps(fn)
    def cached(*args):
        key = []
        for a in args:
            t = type(a)
            if t is list or t is tuple:
                if _symbolic(*a):
                    return fn(*args)
                key.append(tuple(a))
            elif t is int or t is bool or a is None:
                key.append(a)
            else:
                return fn(*args)
        key = tuple(key)
        try:
            return cache[key]
        except KeyError:
            pass
        result = fn(*args)
        if len(cache) >= 1 << 17:
            cache.clear()
        cache[key] = result
        return result

    cached.uncached = fn
    return cached
