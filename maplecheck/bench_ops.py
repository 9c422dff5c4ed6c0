# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck bench ops``: operation throughput of our tree beside Linux's.

Every number in one table comes from one run on one machine, so the ratios
mean something even on a noisy machine.  Each operation kind is timed over
the same indices for every implementation:

* store  — N ranges ``[10i, 10i+5]`` into an empty tree, ascending;
* load / walk — N random indices inside the stored ranges;
* iterate — ``mas_find`` from 0 to the end (N entries);
* erase  — every entry, in random order.

Linux is measured twice: through the protocol one call at a time (ctypes
overhead included), and through the batch entry point (one C call for all N
operations), which is close to the C code's own speed.
"""

from __future__ import annotations

import random
import time

from maplecheck.tree import MAX, xa_mk_value

OPS = ("store", "load", "walk", "iterate", "erase")


def _workload(n: int, seed: int = 1):
    rng = random.Random(seed)
    stores = [("store_range", 0, 10 * i, 10 * i + 5, xa_mk_value(i & 0xFFFF)) for i in range(n)]
    probes = [10 * rng.randrange(n) + rng.randrange(6) for _ in range(n)]
    order = list(range(n))
    rng.shuffle(order)
    return {
        "store": stores,
        "load": [("load", 0, i) for i in probes],
        "walk": [("walk", 0, i) for i in probes],
        "iterate": [("mas_set", 0, 0)] + [("mas_find", 0, MAX)] * n,
        "erase": [("erase", 0, 10 * i) for i in order],
    }


def _time_protocol(factory, flags: int, work: dict) -> dict[str, float]:
    """Seconds per kind, calling protocol methods directly."""
    tree = factory.create(flags)
    out = {}
    for kind in OPS:
        ops = work[kind]
        calls = [(getattr(tree, op[0]), op[2:]) for op in ops]
        t0 = time.perf_counter()
        for fn, args in calls:
            fn(*args)
        out[kind] = time.perf_counter() - t0
    tree.destroy()
    return out


def _time_batch(session_cls, factory, flags: int, work: dict) -> dict[str, float]:
    """Seconds per kind through a session's batch entry point."""
    sess = session_cls(factory, flags)
    out = {}
    for kind in OPS:
        ops = work[kind]
        t0 = time.perf_counter()
        sess.run(ops)
        out[kind] = time.perf_counter() - t0
    sess.close()
    return out


def bench_ops(impls: list[str], sizes=(1000, 100000), iterations: int = 1, linux_src=None,
              flags: int = 0) -> list[dict]:
    """Rows of {size, op, <column>: ops per second, ...}; best of ``iterations``."""
    columns = {}
    if "python" in impls:
        from maplecheck.properties.impls import python_factory
        columns["python"] = lambda w: _time_protocol(python_factory(), flags, w)
    if "linux" in impls:
        from maplecheck.impl.linux.adapter import LinuxFactory, LinuxSession
        from maplecheck.properties.impls import linux_library
        lf = LinuxFactory(lib_path=linux_library(linux_src, False))
        columns["linux/call"] = lambda w: _time_protocol(lf, flags, w)
        columns["linux/batch"] = lambda w: _time_batch(LinuxSession, lf, flags, w)
    rows = []
    for n in sizes:
        work = _workload(n)
        best: dict[str, dict[str, float]] = {}
        for _ in range(iterations):
            for col, fn in columns.items():
                secs = fn(work)
                prev = best.setdefault(col, secs)
                for k in secs:
                    prev[k] = min(prev[k], secs[k])
        for kind in OPS:
            count = len(work[kind])
            row = {"size": n, "op": kind}
            for col in columns:
                row[col] = count / best[col][kind]
            rows.append(row)
    return rows


def main(args) -> int:
    from rich.console import Console
    from rich.table import Table

    impls = ["python", "linux"] if args.impl == "both" else [args.impl]
    sizes = (args.entries,) if args.entries else (1000, 100000)
    rows = bench_ops(impls, sizes, args.iterations or 1, args.linux_src)
    cols = [c for c in rows[0] if c not in ("size", "op")]
    table = Table(title="operations per second (best of the iterations; one run)")
    table.add_column("entries", justify="right")
    table.add_column("op")
    for c in cols:
        table.add_column(c, justify="right")
    ratio = "python" in cols and "linux/batch" in cols
    if ratio:
        table.add_column("linux/batch ÷ python", justify="right")
    for r in rows:
        cells = [f"{r['size']:,}", r["op"]] + [f"{r[c]:,.0f}" for c in cols]
        if ratio:
            cells.append(f"{r['linux/batch'] / r['python']:.1f}×")
        table.add_row(*cells)
    Console().print(table)
    summary = " ".join(f"{r['op']}{r['size']}_{c.replace('/', '_')}={r[c]:.0f}" for r in rows for c in cols)
    print(summary)
    return 0
