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
from functools import cached_property

from maplecheck.logic import If

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

    @cached_property
    def slots(self) -> tuple[int, int, int, int]:
        return (31, self.range_slots, self.range_slots, self.arange_slots)

    @cached_property
    def pivots(self) -> tuple[int, int, int, int]:
        return (0, self.range_slots - 1, self.range_slots - 1, self.arange_slots - 1)

    @cached_property
    def min_slots(self) -> tuple[int, int, int, int]:
        r = max(1, self.range_slots // 2 - 2)
        a = max(1, self.arange_slots // 2 - 1)
        return (15, r, r, a)


LINUX_64 = Geometry()
#: a scaled-down geometry for exhaustive checks and CrossHair.  Leaves and range
#: nodes need 5 slots: with 4, the kernel's 3-way split (b_end >= 2n, split points
#: moved off NULLs) can hand one node 5 entries and drop one (seen in random
#: streams), and 2-way splits leave 1-slot nodes below the occupancy rule.
SMALL = Geometry(range_slots=5, arange_slots=4)


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
    if type(parent) is int:  # fast path: the walk and the writers
        if parent & MA_ROOT_PARENT:
            return 0
        return (parent & MAPLE_PARENT_SLOT_MASK) >> MAPLE_PARENT_SLOT_SHIFT
    return If(ma_is_root_parent(parent), _zero_like(parent),
              _lshr(parent & MAPLE_PARENT_SLOT_MASK, MAPLE_PARENT_SLOT_SHIFT))


def ma_parent_addr(parent: int) -> int:
    return parent & ~MAPLE_NODE_MASK


def ma_parent_type(parent: int, alloc_range: bool) -> int:
    """The parent's node type as the kernel infers it from the parent word."""
    if type(parent) is int and type(alloc_range) is bool:
        if parent & (MAPLE_NODE_MASK & ~MAPLE_PARENT_SLOT_MASK) == MAPLE_PARENT_RANGE64:
            return maple_arange_64 if alloc_range else maple_range_64
        return maple_dense  # anything else is a BUG in the kernel
    internal = If(alloc_range, _const_like(parent, maple_arange_64),
                  _const_like(parent, maple_range_64))
    return If(parent & (MAPLE_NODE_MASK & ~MAPLE_PARENT_SLOT_MASK) == MAPLE_PARENT_RANGE64,
              internal, _const_like(parent, maple_dense))


def ma_dead(parent: int, addr: int) -> bool:
    """A node is dead when its parent word points at the node itself."""
    return ma_parent_addr(parent) == addr


def ma_dead_node(node: MapleNode, enode: int) -> bool:
    """ma_dead_node(): :func:`ma_dead` for the node ``enode`` encodes."""
    return ma_parent_addr(node.parent) == mte_to_node(enode)


# ------------------------------------------------------------------ metadata
#
# The range/leaf overlay packs ``end | gap << 8`` into the last slot.  On ints
# that is bit arithmetic; a lemma may hand in a z3 Int (linear arithmetic:
# ``% 256`` and ``/ 256`` are the same bytes for a non-negative word) or a z3
# bit-vector (the bit operators themselves).

def _is_bv(x) -> bool:
    return hasattr(x, "size") and callable(x.size) and not isinstance(x, int)


def _zero_like(x):
    return _const_like(x, 0)


def _const_like(x, c: int):
    if _is_bv(x):
        import z3
        return z3.BitVecVal(c, x.size())
    return c


def _lshr(x, n: int):
    """Logical shift right (a z3 bit-vector ``>>`` is arithmetic)."""
    if _is_bv(x):
        import z3
        return z3.LShR(x, n)
    return x >> n


def _meta_byte(word, byte: int):
    """Byte ``byte`` (0 = end, 1 = gap) of the last-slot overlay word."""
    if word is None:
        return 0
    if type(word) is int:
        return (word >> (8 * byte)) & 0xFF
    if _is_bv(word):
        return _lshr(word, 8 * byte) & 0xFF
    return (word / (1 << (8 * byte))) % 256  # z3 Int: integer division


def ma_meta_pack(end: int, gap: int) -> int:
    """The overlay word a range/leaf node keeps in its last slot."""
    if type(end) is int and type(gap) is int:
        return end | (gap << 8)
    if _is_bv(end) or _is_bv(gap):
        return end | (gap << 8)
    return end + gap * 256


def ma_meta_word(end, gap):
    """The last slot of a range/leaf node holding metadata ``{end, gap}``.

    The packed word, except that an all-zero word is the NULL slot (None) on
    Python values; a z3 term stays a term.
    """
    word = ma_meta_pack(end, gap)
    return (word or None) if isinstance(word, int) else word


def ma_meta_end(node: MapleNode, type: int) -> int:
    if type == maple_arange_64:
        return node.meta_end
    return _meta_byte(node.slot[-1], 0)


def ma_meta_gap(node: MapleNode, type: int) -> int:
    if type == maple_arange_64:
        return node.meta_gap
    return _meta_byte(node.slot[-1], 1)


def ma_set_meta(node: MapleNode, type: int, offset: int, end: int) -> None:
    """ma_set_meta(mn, mt, offset, end), the kernel's argument order: record the data
    ``end`` and the largest gap's ``offset`` in the arange meta field or the
    last-slot overlay (an all-zero overlay word is a NULL slot)."""
    if type == maple_arange_64:
        node.meta_end = end
        node.meta_gap = offset
    else:
        node.slot[-1] = ma_meta_word(end, offset)


def ma_data_end(node: MapleNode, type: int, max: int) -> int:
    """The offset of the last used slot.

    arange nodes keep it in meta.  A range/leaf node trusts its metadata only
    while the last pivot is unused (0); a last pivot equal to the node max
    means the next-to-last slot ends the data; otherwise every slot is used
    and the max is implied.

    Runs on ints (the walk) and on z3 terms (the lemmas prove it equals the
    definition "first offset whose pivot, or the implied max, is the node
    max" for every pivot array satisfying the pivot invariants).
    """
    if type == maple_arange_64:
        return node.meta_end
    pivots = node.pivot
    npiv = len(pivots)
    last = pivots[npiv - 1]
    if last.__class__ is int and max.__class__ is int:  # fast path: the walk
        if not last:
            w = node.slot[-1]
            return w & 0xFF if w else 0
        if last == max:
            return npiv - 1
        return npiv
    return If(last == 0, _meta_byte(node.slot[-1], 0),
              If(last == max, npiv - 1, npiv))


def _int2(a, b) -> bool:
    tp = type(a)
    return (tp is int or tp is bool) and (type(b) is int)


def _select(seq, offset, default):
    """seq[offset], or ``default`` past its end; ``offset`` may be symbolic."""
    if type(offset) is int:
        return seq[offset] if offset < len(seq) else default
    out = default
    for i in range(len(seq) - 1, -1, -1):
        out = If(offset == i, seq[i], out)
    return out


def safe_pivot(pivots, offset: int, max):
    """mas_safe_pivot() on a pivot list: pivot[offset], or the node max past the
    last pivot (the implied max)."""
    return max if offset >= len(pivots) else pivots[offset]


def mas_safe_pivot(node: MapleNode, offset: int, max: int) -> int:
    """:func:`safe_pivot` of a node; ``offset`` may be a z3 term."""
    if type(offset) is int:
        return safe_pivot(node.pivot, offset, max)
    return _select(node.pivot, offset, max)


def mas_logical_pivot(node: MapleNode, offset: int, max: int) -> int:
    """Like :func:`mas_safe_pivot`, but an unused (0) pivot also reads as max."""
    piv = mas_safe_pivot(node, offset, max)
    if type(piv) is int:
        return piv if piv else max
    return If(piv == 0, max, piv)
