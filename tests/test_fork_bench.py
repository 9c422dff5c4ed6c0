# SPDX-License-Identifier: GPL-2.0-or-later
"""``bench_fork`` (maplecheck/bench_fork.py) runs every mode and reports sane rows (tiny sizes)."""

from __future__ import annotations

import pytest

from maplecheck.bench_fork import BenchRow, bench_fork, format_rows, summary_line
from maplecheck.impl.pytree import PyFactory
from maplecheck.model.mtree import ModelFactory


@pytest.fixture(scope="module")
def linux_factory():
    from maplecheck.impl.linux.adapter import LinuxFactory
    return LinuxFactory()


def test_bench_fork_rows(linux_factory):
    pf = PyFactory()
    rows = bench_fork([pf, linux_factory, ModelFactory()], entries_list=(23, 135),
                      iterations={"python": 2, "linux": 5, "model": 2},
                      modes=("native", "protocol"))
    got = {(r.impl, r.mode, r.entries) for r in rows}
    assert got == {(i, m, n) for n in (23, 135) for i, m in
                   (("python", "native"), ("python", "protocol"), ("linux", "batch"),
                    ("linux", "protocol"), ("model", "protocol"))}
    for r in rows:
        assert isinstance(r, BenchRow) and r.before > 0 and r.after > 0
        assert r.ratio == pytest.approx(r.before / r.after)
        if r.impl != "model":
            assert r.nodes == {23: 4, 135: 20}[r.entries]  # check_forking's shape at 135
    assert pf.live_nodes() == 0
    assert linux_factory.live_nodes() == 0
    table = format_rows(rows)
    assert "ratio" in table.splitlines()[0] and len(table.splitlines()) == len(rows) + 1
    line = summary_line(rows)
    assert line.startswith("impl=") and " before=" in line and " after=" in line and " ratio=" in line
    assert "entries=135" in line


def test_bench_fork_scales_iterations():
    rows = bench_fork([PyFactory()], entries_list=(270,), iterations=4)
    assert rows[0].iterations == 3  # max(3, 4 * 135 // 270)


def test_bench_fork_iterations_by_impl():
    rows = bench_fork([PyFactory()], entries_list=(23, 540), iterations={"python": 8})
    assert [r.iterations for r in rows] == [8, 3]
