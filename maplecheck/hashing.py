# SPDX-License-Identifier: GPL-2.0-or-later
"""Canonical structure and contents hashes, the same in Python and in the C shim.

Two trees are structurally identical iff their canonical dumps are equal
(:mod:`maplecheck.dump`); comparing a 64-bit hash after every write instead of
two whole dumps makes ``--impl both`` cheap, and the dumps are taken and
diffed only when the hashes differ.  ``impl/linux/shim_check.c`` computes the
same words in C (``mc_tree_hash``, ``mc_ranges_hash``).

The mix is FNV-1a over 64-bit words: ``h = (h ^ w) * FNV_PRIME mod 2**64``.

* a node's hash mixes its dump record in dump order — type, min, max, end,
  parent slot (``MAX`` for the root), number of pivots, the pivots, number of
  slots, the slots, and for arange nodes number of gaps, the gaps and the meta
  gap — where an internal node's slot is its child's hash (a Merkle tree, so a
  write changes only the hashes on its path);
* the tree's hash mixes flags, height, root kind (0 empty, 1 entry, 2 node),
  the root entry (0 otherwise) and the root node's hash (0 without one);
* the ranges hash mixes ``(first, last, entry)`` of every range, NULL ranges
  included (NULL is 0), as :func:`maplecheck.dump.dump_ranges` lists them.
"""

from __future__ import annotations

from maplecheck.dump import NODE_TYPES

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK = (1 << 64) - 1
_TYPE_CODE = {name: code for code, name in enumerate(NODE_TYPES)}
ROOT_KINDS = {"empty": 0, "entry": 1, "node": 2}


def mix(h: int, words) -> int:
    """FNV-1a of ``words`` continuing from ``h`` (64-bit)."""
    for w in words:
        h = ((h ^ w) * FNV_PRIME) & MASK
    return h


def node_hash(type_code: int, lo: int, hi: int, end: int, parent_slot: int | None,
              pivots, slots, gaps=None, meta_gap: int = 0) -> int:
    """One node's hash from its dump fields; ``slots`` holds entries (NULL = 0/None)
    for a leaf and the children's hashes for an internal node."""
    h = mix(FNV_OFFSET, (type_code, lo, hi, end, MASK if parent_slot is None else parent_slot,
                         len(pivots)))
    h = mix(h, pivots)
    h = mix(h, (len(slots),))
    h = mix(h, [s or 0 for s in slots])
    if gaps is not None:
        h = mix(h, (len(gaps),))
        h = mix(h, gaps)
        h = mix(h, (meta_gap,))
    return h


def tree_hash(flags: int, height: int, root_kind: int, root_value: int, root_hash: int) -> int:
    """The whole tree's hash from its header and the root node's hash (0 without one)."""
    return mix(FNV_OFFSET, (flags, height, root_kind, root_value or 0, root_hash))


def dump_hash(d: dict) -> int:
    """The structure hash of a canonical dump (what ``mc_tree_hash`` returns for that tree).

    The model's flat dump (no structure) hashes by its flags and ranges.
    """
    if d.get("model"):
        return mix(ranges_hash(d["ranges"]), (d.get("flags", 0),))
    nodes = d.get("nodes") or []
    hashes = [0] * len(nodes)
    for i in range(len(nodes) - 1, -1, -1):  # children follow their parent in pre-order
        n = nodes[i]
        code = _TYPE_CODE[n["type"]]
        slots = n["slots"] if code < 2 else [hashes[c] for c in n["slots"]]
        hashes[i] = node_hash(code, n["min"], n["max"], n["end"], n["parent_slot"], n["pivots"],
                              slots, n.get("gaps") if code == 3 else None, n.get("meta_gap", 0))
    root = d["root"]
    value = root.get("value") or 0 if root["kind"] == "entry" else 0
    return tree_hash(d["flags"], d["height"], ROOT_KINDS[root["kind"]], value,
                     hashes[0] if nodes else 0)


def ranges_hash(ranges) -> int:
    """The contents hash of ``(first, last, entry)`` ranges (what ``mc_ranges_hash`` returns)."""
    h = FNV_OFFSET
    for first, last, entry in ranges:
        h = ((h ^ first) * FNV_PRIME) & MASK
        h = ((h ^ last) * FNV_PRIME) & MASK
        h = ((h ^ (entry or 0)) * FNV_PRIME) & MASK
    return h


__all__ = ["FNV_OFFSET", "FNV_PRIME", "dump_hash", "mix", "node_hash", "ranges_hash", "tree_hash"]
