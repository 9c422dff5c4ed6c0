# SPDX-License-Identifier: GPL-2.0-or-later
"""Write-side navigation and node bookkeeping.

Moving a state up and down (``mas_ascend`` recomputes min/max from the parent
chain exactly as the kernel does), siblings, parent words, publishing a new
node (``mas_put_in_tree``), the per-operation node pool (``mas.alloc``), dead
marking and the subtree destroy walk.

The node pool stands in for the kernel's ``maple_alloc`` stack: a Python list
of enodes.  ``mas_node_count`` fills it with the kernel's request count before
a store; ``mas_pop_node`` hands out a zeroed node of the requested type;
``mas_free`` pushes a replaced node back (non-RCU) or frees it after a grace
period (RCU: at once when no reader runs, else queued by the RCU scheduler of
:mod:`.rcu` until its readers are done);
``mas_destroy`` frees whatever is left.
"""

from __future__ import annotations

from maplecheck.tree import MAX

from .node import (ma_data_end, ma_dead_node, ma_is_root_parent, ma_meta_word, ma_parent_addr,
                   ma_parent_ptr, ma_parent_slot, maple_arange_64, MAPLE_PARENT_SLOT_SHIFT,
                   maple_range_64, MapleNode, mt_mk_node, mte_node_type, mte_to_node)
from .rcu import rcu_point

# ------------------------------------------------------------------ node words


def node_of(mas, enode):
    return mas.tree.alloc.nodes[enode >> 8]


def mas_mn(mas):
    return mas.tree.alloc.nodes[mas.node >> 8]


def mte_is_root(mas, enode) -> bool:
    return ma_is_root_parent(mas.tree.alloc.nodes[enode >> 8].parent)


def mte_parent_slot(mas, enode) -> int:
    return ma_parent_slot(mas.tree.alloc.nodes[enode >> 8].parent)


def mte_parent_enode(mas, enode) -> int:
    """The parent of ``enode`` as an enode (type from the tree's flags)."""
    p = mas.tree.alloc.nodes[enode >> 8].parent
    return mt_mk_node(ma_parent_addr(p), internal_type(mas))


def internal_type(mas) -> int:
    return maple_arange_64 if mas.tree.ma_flags & 1 else maple_range_64


def mas_set_parent(mas, enode, parent, slot: int) -> None:
    """Encode ``parent`` (an internal enode) and ``slot`` into enode's parent word."""
    mas.tree.alloc.nodes[enode >> 8].parent = ma_parent_ptr(ma_parent_addr(parent), slot)


def mte_set_node_dead(mas, enode) -> None:
    """The node's parent word points at itself: readers that meet it restart."""
    mas.tree.alloc.nodes[enode >> 8].parent = mte_to_node(enode)
    rcu_point("dead")


def mte_dead_node(mas, enode) -> bool:
    return ma_dead_node(mas.tree.alloc.nodes[enode >> 8], enode)


def set_leaf_meta(node, end: int) -> None:
    """mas_leaf_set_meta(): record the end in the last-slot overlay when it fits."""
    if end < len(node.slot) - 1:
        node.slot[-1] = ma_meta_word(end, 0)


def mas_data_end(mas) -> int:
    """mas_data_end(): the data end of mas.node (limit mas.max)."""
    return mas_data_end_of(mas.tree.alloc.nodes[mas.node >> 8], mas.node, mas.max)


def mas_data_end_of(node, enode: int, max: int) -> int:
    """mas_data_end() without an ma_state: ma_data_end, but 0 for a dead range/leaf node."""
    type = mte_node_type(enode)
    if type == maple_arange_64:
        return node.meta_end
    if ma_dead_node(node, enode):
        return 0
    return ma_data_end(node, type, max)


# ------------------------------------------------------------------ moving


def mas_descend(mas) -> None:
    node = mas.tree.alloc.nodes[mas.node >> 8]
    pivots = node.pivot
    off = mas.offset
    if off:
        mas.min = pivots[off - 1] + 1
    if off < len(pivots):
        mas.max = pivots[off]
    mas.node = node.slot[off]


def mas_ascend(mas) -> int:
    """mas_ascend(): move to the parent and recompute its min and max.

    ``offset`` becomes this node's slot in the parent.  The limits are found
    by climbing until a left limit (a slot above 0) and a right limit (a slot
    with a stored pivot) are known; the root gives 0 and MAX.  Returns 1 when
    a dead node is met, else 0.  The write path and the read path both use it.
    """
    nodes = mas.tree.alloc.nodes
    a_node = nodes[mas.node >> 8]
    if ma_is_root_parent(a_node.parent):
        mas.offset = 0
        return 0
    p_addr = ma_parent_addr(a_node.parent)
    if p_addr == mte_to_node(mas.node):
        return 1
    itype = internal_type(mas)
    mas.offset = ma_parent_slot(a_node.parent)
    a_enode = mt_mk_node(p_addr, itype)
    mas.node = a_enode
    if ma_is_root_parent(nodes[p_addr >> 8].parent):
        mas.max = MAX
        mas.min = 0
        return 0
    min_, max_ = 0, MAX
    set_min = set_max = False
    if not mas.offset:
        min_ = mas.min
        set_min = True
    if mas.max == MAX:
        set_max = True
    while True:
        p_node = nodes[a_enode >> 8]
        a_addr = ma_parent_addr(p_node.parent)
        a_slot = ma_parent_slot(p_node.parent)
        a_node = nodes[a_addr >> 8]
        a_enode = mt_mk_node(a_addr, itype)
        pivots = a_node.pivot
        if ma_parent_addr(a_node.parent) == a_addr:
            return 1
        if not set_min and a_slot:
            set_min = True
            min_ = pivots[a_slot - 1] + 1
        if not set_max and a_slot < len(pivots):
            set_max = True
            max_ = pivots[a_slot]
        if ma_is_root_parent(a_node.parent):
            break
        if set_min and set_max:
            break
    mas.max = max_
    mas.min = min_
    return 0


def mas_prev_sibling(mas) -> bool:
    if mte_is_root(mas, mas.node):
        return False
    p_slot = mte_parent_slot(mas, mas.node)
    if not p_slot:
        return False
    mas_ascend(mas)
    mas.offset = p_slot - 1
    mas_descend(mas)
    return True


def mas_next_sibling(mas) -> bool:
    if mte_is_root(mas, mas.node):
        return False
    parent = mas.copy()
    mas_ascend(parent)
    parent.offset = mte_parent_slot(mas, mas.node) + 1
    if parent.offset > mas_data_end(parent):
        return False
    mas.assign(parent)
    mas_descend(mas)
    return True


def mas_find_child(mas, child) -> bool:
    """Find the next slot (from mas.offset) whose node names this node as its parent."""
    nodes = mas.tree.alloc.nodes
    enode = mas.node
    node = nodes[enode >> 8]
    addr = mte_to_node(enode)
    end = ma_data_end(node, mte_node_type(enode), mas.max)
    slots = node.slot
    for offset in range(mas.offset, end + 1):
        entry = slots[offset]
        if ma_parent_addr(nodes[entry >> 8].parent) == addr:
            child.assign(mas)
            mas.offset = offset + 1
            child.offset = offset
            mas_descend(child)
            child.offset = 0
            return True
    return False


def mas_adopt_children(mas, parent) -> None:
    nodes = mas.tree.alloc.nodes
    node = nodes[parent >> 8]
    end = ma_data_end(node, mte_node_type(parent), mas.max)
    base = ma_parent_ptr(mte_to_node(parent), 0)
    slots = node.slot
    for offset in range(end, -1, -1):
        nodes[slots[offset] >> 8].parent = base | (offset << MAPLE_PARENT_SLOT_SHIFT)


# ------------------------------------------------------------------ publishing


def mas_put_in_tree(mas, old_enode, new_height: int | None = None) -> None:
    """Publish mas.node in place of old_enode (parent slot or the root), then mark the old dead.

    A new root sets the tree's height: ``new_height`` (7.3) or the state's depth (6.12)."""
    tree = mas.tree
    node = tree.alloc.nodes[mas.node >> 8]
    if ma_is_root_parent(node.parent):
        node.parent = tree.addr | 1
        tree.ma_root = mas.node | 2
        rcu_point("assign")
        tree.mt_set_height(mas.depth if new_height is None else new_height)
    else:
        p = node.parent
        tree.alloc.nodes[p >> 8].slot[ma_parent_slot(p)] = mas.node
        rcu_point("assign")
    mte_set_node_dead(mas, old_enode)


def mas_replace_node(mas, old_enode, new_height: int | None = None) -> None:
    mas_put_in_tree(mas, old_enode, new_height)
    mas_free(mas, old_enode)


# ------------------------------------------------------------------ the pool


def mas_node_count(mas, count: int) -> bool:
    """Make sure the pool holds ``count`` nodes; False on -ENOMEM (the pool keeps what it got)."""
    pool = mas.alloc
    if pool is None:
        pool = mas.alloc = []
    need = count - len(pool)
    if need <= 0:
        return True
    alloc = mas.tree.alloc
    if not pool:
        # Linux's mas_alloc_nodes: one node first (it heads the state's list), then the
        # rest in bulk; the first stays in the pool when the bulk request is refused
        head = alloc.alloc(maple_range_64)
        if head is None:
            return False
        pool.append(head)
        need -= 1
        if not need:
            return True
    got = alloc.alloc_bulk([maple_range_64] * need)
    if got is None:
        return False
    pool.extend(got)
    return True


#: maple_tree_init() (7.x): the node cache's sheaf capacity
SHEAF_CAPACITY = 32


class Sheaf(list):
    """A slab sheaf (7.x): the nodes a state holds from kmem_cache_prefill_sheaf.

    ``capacity`` is what it can hold without being replaced: the larger of the
    prefill's size and the cache's :data:`SHEAF_CAPACITY`.  A plain list in
    ``mas.alloc`` is the one node of ``mas->alloc`` instead.
    """

    __slots__ = ("capacity",)

    def __init__(self, nodes, capacity: int) -> None:
        super().__init__(nodes)
        self.capacity = capacity


def mas_alloc_nodes(mas, request: int) -> bool:
    """7.x mas_alloc_nodes(): ``request`` nodes for the state; False on -ENOMEM.

    One node alone is one mt_alloc_one() (none if the state holds one already).
    More come in a sheaf: prefilled with the request, or refilled up to it (a
    request beyond its capacity replaces it with a new prefill, and the old one
    goes back).  Each cache request is all or nothing; a single node held when
    a sheaf is needed goes back with kfree().
    """
    alloc = mas.tree.alloc
    pool = mas.alloc
    if request == 1 and not isinstance(pool, Sheaf):
        if pool:
            return True
        one = alloc.alloc(maple_range_64)
        if one is None:
            return False
        mas.alloc = [one]
        return True
    if pool and not isinstance(pool, Sheaf):
        for enode in pool:
            alloc.free_now(enode)
        pool = mas.alloc = None
    if pool is not None:  # a sheaf
        if len(pool) >= request:
            return True
        if request > pool.capacity:
            got = alloc.alloc_bulk([maple_range_64] * request)
            if got is None:
                return False
            for enode in pool:  # kmem_cache_return_sheaf of the old one
                alloc.free_now(enode)
            mas.alloc = Sheaf(got, max(request, SHEAF_CAPACITY))
            return True
        got = alloc.alloc_bulk([maple_range_64] * (request - len(pool)))
        if got is None:
            return False
        pool.extend(got)
        return True
    got = alloc.alloc_bulk([maple_range_64] * request)
    if got is None:
        return False
    mas.alloc = Sheaf(got, max(request, SHEAF_CAPACITY))
    return True


def mas_pop_node(mas, type: int) -> int:
    """A zeroed node of ``type`` from the pool (or, if the pool ran dry, a fresh one)."""
    alloc = mas.tree.alloc
    pool = mas.alloc
    if pool:
        enode = pool.pop()
    else:
        enode = alloc.alloc(type)
        if enode is None:  # only reachable with failure injection on an unexpected path
            raise MemoryError("maple node pool ran dry")
    idx = enode >> 8
    if enode & 0xFF != 0x14 or type == maple_arange_64:
        # a used node pushed back (low byte 0), or a different layout: zero it
        alloc.nodes[idx] = MapleNode(alloc.geo, type)
    # else: a fresh range-layout node from mas_node_count, already zeroed
    return mt_mk_node(idx << 8, type)


def mas_push_node(mas, enode) -> None:
    if mas.alloc is None:
        mas.alloc = []
    mas.alloc.append(mte_to_node(enode))  # low byte 0 marks "used: zero before reuse"


def mas_free(mas, enode) -> None:
    """A replaced node: RCU mode frees it after a grace period (see :mod:`.rcu`), else reuse it."""
    if mas.tree.ma_flags & 2:
        mas.tree.alloc.free_node(enode)
    else:
        mas_push_node(mas, enode)


def mas_destroy(mas) -> None:
    """Free the nodes still held by the state."""
    pool = mas.alloc
    if pool:
        free = mas.tree.alloc.free_node
        for enode in pool:
            free(enode)
    mas.alloc = None
    mas.mas_flags &= ~(1 | 4)


def mte_destroy_walk(mas_or_tree, enode) -> None:
    """Mark a whole subtree dead and free every node of it (children found through the slots)."""
    tree = getattr(mas_or_tree, "tree", mas_or_tree)
    alloc = tree.alloc
    nodes = alloc.nodes
    stack = [enode]
    while stack:
        e = stack.pop()
        node = nodes[e >> 8]
        if node is None:
            raise AssertionError(f"destroy walk met freed node {mte_to_node(e):#x}")
        if mte_node_type(e) >= 2:
            for s in node.slot:
                if not s or not mte_to_node(s) or not mte_node_type(s):
                    break
                stack.append(s)
        node.parent = mte_to_node(e)
        alloc.free_node(e)
