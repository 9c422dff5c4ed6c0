# SPDX-License-Identifier: GPL-2.0-or-later
"""RCU interleavings: the scheduled C build, the explorer, and a hand-made free-too-early bug."""

import os
from pathlib import Path

import pytest
from kernel_mutants import mutant_tree

from maplecheck.cli import main
from maplecheck.cmd_rcu import read_rcu_trace, write_rcu_trace
from maplecheck.impl.linux.rcu_adapter import RcuRun
from maplecheck.impl.linux.source import kernel_source
from maplecheck.properties.rcu import RcuCase, check_run, model_states
from maplecheck.properties.rcu_mutants import RCU_CASES, RCU_PATCHES
from maplecheck.properties.rcu_worker import RcuWorker


@pytest.fixture(scope="module")
def stock_src(linux_kernel) -> Path:
    return kernel_source(kernel=linux_kernel)


def make_rcu_mutant(stock: Path, dest: Path, name: str) -> Path:
    return mutant_tree(stock, dest, RCU_PATCHES[name])


def test_check_rejects_an_entry_never_stored():
    case = RcuCase(0, [("set_rcu", 0, True), ("store_range", 0, 10, 20, 5)],
                   [("store_range", 0, 12, 14, 7)], [[("load", 0, 13)]])
    states, expected = model_states(case)
    ok = RcuRun(0, expected, [[5]], [])
    assert check_run(case, states, expected, ok) is None
    assert check_run(case, states, expected, RcuRun(0, expected, [[7]], [])) is None
    bad = RcuRun(0, expected, [[9]], [])
    assert "returned 9" in check_run(case, states, expected, bad)


#: what each hand-made bug looks like when the explorer finds it
CAUGHT_AS = {
    "spanning-free-now": ("crash", "heap-use-after-free"),   # the reader reads a freed node
    "no-dead-recheck": ("finding", "mas_next_range"),        # a limit read off a queued node
    "split-parent-late": ("crash", "ma_is_root"),            # a new leaf's parent word not yet set
}


@pytest.mark.parametrize("name", sorted(CAUGHT_AS))
def test_rcu_mutant_is_caught_and_replays(stock_src, tmp_path, name):
    """The stock tree passes the mutant's case; the mutant fails it; the saved trace replays both ways."""
    case = RCU_CASES[name]
    w = RcuWorker(stock_src, sanitize=True)
    try:
        r = w.explore(case, {"kind": "exhaustive", "bound": 1})
        assert "crash" not in r and r["finding"] is None and r["schedules"] > 5
    finally:
        w.close()
    mutant = make_rcu_mutant(stock_src, tmp_path / "linux-mutant", name)
    w = RcuWorker(mutant, sanitize=True)
    try:
        r = w.explore(case, {"kind": "exhaustive", "bound": 1})
    finally:
        w.close()
    kind, text = CAUGHT_AS[name]
    if kind == "crash":
        assert text in r["crash"]
        schedule = r["last"]["schedule"]
    else:
        assert "crash" not in r and text in r["finding"]["reason"], r
        schedule = r["finding"]["schedule"]
    trace = write_rcu_trace(tmp_path / "t.jsonl", case, schedule, name)
    again, sched, _pct = read_rcu_trace(trace)
    assert again == case and sched == schedule
    assert main(["replay", str(trace), "--linux-src", str(mutant)]) == 1
    assert main(["replay", str(trace), "--linux-src", str(stock_src)]) == 0


def test_torn_range_is_a_registered_deviation(linux_kernel):
    """An in-place slot store read between its two stores: accepted by name, a failure without the registry."""
    trace = str(Path(__file__).resolve().parent / "corpus/deviations/rcu-slot-store-torn-range.jsonl")
    assert main(["replay", trace, "--kernel", linux_kernel]) == 0
    assert main(["replay", trace, "--kernel", linux_kernel, "--no-known-bugs"]) == 1


KNOWN = Path(__file__).resolve().parent / "corpus/rcu-known"


def test_rewalk_into_nodeless_tree_is_a_registered_crash(linux_kernel, capsys):
    """The reader crash after a rewalk into an emptied tree: named by replay, a failure
    without the registry, on each kernel and on our tree (which follows the kernel's code)."""
    trace = str(KNOWN / "mas-next-null-node-after-erase.jsonl")
    assert main(["replay", trace, "--kernel", linux_kernel]) == 0
    assert "known kernel bug rcu-rewalk-into-nodeless-tree" in capsys.readouterr().out
    assert main(["replay", trace, "--kernel", linux_kernel, "--no-known-bugs"]) == 1
    assert "mas_rewalk_if_dead" in capsys.readouterr().out
    trace = str(KNOWN / "mas-find-rewalk-into-empty-tree.jsonl")
    assert main(["replay", trace, "--impl", "python"]) == 0
    assert main(["replay", trace, "--impl", "python", "--no-known-bugs"]) == 1


def test_rewalk_into_nodeless_tree_predicate():
    """The campaign steps around exactly the cases that can meet it: a write that takes a
    tree with nodes to one without (empty, or index 0 alone), and a stepping reader."""
    from maplecheck.properties.rcu import RcuCase, may_rewalk_into_nodeless

    step = [[("mas_set", 0, 5), ("mas_next", 0, 2**64 - 1)]]
    look = [[("load", 0, 5), ("walk", 0, 7)]]
    pre = [("set_rcu", 0, True), ("store_range", 0, 10, 2**64 - 1, 3)]
    emptied = [("erase", 0, 12848)]
    assert may_rewalk_into_nodeless(RcuCase(2, pre, emptied, step))
    assert not may_rewalk_into_nodeless(RcuCase(2, pre, emptied, look))
    assert not may_rewalk_into_nodeless(RcuCase(2, pre, [("erase", 0, 3)], step))
    assert may_rewalk_into_nodeless(RcuCase(2, pre, [("store_range", 0, 1, 2**64 - 1, None)], step))
    at0 = [*pre, ("store_range", 0, 0, 0, 7)]  # left holding index 0 alone: the root pointer
    assert may_rewalk_into_nodeless(RcuCase(2, at0, emptied, step))
    at01 = [*pre, ("store_range", 0, 0, 1, 7)]  # [0, 1] needs a node
    assert not may_rewalk_into_nodeless(RcuCase(2, at01, emptied, step))
