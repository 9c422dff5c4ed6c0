# SPDX-License-Identifier: GPL-2.0-or-later
"""``struct ma_state``: where an operation is in the tree.

Field names and meanings are the kernel's: ``index``/``last`` the range being
worked on, ``node`` the current enode, ``min``/``max`` that node's limits,
``offset`` the slot, ``end`` the node's data end, ``status`` one of the
``enum maple_status`` values, ``depth`` the level (root = 1).
"""

from __future__ import annotations

from maplecheck.tree import (MA_ACTIVE, MA_ERROR, MA_NONE, MA_PAUSE, MA_ROOT, MA_START,
                             MA_OVERFLOW, MA_UNDERFLOW, MAX)

# mas_flags
MA_STATE_BULK = 1
MA_STATE_REBALANCE = 2
MA_STATE_PREALLOC = 4

# enum store_type
(wr_invalid, wr_new_root, wr_store_root, wr_exact_fit, wr_spanning_store, wr_split_store,
 wr_rebalance, wr_append, wr_node_store, wr_slot_store) = range(10)
STORE_TYPE_NAMES = ("invalid", "new_root", "store_root", "exact_fit", "spanning_store",
                    "split_store", "rebalance", "append", "node_store", "slot_store")


class MaState:
    """MA_STATE(mas, tree, first, end)."""

    __slots__ = ("tree", "index", "last", "node", "min", "max", "status", "depth", "offset",
                 "end", "mas_flags", "alloc", "store_type", "error")

    def __init__(self, tree, first: int = 0, end: int = 0) -> None:
        self.tree = tree
        self.index = first
        self.last = end
        self.node = None
        self.min = 0
        self.max = MAX
        self.status = MA_START
        self.depth = 0
        self.offset = 0
        self.end = 0
        self.mas_flags = 0
        self.alloc = None
        self.store_type = wr_invalid
        self.error = 0

    def copy(self) -> "MaState":
        """A structure copy (``tmp = *mas`` in C)."""
        new = MaState.__new__(MaState)
        new.tree = self.tree
        new.index = self.index
        new.last = self.last
        new.node = self.node
        new.min = self.min
        new.max = self.max
        new.status = self.status
        new.depth = self.depth
        new.offset = self.offset
        new.end = self.end
        new.mas_flags = self.mas_flags
        new.alloc = self.alloc
        new.store_type = self.store_type
        new.error = self.error
        return new

    def assign(self, src: "MaState") -> None:
        """``*self = *src``: copy every field of ``src`` into this state."""
        self.tree = src.tree
        self.index = src.index
        self.last = src.last
        self.node = src.node
        self.min = src.min
        self.max = src.max
        self.status = src.status
        self.depth = src.depth
        self.offset = src.offset
        self.end = src.end
        self.mas_flags = src.mas_flags
        self.alloc = src.alloc
        self.store_type = src.store_type
        self.error = src.error

    def set_range(self, first: int, last: int) -> None:
        """mas_set_range(): a new range, re-walked from the root next time."""
        self.index = first
        self.last = last
        self.status = MA_START
        self.node = None

    def set(self, index: int) -> None:
        """mas_set()."""
        self.set_range(index, index)

    def reset(self) -> None:
        """mas_reset(): keep the range, start again from the root."""
        self.status = MA_START
        self.node = None

    def set_err(self, err: int) -> None:
        """mas_set_err(): ``err`` is a negative errno."""
        self.error = err
        self.status = MA_ERROR
        self.node = None

    # status predicates, named as the kernel names them
    def is_start(self) -> bool: return self.status == MA_START
    def is_active(self) -> bool: return self.status == MA_ACTIVE
    def is_none(self) -> bool: return self.status == MA_NONE
    def is_ptr(self) -> bool: return self.status == MA_ROOT
    def is_paused(self) -> bool: return self.status == MA_PAUSE
    def is_overflow(self) -> bool: return self.status == MA_OVERFLOW
    def is_underflow(self) -> bool: return self.status == MA_UNDERFLOW
    def is_err(self) -> bool: return self.status == MA_ERROR

    def __repr__(self) -> str:
        from maplecheck.tree import STATUS_NAMES
        node = "NULL" if self.node is None else hex(self.node)
        return (f"ma_state(index={self.index:#x} last={self.last:#x} node={node} "
                f"min={self.min:#x} max={self.max:#x} offset={self.offset} end={self.end} "
                f"depth={self.depth} status={STATUS_NAMES[self.status]})")
