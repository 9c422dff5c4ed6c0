# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck bench fork``: the seed's fork benchmark (``bench_forking``) reproduced.

Linux's ``lib/test_maple_tree.c`` ``bench_forking`` builds one alloc-range
tree of ``[10i, 10i + 5] = xa_mk_value(i)`` and then, many times, duplicates
it with ``__mt_dup`` and re-stores every entry (``mas_for_each`` + exact-fit
``mas_store``), as ``dup_mmap`` does; the v1 cover letter compared that with
the old path, which inserted every entry into an empty tree, and excluded
validate/destroy from the timing (13.52 s before, 2.60 s after: 5.2x).

Here, per implementation and per size, in one run:

* **before**: build a fresh tree by inserting every entry in order;
* **after**: ``dup`` the source, then replace every entry in place;
* **ratio** = before / after.  Teardown (destroy) is timed separately and
  reported as ``teardown`` (per iteration, after trees only); it is in
  neither column.

Times are CPU time of this process (``time.process_time``) by default, so a
busy machine inflates them less than wall time; ``clock=time.perf_counter``
gives wall time.  Our tree's columns are measured interleaved (one before,
one after, one after_replace per iteration).

Modes (what exactly is timed):

* ``native``, our Python tree: below the protocol, as the kernel test runs:
  before = ``mas_set_range`` + ``mas_store_gfp`` per entry (no bulk mode);
  after = :func:`mt_dup` + ``mas_find`` loop + ``mas_store`` on the iterating
  state (exact fit, in place).  The ``after_replace`` column times the same
  loop with :func:`mas_replace_entry` (the v1 series' call) instead.
* ``batch``, Linux: the C shim's batch entry point, one C call per chunk of
  iterations (no Python per operation).  before = ``mtree_store_range`` per
  entry into pre-created empty trees; after = ``mtree_dup`` + per entry
  ``mas_walk`` + exact-fit ``mas_store_gfp`` under the tree lock (the shim's
  replace; it re-walks from the root where the kernel loop steps with
  ``mas_find``).  Each shim call adds a little dispatch (cursor reset,
  locking), the same in both columns.
* ``protocol``, any implementation: the same work through the Tree protocol
  (``store_range``; ``dup`` + ``mas_set``/``mas_find``/``replace``), so per
  call overhead of the binding is included; for Linux that overhead (ctypes)
  dominates.
"""

from __future__ import annotations

import ctypes
import time
from array import array
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Sequence

from .tree import MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_LOCK_EXTERN, mt_attr, xa_mk_value

BENCH_FLAGS = MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN  #: as bench_forking / check_forking

__all__ = ["BENCH_FLAGS", "BenchRow", "bench_fork", "factories_for", "format_rows", "summary_line"]


@dataclass
class BenchRow:
    impl: str
    mode: str
    entries: int
    iterations: int
    nodes: int  #: nodes in the source tree (None for the model)
    before: float  #: seconds, all iterations
    after: float  #: seconds, all iterations
    ratio: float  #: before / after
    teardown: float  #: seconds destroying the after-trees (in neither column)
    after_replace: float | None = None  #: native python: the loop with mas_replace_entry

    def as_dict(self) -> dict:
        return asdict(self)


#: ``--initial``: the entries of a real VMA layout replace the synthetic ones (maplecheck.maps)
INITIAL_PAIRS: list | None = None


def _pairs(n: int):
    if INITIAL_PAIRS is not None:
        return list(INITIAL_PAIRS)
    return [(10 * i, 10 * i + 5, xa_mk_value(i)) for i in range(n)]


# ------------------------------------------------------------------ our tree, native


def _py_allocator():
    from maplecheck.impl.pytree.alloc import NodeAllocator
    from maplecheck.impl.pytree.node import LINUX_64
    return NodeAllocator(LINUX_64)


def _py_nodes(tree) -> list[int]:
    """Every node (enode) of a MapleTree, found through the data ends."""
    from maplecheck.impl.pytree.node import ma_data_end
    root = tree.ma_root
    if root is None or root & 3 != 2:
        return []
    nodes = tree.alloc.nodes
    out, stack = [], [(root & ~2, MAX)]
    while stack:
        enode, hi = stack.pop()
        out.append(enode)
        t = (enode >> 3) & 0xF
        if t >= 2:
            node = nodes[enode >> 8]
            piv = node.pivot
            for i in range(ma_data_end(node, t, hi) + 1):
                stack.append((node.slot[i], piv[i] if i < len(piv) else hi))
    return out


def _py_free_tree(tree) -> None:
    """Free every node of a MapleTree (``__mt_destroy`` outside RCU)."""
    enodes = _py_nodes(tree)
    tree.ma_root = None
    tree.ma_flags = mt_attr(tree.ma_flags)
    for enode in enodes:
        tree.alloc.free_node(enode)


def _bench_python_native(n: int, iters: int, flags: int, clock=time.process_time) -> dict:
    from maplecheck.impl.pytree.dup import mt_dup
    from maplecheck.impl.pytree.iterate import mas_find
    from maplecheck.impl.pytree.mtree import MapleTree
    from maplecheck.impl.pytree.replace import mas_replace_entry
    from maplecheck.impl.pytree.state import MaState
    from maplecheck.impl.pytree.write import mas_store, mas_store_gfp

    alloc = _py_allocator()
    pairs = _pairs(n)
    src = MapleTree(alloc, flags)
    mas = MaState(src)
    for first, last, e in pairs:
        mas.set_range(first, last)
        if mas_store_gfp(mas, e):
            raise RuntimeError("building the source failed")
    nodes = len(_py_nodes(src))

    attr = mt_attr(flags)

    def insert_all() -> float:
        t = MapleTree(alloc, flags)
        t0 = clock()
        mas = MaState(t)
        for first, last, e in pairs:
            mas.set_range(first, last)
            mas_store_gfp(mas, e)
        dt = clock() - t0
        _py_free_tree(t)
        return dt

    def dup_replace(write) -> tuple[float, float]:
        new = MapleTree(alloc, attr)
        t0 = clock()
        if mt_dup(src, new):
            raise RuntimeError("dup failed")
        mas = MaState(new)
        e = mas_find(mas, MAX)
        while e is not None:
            write(mas, e)
            e = mas_find(mas, MAX)
        t1 = clock()
        _py_free_tree(new)
        return t1 - t0, clock() - t1

    # interleaved, so that a change of machine load hits all three columns alike
    before = after = teardown = after_replace = 0.0
    for _ in range(iters):
        before += insert_all()
        a, td = dup_replace(mas_store)
        after += a
        teardown += td
        after_replace += dup_replace(mas_replace_entry)[0]
    _py_free_tree(src)
    return {"nodes": nodes, "before": before, "after": after, "teardown": teardown,
            "after_replace": after_replace}


# ------------------------------------------------------------------ Linux, batch


def _bench_linux_batch(factory, n: int, iters: int, flags: int, clock=time.process_time) -> dict:
    from maplecheck.impl.linux.adapter import OPCODES, U64
    lib = factory.lib
    pairs = _pairs(n)
    src = factory.create(flags)
    for first, last, e in pairs:
        src.store_range(first, last, e)
    nodes = len(src.dump()["nodes"])
    chunk = max(1, min(iters, 400_000 // (n + 2)))
    cap = chunk + 1
    handles = (ctypes.c_void_p * cap)()
    ntrees = ctypes.c_long(1)
    bad = ctypes.c_long(-1)
    pc = clock

    def encode(ops):
        w = array("Q")
        for op in ops:
            w.extend(list(op) + [0] * (6 - len(op)))
        return w

    def run(words, nops):
        buf = (U64 * len(words)).from_buffer(words)
        res = (U64 * (4 * nops))()
        t0 = pc()
        done = lib.mc_batch(buf, nops, res, handles, ctypes.byref(ntrees), cap, 0, ctypes.byref(bad))
        dt = pc() - t0
        if done != nops:
            raise RuntimeError(f"linux batch stopped at {done} of {nops}")
        return dt, res

    store, replace, dup, destroy = (OPCODES[k] for k in ("store_range", "replace", "dup", "destroy"))
    before = after = teardown = 0.0
    left = iters
    while left:
        m = min(chunk, left)
        left -= m
        # before: m empty trees (created untimed), every entry inserted (timed)
        for j in range(1, m + 1):
            handles[j] = lib.mc_create(flags)
        ntrees.value = m + 1
        w = encode((store, j, f, l, e) for j in range(1, m + 1) for f, l, e in pairs)
        dt, res = run(w, m * n)
        if any(res[4 * i] for i in range(0, m * n, max(1, n))):
            raise RuntimeError("linux: an insertion failed")
        before += dt
        w = encode((destroy, j) for j in range(1, m + 1))
        run(w, m)
        # after: m dups of tree 0, each followed by the replacement of every entry (timed)
        handles[0] = src.handle
        ntrees.value = 1
        w = encode(op for j in range(1, m + 1)
                   for op in [(dup, 0, 0)] + [(replace, j, f, e) for f, _, e in pairs])
        dt, res = run(w, m * (n + 1))
        if any(res[4 * (j * (n + 1))] for j in range(m)):
            raise RuntimeError("linux: a dup failed")
        after += dt
        w = encode((destroy, j) for j in range(1, m + 1))
        teardown += run(w, m)[0]
        ntrees.value = 1
    src.destroy()
    return {"nodes": nodes, "before": before, "after": after, "teardown": teardown}


# ------------------------------------------------------------------ any implementation, protocol


def _bench_protocol(factory, n: int, iters: int, flags: int, clock=time.process_time) -> dict:
    pairs = _pairs(n)
    pc = clock
    src = factory.create(flags)
    for first, last, e in pairs:
        src.store_range(first, last, e)
    try:
        nodes = len(src.dump().get("nodes", [])) if factory.name != "model" else None
    except Exception:  # pragma: no cover - a dump is optional for this benchmark
        nodes = None
    before = after = teardown = 0.0
    for _ in range(iters):
        t = factory.create(flags)
        t0 = pc()
        for first, last, e in pairs:
            t.store_range(first, last, e)
        before += pc() - t0
        t.destroy()
    for _ in range(iters):
        t0 = pc()
        ret, c = src.dup()
        if ret:
            raise RuntimeError(f"dup returned {ret}")
        pos = 0
        while True:
            c.mas_set(pos)
            r = c.mas_find(MAX)
            if r.entry is None:
                break
            c.replace(r.index, r.entry)
            if r.last == MAX:
                break
            pos = r.last + 1
        t1 = pc()
        c.destroy()
        after += t1 - t0
        teardown += pc() - t1
    src.destroy()
    return {"nodes": nodes, "before": before, "after": after, "teardown": teardown}


# ------------------------------------------------------------------ driver


def _modes_for(factory, modes: Sequence[str]) -> list[str]:
    name = getattr(factory, "name", "?")
    out = []
    for m in modes:
        if m == "native" and name in ("python", "linux"):
            out.append("native" if name == "python" else "batch")
        elif m == "protocol":
            out.append("protocol")
    return out


def bench_fork(factories: Iterable, entries_list: Sequence[int] = (23, 135, 223, 4023),
               iterations: int | dict = 200, flags: int = BENCH_FLAGS,
               modes: Sequence[str] = ("native",), scale_iterations: bool = True,
               progress: Callable[[str], None] | None = None,
               clock: Callable[[], float] = time.process_time) -> list[BenchRow]:
    """Run the fork benchmark; one :class:`BenchRow` per implementation, mode and size.

    ``iterations`` is the number of rounds at 135 entries (an int, or a dict
    by implementation name such as ``{"python": 200, "linux": 20000}``); with
    ``scale_iterations`` larger sizes run proportionally fewer rounds (at least
    3) so that every size costs about the same; smaller sizes run the same
    number.  ``modes``: ``"native"`` (our tree below the protocol, Linux through
    the batch entry point; the model has none) and/or ``"protocol"``.
    """
    rows = []
    for factory in factories:
        name = getattr(factory, "name", type(factory).__name__)
        for mode in _modes_for(factory, modes):
            for n in entries_list:
                iters = iterations.get(name, 200) if isinstance(iterations, dict) else iterations
                if scale_iterations and n > 135:
                    iters = max(3, iters * 135 // n)
                if progress:
                    progress(f"bench fork: {name} {mode} entries={n} iterations={iters}")
                if mode == "native":
                    r = _bench_python_native(n, iters, flags, clock)
                elif mode == "batch":
                    r = _bench_linux_batch(factory, n, iters, flags, clock)
                else:
                    r = _bench_protocol(factory, n, iters, flags, clock)
                ratio = r["before"] / r["after"] if r["after"] else float("inf")
                rows.append(BenchRow(name, mode, n, iters, r["nodes"], r["before"], r["after"],
                                     ratio, r["teardown"], r.get("after_replace")))
    return rows


def format_rows(rows: Sequence[BenchRow]) -> str:
    """A plain-text table (per-iteration times in microseconds)."""
    head = (f"{'impl':<7} {'mode':<8} {'entries':>7} {'iters':>6} {'nodes':>5} "
            f"{'before/it':>11} {'after/it':>10} {'ratio':>6} {'teardown/it':>11} {'replace_entry/it':>16}")
    lines = [head]
    for r in rows:
        it = r.iterations
        rep = f"{1e6 * r.after_replace / it:14.1f}us" if r.after_replace is not None else f"{'-':>16}"
        lines.append(f"{r.impl:<7} {r.mode:<8} {r.entries:>7} {it:>6} {r.nodes if r.nodes is not None else '-':>5} "
                     f"{1e6 * r.before / it:9.1f}us {1e6 * r.after / it:8.1f}us {r.ratio:6.2f} "
                     f"{1e6 * r.teardown / it:9.1f}us {rep}")
    return "\n".join(lines)


def summary_line(rows: Sequence[BenchRow], entries: int = 135) -> str:
    """The CLI's last line: ``before= after= ratio=`` (seconds) of the first row at ``entries``."""
    pick = [r for r in rows if r.entries == entries] or list(rows)
    if not pick:
        return "before=0 after=0 ratio=0"
    r = pick[0]
    return (f"impl={r.impl} mode={r.mode} entries={r.entries} iterations={r.iterations} "
            f"before={r.before:.6f} after={r.after:.6f} ratio={r.ratio:.2f}")


def factories_for(impl: str, linux_src: str | None = None) -> list:
    """The factories behind ``--impl python|linux|both|model`` (``both`` = python and linux).

    Building the Linux adapter may raise (no kernel tree, build failure): the
    CLI reports that as a setup error (exit 2).
    """
    names = {"both": ["python", "linux"]}.get(impl, [impl])
    out = []
    for name in names:
        if name == "python":
            from maplecheck.impl.pytree import PyFactory
            out.append(PyFactory())
        elif name == "linux":
            from maplecheck.impl.linux.adapter import LinuxFactory
            out.append(LinuxFactory(linux_src))
        elif name == "model":
            from maplecheck.model.mtree import ModelFactory
            out.append(ModelFactory())
        else:
            raise ValueError(f"unknown implementation {name!r}")
    return out


def main(args) -> int:
    """``maplecheck bench fork [--impl …] [--entries N] [--iterations N]``."""
    import sys

    from maplecheck.properties.impls import SetupError, linux_library

    impl = args.impl
    if impl in ("linux", "both"):
        linux_library(args.linux_src, False)  # one clear setup error, exit 2
    try:
        factories = factories_for(impl, args.linux_src)
    except Exception as e:  # pragma: no cover - linux_library already built it
        raise SetupError(f"bench fork: {e}") from e
    sizes = (args.entries,) if args.entries else (23, 135, 223, 4023)
    global INITIAL_PAIRS
    if getattr(args, "initial", None):
        from maplecheck.maps import MapsError, read_layout, vma_entries
        try:
            INITIAL_PAIRS = vma_entries(read_layout(args.initial))
        except MapsError as e:
            raise SetupError(str(e)) from None
        sizes = (len(INITIAL_PAIRS),)
    iterations = ({"python": args.iterations, "linux": args.iterations} if args.iterations
                  else {"python": 200, "linux": 20000})
    try:
        rows = bench_fork(factories, sizes, iterations,
                          progress=lambda msg: print(msg, file=sys.stderr, flush=True))
        entries = sizes[0] if INITIAL_PAIRS is not None else args.entries or 135
    finally:
        INITIAL_PAIRS = None  # the layout is this run's only: a later bench in the process is synthetic
    print(format_rows(rows))
    print("times are CPU seconds per iteration; before = insert every entry into an empty tree, "
          "after = dup + replace every entry; ratio = before / after")
    print(summary_line(rows, entries))
    return 0
