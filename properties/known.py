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


@dataclass(frozen=True)
class KnownBug:
    name: str
    summary: str


RCU_FREE_WALK_META = KnownBug(
    "rcu-free-walk-meta",
    "Linux 6.12 mt_free_walk() follows the metadata word in slot 15 of a full-but-one range_64 node "
    "as a child pointer when an RCU-mode plain tree of height >= 4 is destroyed (NULL+0xe dereference)",
)


def destroy_workaround(dump: dict) -> KnownBug | None:
    """The known bug a ``destroy`` of this tree would hit, if any.

    The way around it is to leave RCU mode first (``set_rcu(False)``): the
    nodes are then freed by ``mt_destroy_walk`` directly, which checks what it
    follows.  Nothing observable changes: the tree is destroyed either way.
    """
    return RCU_FREE_WALK_META if rcu_free_walk_reads_meta(dump) else None
