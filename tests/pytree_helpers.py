# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers shared by the tests/test_pytree_*.py files."""

from __future__ import annotations

from maplecheck.tree import MAX


def build(t, ranges):
    for a, b, e in ranges:
        assert t.store_range(a, b, e) == 0


def levels(d: dict) -> list[list[str]]:
    """Per level, each node as 'min-max:used slots' (facts §11 notation)."""
    depth = {0: 0}
    for i, n in enumerate(d["nodes"]):
        if n["type"] != "leaf_64":
            for c in n["slots"]:
                depth[c] = depth[i] + 1
    out: list[list[str]] = []
    for i, n in enumerate(d["nodes"]):
        lv = depth[i]
        while len(out) <= lv:
            out.append([])
        hi = "MAX" if n["max"] == MAX else str(n["max"])
        out[lv].append(f"{n['min']}-{hi}:{n['end'] + 1}")
    return out


def root_node(t):
    """The root node's address (None for an empty / root-pointer tree)."""
    root = t.mt.ma_root
    if root is None or root & 3 != 2 or root < 4096:
        return None
    return root & ~0xFF


def leaf_addr(t, index):
    """The address of the leaf holding ``index``."""
    from maplecheck.impl.pytree.state import MaState
    from maplecheck.impl.pytree.walk import mas_walk
    mas = MaState(t.mt, index, index)
    mas_walk(mas)
    return mas.node & ~0xFF
