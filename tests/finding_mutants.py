# SPDX-License-Identifier: GPL-2.0-or-later
"""Hand-made bugs in our Python tree, to measure how small the shrinker's reproducers get.

Each mutant is one plausible slip in a write-path helper (an off-by-one, a
forgotten case), put in by wrapping the helper, never by editing it.
``python tests/finding_mutants.py [SECONDS]`` runs a seeded Python-tree
campaign per mutant and prints the size of every minimized reproducer and the
distribution (the measurement of issue #15, item 4).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path


def _wrap(module, name, make):
    real = getattr(module, name)
    setattr(module, name, make(real))
    return lambda: setattr(module, name, real)


def m_new_end_low(real):
    """mas_wr_new_end forgets one slot when the write starts inside a range."""
    def f(end, offset, offset_end, r_min, index, end_piv, last):
        n = real(end, offset, offset_end, r_min, index, end_piv, last)
        return n - 1 if r_min != index and end_piv != last else n
    return f


def m_end_piv_skip(real):
    """mas_wr_end_piv stops one slot early when ``last`` equals a pivot."""
    def f(pivots, end, offset_end, last, max):
        o, piv = real(pivots, end, offset_end, last, max)
        if o > offset_end and o < end and last == pivots[o - 1] + 1:
            return o - 1, pivots[o - 1]
        return o, piv
    return f


def m_extend_null_left(real):
    """mas_wr_extend_null never widens a NULL write over the NULL slot on its left."""
    def f(pivots, slots, end, offset, offset_end, index, last, r_min, r_max, end_piv, min, max):
        got = real(pivots, slots, end, offset, offset_end, index, last, r_min, r_max, end_piv, min, max)
        if got[0] < offset:  # it moved left: undo that part
            return (offset, got[1], index, got[3], r_min, r_max, got[6])
        return got
    return f


def m_extend_null_right(real):
    """mas_wr_extend_null never widens a NULL write over the NULL slot on its right."""
    def f(pivots, slots, end, offset, offset_end, index, last, r_min, r_max, end_piv, min, max):
        got = real(pivots, slots, end, offset, offset_end, index, last, r_min, r_max, end_piv, min, max)
        if got[1] > offset_end:
            return (got[0], offset_end, got[2], last, got[4], got[5], end_piv)
        return got
    return f


def m_leaf_gap_short(real):
    """The largest gap of a leaf is counted one short when it is the first slot's."""
    def f(mas):
        g = real(mas)
        return g - 1 if g > 1 else g
    return f


def m_split_right(real):
    """mab_calc_split puts the split one slot to the right."""
    def f(mas, b, *a):
        at, mid = real(mas, b, *a)
        return at + 1, mid
    return f


def m_no_null_split_stay(real):
    """mab_no_null_split leaves the split on a NULL slot when moving right is possible."""
    def f(b_slots, b_end, split, slot_count, min_slots):
        n = real(b_slots, b_end, split, slot_count, min_slots)
        return split if n == split + 1 else n
    return f


def m_node_leaf_gap_last(real):
    """The rule for a leaf's largest gap ignores a NULL last slot of the right-most leaf."""
    from maplecheck.tree import MAX

    def f(pivots, slots, end, min, max):
        if max == MAX and end and slots[end] is None:  # read it as an entry (1), not NULL
            return real(pivots, list(slots[:end]) + [1] + list(slots[end + 1:]), end, min, max)
        return real(pivots, slots, end, min, max)
    return f


def m_min_slots_low(real):
    """Rebalancing thinks a node needs one slot fewer than it does."""
    def f(mas, type):
        return real(mas, type) - 1
    return f


def m_split_left(real):
    """mab_calc_split puts the split one slot to the left (even when that leaves a NULL end)."""
    def f(mas, b, *a):
        at, mid = real(mas, b, *a)
        return at - 1, mid
    return f


def m_new_end_raises(real):
    """mas_wr_new_end indexes past its node (an exception) on a write into a full-ish leaf."""
    def f(end, offset, offset_end, r_min, index, end_piv, last):
        if end >= 12 and offset == 3:
            raise IndexError("planted: slot index past the node")
        return real(end, offset, offset_end, r_min, index, end_piv, last)
    return f


def _both(*undos):
    """One undo for a mutant planted in several modules (each module's name bound again)."""
    def undo():
        for u in reversed(undos):
            u()
    return undo


def mutants():
    """name -> function applying the mutant and returning its undo."""
    from maplecheck.impl.pytree import big_node, gaps_update, node_ops, rebalance, split

    return {
        "new_end_low": lambda: _wrap(node_ops, "wr_new_end", m_new_end_low),
        "new_end_raises": lambda: _wrap(node_ops, "wr_new_end", m_new_end_raises),
        "end_piv_skip": lambda: _wrap(node_ops, "wr_end_piv", m_end_piv_skip),
        "extend_null_left": lambda: _wrap(node_ops, "wr_extend_null", m_extend_null_left),
        "extend_null_right": lambda: _wrap(node_ops, "wr_extend_null", m_extend_null_right),
        "leaf_gap_short": lambda: _wrap(gaps_update, "mas_leaf_max_gap", m_leaf_gap_short),
        "split_right": lambda: _both(_wrap(split, "mab_calc_split", m_split_right),
                                     _wrap(big_node, "mab_calc_split", m_split_right)),
        "no_null_split_stay": lambda: _wrap(node_ops, "mab_no_null_split", m_no_null_split_stay),
        "leaf_gap_last": lambda: _wrap(node_ops, "leaf_max_gap", m_node_leaf_gap_last),
        "min_slots_low": lambda: _wrap(rebalance, "geo_min_slots", m_min_slots_low),
        "split_left": lambda: _both(_wrap(split, "mab_calc_split", m_split_left),
                                    _wrap(big_node, "mab_calc_split", m_split_left)),
    }


#: the mutants planted in the big-node write path, which only the 6.12 profile runs
BIG_NODE_PATH = frozenset({"split_right", "split_left", "no_null_split_stay", "min_slots_low"})


def kernel_for(name: str) -> str | None:
    """The kernel whose write-path profile reaches the mutant (None: the default, newest)."""
    return "6.12" if name in BIG_NODE_PATH else None


@contextlib.contextmanager
def mutant(name: str):
    undo = mutants()[name]()
    try:
        yield
    finally:
        undo()


def run_one(name: str, seed: int, steps: int, shrink_s: float, out: Path) -> list[tuple]:
    """One seeded Python-tree campaign under one mutant: [(mutant, seed, kind, ops, original, 1-minimal)]."""
    import json

    from maplecheck.properties.engine import run_campaign

    with mutant(name):
        try:
            res = run_campaign("python", seed=seed, steps=steps, out=out, shrink_budget_s=shrink_s,
                               kernel=kernel_for(name))
        except Exception as e:  # noqa: BLE001 - our tree raising is itself the finding (not shrunk)
            return [(name, seed, f"exception:{type(e).__name__}", -1, -1, None)]
    rows = []
    for f in res.failures:
        header = json.loads(f.trace.read_text().splitlines()[0])
        rows.append((name, seed, f.kind, f.ops, f.original_ops, header.get("one_minimal")))
    return rows


def measure(names=None, seeds=(1, 2, 3), steps=20000, shrink_s=30.0):
    """Each (mutant, seed) in a fresh process (our tree's node allocator is per process)."""
    import ast
    import subprocess

    rows = []
    for name in names or mutants():
        for seed in seeds:
            out = subprocess.run([sys.executable, __file__, "one", name, str(seed), str(steps), str(shrink_s)],
                                 capture_output=True, text=True).stdout
            rows.extend(ast.literal_eval(line) for line in out.splitlines() if line.startswith("("))
    return rows


def _main(argv: list[str]) -> None:
    if argv and argv[0] == "one":
        name, seed, steps, shrink_s = argv[1], int(argv[2]), int(argv[3]), float(argv[4])
        for row in run_one(name, seed, steps, shrink_s, Path(tempfile.mkdtemp(prefix="mc-mutant-"))):
            print(repr(row))
        return
    t0 = time.monotonic()
    rows = measure(shrink_s=float(argv[0]) if argv else 30.0)
    for r in rows:
        print("mutant=%s seed=%d kind=%s ops=%d original=%d one_minimal=%s" % r)
    sizes = sorted(r[3] for r in rows if r[3] >= 0)
    small = sum(1 for x in sizes if x <= 10)
    print(f"findings={len(sizes)} at_most_10={small} max={max(sizes) if sizes else 0} "
          f"sizes={sizes} unshrunk_exceptions={sum(1 for r in rows if r[3] < 0)} "
          f"seconds={time.monotonic() - t0:.0f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    _main(sys.argv[1:])
