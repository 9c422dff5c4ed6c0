# SPDX-License-Identifier: GPL-2.0-or-later
"""Known defects of the kernel code under test, detected precisely and stepped around.

A campaign that stops at the same known bug every time finds nothing else, so
each known defect has a predicate over the canonical dump that says exactly
when an operation would hit it, and a way around it that changes no result the
model can see.  Lockstep counts every avoidance; ``maplecheck fuzz
--no-known-bugs`` turns them off, and ``tests/test_known_bugs.py`` replays each
one with avoidance off, so the day a kernel fixes it the test says so.
"""

from __future__ import annotations

from bisect import bisect_left
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Callable

from maplecheck.tree import EBUSY, EINVAL, MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU, Area


def rcu_free_walk_reads_meta(dump: dict) -> bool:
    """Would destroying this tree in RCU mode make ``mt_free_walk`` follow metadata?

    In Linux 6.12 the RCU callback that frees a destroyed tree climbs from a
    child to its parent and descends into ``slot[parent_slot + 1]`` whenever
    that word is non-zero and the offset is below ``mt_slots``.  In a range_64
    node whose last used slot is 14, slot 15 holds the ``{end, gap}`` metadata
    (0x0e), which that test takes for a child.  Only the root's metadata is
    cleared first, and the climb into a node happens only from an internal
    child, so the crash needs: a plain (non-alloc) RCU tree, and a non-root
    range_64 node with data end 14 whose children are internal nodes (height
    >= 4).
    """
    if dump["root"]["kind"] != "node":
        return False
    if dump["flags"] & MT_FLAGS_ALLOC_RANGE or not dump["flags"] & MT_FLAGS_USE_RCU:
        return False
    nodes = dump["nodes"]
    for n in nodes:
        if (n["type"] == "range_64" and n["parent_slot"] is not None and n["end"] == 14
                and nodes[n["slots"][0]]["type"] != "leaf_64"):
            return True
    return False


def rcu_clear_meta_full_root(dump: dict) -> bool:
    """Would destroying this tree in RCU mode corrupt the root's last child pointer?

    Before handing a tree to the RCU callback, Linux 6.12 replaces the child
    words of nodes just above the leaves with bare node addresses, then clears
    the metadata of the node it started from.  The clearing tells "slot 15 is
    metadata" from "slot 15 is a child" by the type bits of slot 15, which were
    just stripped, so in a range_64 root with all 16 slots used and leaf
    children it zeroes the low bytes of the last child's address, and the
    callback frees a wrong pointer (double or invalid free).
    """
    if dump["root"]["kind"] != "node":
        return False
    if dump["flags"] & MT_FLAGS_ALLOC_RANGE or not dump["flags"] & MT_FLAGS_USE_RCU:
        return False
    root = dump["nodes"][0]
    return (root["type"] == "range_64" and root["end"] == 15
            and dump["nodes"][root["slots"][0]]["type"] == "leaf_64")


@dataclass(frozen=True)
class KnownBug:
    name: str
    summary: str
    #: kernel series -> True (fires there) / False (fixed there), from runs
    #: (tests/test_known_bugs.py checks every kernel it runs on against this)
    versions: dict = None


RCU_FREE_WALK_META = KnownBug(
    "rcu-free-walk-meta",
    "Linux mt_free_walk() follows the metadata word in slot 15 of a full-but-one range_64 node "
    "as a child pointer when an RCU-mode plain tree of height >= 4 is destroyed (NULL+0xe dereference)",
    {"6.12": True, "7.2": True, "7.3": True},
)


RCU_CLEAR_META_FULL = KnownBug(
    "rcu-clear-meta-full-node",
    "Linux mt_destroy_walk() clears 'metadata' in slot 15 of a full range_64 node whose leaf "
    "children were already stripped to bare addresses, corrupting the last child pointer; the RCU "
    "callback then frees a wrong address (at destroy, or when an RCU-mode write tears down such a subtree)",
    {"6.12": True, "7.2": True, "7.3": True},
)

#: C functions of the RCU destroy path; a sanitizer report naming one of them
#: on a plain RCU tree, for a trace that passes without RCU mode, is triaged
#: as the known RCU destroy bugs above.
RCU_DESTROY_FRAMES = ("mt_free_walk", "mte_dead_walk", "mt_destroy_walk", "mt_clear_meta", "mt_free_rcu",
                      "mt_free_bulk")


def is_known_rcu_destroy_crash(report: str) -> bool:
    """Does a sanitizer report point into the RCU destroy path?"""
    return any(f in report for f in RCU_DESTROY_FRAMES)


def fires_on(entry, series: str) -> bool:
    """Does a known bug or deviation fire on kernel ``series``?  (Unrecorded series: assume it does.)"""
    return (entry.versions or {}).get(series, True)


def destroy_may_hit_known_bug(flags: int) -> bool:
    """Can :func:`destroy_workaround` name a bug for a tree with these flags?  (Both
    known destroy bugs need a plain tree in RCU mode; lockstep skips the dump otherwise.)"""
    return bool(flags & MT_FLAGS_USE_RCU) and not flags & MT_FLAGS_ALLOC_RANGE


def destroy_workaround(dump: dict) -> KnownBug | None:
    """The known bug a ``destroy`` of this tree would hit, if any.

    The way around it is to leave RCU mode first (``set_rcu(False)``): the
    nodes are then freed by ``mt_destroy_walk`` directly, which checks what it
    follows.  Nothing observable changes: the tree is destroyed either way.
    """
    if rcu_free_walk_reads_meta(dump):
        return RCU_FREE_WALK_META
    if rcu_clear_meta_full_root(dump):
        return RCU_CLEAR_META_FULL
    return None


RCU_REWALK_SKIP = KnownBug(
    "rcu-rewalk-skips-range",
    "Linux mas_next_slot()/mas_prev_slot() under RCU: a reader that meets a dead node rewalks to "
    "its saved mas->last (mas->index going backwards) and steps from the range now holding that "
    "index, so a concurrent store that covered it and beyond is skipped: the step returns the entry "
    "after the new range, an answer neither before nor after the write (our tree's cursor code "
    "follows it)",
    {"6.12": True, "7.3": True},
)


RCU_TORN_RANGE = KnownBug(
    "rcu-slot-store-torn-range",
    "Linux in-place slot store under RCU (a write over a range and part of the next one): the "
    "new entry is published before the pivot between the two ranges moves, so a reader in "
    "between gets the new entry with the old boundary; every index reads as before or after "
    "the write, but the range the step reports is neither state's "
    "(tests/corpus/deviations/rcu-slot-store-torn-range.jsonl)",
    {"6.12": True, "7.3": True},
)


RCU_REWALK_NODELESS = KnownBug(
    "rcu-rewalk-into-nodeless-tree",
    "Linux mas_next_slot()/mas_prev_slot() under RCU: a reader whose node died rewalks "
    "(mas_rewalk) and retries on mas->node without checking what the walk found; when the "
    "concurrent write left the tree without nodes (empty, or a single entry at index 0 held "
    "in the root pointer) the walk leaves mas->node NULL and the retry dereferences it in "
    "ma_dead_node() (tests/corpus/rcu-known/*.jsonl)",
    {"6.12": True, "7.3": True},
)


# ---------------------------------------------------------------- deviations
#
# A deviation is a documented-API answer a kernel gives otherwise than the model
# (the specification) on some tree shapes.  Each has a predicate that says when
# it fires, which may read the kernel tree's dump (the model never does), and
# ``follow``: what the kernel does instead, applied to a copy of the model's
# tree so lockstep can go on.  Lockstep counts a deviation only when the kernel
# really answered that way; with the registry off (``--no-known-bugs``) the
# raw divergence is reported.  ``versions`` says, per kernel series, whether
# it fires there, as found by running tests/test_known_bugs.py on each kernel.


@dataclass(frozen=True)
class Deviation:
    name: str
    summary: str
    #: kernel series -> True (fires there) / False (answers as the model), from runs
    versions: dict
    #: op names it concerns, and an op-only test: lockstep must single-step these
    may_apply: Callable[[tuple], bool]
    #: (op, model tree before the op, the kernel tree's dump before it) -> fires?
    applies: Callable[[tuple, Any, dict], bool]
    #: (model tree copy, op, dump) -> the kernel's result, the copy changed as the kernel changes
    follow: Callable[[Any, tuple, dict], Any]
    #: minimized traces under tests/corpus/deviations/
    traces: tuple


def insert_widens_to_full_range(tree, first: int, last: int, entry) -> bool:
    """Does ``mtree_insert_range`` after NULL widening write all of ``[0, MAX]`` over a many-slot leaf?

    A NULL entry widens the write over the NULL ranges it starts and ends in
    (and the NULL range just before it when it starts right after one); a
    non-NULL one does not widen.  A leaf root with one slot ``[0, MAX]`` is an
    exact fit, not a new root.
    """
    if tree.root_kind() != "node" or first > last:
        return False
    ranges = tree.ranges()
    if len(ranges) == 1:
        return False
    if entry is not None:
        return first == 0 and last == MAX
    lasts = [r[1] for r in ranges]
    i = bisect_left(lasts, first)
    if ranges[i][2] is None:
        index = ranges[i][0]
    elif i and first == ranges[i][0] and ranges[i - 1][2] is None:
        index = ranges[i - 1][0]
    else:
        index = first
    j = bisect_left(lasts, last, i)
    if ranges[j][2] is None:
        end = ranges[j][1]
    elif last == ranges[j][1] and j + 1 < len(ranges) and ranges[j + 1][2] is None:
        end = ranges[j + 1][1]
    else:
        end = last
    return index == 0 and end == MAX


def _insert_new_root_applies(op: tuple, tree, dump: dict) -> bool:
    _name, _t, first, last, entry = op
    return dump.get("height") == 1 and insert_widens_to_full_range(tree, first, last, entry)


def _insert_new_root_follow(tree, op: tuple, dump: dict) -> int:
    """The kernel stores over all of ``[0, MAX]`` without the -EEXIST checks and returns 0."""
    tree.store_range(0, MAX, op[4])
    return 0


INSERT_NEW_ROOT = Deviation(
    "insert-new-root-overwrites",
    "mtree_insert_range() on a leaf root (height 1) whose write, after NULL widening, covers [0, MAX] "
    "takes the new-root store path: it overwrites every entry (a NULL insert empties the tree) and "
    "returns 0 instead of -EEXIST",
    {"6.12": True, "7.2": True, "7.3": True},
    lambda op: op[0] == "insert_range" and (op[4] is None or (op[2] == 0 and op[3] == MAX)),
    _insert_new_root_applies, _insert_new_root_follow,
    ("tests/corpus/deviations/insert-new-root-overwrites.jsonl",),
)


def _gap_window(op: tuple) -> tuple[int, int, int]:
    """(min, max, size) of a gap search or allocation op."""
    name, _t, *a = op
    return (a[0], a[1], a[2]) if name.startswith("empty_area") else (a[2], a[3], a[0])


def kernel_empty_area_rev(tree, min: int, max: int, size: int, root_pivot0: int):
    """What the kernel's reverse gap search answers: unsigned sizes and its first-child blind spot.

    Sizes ``max - start + 1`` and ``last - start + 1`` are taken modulo 2**64
    (a slot ``[0, MAX]`` has size 0), and with ``max == MAX`` nothing inside
    the root's first child ``[0, root_pivot0]`` is found.  The window checks
    (-EINVAL) and trees without nodes answer as the model.
    """
    area = tree.empty_area_rev(min, max, size)
    if area.ret == -EINVAL or tree.root_kind() != "node":
        return area
    for first, last, entry in reversed(tree.ranges()):
        if last > max and first > max:
            continue
        if last < min:
            break
        if entry is not None:
            continue
        if max == MAX and first <= root_pivot0:
            break
        if (last - first + 1) & MAX >= size and (max - first + 1) & MAX >= size:
            if size - 1 > last - min:
                break
            hi = last if last < max else max
            return Area(0, hi - size + 1, hi)
    return Area(-EBUSY, 0, 0)


def kernel_empty_area(tree, min: int, max: int, size: int):
    """What the kernel's forward gap search answers: a NULL slot ``[0, MAX]`` has size 0."""
    area = tree.empty_area(min, max, size)
    if area.ret == 0 and tree.root_kind() == "node" and area.index == 0 and min == 0 and max == MAX \
            and len(tree.ranges()) == 1:
        return Area(-EBUSY, 0, 0)
    return area


def _root_pivot0(tree, dump: dict) -> int:
    """The end of the root's first child (the first range's end for a leaf root)."""
    if dump.get("height", 0) > 1:
        return dump["nodes"][0]["pivots"][0]
    return tree.ranges()[0][1]


def _kernel_area(tree, op: tuple, dump: dict):
    lo, hi, size = _gap_window(op)
    if op[0] in ("empty_area_rev", "alloc_rrange"):
        return kernel_empty_area_rev(tree, lo, hi, size, _root_pivot0(tree, dump))
    return kernel_empty_area(tree, lo, hi, size)


def _spec_area(tree, op: tuple):
    lo, hi, size = _gap_window(op)
    rev = op[0] in ("empty_area_rev", "alloc_rrange")
    return tree.empty_area_rev(lo, hi, size) if rev else tree.empty_area(lo, hi, size)


def _gap_applies(op: tuple, tree, dump: dict) -> bool:
    if op[0].startswith("alloc") and not tree.flags() & MT_FLAGS_ALLOC_RANGE:
        return False
    return _kernel_area(tree, op, dump) != _spec_area(tree, op)


def _gap_follow(tree, op: tuple, dump: dict):
    area = _kernel_area(tree, op, dump)
    if op[0].startswith("alloc"):
        return tree.alloc_at(area, op[3])
    return area


def _gap_may_apply(op: tuple) -> bool:
    if op[0] in ("empty_area_rev", "alloc_rrange"):
        return True  # a NULL-only leaf root ([0, MAX] = NULL) is missed for any window
    if op[0] in ("empty_area", "alloc_range"):
        lo, hi, _size = _gap_window(op)
        return lo == 0 and hi == MAX
    return False


GAP_SIZE_WRAP = Deviation(
    "gap-search-unsigned-size",
    "mas_empty_area()/mas_empty_area_rev() (and mtree_alloc_range/rrange) compute gap sizes in unsigned "
    "64-bit arithmetic, so the NULL range [0, MAX] of a node tree that holds only NULL counts as size 0; "
    "and the reverse search with max == MAX never finds a gap inside the root's first child: -EBUSY "
    "where the API documents a fit",
    {"6.12": True, "7.2": True, "7.3": True},
    _gap_may_apply, _gap_applies, _gap_follow,
    ("tests/corpus/deviations/gap-search-unsigned-size.jsonl",
     "tests/corpus/deviations/gap-search-rev-first-child.jsonl"),
)

#: every registered deviation, checked in this order
DEVIATIONS = (INSERT_NEW_ROOT, GAP_SIZE_WRAP)


def may_deviate(op: tuple) -> bool:
    """Could a registered deviation concern ``op``?  (Op only: such ops are stepped one by one.)"""
    return any(d.may_apply(op) for d in DEVIATIONS)


def deviation_for(op: tuple, tree, dump: Callable[[], dict]):
    """``(deviation, the kernel's result, the model tree as the kernel leaves it)`` or None.

    ``tree`` is the model's tree before ``op`` (left unchanged); ``dump`` gives
    the kernel tree's dump before ``op`` (called only when a deviation may fire).
    """
    cands = [d for d in DEVIATIONS if d.may_apply(op)]
    if not cands:
        return None
    d0 = dump()
    for dev in cands:
        if dev.applies(op, tree, d0):
            copy = deepcopy(tree)
            return dev, dev.follow(copy, op, d0), copy
    return None
