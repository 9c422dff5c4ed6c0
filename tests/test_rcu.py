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


def test_spanning_free_now_is_caught_and_replays(stock_src, tmp_path):
    case = RCU_CASES["spanning-free-now"]
    w = RcuWorker(stock_src, sanitize=True)
    try:
        r = w.explore(case, {"kind": "exhaustive", "bound": 1})
        assert "crash" not in r and r["finding"] is None and r["schedules"] > 5
    finally:
        w.close()
    mutant = make_rcu_mutant(stock_src, tmp_path / "linux-mutant", "spanning-free-now")
    w = RcuWorker(mutant, sanitize=True)
    try:
        r = w.explore(case, {"kind": "exhaustive", "bound": 1})
    finally:
        w.close()
    assert "heap-use-after-free" in r["crash"]
    schedule = r["last"]["schedule"]
    trace = write_rcu_trace(tmp_path / "t.jsonl", case, schedule, "uaf")
    again, sched, _pct = read_rcu_trace(trace)
    assert again == case and sched == schedule
    assert main(["replay", str(trace), "--linux-src", str(mutant)]) == 1
    assert main(["replay", str(trace), "--linux-src", str(stock_src)]) == 0
