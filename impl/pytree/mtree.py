# SPDX-License-Identifier: GPL-2.0-or-later
"""``struct maple_tree``: the root word and the flags."""

from __future__ import annotations

from maplecheck.tree import (MT_FLAGS_ALLOC_RANGE, MT_FLAGS_HEIGHT_MASK, MT_FLAGS_HEIGHT_OFFSET,
                             MT_FLAGS_USE_RCU, xa_is_node)

from .alloc import NodeAllocator
from .profile import is_v7
from .node import maple_arange_64, maple_range_64, mte_safe_root


class MapleTree:
    """``ma_root`` is None (empty), a bare entry (the root pointer), or ``enode | 2``."""

    __slots__ = ("ma_root", "ma_flags", "addr", "alloc", "profile", "v7")

    def __init__(self, alloc: NodeAllocator, flags: int = 0, profile: str = "6.12") -> None:
        self.profile = profile
        self.v7 = is_v7(profile)  # the 7.3 write path (see profile.py)
        self.ma_root = None
        self.ma_flags = flags
        self.addr = alloc.new_tree_addr()
        self.alloc = alloc

    # mt_* helpers
    def mt_height(self) -> int:
        return (self.ma_flags & MT_FLAGS_HEIGHT_MASK) >> MT_FLAGS_HEIGHT_OFFSET

    def mt_set_height(self, height: int) -> None:
        self.ma_flags = (self.ma_flags & ~MT_FLAGS_HEIGHT_MASK) | (height << MT_FLAGS_HEIGHT_OFFSET)

    def mt_is_alloc(self) -> bool:
        return bool(self.ma_flags & MT_FLAGS_ALLOC_RANGE)

    def mt_in_rcu(self) -> bool:
        return bool(self.ma_flags & MT_FLAGS_USE_RCU)

    def mt_node_type(self) -> int:
        """The internal node type of this tree: arange_64 for alloc trees."""
        return maple_arange_64 if self.ma_flags & MT_FLAGS_ALLOC_RANGE else maple_range_64

    def root_enode(self) -> int | None:
        """The root enode, or None when the root is empty or a bare entry."""
        root = self.ma_root
        if root is not None and xa_is_node(root):
            return mte_safe_root(root)
        return None
