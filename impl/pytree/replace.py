# SPDX-License-Identifier: GPL-2.0-or-later
"""Replacing one entry in place: ``mas_replace_entry`` and the protocol's ``replace``.

``mas_replace_entry`` was patch 6 of the v1 ``__mt_dup`` series (2023) and
was dropped before merge; Linux 6.12 gets the same effect from a plain
``mas_store`` whose range is exactly one slot (the exact-fit store, which
``dup_mmap`` relies on).  Both are a single slot write: no allocation, no new
or dead node, no pivot, end, parent, height or gap change (a gap changes only
when NULL-ness changes, and NULL is refused here).

Error convention (kernel style, nothing raised, the tree unchanged on error):

* ``-EINVAL``: the request is malformed: the new entry is NULL or an advanced
  (reserved internal) entry, or ``[mas.index, mas.last]`` is not exactly the
  range of the slot the state points at (that store is not an exact fit; use
  ``mas_store``).
* ``-ENOENT``: the state points at no entry: it is not active on a live leaf
  slot inside the data, or the slot holds NULL.

Checks run in that order: entry, position, range, NULL slot.
"""

from __future__ import annotations

from maplecheck.tree import EINVAL, ENOENT, ENOMEM, MA_ACTIVE, MA_ROOT, MAX, xa_is_advanced

from .node import ma_data_end, ma_dead_node, ma_set_meta, maple_leaf_64, mte_node_type
from .mtree import MapleTree
from .rcu import rcu_point
from . import node_ops as O
from .node_ops import safe_min, safe_pivot
from .state import MaState
from .walk import mas_walk

__all__ = ["mas_replace_entry", "replace"]


def mas_replace_entry(mas: MaState, entry) -> int:
    """Overwrite the entry of the slot ``mas`` points at with ``entry``: 0 or -errno.

    Precondition (checked): ``mas`` is active on a leaf, ``mas.offset`` is a
    used slot, and ``[mas.index, mas.last]`` is that slot's whole range, as
    ``mas_walk`` / ``mas_find`` / ``mas_next`` leave it.
    """
    if entry is None or xa_is_advanced(entry):
        return -EINVAL
    enode = mas.node
    if mas.status != MA_ACTIVE or enode is None or mte_node_type(enode) >= 2:
        return -ENOENT
    node = mas.tree.alloc.nodes[enode >> 8]
    if node is None or ma_dead_node(node, enode):  # freed or dead
        return -ENOENT
    offset = mas.offset
    mmax = mas.max
    end = ma_data_end(node, maple_leaf_64, mmax)
    if not 0 <= offset <= end:
        return -ENOENT
    pivots = node.pivot
    if safe_min(pivots, offset, mas.min) != mas.index or safe_pivot(pivots, offset, mmax) != mas.last:
        return -EINVAL
    slots = node.slot
    if slots[offset] is None:
        return -ENOENT
    # the exact-fit store (node_ops.exact_fit_layout, proven), in place: one slot
    # changes; both entries are non-NULL, so no gap update
    _slots, update_gap = O.exact_fit_layout(slots, offset, entry)
    assert not update_gap
    return 0


def replace(tree: MapleTree, index: int, entry) -> tuple[int, object]:
    """The protocol's ``replace(index, entry)``: ``(ret, old)``.

    * entry NULL or advanced: ``(-EINVAL, None)``;
    * the range holding ``index`` is NULL (an empty tree included): ``(-ENOENT, None)``;
    * otherwise that range's content becomes ``entry``: ``(0, old)``.

    This equals the Linux adapter's exact-fit ``mas_store`` after a
    ``mas_walk`` and the model's replace.  A root-pointer tree (the bare entry
    at index 0) takes the exact-fit store's store_root path: the new entry
    stays a bare root unless its low bits are ``10``, in which case the root
    expands into a one-leaf tree (``mas_root_expand`` of ``[0, 0]``).
    """
    if entry is None or xa_is_advanced(entry):
        return -EINVAL, None
    mas = MaState(tree, index, index)
    old = mas_walk(mas)
    if old is None:
        return -ENOENT, None
    if mas.status == MA_ROOT:  # the bare root entry at index 0
        if entry & 3 != 2:
            tree.ma_root = entry
            rcu_point("assign")
            return 0, old
        ret = _root_expand_0(tree, entry)
        return (ret, None) if ret else (0, old)
    ret = mas_replace_entry(mas, entry)
    if ret:  # cannot happen after a successful walk of a sound tree
        raise AssertionError(f"mas_replace_entry after mas_walk({index:#x}) returned {ret}")
    return 0, old


def _root_expand_0(tree: MapleTree, entry) -> int:
    """mas_root_expand() for the range [0, 0]: a leaf ``entry|0, NULL|MAX``, height 1."""
    enode = tree.alloc.alloc(maple_leaf_64)
    if enode is None:
        return -ENOMEM
    node = tree.alloc.nodes[enode >> 8]
    node.parent = tree.addr | 1  # MA_ROOT_PARENT
    node.slot[0] = entry
    node.pivot[0] = 0
    node.pivot[1] = MAX
    ma_set_meta(node, maple_leaf_64, 0, 1)
    tree.mt_set_height(1)
    tree.ma_root = enode | 2
    rcu_point("assign")
    return 0
