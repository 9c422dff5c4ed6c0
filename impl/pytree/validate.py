# SPDX-License-Identifier: GPL-2.0-or-later
"""``mt_validate`` for our tree: every invariant of properties/invariants.py, node by node.

Like the kernel's validator: nothing is checked for an empty or root-pointer
tree; nodes are visited level by level from the leaves (left to right) up to
the root, each through checks (a)-(f); then the NULL sequence across all
leaves.  Each violation is one string: the invariant's name, the node's path
from the root (slot offsets), its type and range, and the offending values.
The validator never raises on a corrupt tree: a child pointer to a missing
node is reported and not followed.
"""

from __future__ import annotations

from maplecheck.properties import invariants as inv
from maplecheck.tree import MAX, xa_is_node

from .node import (ma_data_end, ma_is_root_parent, ma_parent_addr, ma_parent_slot, mte_node_type,
                   mte_to_node)

TYPE_NAMES = ("dense", "leaf_64", "range_64", "arange_64")


def _z(xs):
    return [x if x else 0 for x in xs]


def live_child(nodes, child) -> bool:
    """Is ``child`` an encoded pointer to a live node (safe to follow)?"""
    return bool(type(child) is int and 0 < (child >> 8) < len(nodes)
                and nodes[child >> 8] is not None and mte_node_type(child) in (1, 2, 3))


def _collect(mt, out, want=None):
    """Pre-order list of (enode, min, max, path, depth); bad child pointers reported in out.

    ``want(parent node, parent enode, child, slot, min, max)``, when given,
    decides which children are descended into (the incremental checker's
    restriction); by default all are.
    """
    nodes = mt.alloc.nodes
    root = mt.ma_root & ~2
    res = []
    stack = [(root, 0, MAX, (), 1)]
    while stack:
        enode, lo, hi, path, depth = stack.pop()
        res.append((enode, lo, hi, path, depth))
        if mte_node_type(enode) < 2:
            continue
        node = nodes[enode >> 8]
        end = ma_data_end(node, mte_node_type(enode), hi)
        npiv = len(node.pivot)
        kids = []
        cmin = lo
        for i in range(min(end, len(node.slot) - 1) + 1):
            cmax = node.pivot[i] if i < npiv else hi
            child = node.slot[i]
            if live_child(nodes, child):
                if want is None or want(node, enode, child, i, cmin, cmax):
                    kids.append((child, cmin, cmax, path + (i,), depth + 1))
            else:
                out.append(f"child_slot: path={list(path)} slot {i}: not a live node "
                           f"({child!r})")
            cmin = (cmax + 1) & MAX
        stack.extend(reversed(kids))
    return res


def validate_tree(mt) -> list[str]:
    """Every node, level by level from the leaves up, then the NULL sequence of all leaves."""
    root = mt.ma_root
    if root is None or not xa_is_node(root):
        return []
    out: list[str] = []
    infos = _collect(mt, out)
    # level order: deepest level first, left to right within a level (pre-order keeps that order)
    maxd = max(d for *_, d in infos)
    order = [x for lvl in range(maxd, 0, -1) for x in infos if x[4] == lvl]
    for enode, lo, hi, path, _d in order:
        check_node(mt, enode, lo, hi, path, out)
    check_nulls(mt, [x for x in infos if mte_node_type(x[0]) < 2], out)
    return out


def check_node(mt, enode: int, lo: int, hi: int, path, out: list[str]) -> int:
    """Checks (a)-(f) of one node reached at [lo, hi] by ``path``; returns its max gap.

    Everything a node takes part in is checked here: its own fields, its
    parent's slot and gap for it, and each child's parent word.
    """
    nodes = mt.alloc.nodes
    geo = mt.alloc.geo
    alloc_tree = bool(mt.ma_flags & 1)

    def report(name, detail):
        out.append(f"{name}: path={list(path)} {TYPE_NAMES[mte_node_type(enode)]} "
                   f"{lo:#x}-{hi:#x}: {detail}")

    node = nodes[enode >> 8]
    type = mte_node_type(enode)
    addr = mte_to_node(enode)
    pivots = node.pivot
    slots = _z(node.slot)
    end = ma_data_end(node, type, hi)
    is_root = ma_is_root_parent(node.parent)
    paddr = ma_parent_addr(node.parent)
    max_gap = 0
    if not inv.node_not_dead(paddr, addr):
        report("node_not_dead", f"parent word {node.parent:#x} is the node")
    if not inv.node_occupancy(end, hi, geo.min_slots[type]):
        report("node_occupancy", f"end {end} < min slots {geo.min_slots[type]}")
    if not is_root:
        pnode = nodes[paddr >> 8] if (paddr >> 8) < len(nodes) else None
        pslot = ma_parent_slot(node.parent)
        if pnode is None:
            report("parent_slot", f"parent {paddr:#x} is not a live node")
        elif not inv.parent_slot(_z(pnode.slot), pslot, enode, paddr, addr):
            report("parent_slot", f"pslot {pslot}, parent slots {[hex(s) for s in _z(pnode.slot)]}")
    if not inv.pivot_nonzero(pivots, hi):
        report("pivot_nonzero", f"pivots {pivots}")
    if not inv.pivot_ordered(pivots, hi):
        report("pivot_ordered", f"pivots {pivots}")
    if not inv.pivot_in_range(pivots, lo, hi):
        report("pivot_in_range", f"pivots {pivots}")
    if not inv.data_end_matches(pivots, hi, end):
        report("data_end_matches", f"end {end}, pivots {pivots}")
    if not inv.beyond_end_slots_null(slots, end):
        report("beyond_end_slots_null", f"end {end}, slots {slots}")
    if not inv.beyond_end_pivots_zero(pivots, end):
        report("beyond_end_pivots_zero", f"end {end}, pivots {pivots}")
    if type >= 2:
        npiv = len(pivots)
        for i in range(min(end, len(slots) - 1) + 1):
            child = slots[i]
            cnode = nodes[child >> 8] if child and (child >> 8) < len(nodes) else None
            cps = cpa = -1
            if cnode is not None:
                cps = ma_parent_slot(cnode.parent)
                cpa = ma_parent_addr(cnode.parent)
            if not inv.child_slot(child, i, cps, cpa, addr):
                report("child_slot", f"slot {i}: child {child:#x} has parent {cpa:#x} slot {cps}")
            if i < npiv and pivots[i] == hi:
                break
    if alloc_tree:
        if type < 2:
            max_gap = inv.leaf_max_gap(pivots, slots, lo, hi)
        else:
            gaps = node.gap
            if not inv.arange_gap_bounded(pivots, slots, gaps, lo, hi, end):
                report("arange_gap_bounded", f"gaps {gaps}, pivots {pivots}")
            if not inv.meta_gap_valid(gaps, end, node.meta_gap):
                report("meta_gap_valid", f"meta_gap {node.meta_gap}, end {end}, gaps {gaps}")
            if not inv.gaps_beyond_end_zero(gaps, end):
                report("gaps_beyond_end_zero", f"end {end}, gaps {gaps}")
            max_gap = inv.arange_max_gap(gaps, end)
        if not is_root:
            if not inv.max_gap_within_node(max_gap, hi):
                report("max_gap_within_node", f"max gap {max_gap:#x}")
            pnode = nodes[paddr >> 8] if (paddr >> 8) < len(nodes) else None
            if pnode is not None and pnode.gap is not None:
                pslot = ma_parent_slot(node.parent)
                if not inv.parent_gap_equal(pnode.gap, pslot, max_gap):
                    report("parent_gap_equal",
                           f"parent gap[{pslot}] = {pnode.gap[pslot] if pslot < len(pnode.gap) else None}"
                           f", node max gap {max_gap:#x}")
    return max_gap


def check_nulls(mt, leaves, out: list[str], prev=1, prev_where=None, after=None) -> None:
    """mt_validate_nulls over ``leaves`` (left to right): no NULL slot follows a NULL.

    ``prev`` is the entry just before the first leaf (1: none), ``after`` the
    entry just after the last one (None: not checked).
    """
    nodes = mt.alloc.nodes
    path = ()
    for enode, lo, hi, path, _d in leaves:
        node = nodes[enode >> 8]
        end = ma_data_end(node, mte_node_type(enode), hi)
        for off in range(min(end, len(node.slot) - 1) + 1):
            e = node.slot[off] or 0
            if not inv.no_consecutive_nulls(prev, e):
                out.append(f"no_consecutive_nulls: path={list(path)} leaf {lo:#x}-{hi:#x} "
                           f"slot {off} is NULL after NULL at {prev_where}")
            prev = e
            prev_where = (list(path), off)
    if after is not None and leaves and not inv.no_consecutive_nulls(prev, after or 0):
        out.append(f"no_consecutive_nulls: the range after {prev_where} is NULL too")
