# SPDX-License-Identifier: GPL-2.0-or-later
"""Hand-made concurrency bugs in a copy of lib/maple_tree.c, for the RCU explorer to find.

``make_rcu_mutant(stock, dest, name)`` builds a kernel tree of symlinks to
``stock`` with only ``lib/maple_tree.c`` patched (as the Linux campaign test
does), and ``RCU_CASES[name]`` is a small targeted case that exposes it.

* ``spanning-free-now``: a spanning store frees the nodes it replaced when
  the write ends (the non-RCU recycling path) instead of after a grace period;
  a reader still walking them reads freed memory (ASan: use-after-free).
* ``split-parent-late``: a split publishes the new parent before the new
  children's parent pointers point at it (they still point at the node being
  replaced until the adoption pass runs, which is moved after the old node is
  freed to the grace period).
* ``no-dead-recheck``: the reader's step to the next node uses the parent's
  pivots without re-checking that the parent died meanwhile.
"""

from __future__ import annotations

import re
from pathlib import Path

from maplecheck.tree import MAX

from .rcu import RcuCase


def _patch_spanning_free_now(text: str) -> str:
    start = text.index("static void mas_spanning_rebalance(")
    i = text.index("mas_wmb_replace(mas, old_enode);", start)
    new = ("{ bool mc_rcu = mt_in_rcu(mas->tree); mas->tree->ma_flags &= ~MT_FLAGS_USE_RCU; "
           "mas_wmb_replace(mas, old_enode); "
           "if (mc_rcu) mas->tree->ma_flags |= MT_FLAGS_USE_RCU; }")
    return text[:i] + new + text[i + len("mas_wmb_replace(mas, old_enode);"):]


def _patch_split_parent_late(text: str) -> str:
    # mas_set_split_parent() sets a new child's parent pointer: make it a no-op,
    # so the new children keep whatever parent they had (the node being split)
    start = text.index("static inline void mas_set_split_parent(")
    body = text.index("{", start)
    return text[:body + 1] + "\n\tif (mt_in_rcu(mas->tree)) return;" + text[body + 1:]


def _patch_no_dead_recheck(text: str) -> str:
    start = text.index("static int mas_next_node(")
    end = text.index("\n}\n", start)
    seg = text[start:end]
    n = seg.count("if (unlikely(ma_dead_node(node)))")
    assert n >= 1, "mas_next_node no longer checks ma_dead_node as expected"
    seg = seg.replace("if (unlikely(ma_dead_node(node)))", "if (0 && ma_dead_node(node))")
    return text[:start] + seg + text[end:]


PATCHES = {
    "spanning-free-now": _patch_spanning_free_now,
    "split-parent-late": _patch_split_parent_late,
    "no-dead-recheck": _patch_no_dead_recheck,
}


def make_rcu_mutant(stock: Path, dest: Path, name: str) -> Path:
    """A kernel tree identical to ``stock`` but for mutant ``name`` in lib/maple_tree.c."""
    stock, dest = Path(stock), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for top in stock.iterdir():
        if top.name != "lib":
            (dest / top.name).symlink_to(top)
    (dest / "lib").mkdir()
    for f in (stock / "lib").iterdir():
        if f.name != "maple_tree.c":
            (dest / "lib" / f.name).symlink_to(f)
    text = (stock / "lib/maple_tree.c").read_text()
    (dest / "lib/maple_tree.c").write_text(PATCHES[name](text))
    return dest


def _ladder(n: int) -> list[tuple]:
    return [("set_rcu", 0, True)] + [("store_range", 0, i * 10, i * 10 + 5, 2 * i + 1) for i in range(n)]


#: a small case per mutant: exhaustive exploration with a small bound finds it
RCU_CASES = {
    "spanning-free-now": RcuCase(0, _ladder(40), [("store_range", 0, 95, 255, 999)],
                                 [[("load", 0, 300)]]),
    "split-parent-late": RcuCase(0, _ladder(31), [("store_range", 0, 151, 152, 999)],
                                 [[("mas_set", 0, 120), ("mas_next", 0, MAX), ("mas_next", 0, MAX),
                                   ("mas_next", 0, MAX), ("mas_next", 0, MAX)]]),
    "no-dead-recheck": RcuCase(0, _ladder(40), [("store_range", 0, 101, 103, 999)],
                               [[("mas_set", 0, 140), ("mas_next", 0, MAX), ("mas_next", 0, MAX)]]),
}
