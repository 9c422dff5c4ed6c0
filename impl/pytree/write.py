# SPDX-License-Identifier: GPL-2.0-or-later
"""The write path: setup, classification (``mas_wr_store_type``) and the in-leaf stores.

Top-down as in the kernel: ``mas_store_gfp`` → ``mas_wr_preallocate``
(``mas_wr_prealloc_setup`` + ``mas_wr_store_type`` + the node request of
``mas_prealloc_calc``) → ``mas_wr_store_entry``, which dispatches on the store
type to: store_root / root expand, new_root, exact_fit, append, slot_store,
node_store (here), spanning_store (spanning.py), split_store (split.py) and
rebalance (rebalance.py), the last two through a big node.

Node identity follows the kernel: exact_fit, slot_store and append write in
place; node_store rebuilds the leaf aside and copies it back into the same node
unless the tree is in RCU mode, where a new node replaces it; split, rebalance
and spanning stores always build new nodes.

ENOMEM: before storing, the state's pool is filled with the kernel's request
count (one bulk request through the tree's NodeAllocator); a refusal returns
-ENOMEM with the tree untouched.  (Linux retries once with a blocking
allocation in ``mas_nomem``; with failure injection armed that retry is a
second request, which we do not model: -ENOMEM here means the first request
failed.)
"""

from __future__ import annotations

from maplecheck.tree import (EEXIST, EINVAL, ENOMEM, MA_ACTIVE, MA_ERROR, MA_NONE, MA_OVERFLOW,
                             MA_PAUSE, MA_ROOT, MA_START, MA_UNDERFLOW, MAX, xa_is_advanced)

from .node import ma_is_root_parent, ma_set_meta, maple_leaf_64, mte_node_type
from . import node_ops as O
from .rcu import rcu_point
from .big_node import BigNode, mas_store_b_node
from .gaps_update import mas_update_gap
from .nav import mas_alloc_nodes, mas_destroy, mas_node_count, mas_pop_node, mas_replace_node
from .maple_copy import mas_wr_rebalance, mas_wr_split
from .maple_copy import mas_wr_spanning_store as mas_wr_spanning_store_v7
from .rebalance import mas_rebalance
from .spanning import mas_new_root, mas_wr_spanning_store
from .split import mas_split
from .state import (MaState, wr_append, wr_exact_fit, wr_new_root, wr_node_store,
                    wr_rebalance, wr_slot_store, wr_spanning_store, wr_split_store,
                    wr_store_root)
from .walk import mas_start, mas_state_walk
from .wr_state import WrState, mas_wr_walk

# ------------------------------------------------------------------ root cases


def mas_root_expand(mas, entry) -> int:
    tree = mas.tree
    contents = tree.ma_root
    enode = mas_pop_node(mas, maple_leaf_64)
    node = tree.alloc.nodes[enode >> 8]
    pivots = node.pivot
    slots = node.slot
    node.parent = tree.addr | 1
    mas.node = enode
    mas.status = MA_ACTIVE
    slot = 0
    if mas.index:
        if contents:
            slots[slot] = contents
            if mas.index > 1:
                slot += 1
        pivots[slot] = mas.index - 1
        slot += 1
    slots[slot] = entry
    mas.offset = slot
    pivots[slot] = mas.last
    if mas.last != MAX:
        slot += 1
        pivots[slot] = MAX
    mas.depth = 1
    tree.mt_set_height(1)
    ma_set_meta(node, maple_leaf_64, 0, slot)
    tree.ma_root = enode | 2
    rcu_point("assign")
    return slot


def mas_store_root(mas, entry) -> None:
    if not entry:
        if not mas.index:
            mas.tree.ma_root = None
            rcu_point("assign")
    elif mas.last or mas.index:
        mas_root_expand(mas, entry)
    elif entry & 3 == 2:
        mas_root_expand(mas, entry)
    else:
        mas.tree.ma_root = entry
        rcu_point("assign")
        mas.status = MA_START


# ------------------------------------------------------------------ classification


def mas_wr_new_end(wr: WrState) -> int:
    """mas_wr_new_end(): the proven :func:`.node_ops.wr_new_end` on the write state."""
    mas = wr.mas
    return O.wr_new_end(mas.end, mas.offset, wr.offset_end, wr.r_min, mas.index, wr.end_piv,
                        mas.last)


def mas_wr_store_type(wr: WrState) -> None:
    """Classify the write.  At the leaf, the proven :func:`.node_ops.leaf_write_setup`
    does mas_wr_end_piv, the NULL widening (mas_wr_extend_null), mas_wr_new_end and
    the classification; its positions go back into the write state.  ``wr.content``
    stays the walk's (the kernel does not re-read it after widening)."""
    mas = wr.mas
    if mas.status == MA_NONE or mas.status == MA_ROOT:
        mas.store_type = wr_store_root
        return
    if not mas_wr_walk(wr):
        mas.store_type = wr_spanning_store
        return
    tree = mas.tree
    geo = tree.alloc.geo
    w = O.leaf_write_setup(wr.pivots, wr.slots, mas.end, mas.offset, mas.index, mas.last,
                           wr.entry, mas.min, mas.max, geo.min_slots[wr.type],
                           geo.slots[wr.type],
                           ma_is_root_parent(tree.alloc.nodes[mas.node >> 8].parent),
                           bool(tree.ma_flags & 2), bool(mas.mas_flags & 1), tree.v7)
    mas.offset = w.offset
    wr.offset_end = w.offset_end
    mas.index = w.index
    mas.last = w.last
    wr.r_min = w.r_min
    wr.r_max = w.r_max
    wr.end_piv = w.end_piv
    mas.store_type = w.store_type


def mas_wr_prealloc_setup(wr: WrState) -> None:
    mas = wr.mas
    st = mas.status
    reset = False
    if st != MA_ACTIVE:
        if st == MA_START:
            wr.content = mas_start(mas)
            return
        if st in (MA_PAUSE, MA_NONE, MA_OVERFLOW, MA_UNDERFLOW):
            reset = True
    if not reset:
        if mas.last > mas.max:
            reset = True
        elif not wr.entry and mte_node_type(mas.node or 0) < 2 and mas.last == mas.max:
            reset = True
    if reset:
        mas.status = MA_START
        mas.node = None
    wr.content = mas_start(mas)


def mas_prealloc_calc(mas, entry, wr: WrState | None = None) -> int:
    """The node request of a store (6.12; 7.3 through :func:`mas_prealloc_calc_v7`)."""
    h = mas.tree.mt_height()
    st = mas.store_type
    if mas.tree.v7 and wr is not None:
        return mas_prealloc_calc_v7(mas, wr, h)
    if st == wr_new_root:
        return 1
    if st == wr_store_root:
        if mas.last or mas.index:
            return 1
        return 1 if entry is not None and entry & 3 == 2 else 0
    if st == wr_spanning_store:
        return h * 3 + 1
    if st == wr_split_store:
        return h * 2 + 1
    if st == wr_rebalance:
        return h * 2 - 1
    if st == wr_node_store:
        return 1 if mas.tree.ma_flags & 2 else 0
    if st in (wr_append, wr_exact_fit, wr_slot_store):
        return 0
    return h * 3 + 1


def mas_prealloc_calc_v7(mas, wr: WrState, height: int) -> int:
    """7.3: only the levels from the deepest one that can absorb the change are rebuilt
    (``vacant_height``: room for one more slot; ``sufficient_height``: enough to lose one)."""
    st = mas.store_type
    delta = height - wr.vacant_height
    if st in (wr_exact_fit, wr_append, wr_slot_store):
        return 0
    if st == wr_spanning_store:
        if wr.sufficient_height < wr.vacant_height:
            return (height - wr.sufficient_height) * 3 + 1
        return delta * 3 + 1
    if st == wr_split_store:
        return delta * 2 + 1
    if st == wr_rebalance:
        if wr.sufficient_height < wr.vacant_height:
            return (height - wr.sufficient_height) * 2 + 1
        return delta * 2 + 1
    return mas_prealloc_calc(mas, wr.entry)



def mas_wr_preallocate(wr: WrState, entry) -> bool:
    """Setup, classify, and fill the pool; False on -ENOMEM (state set to error)."""
    mas = wr.mas
    mas_wr_prealloc_setup(wr)
    mas_wr_store_type(wr)
    STORE_TYPE_COUNTS[mas.store_type] += 1
    request = mas_prealloc_calc(mas, entry, wr)
    if not request:
        return True
    if not (mas_alloc_nodes if mas.tree.v7 else mas_node_count)(mas, request):
        mas.set_err(-ENOMEM)
        return False
    return True


# ------------------------------------------------------------------ in-leaf stores


def mas_wr_node_store(wr: WrState, new_end: int) -> None:
    """mas_wr_node_store(): the proven :func:`.node_ops.node_store_layout`, built into a
    new node published by mas_replace_node in RCU mode, else copied back over this one."""
    mas = wr.mas
    tree = mas.tree
    lay = O.node_store_layout(wr.pivots, wr.slots, mas.end, mas.offset, wr.offset_end,
                              mas.index, mas.last, wr.entry, wr.r_min, wr.end_piv, mas.max,
                              new_end)
    mas.offset = lay.offset
    old = wr.node
    if tree.ma_flags & 2:
        new_enode = mas_pop_node(mas, wr.type)
        newnode = tree.alloc.nodes[new_enode >> 8]
        newnode.parent = old.parent
        newnode.pivot[:] = lay.pivots
        newnode.slot[:] = lay.slots
        old_enode = mas.node
        mas.node = new_enode
        mas_replace_node(mas, old_enode, tree.mt_height())
    else:
        old.pivot[:] = lay.pivots
        old.slot[:] = lay.slots
    mas_update_gap(mas)
    mas.end = new_end


def mas_wr_slot_store(wr: WrState) -> None:
    """mas_wr_slot_store(): the proven :func:`.node_ops.slot_store_layout`, in place."""
    mas = wr.mas
    lay = O.slot_store_layout(wr.pivots, wr.slots, mas.end, mas.offset, wr.offset_end,
                              mas.index, mas.last, wr.entry, wr.r_min, mas.tree.ma_flags & 2)
    if lay is None:
        return
    mas.offset = lay.offset
    if lay.update_gap:
        mas_update_gap(mas)


def mas_wr_append(wr: WrState, new_end: int) -> None:
    """mas_wr_append(): the proven :func:`.node_ops.append_layout`, in place."""
    mas = wr.mas
    lay = O.append_layout(wr.pivots, wr.slots, mas.end, new_end, mas.index, mas.last,
                          wr.r_max, wr.entry)
    mas.offset = lay.offset
    if lay.update_gap:
        mas_update_gap(mas)
    mas.end = new_end


def mas_wr_bnode(wr: WrState) -> None:
    b = BigNode()
    mas_store_b_node(wr, b, wr.offset_end)
    if wr.mas.store_type == wr_rebalance:
        mas_rebalance(wr.mas, b)
    else:
        mas_split(wr.mas, b)


#: how many times each store type ran (tests read it; cheap)
STORE_TYPE_COUNTS = [0] * 10


def mas_wr_store_entry(wr: WrState) -> None:
    mas = wr.mas
    new_end = mas_wr_new_end(wr)
    st = mas.store_type
    STORE_TYPE_COUNTS[st] += 1
    if st == wr_exact_fit:
        if O.exact_fit_layout(wr.slots, mas.offset, wr.entry)[1]:
            mas_update_gap(mas)
    elif st == wr_node_store:
        mas_wr_node_store(wr, new_end)
    elif st == wr_append:
        mas_wr_append(wr, new_end)
    elif st == wr_slot_store:
        mas_wr_slot_store(wr)
    elif st == wr_split_store or st == wr_rebalance:
        if mas.tree.v7:
            (mas_wr_rebalance if st == wr_rebalance else mas_wr_split)(wr)
        else:
            mas_wr_bnode(wr)
    elif st == wr_spanning_store:
        if mas.tree.v7:
            mas_wr_spanning_store_v7(wr)
        else:
            mas_wr_spanning_store(wr)
    elif st == wr_store_root:
        mas_store_root(mas, wr.entry)
    elif st == wr_new_root:
        mas_new_root(mas, wr.entry)
    else:
        raise AssertionError("mas_wr_store_entry: invalid store type")


# ------------------------------------------------------------------ entry points


def mas_store_gfp(mas, entry) -> int:
    wr = WrState(mas, entry)
    if not mas_wr_preallocate(wr, entry):
        ret = mas.error
        mas_destroy(mas)
        return ret
    mas_wr_store_entry(wr)
    mas_destroy(mas)
    return 0


def mas_store(mas, entry):
    """mas_store(): returns the old content of the slot holding index (None on -ENOMEM)."""
    wr = WrState(mas, entry)
    if not mas_wr_preallocate(wr, entry):
        mas_destroy(mas)
        return None
    mas_wr_store_entry(wr)
    mas_destroy(mas)
    return wr.content


def mas_insert(mas, entry):
    wr = WrState(mas, entry)
    wr.content = mas_start(mas)
    if wr.content:
        mas.set_err(-EEXIST)
        return wr.content
    if not mas_wr_preallocate(wr, entry):
        return None
    if mas.store_type == wr_spanning_store:
        mas.set_err(-EEXIST)
        return wr.content
    if mas.store_type != wr_new_root and mas.store_type != wr_store_root:
        wr.offset_end = mas.offset
        wr.end_piv = wr.r_max
        if wr.content or mas.last > wr.r_max:
            mas.set_err(-EEXIST)
            return wr.content
    mas_wr_store_entry(wr)
    return wr.content


def mas_erase(mas):
    if mas.status != MA_ACTIVE or mas.status != MA_START:
        mas.status = MA_START
    entry = mas_state_walk(mas)
    if not entry:
        return None
    mas.status = MA_START
    mas.node = None
    wr = WrState(mas, None)
    if mas_wr_preallocate(wr, None):
        mas_wr_store_entry(wr)
    mas_destroy(mas)
    return entry


def mtree_store_range(tree, index: int, last: int, entry) -> int:
    if xa_is_advanced(entry):
        return -EINVAL
    if index > last:
        return -EINVAL
    mas = MaState(tree, index, last)
    return mas_store_gfp(mas, entry)


def mtree_insert_range(tree, first: int, last: int, entry) -> int:
    if xa_is_advanced(entry):
        return -EINVAL
    if first > last:
        return -EINVAL
    mas = MaState(tree, first, last)
    mas_insert(mas, entry)
    ret = mas.error if mas.status == MA_ERROR else 0
    mas_destroy(mas)
    return ret


def mtree_erase(tree, index: int):
    mas = MaState(tree, index, index)
    return mas_erase(mas)


def mas_nomem(mas) -> bool:
    """No blocking retry in Python: an -ENOMEM stays an error (see the module text)."""
    return False


__all__ = ["mas_store", "mas_store_gfp", "mas_insert", "mas_erase", "mas_destroy", "mas_nomem",
           "mtree_store_range", "mtree_insert_range", "mtree_erase", "STORE_TYPE_COUNTS"]
