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

from dataclasses import dataclass

from maplecheck.tree import MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU


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


RCU_FREE_WALK_META = KnownBug(
    "rcu-free-walk-meta",
    "Linux 6.12 mt_free_walk() follows the metadata word in slot 15 of a full-but-one range_64 node "
    "as a child pointer when an RCU-mode plain tree of height >= 4 is destroyed (NULL+0xe dereference)",
)


RCU_CLEAR_META_FULL = KnownBug(
    "rcu-clear-meta-full-node",
    "Linux 6.12 mt_destroy_walk() clears 'metadata' in slot 15 of a full range_64 node whose leaf "
    "children were already stripped to bare addresses, corrupting the last child pointer; the RCU "
    "callback then frees a wrong address (at destroy, or when an RCU-mode write tears down such a subtree)",
)

#: C functions of the RCU destroy path; a sanitizer report naming one of them
#: on a plain RCU tree, for a trace that passes without RCU mode, is triaged
#: as the known RCU destroy bugs above.
RCU_DESTROY_FRAMES = ("mt_free_walk", "mte_dead_walk", "mt_destroy_walk", "mt_clear_meta", "mt_free_rcu",
                      "mt_free_bulk")


def is_known_rcu_destroy_crash(report: str) -> bool:
    """Does a sanitizer report point into the RCU destroy path?"""
    return any(f in report for f in RCU_DESTROY_FRAMES)


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
    "Linux 6.12 mas_next_slot()/mas_prev_slot() under RCU: a reader that meets a dead node rewalks to "
    "its saved mas->last (mas->index going backwards) and steps from the range now holding that "
    "index, so a concurrent store that covered it and beyond is skipped: the step returns the entry "
    "after the new range, an answer neither before nor after the write",
)
