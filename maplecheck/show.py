# SPDX-License-Identifier: GPL-2.0-or-later
"""Draw the tree of a trace after a step: ``maplecheck show TRACE [--step K]``.

The picture is made from the canonical dump (:mod:`maplecheck.dump`), so it is
the same for our Python tree and for Linux.  Each node is a table: its type and
range ``[min, max]`` (from the walk), its data end, then one column per used
slot with the pivot above the slot (an entry in a leaf, a port to the child in
an internal node) and, for ``arange_64`` nodes, the gap below it.  The nodes
the next operation's walk visits (from the root to the leaf holding its index)
are drawn in blue; with two trees side by side the first node that differs is
drawn in red in both.  Without graphviz's ``dot`` the same content is printed
as indented text.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from .dump import dump_diff, dump_text, node_path
from .ops import TraceError, read_trace
from .tree import MAX

#: trees larger than this are drawn as the walked path, its children and the differing node
MAX_DRAWN_NODES = 40
WALK_COLOR, DIFF_COLOR = "#1f6fd1", "#d12a1f"


def fmt_index(v: int) -> str:
    """An index for a picture: decimal when short, hex when long, MAX for ULONG_MAX."""
    if v == MAX:
        return "MAX"
    return str(v) if v < 100000 else hex(v)


def fmt_entry(e) -> str:
    """An entry for a picture: NULL, vN for xa_mk_value(N), else the word in hex."""
    if e is None:
        return "NULL"
    if e & 1:
        return f"v{fmt_index(e >> 1)}"
    return hex(e)


def op_index(op: tuple) -> int | None:
    """The index an operation walks to (its first index argument), if it has one."""
    name, _t, *args = op
    if name in ("store_range", "insert_range", "erase", "replace", "load", "walk", "mas_set",
                "mas_find", "mas_find_range", "mas_next", "mas_next_range", "mas_prev",
                "mas_prev_range", "mas_find_rev", "mas_find_range_rev", "empty_area",
                "empty_area_rev"):
        return args[0]
    if name in ("alloc_range", "alloc_rrange"):
        return args[2]
    return None


def walk_path(dump: dict, index: int) -> list[int]:
    """Node numbers (pre-order) from the root to the leaf whose range holds ``index``."""
    nodes = dump["nodes"]
    if not nodes:
        return []
    path, i = [0], 0
    while nodes[i]["type"] != "leaf_64":
        n = nodes[i]
        off = next((k for k, p in enumerate(n["pivots"]) if index <= p), len(n["slots"]) - 1)
        i = n["slots"][min(off, len(n["slots"]) - 1)]
        path.append(i)
    return path


def first_diff_node(a: dict, b: dict) -> int | None:
    """The pre-order number of the first node that differs between two dumps (None if none)."""
    for i, (x, y) in enumerate(zip(a["nodes"], b["nodes"])):
        if x != y:
            return i
    if len(a["nodes"]) != len(b["nodes"]):
        return min(len(a["nodes"]), len(b["nodes"]))
    return None


def drawn_nodes(dump: dict, marked: set[int]) -> set[int]:
    """Which nodes a picture shows: all of a small tree, else the marked paths and their children."""
    nodes = dump["nodes"]
    if len(nodes) <= MAX_DRAWN_NODES:
        return set(range(len(nodes)))
    keep = {0}
    for i in marked:
        if i < len(nodes):
            keep.add(i)
            keep.update(_ancestors(nodes, i))
    for i in list(keep):
        if nodes[i]["type"] != "leaf_64":
            keep.update(nodes[i]["slots"])
    return keep


def _ancestors(nodes: list[dict], i: int) -> list[int]:
    out, j = [], 0
    for off in node_path(nodes, i):
        out.append(j)
        j = nodes[j]["slots"][off]
    return out


def node_label(n: dict, color: str | None) -> str:
    """The HTML-like graphviz label of one node: a header, then one row per used slot."""
    leaf = n["type"] == "leaf_64"
    gaps = "gaps" in n
    cols = 3 + gaps
    head = (f"<b>{n['type']}</b> [{fmt_index(n['min'])}, {fmt_index(n['max'])}]<br/>end={n['end']}"
            + (f" meta_gap={n['meta_gap']}" if gaps else ""))
    bg = f' bgcolor="{color}"' if color else ""
    fg = "white" if color else "black"
    rows = [f'<tr><td colspan="{cols}"{bg}><font color="{fg}">{head}</font></td></tr>',
            "<tr><td><i>off</i></td><td><i>pivot</i></td><td><i>slot</i></td>"
            + ("<td><i>gap</i></td>" if gaps else "") + "</tr>"]
    for k, slot in enumerate(n["slots"]):
        piv = fmt_index(n["pivots"][k]) if k < len(n["pivots"]) else f"({fmt_index(n['max'])})"
        cell = (f"<td>{html.escape(fmt_entry(slot))}</td>" if leaf else f'<td port="s{k}">#{slot}</td>')
        gap = f"<td>{fmt_index(n['gaps'][k])}</td>" if gaps and k < len(n["gaps"]) else ("<td></td>" if gaps else "")
        rows.append(f"<tr><td>{k}</td><td>{html.escape(piv)}</td>{cell}{gap}</tr>")
    return '<<table border="0" cellborder="1" cellspacing="0">' + "".join(rows) + "</table>>"


def tree_dot(panels: list[tuple[str, dict]], walked: int | None = None) -> str:
    """DOT source for one or more dumps side by side; first difference red, walk path blue."""
    import graphviz

    g = graphviz.Digraph("maplecheck", node_attr={"shape": "plaintext", "fontname": "monospace",
                                                   "fontsize": "10"},
                         graph_attr={"rankdir": "TB", "nodesep": "0.1", "ranksep": "0.5"})
    diff = first_diff_node(panels[0][1], panels[1][1]) if len(panels) == 2 else None
    for p, (title, dump) in enumerate(panels):
        path = set(walk_path(dump, walked)) if walked is not None else set()
        marked = path | ({diff} if diff is not None else set())
        keep = drawn_nodes(dump, marked)
        with g.subgraph(name=f"cluster_{p}") as c:
            c.attr(label=f"{title}: height {dump['height']}, {len(dump['nodes'])} nodes"
                   + (f" ({len(keep)} drawn)" if len(keep) < len(dump["nodes"]) else ""),
                   fontname="sans-serif")
            if not dump["nodes"]:
                root = dump["root"]
                text = "empty tree" if root["kind"] == "empty" else f"root entry {fmt_entry(root.get('value'))}"
                c.node(f"p{p}_root", text, shape="box")
            for i in sorted(keep):
                n = dump["nodes"][i]
                color = DIFF_COLOR if i == diff else WALK_COLOR if i in path else None
                c.node(f"p{p}_n{i}", node_label(n, color))
                if n["type"] != "leaf_64":
                    for k, child in enumerate(n["slots"]):
                        if child in keep:
                            hot = i in path and child in path
                            c.edge(f"p{p}_n{i}:s{k}:e", f"p{p}_n{child}:n",
                                   color=WALK_COLOR if hot else "black", penwidth="2" if hot else "1")
    return g.source


def render(dot: str, fmt: str) -> bytes:
    """Run ``dot`` on DOT source; ``fmt`` is svg or png."""
    import graphviz

    return graphviz.Source(dot).pipe(format=fmt)


def have_dot() -> bool:
    return shutil.which("dot") is not None


# ---------------------------------------------------------------- the trees of a trace

def dumps_after(flags: int, ops: list[tuple], step: int, impls: list[str], tree: int | None = None,
                linux_src: str | None = None) -> list[tuple[str, dict]]:
    """Replay ``ops[:step + 1]`` on each implementation; return (label, dump) of tree ``tree``."""
    from maplecheck.properties.impls import beside_linux, open_session

    linux_src = beside_linux(impls, linux_src)
    t = ops[step][1] if tree is None and ops else (tree or 0)
    out = []
    for name in impls:
        session = open_session(name, flags, linux_src)
        try:
            for op in ops[:step + 1]:
                session.step(op)
            out.append((name, session.dump(t)))
        finally:
            try:
                session.close()
            except Exception:  # a tree in a bad state may not close cleanly
                pass
    return out


def text_picture(panels: list[tuple[str, dict]], walked: int | None) -> str:
    """The text fallback: each tree's dump, one node a line, walked and differing nodes named."""
    parts = []
    for title, dump in panels:
        parts.append(f"== {title}")
        parts.append(dump_text(dump))
        if walked is not None:
            parts.append(f"walk of index {fmt_index(walked)} visits nodes {walk_path(dump, walked)}")
    if len(panels) == 2:
        parts.append(dump_diff(panels[0][1], panels[1][1], (panels[0][0], panels[1][0])) or "no difference")
    return "\n".join(parts)


def picture(flags: int, ops: list[tuple], step: int | None = None, impl: str = "python",
            tree: int | None = None, linux_src: str | None = None) -> tuple[list, int | None, str]:
    """The panels after ``step`` (default: before the last op), the walked index, and DOT source."""
    if not ops:
        raise TraceError("the trace has no operations")
    if step is None:
        step = max(0, len(ops) - 2) if len(ops) > 1 else 0
    if not 0 <= step < len(ops):
        raise TraceError(f"--step {step} is outside the trace (0..{len(ops) - 1})")
    impls = ["python", "linux"] if impl == "both" else [impl]
    panels = dumps_after(flags, ops, step, impls, tree, linux_src)
    nxt = ops[step + 1] if step + 1 < len(ops) else ops[step]
    walked = op_index(nxt)
    return panels, walked, tree_dot(panels, walked)


def main(args) -> int:
    """``maplecheck show TRACE [--step K] [--impl python|linux|both] [--svg F | --png F]``."""
    flags, ops = read_trace(Path(args.trace))
    panels, walked, dot = picture(flags, ops, args.step, args.impl, args.tree, args.linux_src)
    target = args.svg or args.png
    if target and have_dot():
        Path(target).write_bytes(render(dot, "svg" if args.svg else "png"))
    else:
        if target:
            print("maplecheck: graphviz's dot is not installed: text instead of a picture")
        print(text_picture(panels, walked))
    diff = first_diff_node(panels[0][1], panels[1][1]) if len(panels) == 2 else None
    print(f"trees={len(panels)} height={panels[0][1]['height']} nodes={len(panels[0][1]['nodes'])}"
          + (f" diff_node={diff}" if len(panels) == 2 else "") + (f" file={target}" if target else ""))
    return 0
