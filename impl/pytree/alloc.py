# SPDX-License-Identifier: GPL-2.0-or-later
"""The node allocator: hands out addressed nodes, counts them, refuses on demand.

Every write path and ``__mt_dup`` allocate through one :class:`NodeAllocator`,
so -ENOMEM results and leaks are checked exactly as on Linux, where the
adapter wraps the scaffolding's ``kmem_cache``.

Failure injection mirrors the Linux shim: :meth:`fail_at` arms a counter; every
node requested counts one (a bulk request of n counts n), and the request that
would include the k-th node fails as a whole (bulk requests are all or
nothing).  :meth:`disarm` ends the injection.
"""

from __future__ import annotations

from .node import Geometry, MapleNode, mt_mk_node, mte_to_node
from . import rcu as _rcu


class NodeAllocator:
    """A slab for maple nodes: ``nodes[addr >> 8]`` is the node at ``addr``."""

    __slots__ = ("geo", "nodes", "free", "live", "requested", "_fail_at", "tree_addrs")

    def __init__(self, geo: Geometry) -> None:
        self.geo = geo
        # Addresses start at 0x1000: a root word (enode | 2) must be above
        # MAPLE_RESERVED_RANGE (4096) for xa_is_node() to see a node, as every
        # kernel node address is.  Indices 0..15 stay unused (0 is NULL).
        self.nodes: list[MapleNode | None] = [None] * 16
        self.free: list[int] = []
        self.live = 0
        self.requested = 0
        self._fail_at: int | None = None
        self.tree_addrs = 0

    # -- failure injection
    def fail_at(self, k: int | None) -> None:
        """Refuse the k-th node requested from now on (counting from 1)."""
        self.requested = 0
        self._fail_at = k

    def disarm(self) -> None:
        self._fail_at = None

    def _refuse(self, count: int) -> bool:
        k = self._fail_at
        first = self.requested + 1
        self.requested += count
        return k is not None and first <= k <= self.requested

    # -- allocation
    def new_tree_addr(self) -> int:
        """An address for a ``struct maple_tree`` (disjoint from node addresses)."""
        self.tree_addrs += 1
        return (1 << 63) | (self.tree_addrs << 8)

    def _take(self, type: int) -> int:
        node = MapleNode(self.geo, type)
        if self.free:
            idx = self.free.pop()
            self.nodes[idx] = node
        else:
            idx = len(self.nodes)
            self.nodes.append(node)
        self.live += 1
        return mt_mk_node(idx << 8, type)

    def alloc(self, type: int) -> int | None:
        """One zeroed node of ``type``; returns its enode, or None when refused."""
        if self._refuse(1):
            return None
        return self._take(type)

    def alloc_bulk(self, types: list[int]) -> list[int] | None:
        """``len(types)`` nodes at once, or None (and nothing allocated) when refused."""
        if self._refuse(len(types)):
            return None
        return [self._take(t) for t in types]

    def node(self, enode: int) -> MapleNode:
        return self.nodes[enode >> 8]

    def free_node(self, enode: int) -> None:
        """Free a node; with an RCU scheduler installed, queue it for its grace period."""
        sched = _rcu.SCHED
        if sched is not None:
            sched.queue(self, enode)
            return
        self.free_now(enode)

    def free_now(self, enode: int) -> None:
        """kmem_cache_free(): the node's memory is gone (its slot reads None)."""
        idx = enode >> 8
        if self.nodes[idx] is None:
            raise AssertionError(f"double free of node {mte_to_node(enode):#x}")
        self.nodes[idx] = None
        self.free.append(idx)
        self.live -= 1
