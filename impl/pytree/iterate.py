# SPDX-License-Identifier: GPL-2.0-or-later
"""Moving an ma_state through the tree: next, prev, find, find_rev, pause.

Each public function mirrors the Linux 6.12 call of the same name and leaves
the state exactly as the kernel leaves it: ``index``/``last`` (the range last
examined), ``status`` (active, none, root, pause, overflow, underflow), and the
position fields ``node``, ``min``, ``max``, ``offset``, ``end``.

The structure follows the kernel's split into a *setup* step, which decides
from the status whether the state must be walked from the root first and
whether the answer is already known, and a *step* (``mas_next_slot`` /
``mas_prev_slot``) that moves one slot at a time and crosses into the
neighbouring leaf through ``mas_next_node`` / ``mas_prev_node`` (climb with
``mas_ascend`` until a sibling exists, then descend along the near edge).

Dead nodes (RCU mode: a node whose parent word points at itself) make the
step re-walk from the root to the saved position and carry on, as the kernel
does; a single-threaded caller only meets them when it keeps a state across a
write, which the protocol forbids, but the checks cost little.

C's unsigned wrap-around never happens on the paths here for a valid tree;
where an expression could wrap it is masked to 64 bits.
"""

from __future__ import annotations

from maplecheck.tree import (MasNullNode, MA_ACTIVE, MA_ERROR, MA_NONE, MA_OVERFLOW, MA_PAUSE, MA_ROOT,
                             MA_START, MA_UNDERFLOW, MAX, XA_ZERO_ENTRY)

from .node import (ma_data_end, ma_dead_node, ma_parent_type, MA_ROOT_PARENT, mas_safe_pivot,
                   mte_node_type)
from .rcu import rcu_dead_seen
from .state import MaState
from . import node_ops as O
from .nav import mas_ascend, mas_data_end_of
from .walk import mas_state_walk, mas_walk

__all__ = [
    "MasNullNode",
    "mas_ascend", "mas_next_node", "mas_prev_node", "mas_next_slot", "mas_prev_slot",
    "mas_next_entry", "mas_rewalk",
    "mas_next", "mas_next_range", "mas_prev", "mas_prev_range",
    "mas_find", "mas_find_range", "mas_find_rev", "mas_find_range_rev", "mas_pause",
    "mt_find", "mt_find_after", "mt_next", "mt_prev",
]


def _check_node(mas: MaState, what: str) -> None:
    if mas.node is None:
        raise MasNullNode(f"{what} with no node (status {mas.status}, index {mas.index:#x}): "
                          "Linux dereferences NULL here")


def _null_step(mas: MaState, saved) -> None:
    """After a setup that did not finish: would the step start from no node?

    If so, put index/last/status back and raise :class:`MasNullNode`.
    """
    if mas.node is None:
        mas.index, mas.last, mas.status = saved
        raise MasNullNode(f"stepping with no node (status {saved[2]}, index {saved[0]:#x}): "
                          "Linux dereferences NULL here")


# ------------------------------------------------------------------ node helpers
#
# Nodes are reached through the tree's allocator: ``nodes[enode >> 8]``.

def _nodes(mas: MaState):
    return mas.tree.alloc.nodes


def _is_root(node) -> bool:
    """ma_is_root(): the parent word carries MA_ROOT_PARENT."""
    return bool(node.parent & MA_ROOT_PARENT)


def _parent_type(mas: MaState, node) -> int:
    """mas_parent_type(): range_64, or arange_64 in an alloc tree (0 on a bad word)."""
    return ma_parent_type(node.parent, bool(mas.tree.ma_flags & 1))


def _npivots(node) -> int:
    return len(node.pivot)


# ------------------------------------------------------------------ climbing

def mas_rewalk(mas: MaState, index: int) -> None:
    """mas_rewalk(): set the state to ``index`` and walk from the root (retry on dead).

    Every restart of a reader that met a dead node comes here; a scheduler of
    RCU readers counts them (a reader that keeps restarting waits for the writer).
    """
    rcu_dead_seen()
    while True:
        mas.set(index)
        mas_state_walk(mas)
        if mas.status != MA_START:
            return


def _rewalk_if_dead(mas: MaState, node, enode: int, index: int) -> bool:
    if ma_dead_node(node, enode):
        mas_rewalk(mas, index)
        return True
    return False


# ------------------------------------------------------------------ to the left

def mas_prev_node(mas: MaState, min: int) -> int:
    """mas_prev_node(): move to the previous leaf (its last slot), or underflow.

    Climbs until the node is not the left-most child, steps one slot left and
    descends along the right edge.  Status becomes underflow when there is no
    previous leaf or it would end below ``min``.  Returns 1 on a dead node.
    """
    nodes = _nodes(mas)
    enode = mas.node
    node = nodes[enode >> 8]
    if not mas.min:
        return _prev_node_none(mas, node, enode)
    max_ = mas.min - 1
    if max_ < min:
        return _prev_node_none(mas, node, enode)

    level = 0
    while True:
        if _is_root(node):
            return _prev_node_none(mas, node, enode)
        if mas_ascend(mas):
            return 1
        offset = mas.offset
        level += 1
        enode = mas.node
        node = nodes[enode >> 8]
        if offset:
            break

    offset -= 1
    while level > 1:
        level -= 1
        child = node.slot[offset]
        if ma_dead_node(node, enode):
            return 1
        mas.node = enode = child
        node = nodes[enode >> 8]
        offset = ma_data_end(node, mte_node_type(enode), max_)
        if ma_dead_node(node, enode):
            return 1

    child = node.slot[offset]
    mas.node = child
    pivots = node.pivot
    if ma_dead_node(node, enode):
        return 1
    if offset:
        mas.min = pivots[offset - 1] + 1
    mas.max = max_
    cnode = nodes[child >> 8]
    mas.offset = mas_data_end_of(cnode, child, mas.max)
    if ma_dead_node(cnode, child):
        return 1
    mas.end = mas.offset
    return 0


def _prev_node_none(mas: MaState, node, enode: int) -> int:
    if ma_dead_node(node, enode):
        return 1
    mas.status = MA_UNDERFLOW
    return 0


def mas_prev_slot(mas: MaState, min: int, empty: bool):
    """mas_prev_slot(): the entry of the previous slot, crossing leaves as needed.

    With ``empty`` false, NULL slots are skipped; a NULL range that reaches
    ``min`` stops the search with status underflow and index/last on it.
    """
    _check_node(mas, "mas_prev_slot")
    nodes = _nodes(mas)
    save_point = mas.index
    while True:  # retry
        enode = mas.node
        node = nodes[enode >> 8]
        pivots = node.pivot
        if _rewalk_if_dead(mas, node, enode, save_point):
            continue
        if mas.min <= min:
            pivot = O.safe_min(pivots, mas.offset, mas.min)
            if _rewalk_if_dead(mas, node, enode, save_point):
                continue
            if pivot <= min:
                mas.status = MA_UNDERFLOW
                return None

        restart = False
        while True:  # again
            if mas.offset:
                mas.offset -= 1
                mas.last = (mas.index - 1) & MAX
                mas.index = O.safe_min(pivots, mas.offset, mas.min)
            else:
                if mas.index <= min:
                    mas.status = MA_UNDERFLOW
                    return None
                if mas_prev_node(mas, min):
                    mas_rewalk(mas, save_point)
                    restart = True
                    break
                if mas.status == MA_UNDERFLOW:  # the kernel warns once here
                    return None
                mas.last = mas.max
                enode = mas.node
                node = nodes[enode >> 8]
                pivots = node.pivot
                # (C reads pivot[-1] for a one-slot leaf; no valid tree has one here)
                mas.index = pivots[mas.offset - 1] + 1 if mas.offset else mas.min

            entry = node.slot[mas.offset]
            if _rewalk_if_dead(mas, node, enode, save_point):
                restart = True
                break
            if entry is not None:
                return entry
            if not empty:
                if mas.index <= min:
                    mas.status = MA_UNDERFLOW
                    return None
                continue
            return entry
        if restart:
            continue


# ------------------------------------------------------------------ to the right

def mas_next_node(mas: MaState, node, max: int) -> int:
    """mas_next_node(): move to the next leaf (its first slot), or overflow.

    Climbs while the node is the last child, steps one slot right and
    descends along the left edge.  ``min``/``max``/``end`` describe the new
    leaf; status becomes overflow when this leaf already reaches ``max`` or
    is the last one.  Returns 1 on a dead node.
    """
    nodes = _nodes(mas)
    enode = mas.node
    if mas.max >= max:
        return _next_node_overflow(mas, node, enode)
    min_ = mas.max + 1
    level = 0
    while True:
        if _is_root(node):
            return _next_node_overflow(mas, node, enode)
        if mas_ascend(mas):
            return 1
        level += 1
        enode = mas.node
        node = nodes[enode >> 8]
        mt = mte_node_type(enode)
        node_end = ma_data_end(node, mt, mas.max)
        if ma_dead_node(node, enode):
            return 1
        if mas.offset != node_end:
            break

    mas.offset += 1
    child = node.slot[mas.offset]
    if ma_dead_node(node, enode):
        return 1
    if level > 1:
        mas.offset = 0
    while level > 1:
        level -= 1
        mas.node = enode = child
        node = nodes[enode >> 8]
        mt = mte_node_type(enode)
        child = node.slot[0]
        if ma_dead_node(node, enode):
            return 1
    mas.max = mas_safe_pivot(node, mas.offset, mas.max)
    cnode = nodes[child >> 8]
    mas.end = ma_data_end(cnode, mte_node_type(child), mas.max)
    if ma_dead_node(node, enode):
        return 1
    mas.node = child
    mas.min = min_
    return 0


def _next_node_overflow(mas: MaState, node, enode: int) -> int:
    if ma_dead_node(node, enode):
        return 1
    mas.status = MA_OVERFLOW
    return 0


def mas_next_slot(mas: MaState, max: int, empty: bool):
    """mas_next_slot(): the entry of the next slot, crossing leaves as needed.

    With ``empty`` false, NULL slots are skipped; a NULL range reaching
    ``max`` stops the search with status overflow and index/last on it.
    """
    _check_node(mas, "mas_next_slot")
    nodes = _nodes(mas)
    save_point = mas.last
    while True:  # retry
        enode = mas.node
        node = nodes[enode >> 8]
        pivots = node.pivot
        if _rewalk_if_dead(mas, node, enode, save_point):
            continue
        if mas.max >= max:
            if mas.offset < mas.end:
                pivot = pivots[mas.offset]
            else:
                pivot = mas.max
            if _rewalk_if_dead(mas, node, enode, save_point):
                continue
            if pivot >= max:
                mas.status = MA_OVERFLOW
                return None

        restart = False
        if mas.offset < mas.end:
            mas.index = pivots[mas.offset] + 1
            step = True  # enter at "again"
        else:
            if mas.last >= max:
                mas.status = MA_OVERFLOW
                return None
            if mas_next_node(mas, node, max):
                mas_rewalk(mas, save_point)
                continue
            if mas.status == MA_OVERFLOW:  # the kernel warns once here
                return None
            mas.offset = 0
            mas.index = mas.min
            enode = mas.node
            node = nodes[enode >> 8]
            pivots = node.pivot
            mas.last = pivots[0]
            step = False

        while True:
            if step:  # again:
                mas.offset += 1
                if mas.offset < mas.end:
                    mas.last = pivots[mas.offset]
                else:
                    mas.last = mas.max
            step = True
            slots = node.slot
            # Past the data only when a non-last leaf ends in NULL, which the
            # write paths never leave; read what C would read, or NULL.
            entry = slots[mas.offset] if mas.offset < len(slots) else None
            if _rewalk_if_dead(mas, node, enode, save_point):
                restart = True
                break
            if entry is not None:
                return entry
            if not empty:
                if mas.last >= max:
                    mas.status = MA_OVERFLOW
                    return None
                mas.index = mas.last + 1
                continue
            return entry
        if restart:
            continue


def mas_next_entry(mas: MaState, limit: int):
    """mas_next_entry(): the next non-NULL entry starting at or below ``limit``."""
    if mas.last >= limit:
        mas.status = MA_OVERFLOW
        return None
    return mas_next_slot(mas, limit, False)


# ------------------------------------------------------------------ mas_next / mas_prev

def _next_setup(mas: MaState, max: int):
    """mas_next_setup(): (done, entry)."""
    was_none = mas.status == MA_NONE
    if mas.last >= max:
        mas.status = MA_OVERFLOW
        return True, None
    st = mas.status
    entry = None
    if st == MA_ACTIVE:
        return False, None
    if st in (MA_NONE, MA_PAUSE, MA_START):
        mas.status = MA_START
        mas_walk(mas)
    elif st == MA_OVERFLOW:
        mas.status = MA_ACTIVE
    elif st == MA_UNDERFLOW:
        mas.status = MA_ACTIVE
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    elif st == MA_ROOT:
        pass
    elif st == MA_ERROR:
        return True, None

    if mas.status == MA_ACTIVE:
        return False, None
    if mas.status == MA_ROOT:
        if was_none and mas.index == 0:
            mas.index = mas.last = 0
            return True, None
        mas.index = 1
        mas.last = MAX
        mas.status = MA_NONE
        return True, None
    if mas.status == MA_NONE:
        return True, None
    return False, None


def _setup_then_step(mas: MaState, limit: int, setup, step, empty: bool):
    """One cursor call: its setup may answer alone; otherwise one slot step.

    ``_null_step`` refuses (with the state restored) a step Linux would take
    from a NULL node; ``empty`` makes the step stop on NULL ranges too.
    """
    saved = (mas.index, mas.last, mas.status)
    done, entry = setup(mas, limit)
    if done:
        return entry
    _null_step(mas, saved)
    return step(mas, limit, empty)


def mas_next(mas: MaState, max: int):
    """mas_next(): the next non-NULL entry after the current range, starting at or below max."""
    return _setup_then_step(mas, max, _next_setup, mas_next_slot, False)


def mas_next_range(mas: MaState, max: int):
    """mas_next_range(): the next range (possibly NULL) after the current one."""
    return _setup_then_step(mas, max, _next_setup, mas_next_slot, True)


def _prev_setup(mas: MaState, min: int):
    """mas_prev_setup(): (done, entry)."""
    if mas.index <= min:
        mas.status = MA_UNDERFLOW
        return True, None
    st = mas.status
    if st == MA_ACTIVE:
        return False, None
    if st in (MA_NONE, MA_PAUSE):
        mas.status = MA_START
    elif st == MA_UNDERFLOW:
        mas.status = MA_ACTIVE
    elif st == MA_OVERFLOW:
        mas.status = MA_ACTIVE
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    elif st == MA_ERROR:
        return True, None

    if mas.status == MA_START:
        mas_walk(mas)

    if mas.status == MA_ROOT:
        if not mas.index:
            mas.status = MA_NONE
            return True, None
        mas.index = mas.last = 0
        return True, mas.tree.ma_root

    if mas.status == MA_NONE:
        if mas.index:
            mas.index = mas.last = 0
            mas.status = MA_ROOT
            return True, mas.tree.ma_root
        return True, None
    return False, None


def mas_prev(mas: MaState, min: int):
    """mas_prev(): the previous non-NULL entry before the current range, ending at or above min."""
    return _setup_then_step(mas, min, _prev_setup, mas_prev_slot, False)


def mas_prev_range(mas: MaState, min: int):
    """mas_prev_range(): the previous range (possibly NULL) before the current one."""
    return _setup_then_step(mas, min, _prev_setup, mas_prev_slot, True)


def mas_pause(mas: MaState) -> None:
    """mas_pause(): forget the position; the next find resumes after ``last``."""
    mas.status = MA_PAUSE
    mas.node = None


# ------------------------------------------------------------------ mas_find / mas_find_rev

def _find_setup(mas: MaState, max: int):
    """mas_find_setup(): (done, entry)."""
    st = mas.status
    entry = None
    if st == MA_ACTIVE:
        if mas.last < max:
            return False, None
        return True, None
    if st == MA_START:
        pass
    elif st == MA_PAUSE:
        if mas.last >= max:
            return True, None
        mas.last += 1
        mas.index = mas.last
        mas.status = MA_START
    elif st == MA_NONE:
        if mas.last >= max:
            return True, None
        mas.index = mas.last
        mas.status = MA_START
    elif st == MA_UNDERFLOW:
        if mas.index >= max:
            mas.status = MA_OVERFLOW
            return True, None
        mas.status = MA_ACTIVE
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    elif st == MA_OVERFLOW:
        if mas.last >= max:
            return True, None
        mas.status = MA_ACTIVE
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry
    elif st == MA_ROOT:
        pass
    elif st == MA_ERROR:
        return True, None

    if mas.status == MA_START:
        if mas.index > max:
            return True, None
        entry = mas_walk(mas)
        if entry is not None:
            return True, entry

    if mas.status == MA_ROOT:
        mas.status = MA_NONE
        mas.index = 1
        mas.last = MAX
        return True, None
    if mas.status == MA_NONE:
        return True, None
    if mas.index == max:
        return True, None
    return False, None


def mas_find(mas: MaState, max: int):
    """mas_find(): first call, the entry at or after index; then the next one.

    Never ends in overflow: a miss leaves status active with index/last on
    the last NULL range examined.
    """
    saved = (mas.index, mas.last, mas.status)
    done, entry = _find_setup(mas, max)
    if done:
        return entry
    _null_step(mas, saved)
    entry = mas_next_slot(mas, max, False)
    mas.status = MA_ACTIVE
    return entry


def mas_find_range(mas: MaState, max: int):
    """mas_find_range(): like mas_find, but stops on NULL ranges and keeps overflow."""
    return _setup_then_step(mas, max, _find_setup, mas_next_slot, True)


def _find_rev_setup(mas: MaState, min: int):
    """mas_find_rev_setup(): (done, entry)."""
    st = mas.status
    active = False
    if st == MA_ACTIVE:
        active = True
    elif st == MA_START:
        pass
    elif st == MA_PAUSE:
        if mas.index <= min:
            mas.status = MA_UNDERFLOW
            return True, None
        mas.index -= 1
        mas.last = mas.index
        mas.status = MA_START
    elif st == MA_NONE:
        if mas.index <= min:
            mas.status = MA_NONE
            return True, None
        mas.last = mas.index
        mas.status = MA_START
    elif st == MA_OVERFLOW:
        if mas.index <= min:
            mas.status = MA_UNDERFLOW
            return True, None
        mas.status = MA_ACTIVE
    elif st == MA_UNDERFLOW:
        if mas.index <= min:
            return True, None
        mas.status = MA_ACTIVE
    elif st == MA_ROOT:
        pass
    elif st == MA_ERROR:
        return True, None

    if not active:
        if mas.status == MA_START:
            if mas.index < min:
                return True, None
            entry = mas_walk(mas)
            if entry is not None:
                return True, entry
        if mas.status == MA_ROOT:
            mas.status = MA_NONE
            return True, None
        if mas.status == MA_NONE:
            mas.last = mas.index = 0
            mas.status = MA_ROOT
            return True, mas.tree.ma_root

    if mas.index < min:
        return True, None
    return False, None


def mas_find_rev(mas: MaState, min: int):
    """mas_find_rev(): first call, the entry at or below index; then the previous one."""
    return _setup_then_step(mas, min, _find_rev_setup, mas_prev_slot, False)


def mas_find_range_rev(mas: MaState, min: int):
    """mas_find_range_rev(): like mas_find_rev, but stops on NULL ranges."""
    return _setup_then_step(mas, min, _find_rev_setup, mas_prev_slot, True)


# ------------------------------------------------------------------ mt_* wrappers

def mt_find(tree, index: int, max: int):
    """mt_find(): (entry, new index).  XA_ZERO_ENTRY is skipped.

    On success the new index is the found range's last + 1 (wrapping to 0
    after MAX); on a miss the index is returned unchanged.
    """
    if index > max:
        return None, index
    mas = MaState(tree, index, index)
    while True:
        entry = mas_state_walk(mas)
        if mas.status != MA_START:
            break
    if entry == XA_ZERO_ENTRY:
        entry = None
    if entry is None:
        while mas.status == MA_ACTIVE and mas.last < max:
            entry = mas_next_entry(mas, max)
            if entry is not None and entry != XA_ZERO_ENTRY:
                break
        if entry == XA_ZERO_ENTRY:
            entry = None
    if entry is not None:
        return entry, (mas.last + 1) & MAX
    return None, index


def mt_find_after(tree, index: int, max: int):
    """mt_find_after(): mt_find, but an index of 0 (a wrap) ends the search."""
    if not index:
        return None, index
    return mt_find(tree, index, max)


def mt_next(tree, index: int, max: int):
    """mt_next(): mas_next on a fresh state at index."""
    return mas_next(MaState(tree, index, index), max)


def mt_prev(tree, index: int, min: int):
    """mt_prev(): mas_prev on a fresh state at index."""
    return mas_prev(MaState(tree, index, index), min)
