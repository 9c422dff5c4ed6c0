# SPDX-License-Identifier: GPL-2.0-or-later
"""Hand-made concurrency bugs for lib/maple_tree.c, for the RCU explorer to find.

``RCU_PATCHES[name]`` rewrites the text of a kernel's ``lib/maple_tree.c``
(6.12 or 7.x: each patch finds its place in either) and ``RCU_CASES[name]``
is a small targeted case that exposes it.  The tests build the mutated tree
with ``tests/kernel_mutants.mutant_tree(stock, dest, RCU_PATCHES[name])``.

* ``spanning-free-now``: a spanning store frees the nodes it replaced when
  the write ends (the non-RCU recycling path) instead of after a grace period;
  a reader still walking them reads freed memory (ASan: use-after-free).
  6.12: around ``mas_wmb_replace`` in ``mas_spanning_rebalance`` (RCU mode
  is switched off for that call); 7.x, which frees every replaced node
  through ``kfree_rcu`` whatever the mode: ``mas_topiary_node`` frees the
  node to its cache at once.
* ``split-parent-late``: in RCU mode the new children of a split get their
  parent pointers only right after the new parent is published (the stores
  are held back and made after ``mas_put_in_tree`` in ``mas_topiary_replace``,
  so the tree still ends valid), and a reader that reaches a new child in
  that window and climbs through ``mte_parent`` follows a parent word not yet
  set.  6.12: the stores of the split's ``mas_set_split_parent``; 7.x (the
  maple_copy path, which splits, rebalances and spans alike): the parents
  ``node_copy`` sets for the children it copies out of the ``maple_copy`` node.
* ``no-dead-recheck``: the reader's step to the next node (``mas_next_node``)
  uses the parent's pivots and slots without re-checking that the node died
  meanwhile (the same code in 6.12 and 7.x).  A dead node is queued with
  ``call_rcu``, whose head lies over its pivots 0 and 1 (the scheduler's
  ``call_rcu`` writes the head as every ``call_rcu`` does): a reader that
  climbed into the old root from its first child before a split of a far
  leaf replaced the root, and resumes after the writer queued the old root,
  takes the second child's upper limit from the callback word; the range
  that ends at that limit comes back with a pointer value as its last index.
"""

from __future__ import annotations

import contextlib

from maplecheck.tree import MAX

from .rcu import RcuCase


def _first_after(text: str, funcs: tuple[str, ...], old: str, within: int = 12000) -> tuple[int, int]:
    """(start, end) of the first ``old`` after the first of ``funcs`` the text defines."""
    for func in funcs:
        start = text.find(func)
        if start < 0:
            continue
        i = text.find(old, start)
        assert 0 <= i - start < within, f"{func}: {old!r} not where expected"
        return i, i + len(old)
    raise AssertionError(f"none of {funcs} in this maple_tree.c")


def _patch_spanning_free_now(text: str) -> str:
    if "static void mas_spanning_rebalance(" not in text:
        # 7.x frees every replaced node through kfree_rcu, RCU mode or not: free at once instead
        i, j = _first_after(text, ("static inline void mas_topiary_node(",), "ma_free_rcu(tmp);", within=600)
        return text[:i] + "kmem_cache_free(maple_node_cache, tmp);" + text[j:]
    i, j = _first_after(text, ("static void mas_spanning_rebalance(",), "mas_wmb_replace(mas, ")
    end = text.index(";", j) + 1
    call = text[i:end]
    new = ("{ bool mc_rcu = mt_in_rcu(mas->tree); mas->tree->ma_flags &= ~MT_FLAGS_USE_RCU; "
           f"{call} if (mc_rcu) mas->tree->ma_flags |= MT_FLAGS_USE_RCU; }}")
    return text[:i] + new + text[end:]


#: C added to the kernel file by split-parent-late: parent-pointer stores a split
#: makes in RCU mode are held back and made right after the publication
_LATE_PARENTS = """
/* maplecheck mutant split-parent-late: in RCU mode, the new children's parent
 * pointers are set only after the new parent is published. */
struct mc_late_parent {
	struct ma_state *mas;
	struct maple_enode *parent;
	struct maple_enode *child;	/* one child (6.12) */
	void __rcu **slots;		/* or a run of them (7.x) */
	unsigned char start, count;
};
static struct mc_late_parent mc_late[64];
static int mc_nlate;

static void mc_late_parents_now(void)
{
	while (mc_nlate > 0) {
		struct mc_late_parent *l = &mc_late[--mc_nlate];

		%(set)s
	}
}
"""

#: per kernel generation: the parent store a split makes and how the mutant makes it late
_LATE_SET_612 = "mas_set_parent(l->mas, l->child, l->parent, l->start);"
_LATE_SET_7 = "mas_set_parent_slots(l->mas, l->parent, l->slots, l->start, l->count);"


def _patch_split_parent_late(text: str) -> str:
    """Hold a split's parent-pointer stores back until after ``mas_put_in_tree`` (the
    publication) in ``mas_topiary_replace``: the tree ends valid, but a reader in the
    window reaches new children whose parent word is not set yet."""
    six = "static inline void mas_set_split_parent(" in text
    block = _LATE_PARENTS % {"set": _LATE_SET_612 if six else _LATE_SET_7}
    if six:  # 6.12: each child of a split internal node, in mas_set_split_parent
        start = text.index("static inline void mas_set_split_parent(")
        end = text.index("\n}\n", start)
        seg = text[start:end]
        for side, slot in (("left", "*slot"), ("right", "(*slot) - split - 1")):
            old = f"mas_set_parent(mas, mas->node, {side}, {slot});"
            assert old in seg, old
            seg = seg.replace(old, (
                f"{{ if (mt_in_rcu(mas->tree) && mc_nlate < 64) mc_late[mc_nlate++] = "
                f"(struct mc_late_parent){{ mas, {side}, mas->node, NULL, {slot}, 1 }}; "
                f"else {old} }}"))
        text = text[:start] + block + seg + text[end:]
    else:  # 7.x: the children node_copy copies out of the maple_copy node
        old = "mas_set_parent_slots(mas, mt_mk_node(dst, d_mt),\n\t\t\t\t     d_slots, d_start, size);"
        i, j = _first_after(text, ("unsigned long node_copy(",), old, within=1500)
        late = ("{ if (mt_in_rcu(mas->tree) && mc_nlate < 64) mc_late[mc_nlate++] = "
                "(struct mc_late_parent){ mas, mt_mk_node(dst, d_mt), NULL, d_slots, d_start, size }; "
                "else " + old + " }")
        text = text[:i] + late + text[j:]
        top = text.index("static inline void mas_topiary_replace(")
        text = text[:top] + block + text[top:]
    i, j = _first_after(text, ("static inline void mas_topiary_replace(",), "mas_put_in_tree(mas, old_enode",
                        within=600)
    end = text.index(";", j) + 1
    return text[:end] + " mc_late_parents_now();" + text[end:]


def _patch_no_dead_recheck(text: str) -> str:
    start = text.index("static int mas_next_node(")
    end = text.index("\n}\n", start)
    seg = text[start:end]
    assert seg.count("if (unlikely(ma_dead_node(node)))") >= 1, "mas_next_node has no dead-node check"
    seg = seg.replace("if (unlikely(ma_dead_node(node)))", "if (0 && ma_dead_node(node))")
    return text[:start] + seg + text[end:]


RCU_PATCHES = {
    "spanning-free-now": _patch_spanning_free_now,
    "split-parent-late": _patch_split_parent_late,
    "no-dead-recheck": _patch_no_dead_recheck,
}


def _ladder(n: int) -> list[tuple]:
    return [("set_rcu", 0, True)] + [("store_range", 0, i * 10, i * 10 + 5, 2 * i + 1) for i in range(n)]


#: a small case per mutant: exhaustive exploration with a small bound finds it
RCU_CASES = {
    "spanning-free-now": RcuCase(0, _ladder(40), [("store_range", 0, 95, 255, 999)],
                                 [[("load", 0, 300)]]),
    # the append that splits a leaf of a full root: the root splits too (height 2 -> 3)
    "split-parent-late": RcuCase(0, _ladder(127), [("store_range", 0, 1270, 1275, 255)],
                                 [[("mas_set", 0, 1200)] + [("mas_next", 0, MAX)] * 16]),
    "no-dead-recheck": RcuCase(0, _ladder(31), [("store_range", 0, 292, 294, 999)],
                               [[("mas_set", 0, 30)] + [("mas_next_range", 0, MAX)] * 24]),
}


# ------------------------------------------------------------------ our Python tree
#
# The same kind of bugs planted in our tree's write paths, for the Python
# runner (``rcu_pytree``): a prototype of a write path is checked the same way.
#
# * ``py-free-now``: a replaced node is freed to the allocator at once in RCU
#   mode (no grace period); a reader whose cursor still stands on it reads a
#   freed node.
# * ``py-slot-store-pivot-first``: a slot store that overwrites a range and
#   part of the next one moves the pivot before it stores the new entry, so a
#   reader between the two reads the old entry over indices it never covered.


def _py_free_now():
    from maplecheck.impl.pytree import nav, topiary

    def mas_free(mas, enode):
        if mas.tree.ma_flags & 2:
            mas.tree.alloc.free_now(enode)
        else:
            nav.mas_push_node(mas, enode)
    return [(nav, "mas_free", mas_free), (topiary, "mas_free", mas_free)]


def _py_slot_store_pivot_first():
    from maplecheck.impl.pytree import write
    from maplecheck.impl.pytree.gaps_update import mas_update_gap
    from maplecheck.impl.pytree.rcu import rcu_point

    real = write.mas_wr_slot_store

    def mas_wr_slot_store(wr):
        mas = wr.mas
        offset = mas.offset
        if wr.offset_end - offset != 1 or mas.index != wr.r_min:
            return real(wr)
        slots = wr.slots
        gap = not slots[offset] or not slots[offset + 1]
        wr.pivots[offset] = mas.last
        rcu_point("assign")
        slots[offset] = wr.entry
        rcu_point("assign")
        if not wr.entry or gap:
            mas_update_gap(mas)
    return [(write, "mas_wr_slot_store", mas_wr_slot_store)]


PY_RCU_PATCHES = {
    "py-free-now": _py_free_now,
    "py-slot-store-pivot-first": _py_slot_store_pivot_first,
}

PY_RCU_CASES = {
    "py-free-now": RcuCase(0, _ladder(10), [("store_range", 0, 12, 13, 999)],
                           [[("mas_set", 0, 0)] + [("mas_next", 0, MAX)] * 4]),
    "py-slot-store-pivot-first": RcuCase(0, _ladder(10), [("store_range", 0, 10, 17, 999)],
                                         [[("load", 0, 17)]]),
}


@contextlib.contextmanager
def py_rcu_mutant(name: str):
    """Plant ``PY_RCU_PATCHES[name]`` in our tree for the duration of the block."""
    patches = PY_RCU_PATCHES[name]()
    saved = [(mod, attr, getattr(mod, attr)) for mod, attr, _ in patches]
    for mod, attr, new in patches:
        setattr(mod, attr, new)
    try:
        yield
    finally:
        for mod, attr, old in saved:
            setattr(mod, attr, old)
