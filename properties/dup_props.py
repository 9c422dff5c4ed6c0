# SPDX-License-Identifier: GPL-2.0-or-later
"""Properties of ``dup`` (``__mt_dup``), ``replace`` and the fork simulation.

Every property is a function that returns a list of problems (empty when it
holds), written against the Tree protocol so it runs on the model, our Python
tree and the Linux adapter alike; where a property needs more than the
protocol (node addresses, parent words) it says so and checks our tree only.

* :func:`prop_dup_copies`      the copy has the source's dump, contents, flags, and validates
* :func:`prop_dup_independent` no node shared: writes to either tree leave the other unchanged
                               (our tree: the copy's node addresses are disjoint from the
                               source's and every parent word of the copy points into the copy)
* :func:`prop_dup_enomem`      a failure injected at node k fails iff k <= nodes; the source is
                               untouched, the target empty with its flags, no node leaked
* :func:`prop_replace_one_slot` replace changes exactly one slot (or the bare root) and nothing else
* :func:`prop_fork`            the fork simulation ends with the contents the VMA list predicts,
                               failure marker and teardown included

Helpers for our tree without the protocol layer: :func:`build_pytree` (a
bottom-up builder of a valid tree from a range list, like the kernel tests'
``build_full_tree``), :func:`raw_dump` (the canonical dump of a
:class:`MapleTree`), :func:`node_addrs` and :func:`parent_word_problems`.
"""

from __future__ import annotations

import random
from typing import Iterable, Sequence

from maplecheck.dump import NODE_TYPES, dump_diff, dump_ranges, empty_dump
from maplecheck.tree import ENOMEM, MAX, XA_ZERO_ENTRY, mt_attr, mt_height

Ranges = list[tuple[int, int, object]]

# ------------------------------------------------------------------ our tree, below the protocol


def _mk_ranges(pairs: Iterable[tuple[int, int, object]]) -> Ranges:
    """Complete a sorted list of non-NULL ``(first, last, entry)`` into a full range list."""
    out: Ranges = []
    pos = 0
    for first, last, entry in pairs:
        if first > pos:
            out.append((pos, first - 1, None))
        out.append((first, last, entry))
        pos = last + 1
    if pos <= MAX and (not out or out[-1][1] < MAX):
        out.append((pos, MAX, None))
    return out


def build_pytree(tree, pairs: Iterable[tuple[int, int, object]]) -> None:
    """Fill the empty :class:`MapleTree` ``tree`` with ``pairs`` (sorted, disjoint, non-NULL).

    Builds bottom-up: leaves of up to ``range_slots`` slots (never ending in
    NULL unless right-most, at least ``min_slots + 1`` slots unless
    right-most), then internal levels the same way, with explicit max pivots,
    metadata and (alloc trees) gaps.  The shape differs from what a sequence
    of stores gives; it is a valid tree to copy, not a reference shape.
    """
    from maplecheck.impl.pytree.node import (ma_set_meta, maple_leaf_64, mt_mk_root)

    assert tree.ma_root is None
    pairs = list(pairs)
    if not pairs:
        return
    if len(pairs) == 1 and pairs[0][:2] == (0, 0) and pairs[0][2] & 3 != 2:
        tree.ma_root = pairs[0][2]
        return
    alloc = tree.alloc
    geo = alloc.geo
    is_alloc = tree.mt_is_alloc()
    ranges = _mk_ranges(pairs)

    def chunks(items, size, minfill, bad_end):
        out, i, n = [], 0, len(items)
        while n - i > size:
            rest = n - i
            take = size if rest - size >= minfill else (rest + 1) // 2
            if bad_end(items[i + take - 1]):
                take -= 1
            out.append(items[i:i + take])
            i += take
        out.append(items[i:])
        return out

    def finish(enode, node, typ, lasts, lo, hi, gaps):
        npiv = len(node.pivot)
        end = len(lasts) - 1
        for i, last in enumerate(lasts[:npiv]):
            node.pivot[i] = last
        if typ == 3:
            for i, g in enumerate(gaps):
                node.gap[i] = g
            best = 0
            for i in range(end, -1, -1):
                if gaps[i] > gaps[best] or (gaps[i] == gaps[best] and i > best):
                    best = i
            ma_set_meta(node, typ, best, end)
        elif end < len(node.slot) - 1:
            ma_set_meta(node, typ, 0, end)
        return end

    # leaves: (enode, min, max, max_gap)
    level = []
    leaf_groups = chunks(ranges, geo.range_slots, geo.min_slots[1] + 1, lambda r: r[2] is None)
    for grp in leaf_groups:
        enode = alloc.alloc(maple_leaf_64)
        node = alloc.node(enode)
        for i, (_, _, e) in enumerate(grp):
            node.slot[i] = e
        lo, hi = grp[0][0], grp[-1][1]
        finish(enode, node, 1, [r[1] for r in grp], lo, hi, None)
        gap = max([r[1] - r[0] + 1 for r in grp if r[2] is None] or [0])
        level.append((enode, lo, hi, min(gap, MAX)))
    height = 1
    itype = tree.mt_node_type()
    islots = geo.slots[itype]
    while len(level) > 1:
        nxt = []
        for grp in chunks(level, islots, geo.min_slots[itype] + 1, lambda c: False):
            enode = alloc.alloc(itype)
            node = alloc.node(enode)
            for i, (child, _, _, _) in enumerate(grp):
                node.slot[i] = child
                alloc.node(child).parent = (enode & ~0xFF) | (i << 3) | 0x06
            gaps = [c[3] for c in grp] if is_alloc else None
            finish(enode, node, itype, [c[2] for c in grp], grp[0][1], grp[-1][2], gaps)
            nxt.append((enode, grp[0][1], grp[-1][2], max(c[3] for c in grp)))
        level = nxt
        height += 1
    root = level[0][0]
    alloc.node(root).parent = tree.addr | 1
    tree.ma_root = mt_mk_root(root)
    tree.mt_set_height(height)


def _walk_nodes(tree):
    """(enode, min, max, parent_slot, depth) of every node of a :class:`MapleTree`, pre-order."""
    from maplecheck.impl.pytree.node import ma_data_end, mte_safe_root
    root = tree.ma_root
    if root is None or root & 3 != 2:  # a bare root entry never ends in 10
        return
    nodes = tree.alloc.nodes
    stack = [(mte_safe_root(root), 0, MAX, None, 1)]
    while stack:
        enode, lo, hi, pslot, depth = stack.pop()
        yield enode, lo, hi, pslot, depth
        t = (enode >> 3) & 0xF
        if t < 2:
            continue
        node = nodes[enode >> 8]
        end = ma_data_end(node, t, hi)
        kids = []
        clo = lo
        for i in range(end + 1):
            chi = node.pivot[i] if i < len(node.pivot) else hi
            kids.append((node.slot[i], clo, chi, i, depth + 1))
            clo = chi + 1
        stack.extend(reversed(kids))


def raw_dump(tree) -> dict:
    """The canonical dump (maplecheck.dump) of a :class:`MapleTree`."""
    from maplecheck.impl.pytree.node import ma_data_end, ma_meta_gap
    flags = tree.ma_flags
    root = tree.ma_root
    if root is None:
        return empty_dump(mt_attr(flags)) | {"height": mt_height(flags)}
    if root & 3 != 2:
        return {"flags": mt_attr(flags), "height": mt_height(flags),
                "root": {"kind": "entry", "value": root}, "nodes": []}
    nodes = tree.alloc.nodes
    out = []
    index_of = {}
    pending = []  # (dump index, slot offset, child enode)
    for enode, lo, hi, pslot, _ in _walk_nodes(tree):
        t = (enode >> 3) & 0xF
        node = nodes[enode >> 8]
        end = ma_data_end(node, t, hi)
        npiv = min(end + 1, len(node.pivot))
        d = {"type": NODE_TYPES[t], "min": lo, "max": hi, "end": end,
             "pivots": list(node.pivot[:npiv]), "slots": list(node.slot[:end + 1])}
        if t == 3:
            d["gaps"] = list(node.gap[:end + 1])
            d["meta_gap"] = ma_meta_gap(node, t)
        d["parent_slot"] = pslot
        index_of[enode & ~0xFF] = len(out)
        if t >= 2:
            pending.append(d)
        out.append(d)
    for d in pending:
        d["slots"] = [index_of[s & ~0xFF] for s in d["slots"]]
    return {"flags": mt_attr(flags), "height": mt_height(flags), "root": {"kind": "node"},
            "nodes": out}


def node_addrs(tree) -> set[int]:
    """Addresses of every node reachable from a :class:`MapleTree`."""
    return {enode & ~0xFF for enode, *_ in _walk_nodes(tree)}


def parent_word_problems(tree) -> list[str]:
    """Every node's parent word names its real parent and slot (root: ``&tree | 1``)."""
    nodes = tree.alloc.nodes
    probs = []
    parent_of = {}
    for enode, lo, hi, pslot, depth in _walk_nodes(tree):
        addr = enode & ~0xFF
        node = nodes[enode >> 8]
        if node is None:
            probs.append(f"node {addr:#x} [{lo:#x}-{hi:#x}] is reachable but freed")
            continue
        want = (tree.addr | 1) if pslot is None else (parent_of[addr] | (pslot << 3) | 0x06)
        if node.parent != want:
            probs.append(f"node {addr:#x} [{lo:#x}-{hi:#x}] depth {depth}: parent word "
                         f"{node.parent:#x}, expected {want:#x}")
        if (enode >> 3) & 0xF >= 2:
            for child in node.slot:
                if child is not None and child & 4:
                    parent_of.setdefault(child & ~0xFF, addr)
    return probs


# ------------------------------------------------------------------ through the protocol


def raw_tree(tree):
    """The :class:`MapleTree` behind a tree of ours, or None for other implementations."""
    from maplecheck.impl.pytree.mtree import MapleTree
    if isinstance(tree, MapleTree):
        return tree
    for name in ("mt", "_mt", "tree", "_tree", "raw", "maple"):
        inner = getattr(tree, name, None)
        if isinstance(inner, MapleTree):
            return inner
    return None


def is_model(tree) -> bool:
    """Is ``tree`` the specification (ranges only, no nodes)?"""
    from maplecheck.model.mtree import ModelTree
    return isinstance(tree, ModelTree)


def contents(tree) -> Ranges:
    """Every range of ``tree`` (NULL ranges included), left to right."""
    if is_model(tree):
        return [tuple(r) for r in tree.ranges()]
    return [tuple(r) for r in dump_ranges(tree.dump())]


def tree_state(tree) -> dict:
    """What two trees must agree on: the dump (concrete) or the ranges (model), and the flags."""
    if is_model(tree):
        return {"ranges": contents(tree), "flags": tree.flags()}
    return {"dump": tree.dump(), "flags": tree.flags()}


def _state_diff(a: dict, b: dict, names=("a", "b")) -> str | None:
    if a == b:
        return None
    if a["flags"] != b["flags"]:
        return f"flags {names[0]}={a['flags']:#x} {names[1]}={b['flags']:#x}"
    if "dump" in a:
        return dump_diff(a["dump"], b["dump"], names)
    for x, y in zip(a["ranges"], b["ranges"]):
        if x != y:
            return f"ranges differ: {names[0]} {x} vs {names[1]} {y}"
    return f"range counts {len(a['ranges'])} vs {len(b['ranges'])}"


def build(factory, flags: int, pairs: Iterable[tuple[int, int, object]]):
    """A tree of ``factory`` holding ``pairs``, stored in order with ``store_range``."""
    t = factory.create(flags)
    for first, last, entry in pairs:
        ret = t.store_range(first, last, entry)
        if ret:
            raise AssertionError(f"store_range({first:#x}, {last:#x}) = {ret}")
    return t


def node_count(tree) -> int:
    """Nodes in a concrete tree (from its dump); the model has none."""
    if is_model(tree):
        return 0
    return len(tree.dump()["nodes"])


def prop_dup_copies(src) -> list[str]:
    """dup() succeeds; the copy has the source's dump (contents for the model) and flags and validates."""
    probs = []
    before = tree_state(src)
    ret, copy = src.dup()
    try:
        if ret != 0:
            return [f"dup returned {ret}"]
        d = _state_diff(before, tree_state(copy), ("source", "copy"))
        if d:
            probs.append(f"copy differs from source: {d}")
        if contents(copy) != contents(src):
            probs.append("copy contents differ from the source's")
        if copy.height() != src.height():
            probs.append(f"height {copy.height()} != {src.height()}")
        v = copy.validate()
        if v:
            probs.append(f"copy does not validate: {v[:3]}")
        d = _state_diff(before, tree_state(src), ("before", "after"))
        if d:
            probs.append(f"dup changed the source: {d}")
        raw = raw_tree(copy)
        if raw is not None:
            probs += [f"copy: {p}" for p in parent_word_problems(raw)]
    finally:
        copy.destroy()
    return probs


def _default_writes(src) -> list[tuple]:
    """A few writes that touch every leaf's neighbourhood: overwrite, NULL, a new range."""
    rs = [r for r in contents(src) if r[2] is not None]
    ws: list[tuple] = []
    if rs:
        for r in (rs[0], rs[len(rs) // 2], rs[-1]):
            ws.append(("store_range", r[0], r[1], 0x7770))
        ws.append(("store_range", rs[len(rs) // 3][0], rs[len(rs) // 3][1], None))
    ws.append(("store_range", MAX - 100, MAX - 50, 0x7774))
    ws.append(("store_range", 0, 0, 0x7778))
    return ws


def prop_dup_independent(src, writes: Sequence[tuple] | None = None) -> list[str]:
    """No node shared: writes to the copy leave the source unchanged and vice versa.

    For our tree also: the copy's node addresses are disjoint from the
    source's, and every parent word of the copy points into the copy.
    """
    probs = []
    writes = list(writes) if writes is not None else _default_writes(src)
    ret, copy = src.dup()
    try:
        if ret != 0:
            return [f"dup returned {ret}"]
        rs, rc = raw_tree(src), raw_tree(copy)
        if rs is not None and rc is not None:
            shared = node_addrs(rs) & node_addrs(rc)
            if shared:
                probs.append(f"{len(shared)} node(s) shared, e.g. {min(shared):#x}")
            probs += [f"copy: {p}" for p in parent_word_problems(rc)]
        src_before = tree_state(src)
        for name, *args in writes:
            getattr(copy, name)(*args)
        d = _state_diff(src_before, tree_state(src), ("before", "after"))
        if d:
            probs.append(f"writing the copy changed the source: {d}")
        copy_before = tree_state(copy)
        for name, *args in writes:  # the same writes with other pointer words
            *head, e = args
            getattr(src, name)(*head, e + 0x100 if isinstance(e, int) and e & 3 == 0 else e)
        d = _state_diff(copy_before, tree_state(copy), ("before", "after"))
        if d:
            probs.append(f"writing the source changed the copy: {d}")
        for t, name in ((src, "source"), (copy, "copy")):
            v = t.validate()
            if v:
                probs.append(f"{name} does not validate after the writes: {v[:3]}")
    finally:
        copy.destroy()
    return probs


def dup_fail_points(n: int, exhaustive_up_to: int = 64, samples: int = 24,
                    rng: random.Random | None = None) -> list[int]:
    """The allocation indices to fail for a source of ``n`` nodes: 1..n+1, sampled when large."""
    if n + 1 <= exhaustive_up_to:
        return list(range(1, n + 2))
    rng = rng or random.Random(n)
    pts = {1, 2, n, n + 1} | set(rng.sample(range(1, n + 2), min(samples, n + 1)))
    return sorted(pts)


def prop_dup_enomem(factory, src, points: Iterable[int] | None = None) -> list[str]:
    """Failure injected at node k of a dup (k = 1..nodes+1).

    ret is -ENOMEM iff k <= nodes in the source dump; the source is unchanged;
    on failure the target is empty with the source's attributes (height 0);
    on success it equals the source; the live node count is back to its
    baseline once the (failed) copy is destroyed, and never above baseline
    after a failure (no leak even before destroy).
    """
    probs = []
    before = tree_state(src)
    n = node_count(src)
    if points is None:
        points = dup_fail_points(n)
    base = factory.live_nodes()
    for k in points:
        ret, copy = src.dup(k)
        expect = -ENOMEM if k <= n else 0
        if ret != expect:
            probs.append(f"k={k}/{n}: dup returned {ret}, expected {expect}")
        d = _state_diff(before, tree_state(src), ("before", f"after dup(fail_at={k})"))
        if d:
            probs.append(f"k={k}: source changed: {d}")
        if ret == -ENOMEM:
            live = factory.live_nodes()
            if live != base:
                probs.append(f"k={k}: live nodes {live} after the failed dup, baseline {base}")
            want_flags = mt_attr(src.flags())
            if copy.flags() != want_flags:
                probs.append(f"k={k}: target flags {copy.flags():#x}, expected {want_flags:#x}")
            if not is_model(copy):
                d = dump_diff(empty_dump(want_flags), copy.dump(), ("empty", "target"))
                if d:
                    probs.append(f"k={k}: target not empty: {d}")
            elif contents(copy) != [(0, MAX, None)]:
                probs.append(f"k={k}: target not empty")
        elif ret == 0:
            d = _state_diff(before, tree_state(copy), ("source", "copy"))
            if d:
                probs.append(f"k={k}: copy differs: {d}")
        copy.destroy()
        live = factory.live_nodes()
        if live != base:
            probs.append(f"k={k}: live nodes {live} after destroy, baseline {base}")
            base = live
        if len(probs) > 8:
            break
    return probs


def prop_replace_one_slot(tree, index: int, entry) -> list[str]:
    """replace(index, entry) on a concrete tree: on success exactly one slot changes.

    The dump after differs from the dump before only in the leaf slot holding
    ``index`` (or, on a root-pointer tree, only the bare root value, unless
    the entry must expand the root); old is the previous content.  On error
    nothing changes.  The walk of every other index is unchanged.
    """
    probs = []
    d0 = tree.dump()
    w0 = tree.walk(index)
    ret, old = tree.replace(index, entry)
    d1 = tree.dump()
    if ret != 0:
        if d0 != d1:
            probs.append(f"replace failed ({ret}) but changed the tree: {dump_diff(d0, d1)}")
        if old is not None:
            probs.append(f"replace failed ({ret}) but returned old={old!r}")
        return probs
    if old != w0.entry:
        probs.append(f"old {old!r} != walked entry {w0.entry!r}")
    if d0["root"]["kind"] == "entry":
        if entry & 3 == 2:
            if d1["root"]["kind"] != "node" or dump_ranges(d1)[0] != (0, 0, entry):
                probs.append("root-pointer replace with an internal entry did not expand")
        elif d1 != d0 | {"root": {"kind": "entry", "value": entry}}:
            probs.append(f"root-pointer replace changed more than the root: {dump_diff(d0, d1)}")
        return probs
    # exactly one slot of one leaf, the one covering index
    want = [dict(n) for n in d0["nodes"]]
    hit = 0
    for n in want:
        if n["type"] != "leaf_64" or not n["min"] <= index <= n["max"]:
            continue
        lo = n["min"]
        for off in range(n["end"] + 1):
            hi = n["pivots"][off] if off < len(n["pivots"]) else n["max"]
            if lo <= index <= hi:
                n["slots"] = list(n["slots"])
                n["slots"][off] = entry
                hit += 1
                if (lo, hi) != (w0.first, w0.last):
                    probs.append(f"slot range [{lo:#x}, {hi:#x}] != walk range "
                                 f"[{w0.first:#x}, {w0.last:#x}]")
                break
            lo = hi + 1
    if hit != 1:
        probs.append(f"{hit} leaf slots cover index {index:#x}")
    d = dump_diff(d0 | {"nodes": want}, d1, ("expected", "after"))
    if d:
        probs.append(f"replace changed more than one slot: {d}")
    return probs


def replace_cases(tree) -> list[tuple[int, object]]:
    """(index, entry) pairs worth replacing on ``tree``: every kind of range and entry, errors too."""
    rs = contents(tree)
    cases: list[tuple[int, object]] = []
    for i, (lo, hi, e) in enumerate(rs):
        if i % max(1, len(rs) // 12) and i != len(rs) - 1:
            continue
        cases.append((lo, 0x5550 + 4 * i))  # pointer-like
        cases.append((hi, (i << 1) | 1))  # value entry at the range end
    cases += [(rs[0][0], XA_ZERO_ENTRY), (rs[-1][1], 0x402), (rs[0][0], None),
              (MAX, 0x1002), (0, 0x1002)]
    return cases


# ------------------------------------------------------------------ fork


def prop_fork(factory, vmas, fail_copy_at=None, dup_fail_at=None, fail_kind="dup",
              flags=None) -> list[str]:
    """The fork simulation ends with the predicted child contents, marker and teardown included."""
    from maplecheck import fork
    probs = []
    kw = {} if flags is None else {"flags": flags}
    parent = fork.build_parent(factory, vmas, **kw)
    base = factory.live_nodes()
    pstate = tree_state(parent)
    dup_ok = dup_fail_at is None or dup_fail_at > node_count(parent)
    res = fork.dup_mmap(parent, vmas, fail_copy_at=fail_copy_at, dup_fail_at=dup_fail_at,
                        fail_kind=fail_kind)
    exp = fork.expected_fork(vmas, fail_copy_at=fail_copy_at, dup_ok=dup_ok, fail_kind=fail_kind,
                             **kw)
    got = contents(res.child)
    if res.ret != exp.ret:
        probs.append(f"dup_mmap returned {res.ret}, expected {exp.ret}")
    if got != exp.ranges:
        for x, y in zip(got, exp.ranges):
            if x != y:
                probs.append(f"child range {tuple(map(_h, x))} expected {tuple(map(_h, y))}")
                break
        else:
            probs.append(f"child has {len(got)} ranges, expected {len(exp.ranges)}")
    if res.child.flags() & 2 != exp.rcu:
        probs.append(f"child RCU bit {res.child.flags() & 2}, expected {exp.rcu}")
    v = res.child.validate()
    if v:
        probs.append(f"child does not validate: {v[:3]}")
    d = _state_diff(pstate, tree_state(parent), ("before", "after"))
    if d:
        probs.append(f"fork changed the parent: {d}")
    freed = fork.exit_mmap(res.child)
    if freed != exp.freed:
        probs.append(f"exit_mmap freed {[_h(x) for x in freed][:6]}..., expected "
                     f"{[_h(x) for x in exp.freed][:6]}...")
    if factory.live_nodes() != base:
        probs.append(f"live nodes {factory.live_nodes()} after exit_mmap, baseline {base}")
    fork.exit_mmap(parent)
    return probs


def _h(x):
    return hex(x) if isinstance(x, int) else x


def run_all(factory, flags: int, pairs, replace_points: int = 12) -> dict[str, list[str]]:
    """Run every dup/replace property on one source; returns {property: problems}."""
    out = {}
    src = build(factory, flags, pairs)
    try:
        out["dup_copies"] = prop_dup_copies(src)
        out["dup_enomem"] = prop_dup_enomem(factory, src)
        if not is_model(src):
            probs = []
            for index, entry in replace_cases(src)[:replace_points * 2 + 5]:
                probs += prop_replace_one_slot(src, index, entry)
            out["replace_one_slot"] = probs
        out["dup_independent"] = prop_dup_independent(src)
    finally:
        src.destroy()
    return out
