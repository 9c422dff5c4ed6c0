# SPDX-License-Identifier: GPL-2.0-or-later
"""The canonical dump: the differential interface between trees.

Two trees are structurally identical iff their dumps are equal.  A dump is
plain JSON-serialisable data and never holds an address::

    {
      "flags":  mt_attr(flags)         # flags without the height bits
      "height": int,
      "root":   {"kind": "empty"} | {"kind": "entry", "value": entry} | {"kind": "node"},
      "nodes":  [node, ...]            # DFS pre-order, root first
    }

and each node::

    {
      "type": "leaf_64" | "range_64" | "arange_64",
      "min": int, "max": int,          # from the walk; not stored in the node
      "end": int,                      # data end (offset of the last used slot)
      "pivots": [...],                 # pivot[0 .. min(end, mt_pivots-1)] as stored
      "slots":  [...],                 # leaf: entries; internal: index of the child in "nodes"
      "gaps":   [...], "meta_gap": int # arange_64 only: gap[0..end] and meta.gap
      "parent_slot": int | None,       # None for the root
    }

Entries are encoded as the kernel encodes them (None for NULL), so a dump read
from C compares directly with one made in Python.
"""

from __future__ import annotations

import json
from typing import Any

NODE_TYPES = ("dense", "leaf_64", "range_64", "arange_64")
NODE_FIELDS = ("type", "min", "max", "end", "pivots", "slots", "gaps", "meta_gap", "parent_slot")


def empty_dump(flags: int) -> dict:
    return {"flags": flags, "height": 0, "root": {"kind": "empty"}, "nodes": []}


def node_path(nodes: list[dict], i: int) -> list[int]:
    """The slot offsets leading from the root to ``nodes[i]``."""
    parent_of = {}
    for p, node in enumerate(nodes):
        if node["type"] != "leaf_64":
            for off, child in enumerate(node["slots"]):
                parent_of[child] = (p, off)
    path = []
    while i in parent_of:
        i, off = parent_of[i]
        path.append(off)
    return path[::-1]


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, int) and not isinstance(v, bool) and v > 9:
        return hex(v)
    return repr(v)


def dump_diff(a: dict, b: dict, names: tuple[str, str] = ("a", "b")) -> str | None:
    """Describe the first difference between two dumps, or None if they are equal.

    Reports tree-level fields first, then the first node (in pre-order) that
    differs: its position, its path from the root, the field, and both values.
    """
    if a == b:
        return None
    na, nb = names
    for key in ("flags", "height", "root"):
        if a.get(key) != b.get(key):
            return f"tree {key}: {na}={_fmt(a.get(key))} {nb}={_fmt(b.get(key))}"
    an, bn = a["nodes"], b["nodes"]
    for i, (x, y) in enumerate(zip(an, bn)):
        if x == y:
            continue
        path = node_path(an, i)
        where = f"node #{i} path={path} ({x.get('type')} {x.get('min', 0):#x}-{x.get('max', 0):#x})"
        for field in NODE_FIELDS:
            if x.get(field) != y.get(field):
                fx, fy = x.get(field), y.get(field)
                detail = ""
                if isinstance(fx, list) and isinstance(fy, list):
                    for off, (u, v) in enumerate(zip(fx, fy)):
                        if u != v:
                            detail = f" (first at offset {off}: {na}={_fmt(u)} {nb}={_fmt(v)})"
                            break
                    else:
                        detail = f" (lengths {len(fx)} vs {len(fy)})"
                return f"{where}: {field}{detail}\n  {na}: {_fmt(fx)}\n  {nb}: {_fmt(fy)}"
    return f"node count: {na} has {len(an)}, {nb} has {len(bn)}"


def dump_text(d: dict) -> str:
    """A compact, one-node-per-line rendering of a dump for humans."""
    lines = [f"flags={d['flags']:#x} height={d['height']} root={d['root']['kind']}"
             + (f" {_fmt(d['root'].get('value'))}" if d["root"]["kind"] == "entry" else "")]
    for i, n in enumerate(d["nodes"]):
        depth = len(node_path(d["nodes"], i))
        pairs = []
        for off, s in enumerate(n["slots"]):
            piv = n["pivots"][off] if off < len(n["pivots"]) else n["max"]
            s_txt = f"#{s}" if n["type"] != "leaf_64" else ("NULL" if s is None else _fmt(s))
            pairs.append(f"{s_txt}|{_fmt(piv)}")
        extra = f" gaps={_fmt(n['gaps'])} meta_gap={n['meta_gap']}" if "gaps" in n else ""
        lines.append(f"{'  ' * depth}#{i} {n['type']} {n['min']:#x}-{n['max']:#x} end={n['end']}"
                     f"{extra}: " + " ".join(pairs))
    return "\n".join(lines)


def dump_levels(d: dict) -> list[list[str]]:
    """Per level, each node as ``min-max:used slots`` (decimal, ``MAX`` for 2**64-1).

    The notation of the reference shapes in linux-6.12-facts.md section 11,
    so a test can state a whole tree's shape in one line per level.
    """
    MAX = (1 << 64) - 1
    depth = {0: 0}
    for i, n in enumerate(d["nodes"]):
        if n["type"] != "leaf_64":
            for c in n["slots"]:
                depth[c] = depth[i] + 1
    out: list[list[str]] = []
    for i, n in enumerate(d["nodes"]):
        lv = depth[i]
        while len(out) <= lv:
            out.append([])
        hi = "MAX" if n["max"] == MAX else str(n["max"])
        out[lv].append(f"{n['min']}-{hi}:{n['end'] + 1}")
    return out


def dumps(d: dict) -> str:
    return json.dumps(d, sort_keys=True)


def dump_ranges(d: dict) -> list[tuple[int, int, Any]]:
    """Every range of the tree, NULL ranges included, left to right, as (first, last, entry).

    The model reports the same list from ``ModelTree.ranges()``, so contents
    compare without any structure: an empty tree is ``[(0, MAX, None)]``.
    """
    MAX = (1 << 64) - 1
    if d.get("model"):  # the model's flat dump carries its ranges directly
        return [tuple(r) for r in d["ranges"]]
    kind = d["root"]["kind"]
    if kind == "empty":
        return [(0, MAX, None)]
    if kind == "entry":
        return [(0, 0, d["root"]["value"]), (1, MAX, None)]
    out = []
    for n in d["nodes"]:
        if n["type"] != "leaf_64":
            continue
        lo = n["min"]
        for off, entry in enumerate(n["slots"]):
            hi = n["pivots"][off] if off < len(n["pivots"]) else n["max"]
            out.append((lo, hi, entry))
            lo = hi + 1
    return out
