# SPDX-License-Identifier: GPL-2.0-or-later
"""End to end on the real kernel code: campaigns, replay, and a bug put in by hand.

The kernel trees are Debian's linux-source packages of $MAPLECHECK_TEST_KERNELS
(default 6.12 and 7.3; fetched and cached on first use): every test runs on each.  The buggy tree is a copy made of symlinks with
one file patched: ``mtree_lookup_walk`` compares pivots with ``>`` instead of
``>=``, so ``mtree_load`` of the last index of a range reads the next slot —
a bug hit only when an index equals a range's last index.  A campaign must find
it, leave a minimized trace that fails there, and that trace must pass on the
unmodified tree.
"""

import re
from pathlib import Path

import pytest
from kernel_mutants import lookup_bug_tree

from maplecheck.cli import main
from maplecheck.impl.linux.source import kernel_source
from maplecheck.ops import read_trace
from maplecheck.properties.engine import check_trace, run_campaign


@pytest.fixture(scope="session")
def stock_src(linux_kernel) -> Path:
    return kernel_source(kernel=linux_kernel)


def make_buggy_tree(stock: Path, dest: Path) -> Path:
    """A kernel tree identical to ``stock`` but for an off-by-one in mtree_lookup_walk."""
    return lookup_bug_tree(stock, dest)


@pytest.fixture(scope="session")
def buggy_src(stock_src, tmp_path_factory) -> Path:
    return make_buggy_tree(stock_src, tmp_path_factory.mktemp("kernel") / "linux-buggy")


def test_seeded_campaign_passes_on_linux(stock_src):
    res = run_campaign("linux", seed=1, steps=6000, linux_src=str(stock_src))
    assert res.failures == [], res.failures[0].message if res.failures else ""
    assert res.steps >= 6000


def test_campaign_finds_a_bug_put_into_the_kernel(stock_src, buggy_src, tmp_path):
    res = run_campaign("linux", seed=1, steps=20000, linux_src=str(buggy_src), out=tmp_path,
                       shrink_budget_s=60)
    assert len(res.failures) == 1
    f = res.failures[0]
    # the planted '>' makes load(last index) read the next slot, or run past the
    # last pivot into the metadata word and crash: either way, found and shrunk
    assert f.kind in ("result", "crash")
    if f.kind == "crash":  # the report names the operation and gives the sanitized build's C frames
        assert re.search(r"linux on load\(t0, \w+\)", f.message), f.message
        assert "sanitized replay of the same trace" in f.message and "mtree_lookup_walk" in f.message
    assert f.trace.exists() and f.ops < f.original_ops and f.ops <= 12
    flags, ops = read_trace(f.trace)
    assert check_trace("linux", flags, ops, str(buggy_src)) is not None
    assert check_trace("linux", flags, ops, str(stock_src)) is None
    # and through the command line, with its exit codes and summary line
    assert main(["replay", str(f.trace), "--impl", "linux", "--linux-src", str(buggy_src)]) == 1
    assert main(["replay", str(f.trace), "--impl", "linux", "--linux-src", str(stock_src)]) == 0


def test_cli_fuzz_summary_and_exit_codes(stock_src, capsys, tmp_path):
    rc = main(["fuzz", "--impl", "linux", "--steps", "1500", "--seed", "3",
               "--linux-src", str(stock_src), "--out", str(tmp_path)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc == 0
    assert re.fullmatch(r"impl=linux steps=\d+ examples=\d+ failures=0 deviations=\d+ seconds=[\d.]+", last)


def test_cli_kernel_option(linux_kernel, linux_kernel_info, capsys):
    """``--kernel`` names Debian's tree; a series Debian does not package is one line, exit 2."""
    assert main(["linux", "build", "--kernel", linux_kernel]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"kernel={linux_kernel_info['version']} adapter=")
    assert main(["linux", "build", "--kernel", "1.0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["linux", "build", "--kernel", linux_kernel, "--linux-src", "/nonexistent"]) == 2


def test_cli_setup_errors_exit_2(tmp_path, capsys):
    assert main(["fuzz", "--impl", "linux", "--steps", "10", "--linux-src", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "maplecheck: error:" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"maplecheck": 1, "flags": 0}\n{"op": "load", "t": 0, "args": ["x"]}\n')
    assert main(["replay", str(bad), "--impl", "linux"]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
