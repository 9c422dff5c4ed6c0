# SPDX-License-Identifier: GPL-2.0-or-later
"""Gap tracking reads and the gap search: empty_area(_rev), alloc_range/rrange/cyclic.

In an alloc-range tree every internal (arange_64) node stores ``gap[i]``, the
largest NULL range in child ``i``'s subtree, and ``meta_gap``, the offset of
its largest gap.  Leaves store nothing: their largest gap is computed on
demand (:func:`mas_leaf_max_gap`).

``mas_empty_area`` walks forward from ``min`` (``mas_awalk``:
``mas_anode_descend`` in each node, ``mas_skip_node`` to climb when a node is
exhausted); ``mas_empty_area_rev`` walks backward from ``max``
(``mas_rev_awalk``, ``mas_rewind_node``).  Both keep the kernel's quirks:

* a tree without ``MT_FLAGS_ALLOC_RANGE`` has no internal gaps, so the search
  can never descend below a range_64 root (only ``mtree_alloc_*`` refuse such
  trees);
* a state that is not in start status resumes two offsets back;
* C's unsigned arithmetic is kept where it can wrap: in the reverse search a
  window starting at 0 and ending at MAX makes ``last - min + 1`` wrap to 0.

The results are 0 or a negative errno; ``mas.index``/``mas.last`` hold the
range found (and whatever the kernel leaves there on failure).
"""

from __future__ import annotations

from maplecheck.tree import (EBUSY, EINVAL, MA_ERROR, MA_NONE, MA_ROOT, MA_START,
                             MAX, MT_FLAGS_ALLOC_WRAPPED, mt_is_reserved)

from .node import ma_data_end, ma_is_root_parent, MAPLE_NODE_SLOTS, mas_safe_pivot, mte_node_type
from . import node_ops as O
from .gaps_update import mas_leaf_max_gap, mas_max_gap
from .node_ops import ma_max_gap
from .nav import mas_ascend, mas_data_end
from .state import MaState
from .walk import mas_start

__all__ = [
    "mas_leaf_max_gap", "ma_max_gap", "mas_max_gap",
    "mas_empty_area", "mas_empty_area_rev",
    "mtree_alloc_range", "mtree_alloc_rrange", "mas_alloc_cyclic", "mtree_alloc_cyclic",
]


def _node(mas: MaState):
    return mas.tree.alloc.nodes[mas.node >> 8]


def _is_root_enode(mas: MaState, enode: int) -> bool:
    return ma_is_root_parent(mas.tree.alloc.nodes[enode >> 8].parent)


# ------------------------------------------------------------------ gap values

# ------------------------------------------------------------------ forward search

def _mas_anode_descend(mas: MaState, size: int) -> bool:
    """mas_anode_descend(): scan this node from mas.offset; True when done.

    Done means found (a fitting NULL leaf slot, or the root ran out), or
    error (-EBUSY when a slot reaching ``last`` failed).  False means the
    search moved down a level (offset 0) or ran off the end of a non-root node.
    """
    enode = mas.node
    type = mte_node_type(enode)
    node = _node(mas)
    pivots = node.pivot
    slots = node.slot
    gaps = node.gap
    offset = mas.offset
    lo = O.safe_min(pivots, offset, mas.min)
    data_end = ma_data_end(node, type, mas.max)
    found = False
    leaf = type < 2
    descended = False
    while offset <= data_end:
        pivot = mas_safe_pivot(node, offset, mas.max)
        if not mas.index > pivot:
            if gaps is not None:
                gap = gaps[offset]
                check = True
            elif slots[offset] is None:
                gap = (min(pivot, mas.last) - max(mas.index, lo) + 1) & MAX
                check = True
            else:
                check = False
            if check and gap >= size:
                if leaf:
                    mas.offset = offset
                    return True
                if mas.index <= pivot:
                    mas.node = slots[offset]
                    mas.min = lo
                    mas.max = pivot
                    offset = 0
                    descended = True
                    break
        lo = pivot + 1
        if mas.last <= pivot:
            mas.set_err(-EBUSY)
            return True
        offset += 1

    if not descended and _is_root_enode(mas, mas.node):
        found = True
    mas.offset = offset
    return found


def _mas_skip_node(mas: MaState) -> bool:
    """mas_skip_node(): climb until a node has a slot after mas.offset, and step to it."""
    if mas.status == MA_ERROR:
        return False
    while True:
        if _is_root_enode(mas, mas.node):
            if mas.offset >= mas_data_end(mas):
                mas.set_err(-EBUSY)
                return False
        else:
            mas_ascend(mas)
        if not mas.offset >= mas_data_end(mas):
            break
    mas.offset += 1
    return True


def _mas_awalk(mas: MaState, size: int) -> None:
    """mas_awalk(): search [index, last] from low to high for a NULL range of ``size``."""
    last = None
    while mas.status != MA_ERROR and not _mas_anode_descend(mas, size):
        if last == mas.node:
            _mas_skip_node(mas)
        else:
            last = mas.node


def _mas_sparse_area(mas: MaState, min: int, max: int, size: int, fwd: bool) -> int:
    """mas_sparse_area(): the answer for an empty tree or a root pointer (which holds 0)."""
    if mas.status != MA_NONE and min == 0:
        min += 1
        if min > max or max - min + 1 < size:
            return -EBUSY
    if fwd:
        mas.index = min
        mas.last = min + size - 1
    else:
        mas.last = max
        mas.index = max - size + 1
    return 0


def mas_empty_area(mas: MaState, min: int, max: int, size: int) -> int:
    """mas_empty_area(): the lowest [s, s+size-1] inside [min, max] that is all NULL.

    Returns 0 with mas.index/mas.last set to the area, -EINVAL for a bad
    request, or -EBUSY.
    """
    if min > max:
        return -EINVAL
    if size == 0 or max - min < size - 1:
        return -EINVAL

    if mas.status == MA_START:
        mas_start(mas)
    elif mas.offset >= 2:
        mas.offset -= 2
    elif not _mas_skip_node(mas):
        return -EBUSY

    if mas.status == MA_NONE or mas.status == MA_ROOT:
        return _mas_sparse_area(mas, min, max, size, True)

    mas.index = min
    mas.last = max
    _mas_awalk(mas, size)
    if mas.status == MA_ERROR:
        return mas.error

    offset = mas.offset
    if offset == MAPLE_NODE_SLOTS:
        return -EBUSY
    node = _node(mas)
    type = mte_node_type(mas.node)
    lo = O.safe_min(node.pivot, offset, mas.min)
    if mas.index < lo:
        mas.index = lo
    mas.last = mas.index + size - 1
    mas.end = ma_data_end(node, type, mas.max)
    return 0


# ------------------------------------------------------------------ reverse search

def _mas_rewind_node(mas: MaState) -> bool:
    """mas_rewind_node(): climb until a node has a slot before mas.offset, and step to it."""
    while True:
        if _is_root_enode(mas, mas.node):
            slot = mas.offset
            if not slot:
                return False
        else:
            mas_ascend(mas)
            slot = mas.offset
        if slot:
            break
    mas.offset = slot - 1
    return True


def _mas_rev_awalk(mas: MaState, size: int):
    """mas_rev_awalk(): scan this node down from mas.offset.

    Returns (done, gap_min, gap_max): done with the gap's limits when a leaf
    slot fits; not done after descending (offset = the child's data end),
    when a non-root node is exhausted, or with status error (-EBUSY).
    """
    if mas.status == MA_ERROR:
        return True, None, None
    enode = mas.node
    type = mte_node_type(enode)
    node = _node(mas)
    pivots = node.pivot
    slots = node.slot
    gaps = node.gap
    offset = mas.offset
    lo = O.safe_min(pivots, offset, mas.min)
    while mas.last < lo:
        offset -= 1
        lo = O.safe_min(pivots, offset, mas.min)
    hi = mas_safe_pivot(node, offset, mas.max)
    gap = 0
    ascend = False
    while mas.index <= hi:
        gap = 0
        if gaps is not None:
            gap = gaps[offset]
        elif slots[offset] is None:
            gap = (hi - lo + 1) & MAX
        if gap:
            if size <= gap and size <= (mas.last - lo + 1) & MAX:
                break
            if gaps is None:
                if offset < 2:
                    ascend = True
                    break
                offset -= 2
                hi = pivots[offset]
                lo = O.safe_min(pivots, offset, mas.min)
                continue
        if not offset:
            ascend = True
            break
        offset -= 1
        hi = lo - 1
        lo = O.safe_min(pivots, offset, mas.min)

    if ascend:
        if not _is_root_enode(mas, mas.node):
            return False, None, None
        mas.set_err(-EBUSY)
        return False, None, None

    if mas.index > hi or size - 1 > hi - mas.index:
        mas.set_err(-EBUSY)
        return False, None, None

    if type < 2:
        mas.offset = offset
        return True, lo, lo + gap - 1

    mas.node = slots[offset]
    mas.min = lo
    mas.max = hi
    mas.offset = mas_data_end(mas)
    return False, None, None


def mas_empty_area_rev(mas: MaState, min: int, max: int, size: int) -> int:
    """mas_empty_area_rev(): the highest [s, s+size-1] inside [min, max] that is all NULL."""
    last = mas.node
    if min > max:
        return -EINVAL
    if size == 0 or max - min < size - 1:
        return -EINVAL

    if mas.status == MA_START:
        mas_start(mas)
    elif mas.offset < 2 and not _mas_rewind_node(mas):
        return -EBUSY

    if mas.status == MA_NONE or mas.status == MA_ROOT:
        return _mas_sparse_area(mas, min, max, size, False)
    elif mas.offset >= 2:
        mas.offset -= 2
    else:
        mas.offset = mas_data_end(mas)

    mas.index = min
    mas.last = max
    while True:
        done, gmin, gmax = _mas_rev_awalk(mas, size)
        if done:
            break
        if mas.status == MA_ERROR:
            # C keeps the error code in mas->node, which never equals a node
            # seen before, so the next pass returns at once; do the same.
            continue
        if last == mas.node:
            if not _mas_rewind_node(mas):
                return -EBUSY
        else:
            last = mas.node

    if mas.status == MA_ERROR:
        return mas.error
    if mas.offset == MAPLE_NODE_SLOTS:
        return -EBUSY
    if gmax < mas.last:
        mas.last = gmax
    mas.index = mas.last - size + 1
    mas.end = mas_data_end(mas)
    return 0


# ------------------------------------------------------------------ allocation

def _write_hooks():
    """The write side's (mas_insert, mas_nomem, mas_destroy), imported lazily."""
    from . import write  # noqa: PLC0415  (written by the core; imported on first use)
    insert = getattr(write, "mas_insert")
    nomem = getattr(write, "mas_nomem", None)
    destroy = getattr(write, "mas_destroy", None)
    return insert, nomem, destroy


def _alloc(tree, size: int, entry, min: int, max: int, search, insert, nomem, destroy):
    if not tree.mt_is_alloc():
        return -EINVAL, 0
    if mt_is_reserved(entry):
        return -EINVAL, 0
    if insert is None:
        insert, d_nomem, d_destroy = _write_hooks()
        nomem = nomem or d_nomem
        destroy = destroy or d_destroy
    mas = MaState(tree, 0, 0)
    start = 0
    while True:
        ret = search(mas, min, max, size)
        if ret:
            break
        insert(mas, entry)
        if nomem is not None and nomem(mas):
            continue
        if mas.status == MA_ERROR:
            ret = mas.error
        else:
            start = mas.index
        break
    if destroy is not None:
        destroy(mas)
    return ret, start


def mtree_alloc_range(tree, size: int, entry, min: int, max: int,
                      insert=None, nomem=None, destroy=None) -> tuple[int, int]:
    """mtree_alloc_range(): store ``entry`` over the lowest free [s, s+size-1] in [min, max].

    Returns (0, s), or (-EINVAL | -EBUSY | -ENOMEM, 0).  -EINVAL when the
    tree is not an alloc-range tree or the entry is reserved.  ``insert``,
    ``nomem`` and ``destroy`` are the write side's ``mas_insert(mas, entry)``,
    ``mas_nomem(mas) -> bool`` (true: retry the search) and
    ``mas_destroy(mas)``; by default they come from ``.write``.
    """
    return _alloc(tree, size, entry, min, max, mas_empty_area, insert, nomem, destroy)


def mtree_alloc_rrange(tree, size: int, entry, min: int, max: int,
                       insert=None, nomem=None, destroy=None) -> tuple[int, int]:
    """mtree_alloc_rrange(): like :func:`mtree_alloc_range`, taking the highest fit."""
    return _alloc(tree, size, entry, min, max, mas_empty_area_rev, insert, nomem, destroy)


def mas_alloc_cyclic(mas: MaState, entry, range_lo: int, range_hi: int, next: int,
                     insert=None, nomem=None, destroy=None) -> tuple[int, int, int]:
    """mas_alloc_cyclic(): (ret, start, next).  ret is 0, 1 after a wrap, or -errno."""
    if insert is None:
        insert, d_nomem, d_destroy = _write_hooks()
        nomem = nomem or d_nomem
        destroy = destroy or d_destroy
    tree = mas.tree
    lo_min = range_lo
    start = 0
    while True:
        range_lo = max(lo_min, next)
        ret = mas_empty_area(mas, range_lo, range_hi, 1)
        if ret < 0 and range_lo > lo_min:
            mas.reset()
            ret = mas_empty_area(mas, lo_min, range_hi, 1)
            if ret == 0:
                ret = 1
        if ret < 0:
            if destroy is not None:
                destroy(mas)
            return ret, start, next
        insert(mas, entry)
        if not (nomem is not None and nomem(mas)):
            break
    if mas.status == MA_ERROR:
        ret = mas.error
    else:
        if tree.ma_flags & MT_FLAGS_ALLOC_WRAPPED and ret == 0:
            tree.ma_flags &= ~MT_FLAGS_ALLOC_WRAPPED
            ret = 1
        start = mas.index
        next = (start + 1) & MAX
        if next == 0:
            tree.ma_flags |= MT_FLAGS_ALLOC_WRAPPED
    if destroy is not None:
        destroy(mas)
    return ret, start, next


def mtree_alloc_cyclic(tree, entry, range_lo: int, range_hi: int, next: int,
                       insert=None, nomem=None, destroy=None) -> tuple[int, int, int]:
    """mtree_alloc_cyclic(): (ret, start, next); -EINVAL on a non-alloc tree or reserved entry."""
    if not tree.mt_is_alloc():
        return -EINVAL, 0, next
    if mt_is_reserved(entry):
        return -EINVAL, 0, next
    return mas_alloc_cyclic(MaState(tree, 0, 0), entry, range_lo, range_hi, next,
                            insert, nomem, destroy)
