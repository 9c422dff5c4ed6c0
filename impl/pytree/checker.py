# SPDX-License-Identifier: GPL-2.0-or-later
"""Incremental checking of our tree: validate and hash only what a write touched.

A write changes the nodes on the path to the range it wrote, allocates new
nodes (splits, rebalances, pushes into a sibling), rewrites the parent word
of the children those new nodes adopt and the gaps up to the root.
:class:`WriteChecker` remembers, per node address, the node object, the range
and parent slot it was reached with and its structure hash, as of the last
check.  After a write to ``[first, last]`` it descends from the root into:

* every child whose range meets ``[first - 1, last + 1]``;
* every child that is a new object, or is reached with another range or
  parent slot than last time;
* every child of a node that is itself new (its parent word was rewritten);

and runs on each visited node the validator's own per-node checks
(:func:`~maplecheck.impl.pytree.validate.check_node`: pivots, limits, data
end, parent slot, children's parent words, gaps, metadata), the NULL rule on
the visited leaves and their neighbours' adjoining entries, and recomputes
the visited nodes' hashes bottom-up (the others keep theirs), giving the
tree's canonical hash (:mod:`maplecheck.hashing`), the one the C shim
computes.  A visited node whose check inputs (its fields, range, parent's
slots and gaps, children's parent words) are the same as at an earlier check
that passed is not checked again: the checks are pure functions of those.
:meth:`WriteChecker.full` checks and hashes everything and
refreshes the memory; callers run it at the end of each example and every N
writes, so anything the rule above misses is still caught.
"""

from __future__ import annotations

from maplecheck.hashing import node_hash, tree_hash
from maplecheck.tree import MAX, mt_attr, xa_is_node

from .node import ma_data_end, ma_is_root_parent, ma_parent_addr, mte_node_type
from .validate import _collect, check_node, check_nulls, live_child, validate_tree


class WriteChecker:
    """The memory of one tree's last check; see the module docstring."""

    __slots__ = ("mt", "seen", "clean")

    #: at most this many remembered clean node checks (then the memory starts afresh)
    CLEAN_MAX = 1 << 15

    def __init__(self, mt) -> None:
        self.mt = mt
        self.seen: dict[int, tuple] = {}  # enode -> (node object, lo, hi, pslot, hash)
        self.clean: set = set()  # inputs of node checks that passed (see _node_inputs)

    # ------------------------------------------------------------ entry points
    def full(self) -> tuple[list[str], int]:
        """Validate every node; hash every node; remember them all."""
        problems = validate_tree(self.mt)
        self.seen = {}
        if not problems:
            return problems, self._hash_all()
        return problems, 0

    def after_write(self, first: int, last: int) -> tuple[list[str], int]:
        """Validate and re-hash what a write to ``[first, last]`` can have touched."""
        mt = self.mt
        root = mt.ma_root
        if root is None or not xa_is_node(root):
            self.seen = {}
            return [], self._tree_hash(0)
        out: list[str] = []
        lo_w = first - 1 if first else 0
        hi_w = last + 1 if last < MAX else MAX
        visited = self._descend(lo_w, hi_w, out)
        if out:
            return out, 0
        clean = self.clean
        if len(clean) > self.CLEAN_MAX:
            clean.clear()
        for enode, lo, hi, path, _d in visited:
            key = self._node_inputs(enode, lo, hi)
            if key in clean:
                continue  # check_node is a pure function of these inputs, and they passed
            before = len(out)
            check_node(mt, enode, lo, hi, path, out)
            if len(out) == before:
                clean.add(key)
        leaves = [x for x in visited if mte_node_type(x[0]) < 2]
        if leaves:
            self._check_leaf_nulls(leaves, out)
        if out:
            return out, 0
        return out, self._rehash(visited)

    # ------------------------------------------------------------ the descent
    def _descend(self, lo_w: int, hi_w: int, out: list[str]) -> list[tuple]:
        """Pre-order list of (enode, lo, hi, path, depth) of the nodes to check."""
        nodes = self.mt.alloc.nodes
        seen = self.seen

        def want(node, enode, child, i, cmin, cmax) -> bool:
            old = seen.get(enode)
            if old is None or old[0] is not node or (cmin <= hi_w and cmax >= lo_w):
                return True  # a new parent (its children were adopted), or on the written path
            mem = seen.get(child)
            return (mem is None or mem[0] is not nodes[child >> 8] or mem[1] != cmin
                    or mem[2] != cmax or mem[3] != i)

        return _collect(self.mt, out, want)

    def _check_leaf_nulls(self, leaves: list[tuple], out: list[str]) -> None:
        """The NULL rule on each run of visited leaves, with the entries on either side."""
        mt = self.mt
        run = [leaves[0]]
        for x in leaves[1:] + [None]:
            if x is not None and x[1] == run[-1][2] + 1:
                run.append(x)
                continue
            lo, hi = run[0][1], run[-1][2]
            prev = _entry_at(mt, lo - 1) or 0 if lo else 1
            after = (_entry_at(mt, hi + 1) or 0) if hi < MAX else None
            check_nulls(mt, run, out, prev=prev, prev_where=f"index {lo - 1:#x}" if lo else None,
                        after=after)
            if x is not None:
                run = [x]

    def _node_inputs(self, enode: int, lo: int, hi: int) -> tuple:
        """Everything :func:`check_node` reads for this node: its fields, its range, its
        parent's slots and gaps, its children's parent words and the tree's alloc flag."""
        nodes = self.mt.alloc.nodes
        node = nodes[enode >> 8]
        gap = node.gap
        key = [enode, lo, hi, self.mt.ma_flags & 1, node.parent, node.meta_end, node.meta_gap,
               tuple(node.pivot), tuple(node.slot), tuple(gap) if gap is not None else None]
        if not ma_is_root_parent(node.parent):
            pidx = ma_parent_addr(node.parent) >> 8
            pnode = nodes[pidx] if pidx < len(nodes) else None
            if pnode is not None:
                key.append(tuple(pnode.slot))
                key.append(tuple(pnode.gap) if pnode.gap is not None else None)
            else:
                key.append(None)
        if mte_node_type(enode) >= 2:
            key.append(tuple(nodes[c >> 8].parent if live_child(nodes, c) else c
                             for c in node.slot))
        return tuple(key)

    # ------------------------------------------------------------ hashes
    def _node_hash(self, enode: int, lo: int, hi: int, pslot) -> int:
        """This node's hash from its fields and its children's remembered hashes."""
        node = self.mt.alloc.nodes[enode >> 8]
        type = mte_node_type(enode)
        end = ma_data_end(node, type, hi)
        npiv_max = len(node.pivot)
        pivots = node.pivot[:end + 1 if end < npiv_max else npiv_max]
        if type < 2:
            slots = node.slot[:end + 1]
        else:
            seen = self.seen
            slots = [seen[c][4] for c in node.slot[:end + 1]]
        if type == 3:
            return node_hash(type, lo, hi, end, pslot, pivots, slots, node.gap[:end + 1], node.meta_gap)
        return node_hash(type, lo, hi, end, pslot, pivots, slots)

    def _rehash(self, visited: list[tuple]) -> int:
        """Hash the visited nodes children first (reverse pre-order), then the tree."""
        nodes = self.mt.alloc.nodes
        seen = self.seen
        h = 0
        for enode, lo, hi, path, _d in reversed(visited):
            pslot = path[-1] if path else None
            h = self._node_hash(enode, lo, hi, pslot)
            seen[enode] = (nodes[enode >> 8], lo, hi, pslot, h)
        return self._tree_hash(h)

    def _hash_all(self) -> int:
        root = self.mt.ma_root
        if root is None or not xa_is_node(root):
            return self._tree_hash(0)
        return self._rehash(_collect(self.mt, []))

    def _tree_hash(self, root_hash: int) -> int:
        mt = self.mt
        root = mt.ma_root
        kind = 0 if root is None else (2 if xa_is_node(root) else 1)
        return tree_hash(mt_attr(mt.ma_flags), mt.mt_height(), kind, root if kind == 1 else 0,
                         root_hash)


def _entry_at(mt, index: int):
    """The entry of the range holding ``index`` (a plain descent, no cursor)."""
    nodes = mt.alloc.nodes
    enode = mt.ma_root & ~2
    hi = MAX
    while True:
        node = nodes[enode >> 8]
        type = mte_node_type(enode)
        end = ma_data_end(node, type, hi)
        npiv = len(node.pivot)
        i = 0
        while i < end and i < npiv and node.pivot[i] < index:
            i += 1
        if type < 2:
            return node.slot[i]
        if i < npiv:
            hi = node.pivot[i]
        enode = node.slot[i]


def tree_hash_of(mt) -> int:
    """The canonical structure hash of a whole tree (no memory kept)."""
    return WriteChecker(mt)._hash_all()


__all__ = ["WriteChecker", "tree_hash_of"]
