# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers shared by the tests/test_pytree_*.py files."""

from __future__ import annotations

from maplecheck.dump import dump_levels as levels  # noqa: F401 (re-exported for the tests)


def build(t, ranges):
    for a, b, e in ranges:
        assert t.store_range(a, b, e) == 0


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
