# SPDX-License-Identifier: GPL-2.0-or-later
"""Installing a rebuilt subtree: ``mas_topiary_replace`` / ``mas_wmb_replace``.

1. Publish the new top node (:func:`mas_put_in_tree`), marking the old top dead.
2. Walk down the new subtree along the (up to three per level) new nodes,
   found as the children whose parent word already names their new parent,
   and re-parent every child of each (``mas_adopt_children``): old nodes kept
   in the new tree get their parent words fixed here.
3. Walk down the old subtree along the old nodes that are no longer in the
   tree (children whose parent word still names the old node): a child lying
   wholly inside [index, last] is a dead subtree, destroyed as a whole; the
   others are marked dead and freed one by one.
"""

from __future__ import annotations

from .node import mte_node_type
from .gaps_update import mas_update_gap
from .nav import (mas_adopt_children, mas_find_child, mas_free, mas_put_in_tree,
                  mte_destroy_walk, mte_set_node_dead)
from .state import MaState

MA_NONE = 3

#: MAS_WARN_ON hits (the kernel prints and carries on); tests assert it stays empty
WARNINGS: list[str] = []


def _none(mas) -> MaState:
    s = MaState(mas.tree)
    s.status = MA_NONE
    return s


def mas_topiary_node(mas, tmp, in_rcu: bool) -> None:
    if tmp.status == MA_NONE:
        return
    enode = tmp.node
    mte_set_node_dead(mas, enode)
    mas_free(mas, enode)


def mas_topiary_replace(mas, old_enode, new_height: int | None = None) -> None:
    mas_put_in_tree(mas, old_enode, new_height)
    tmp = [mas.copy(), _none(mas), _none(mas)]
    tmp[0].offset = 0
    tmp_next = [MaState(mas.tree), MaState(mas.tree), MaState(mas.tree)]
    while mte_node_type(tmp[0].node) >= 2:
        n = 0
        for i in range(3):
            if tmp[i].status == MA_NONE:
                continue
            while n < 3:
                if not mas_find_child(tmp[i], tmp_next[n]):
                    break
                n += 1
            mas_adopt_children(tmp[i], tmp[i].node)
        if n == 0:  # the kernel warns and stops here
            WARNINGS.append("topiary: new subtree level without new children")
            break
        while n < 3:
            tmp_next[n].status = MA_NONE
            n += 1
        for i in range(3):
            tmp[i].assign(tmp_next[i])

    if mte_node_type(old_enode) < 2:
        mas_free(mas, old_enode)
        return

    subtrees = []
    tmp = [mas.copy(), _none(mas), _none(mas)]
    tmp[0].offset = 0
    tmp[0].node = old_enode
    in_rcu = bool(mas.tree.ma_flags & 2)
    while True:
        n = 0
        for i in range(3):
            if tmp[i].status == MA_NONE:
                continue
            while n < 3:
                if not mas_find_child(tmp[i], tmp_next[n]):
                    break
                t = tmp_next[n]
                if t.min >= tmp_next[0].index and t.max <= tmp_next[0].last:
                    mte_set_node_dead(mas, t.node)
                    subtrees.append(t.node)
                    t.status = MA_NONE
                else:
                    n += 1
        if n == 0:  # the kernel warns and stops here
            WARNINGS.append("topiary: old subtree level without old children")
            break
        while n < 3:
            tmp_next[n].status = MA_NONE
            n += 1
        for i in range(3):
            mas_topiary_node(mas, tmp[i], in_rcu)
            tmp[i].assign(tmp_next[i])
        if mte_node_type(tmp[0].node) < 2:
            break
    for i in range(3):
        mas_topiary_node(mas, tmp[i], in_rcu)
    for enode in subtrees:
        mte_destroy_walk(mas, enode)


def mas_wmb_replace(mas, old_enode) -> None:
    mas_topiary_replace(mas, old_enode)
    if mte_node_type(mas.node) < 2:
        return
    mas_update_gap(mas)
