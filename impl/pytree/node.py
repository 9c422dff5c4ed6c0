# SPDX-License-Identifier: GPL-2.0-or-later
"""Maple nodes, their geometry, and the kernel's pointer encodings.

A node lives at an *address*: a multiple of 256 handed out by the
:class:`~maplecheck.impl.pytree.alloc.NodeAllocator`, which keeps every node in
a flat list so that ``nodes[addr >> 8]`` finds it.  References between nodes
are encoded exactly as the kernel encodes them, so lemmas can speak about the
encoding and a dump of ours lines up with a dump of Linux's:

* ``enode = addr | type << 3 | MAPLE_ENODE_NULL`` (type in bits 3-6, bit 2 set);
* ``ma_root = enode | MAPLE_ROOT_NODE``;
* ``parent = parent_addr | slot << 3 | MAPLE_PARENT_RANGE64`` for a child,
  ``tree_addr | MA_ROOT_PARENT`` for the root, and the node's own address when
  the node is dead.

Node fields mirror ``struct maple_range_64`` / ``struct maple_arange_64``:
``pivot`` (mt_pivots[type] words), ``slot`` (mt_slots[type] words), and for
arange nodes ``gap`` plus a real ``meta`` (``meta_end``, ``meta_gap``).  A
range/leaf node has no meta field: its ``{end, gap}`` metadata overlays the
last slot as ``end | gap << 8`` and is trusted only while the node is not full
(see :func:`ma_data_end`).  Helpers here are pure functions of those fields.
"""

from __future__ import annotations

from dataclasses import dataclass

# enum maple_type
maple_dense, maple_leaf_64, maple_range_64, maple_arange_64 = range(4)
TYPE_NAMES = ("dense", "leaf_64", "range_64", "arange_64")

MAPLE_NODE_MASK = 0xFF
MAPLE_NODE_TYPE_SHIFT = 3
MAPLE_NODE_TYPE_MASK = 0x0F
MAPLE_ENODE_NULL = 0x04
MAPLE_ROOT_NODE = 0x02
MA_ROOT_PARENT = 0x01
MAPLE_PARENT_SLOT_SHIFT = 3
MAPLE_PARENT_SLOT_MASK = 0xF8
MAPLE_PARENT_RANGE64 = 0x06
MAPLE_PARENT_NOT_RANGE16 = 0x02
MAPLE_NODE_SLOTS = 31  # the "no offset" marker (offset of none/root states)

ULONG_MAX = (1 << 64) - 1


@dataclass(frozen=True)
class Geometry:
    """Slot counts per node type.  Linux 6.12 on 64-bit is :data:`LINUX_64`.

    ``min_slots`` follows the kernel's rule (``slots/2 - 2`` for range and leaf
    nodes, ``slots/2 - 1`` for arange nodes, never below 1 here so that a
    scaled-down geometry stays meaningful).
    """

    range_slots: int = 16
    arange_slots: int = 10

    @property
    def slots(self) -> tuple[int, int, int, int]:
        return (31, self.range_slots, self.range_slots, self.arange_slots)

    @property
    def pivots(self) -> tuple[int, int, int, int]:
        return (0, self.range_slots - 1, self.range_slots - 1, self.arange_slots - 1)

    @property
    def min_slots(self) -> tuple[int, int, int, int]:
        r = max(1, self.range_slots // 2 - 2)
        a = max(1, self.arange_slots // 2 - 1)
        return (15, r, r, a)


LINUX_64 = Geometry()
#: a scaled-down geometry for exhaustive checks and CrossHair
SMALL = Geometry(range_slots=4, arange_slots=4)


class MapleNode:
    """One 256-byte node: the parent word, pivots, slots, and (arange) gaps + meta."""

    __slots__ = ("parent", "pivot", "slot", "gap", "meta_end", "meta_gap")

    def __init__(self, geo: Geometry, type: int) -> None:
        self.parent = 0
        self.pivot = [0] * geo.pivots[type]
        self.slot = [None] * geo.slots[type]
        if type == maple_arange_64:
            self.gap = [0] * geo.slots[type]
        else:
            self.gap = None
        self.meta_end = 0
        self.meta_gap = 0

    def copy_from(self, src: "MapleNode") -> None:
        """Copy all of ``src`` (the 256-byte memcpy of ``__mt_dup``), parent included."""
        self.parent = src.parent
        self.pivot[:] = src.pivot
        self.slot[:] = src.slot
        if src.gap is not None:
            self.gap[:] = src.gap
        self.meta_end = src.meta_end
        self.meta_gap = src.meta_gap


# ------------------------------------------------------------------ encodings

def mt_mk_node(addr: int, type: int) -> int:
    """Encode a node address and type as an enode."""
    return addr | (type << MAPLE_NODE_TYPE_SHIFT) | MAPLE_ENODE_NULL


def mte_to_node(enode: int) -> int:
    """The node address inside an enode."""
    return enode & ~MAPLE_NODE_MASK


def mte_node_type(enode: int) -> int:
    return (enode >> MAPLE_NODE_TYPE_SHIFT) & MAPLE_NODE_TYPE_MASK


def ma_is_leaf(type: int) -> bool:
    return type < maple_range_64


def mte_is_leaf(enode: int) -> bool:
    return ma_is_leaf(mte_node_type(enode))


def mt_mk_root(enode: int) -> int:
    """The value stored in ``ma_root`` for a node tree."""
    return enode | MAPLE_ROOT_NODE


def mte_safe_root(root: int) -> int:
    return root & ~MAPLE_ROOT_NODE


def ma_parent_ptr(parent_addr: int, slot: int) -> int:
    """The parent word of a child at ``slot`` of a range/arange node at ``parent_addr``."""
    return parent_addr | (slot << MAPLE_PARENT_SLOT_SHIFT) | MAPLE_PARENT_RANGE64


def ma_root_parent(tree_addr: int) -> int:
    return tree_addr | MA_ROOT_PARENT


def ma_is_root_parent(parent: int) -> bool:
    return parent & MA_ROOT_PARENT == MA_ROOT_PARENT


def ma_parent_slot(parent: int) -> int:
    """The slot a child occupies in its parent (0 for the root)."""
    if ma_is_root_parent(parent):
        return 0
    return (parent & MAPLE_PARENT_SLOT_MASK) >> MAPLE_PARENT_SLOT_SHIFT


def ma_parent_addr(parent: int) -> int:
    return parent & ~MAPLE_NODE_MASK


def ma_parent_type(parent: int, alloc_range: bool) -> int:
    """The parent's node type as the kernel infers it from the parent word."""
    if parent & (MAPLE_NODE_MASK & ~MAPLE_PARENT_SLOT_MASK) == MAPLE_PARENT_RANGE64:
        return maple_arange_64 if alloc_range else maple_range_64
    return maple_dense  # anything else is a BUG in the kernel


def ma_dead(parent: int, addr: int) -> bool:
    """A node is dead when its parent word points at the node itself."""
    return ma_parent_addr(parent) == addr


# ------------------------------------------------------------------ metadata

def ma_meta_end(node: MapleNode, type: int) -> int:
    if type == maple_arange_64:
        return node.meta_end
    return (node.slot[-1] or 0) & 0xFF


def ma_meta_gap(node: MapleNode, type: int) -> int:
    if type == maple_arange_64:
        return node.meta_gap
    return ((node.slot[-1] or 0) >> 8) & 0xFF


def ma_set_meta(node: MapleNode, type: int, end: int, gap: int) -> None:
    """Record ``{end, gap}``: the arange meta field, or the last-slot overlay."""
    if type == maple_arange_64:
        node.meta_end = end
        node.meta_gap = gap
    else:
        node.slot[-1] = end | (gap << 8)


def ma_data_end(node: MapleNode, type: int, max: int) -> int:
    """The offset of the last used slot.

    arange nodes keep it in meta.  A range/leaf node trusts its metadata only
    while the last pivot is unused (0); a last pivot equal to the node max
    means the next-to-last slot ends the data; otherwise every slot is used
    and the max is implied.
    """
    if type == maple_arange_64:
        return node.meta_end
    npiv = len(node.pivot)
    last = node.pivot[npiv - 1]
    if last == 0:
        return (node.slot[-1] or 0) & 0xFF
    if last == max:
        return npiv - 1
    return npiv


def mas_safe_pivot(node: MapleNode, offset: int, max: int) -> int:
    """pivot[offset], or the node max past the last pivot (the implied max)."""
    if offset >= len(node.pivot):
        return max
    return node.pivot[offset]


def mas_logical_pivot(node: MapleNode, offset: int, max: int) -> int:
    """Like :func:`mas_safe_pivot`, but an unused (0) pivot also reads as max."""
    if offset >= len(node.pivot):
        return max
    piv = node.pivot[offset]
    return piv if piv else max
