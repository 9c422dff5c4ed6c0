# SPDX-License-Identifier: GPL-2.0-or-later
"""Duplicating a whole tree: ``__mt_dup`` / ``mtree_dup`` of Linux 6.12.

The copy is built node by node in DFS pre-order, the way ``mas_dup_build``
does it:

1. The two trees must have the same attributes (flags without the height) and
   the target must be empty, else -EINVAL and nothing happens.
2. An empty source or a root-pointer source: the raw root word is copied.
3. Otherwise the new root is allocated with the *source root's* node type.
   Every node of the copy is then a whole copy of its source node
   (:meth:`MapleNode.copy_from`, the 256-byte memcpy) whose parent word keeps
   the source's low byte (slot number and type bits) and takes the new
   parent's address.  For an internal node the ``end + 1`` children are
   requested in **one** all-or-nothing bulk request and written straight into
   the copy's slots, each OR-ed with the low byte (type bits, bit 2) of the
   matching source slot.  The children are filled in later by the walk.
4. After the last leaf (the one whose max is ULONG_MAX) the root's parent word
   becomes ``&new | 1``, the new tree takes the source flags (height
   included) and ``ma_root = root enode | 2``.

When a bulk request is refused the slots it was meant to fill are cleared, the
partial copy is freed by :func:`mas_dup_free` (reverse pre-order, exactly the
kernel's climb) and -ENOMEM is returned; the target keeps ``ma_root = NULL``
and its own flags, the source is never written.

Locking: :func:`mt_dup` is ``__mt_dup`` (the caller holds both trees' locks).
:func:`mtree_dup` takes them itself in the kernel's order (new tree first,
then the source nested inside it), frees on -ENOMEM under the new tree's lock
and releases in reverse; :class:`TreeLock` records the order so a test can
check it.

The two encodings are the helpers of :mod:`.node_ops` (``dup_parent_word``,
``dup_child_enode``) that the lemmas reason about, so a proof about them is
about the code that runs here.

Failure injection: ``fail_at=k`` arms the allocator (:meth:`NodeAllocator.fail_at`)
for the duration of the dup: the request that includes the k-th node asked
for fails as a whole.  The source has ``n`` nodes, and the dup asks for
exactly ``n`` nodes (1 for the root, then ``end + 1`` per internal node), so
it fails iff ``k <= n``.
"""

from __future__ import annotations

from maplecheck.tree import EINVAL, ENOMEM, MAX, mt_attr

from .node import (ma_data_end, ma_is_root_parent, ma_parent_addr, ma_parent_slot, mt_mk_node,
                   mte_node_type, mte_to_node)
from .mtree import MapleTree
from .node_ops import dup_child_enode, dup_parent_word

__all__ = ["mt_dup", "mtree_dup", "mas_dup_free", "TreeLock", "tree_lock", "LOCK_TRACE"]


def mt_dup(src: MapleTree, new: MapleTree, fail_at: int | None = None) -> int:
    """``__mt_dup(src, new, GFP_KERNEL)``: 0, -EINVAL or -ENOMEM (see the module text)."""
    alloc = new.alloc
    if fail_at is not None:
        alloc.fail_at(fail_at)
    try:
        ret, path, failed = _dup_build(src, new)
        if ret == -ENOMEM and failed is not None:
            mas_dup_free(new, path, failed)
        return ret
    finally:
        if fail_at is not None:
            alloc.disarm()


def _dup_build(src: MapleTree, new: MapleTree):
    """mas_dup_build(): returns (ret, path, failed).

    On -ENOMEM ``failed`` is the new enode whose children could not be
    allocated (its slots already cleared) and ``path`` the max of each node
    from the root down to ``failed`` (a range node's data end depends on its
    max); ``failed`` is None when the root allocation itself failed.
    """
    if mt_attr(src.ma_flags) != mt_attr(new.ma_flags) or new.ma_root is not None:
        return -EINVAL, None, None
    root = src.ma_root
    if root is None or root & 3 != 2:  # empty, or a bare root entry (never ends in 10)
        new.ma_flags = src.ma_flags
        new.ma_root = root
        return 0, None, None

    alloc = new.alloc
    snodes = src.alloc.nodes
    nnodes = alloc.nodes
    senode = root & ~2  # mte_safe_root
    nenode = alloc.alloc(mte_node_type(senode))
    if nenode is None:
        return -ENOMEM, None, None
    new_root = nenode

    # The walk's position in both trees: one frame per internal ancestor of the
    # current node, [src node, new node, end, offset, max, new node's address].
    path: list[list] = []
    parent_addr = 0  # the root's parent is patched at the end (MA_ROOT_PARENT)
    smax = MAX
    while True:
        snode = snodes[senode >> 8]
        nnode = nnodes[nenode >> 8]
        nnode.copy_from(snode)  # mas_copy_node: the whole node ...
        nnode.parent = dup_parent_word(snode.parent, parent_addr)  # ... with the new parent
        stype = mte_node_type(senode)
        if stype >= 2:  # internal: mas_dup_alloc
            end = ma_data_end(snode, stype, smax)
            sslots = snode.slot
            kids = alloc.alloc_bulk([mte_node_type(sslots[i]) for i in range(end + 1)])
            nslots = nnode.slot
            if kids is None:
                for i in range(end + 1):
                    nslots[i] = None
                return -ENOMEM, [f[4] for f in path] + [smax], nenode
            for i in range(end + 1):
                nslots[i] = dup_child_enode(sslots[i], mte_to_node(kids[i]))
            path.append([snode, nnode, end, 0, smax, mte_to_node(nenode)])
            frame = path[-1]
        else:  # leaf
            if smax == MAX:  # the last leaf: done
                break
            # climb both trees while the offset is the parent's last one, then step right
            frame = path[-1]
            while frame[3] == frame[2]:
                path.pop()
                frame = path[-1]
            frame[3] += 1
        # descend both trees into the frame's current offset
        off = frame[3]
        fsnode = frame[0]
        senode = fsnode.slot[off]
        nenode = frame[1].slot[off]
        piv = fsnode.pivot
        smax = piv[off] if off < len(piv) else frame[4]
        parent_addr = frame[5]

    nnodes[new_root >> 8].parent = new.addr | 1  # MA_ROOT_PARENT
    new.ma_flags = src.ma_flags  # same height too
    new.ma_root = new_root | 2  # MAPLE_ROOT_NODE
    return 0, None, None


def mas_dup_free(new: MapleTree, path, failed: int) -> None:
    """mas_dup_free(): free an incomplete copy, starting at the node that failed.

    The kernel's climb, on the new tree: go up one level (by the node's parent
    word); if there is a left sibling, go down into it along its right-most
    path to the level above the leaves; strip the low bytes of that node's
    ``end + 1`` child pointers and free them in one bulk free.  Repeat until
    the root, then free the root.  That frees every node in reverse pre-order
    and also the allocated but never filled right siblings.  ``path`` carries
    the max of each node from the root down to ``failed``.
    """
    alloc = new.alloc
    nodes = alloc.nodes
    itype = new.mt_node_type()
    maxes = list(path)
    cmax = maxes.pop()  # failed's own max; maxes now holds its ancestors'
    cur = failed
    while not ma_is_root_parent(nodes[cur >> 8].parent):  # !mte_is_root
        # mas_ascend
        pword = nodes[cur >> 8].parent
        offset = ma_parent_slot(pword)
        cur = mt_mk_node(ma_parent_addr(pword), itype)
        cmax = maxes.pop()
        if offset:
            offset -= 1
            while True:  # mas_descend along the right-most path
                node = nodes[cur >> 8]
                maxes.append(cmax)
                piv = node.pivot
                cmax = piv[offset] if offset < len(piv) else cmax
                cur = node.slot[offset]
                t = mte_node_type(cur)
                offset = ma_data_end(nodes[cur >> 8], t, cmax)
                if t < 2:
                    break
            # mas_ascend back to the node above the leaves
            cur = mt_mk_node(ma_parent_addr(nodes[cur >> 8].parent), itype)
            cmax = maxes.pop()
        node = nodes[cur >> 8]
        slots = node.slot
        count = ma_data_end(node, mte_node_type(cur), cmax) + 1
        for i in range(count):
            slots[i] = mte_to_node(slots[i])
        for i in range(count):  # mt_free_bulk
            alloc.free_node(slots[i])
    alloc.free_node(cur)  # the root


# ------------------------------------------------------------------ locking

LOCK_TRACE: list[tuple[str, int, int]] = []  #: ("lock"|"unlock", tree addr, nesting) when tracing


class TreeLock:
    """A tiny stand-in for a tree's spinlock: records the order it is taken in.

    Single-threaded, so it only checks discipline: taking a held lock or
    releasing a free one raises (that is a bug, not a protocol result).
    """

    __slots__ = ("addr", "held")
    tracing = False

    def __init__(self, addr: int) -> None:
        self.addr = addr
        self.held = False

    def lock(self, nested: int = 0) -> None:
        if self.held:
            raise AssertionError(f"tree lock {self.addr:#x} taken twice")
        self.held = True
        if TreeLock.tracing:
            LOCK_TRACE.append(("lock", self.addr, nested))

    def unlock(self) -> None:
        if not self.held:
            raise AssertionError(f"tree lock {self.addr:#x} released while free")
        self.held = False
        if TreeLock.tracing:
            LOCK_TRACE.append(("unlock", self.addr, 0))


_LOCKS: dict[int, TreeLock] = {}


def tree_lock(tree: MapleTree) -> TreeLock:
    """The lock of ``tree`` (one per tree address)."""
    lk = _LOCKS.get(tree.addr)
    if lk is None:
        lk = _LOCKS[tree.addr] = TreeLock(tree.addr)
    return lk


def mtree_dup(src: MapleTree, new: MapleTree, fail_at: int | None = None) -> int:
    """``mtree_dup()``: ``__mt_dup`` taking the locks itself (new first, source nested)."""
    alloc = new.alloc
    nlock, slock = tree_lock(new), tree_lock(src)
    if fail_at is not None:
        alloc.fail_at(fail_at)
    try:
        nlock.lock()
        slock.lock(nested=1)
        ret, path, failed = _dup_build(src, new)
        slock.unlock()
        if ret == -ENOMEM and failed is not None:
            mas_dup_free(new, path, failed)  # no need to hold the source lock
        nlock.unlock()
        return ret
    finally:
        if fail_at is not None:
            alloc.disarm()
