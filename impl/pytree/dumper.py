# SPDX-License-Identifier: GPL-2.0-or-later
"""The canonical dump (maplecheck.dump) of a Python maple tree.

Nodes in DFS pre-order from the root with min/max from the walk, the data end
from the node (``ma_data_end``), ``pivots[0..end]`` as stored (the implied max
of a full node is not added), slots up to the end, gaps and ``meta.gap`` for
arange nodes, and ``parent_slot`` = the slot the walk came through (as the
Linux shim reports it).
"""

from __future__ import annotations

from maplecheck.dump import NODE_TYPES
from maplecheck.tree import MAX, mt_attr, xa_is_node

from .node import ma_data_end, mte_node_type


def dump_tree(tree) -> dict:
    root = tree.ma_root
    out = {"flags": mt_attr(tree.ma_flags), "height": tree.mt_height()}
    nodes: list[dict] = []
    if root is None:
        out["root"] = {"kind": "empty"}
    elif not xa_is_node(root):
        out["root"] = {"kind": "entry", "value": root}
    else:
        out["root"] = {"kind": "node"}
        _dump_node(tree, root & ~2, 0, MAX, None, nodes)
    out["nodes"] = nodes
    return out


def _dump_node(tree, enode: int, lo: int, hi: int, pslot, nodes: list) -> int:
    node = tree.alloc.nodes[enode >> 8]
    type = mte_node_type(enode)
    end = ma_data_end(node, type, hi)
    npiv_max = len(node.pivot)
    npiv = end + 1 if end < npiv_max else npiv_max
    me = len(nodes)
    d = {"type": NODE_TYPES[type], "min": lo, "max": hi, "end": end,
         "pivots": list(node.pivot[:npiv])}
    nodes.append(d)
    if type < 2:
        d["slots"] = [s or None for s in node.slot[:end + 1]]
    if type == 3:
        d["gaps"] = list(node.gap[:end + 1])
        d["meta_gap"] = node.meta_gap
    d["parent_slot"] = pslot
    if type >= 2:
        kids = []
        cmin = lo
        for i in range(end + 1):
            cmax = node.pivot[i] if i < npiv_max else hi
            kids.append(_dump_node(tree, node.slot[i], cmin, cmax, i, nodes))
            cmin = cmax + 1
        d["slots"] = kids
    return me
