# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck diff``: two kernel trees and the model in lockstep.

Three trees built from the stock 6.12 source: the stock tree itself; a
*lookup* mutant (``mtree_lookup_walk`` compares pivots with ``>``, a content
bug) and a *split* mutant (``mab_calc_split`` rounds the equal split up
instead of down: every tree holds the same contents, but a node splits one
slot to the right whenever the big node's data end is odd).  Each mutant is a
copy of the stock tree made of symlinks with one patched ``lib/maple_tree.c``.
"""

import json
import os
import re
from pathlib import Path

import pytest
from kernel_mutants import lookup_bug_tree, patched_tree

from maplecheck.cli import main
from maplecheck.impl.linux.source import kernel_source
from maplecheck.ops import read_trace
from maplecheck.properties.diff import Side, run_diff, run_pair


@pytest.fixture(scope="module")
def stock() -> Path:
    return kernel_source(os.environ.get("MAPLECHECK_LINUX_SRC"))


@pytest.fixture(scope="module")
def lookup_bug(stock, tmp_path_factory) -> Path:
    return lookup_bug_tree(stock, tmp_path_factory.mktemp("k") / "lookup")


@pytest.fixture(scope="module")
def split_right(stock, tmp_path_factory) -> Path:
    return patched_tree(stock, tmp_path_factory.mktemp("k") / "split", "static inline int mab_calc_split(",
                       "int split = b_end / 2;", "int split = (b_end + 1) / 2;")


def sides(base: Path, patched: Path) -> tuple[Side, Side]:
    return Side("base", str(base), "base"), Side("patched", str(patched), "patched")


def test_a_tree_against_itself_has_no_structural_difference(stock, tmp_path):
    res = run_diff(sides(stock, stock), seed=3, steps=2500, out=tmp_path, timing=False)
    assert res.failures == [] and res.steps == 2500
    assert res.writes > 1000 and res.diff_writes == 0 and res.structural is None
    assert res.stats["base"] == res.stats["patched"]
    assert res.stats["base"]["nodes_per_entry"] > 0


def test_a_lookup_bug_on_the_patched_side_is_found_named_and_replays(stock, lookup_bug, tmp_path, capsys):
    rc = main(["diff", "--base-src", str(stock), "--patched-src", str(lookup_bug), "--steps", "20000",
               "--seed", "1", "--out", str(tmp_path), "--shrink-seconds", "60", "--no-timing"])
    out = capsys.readouterr().out
    assert rc == 1
    assert re.search(r"^base=\S+ patched=\S+ steps=\d+ examples=\d+ failures=1 structural_diffs=0 "
                     r"seconds=[\d.]+$", out.strip().splitlines()[-1])
    report = json.loads((tmp_path / "diff-seed1.json").read_text())
    (f,) = report["failures"]
    assert f["side"] == "patched" and f["kind"] in ("result", "crash") and f["ops"] <= 12
    assert f"maplecheck replay {f['trace']} --impl linux --linux-src {lookup_bug}" in out
    assert main(["replay", f["trace"], "--impl", "linux", "--linux-src", str(lookup_bug)]) == 1
    assert main(["replay", f["trace"], "--impl", "linux", "--linux-src", str(stock)]) == 0


def test_a_split_point_change_passes_in_report_mode(stock, split_right, tmp_path):
    res = run_diff(sides(stock, split_right), seed=1, steps=2000, out=tmp_path, timing=False,
                   shrink_budget_s=30)
    assert res.failures == []
    assert 0 < res.diff_writes < res.writes
    s = res.structural
    assert s["ops"] <= 20 and "node #" in s["diff"]
    assert s["dumps"]["base"] != s["dumps"]["patched"]
    flags, ops = read_trace(s["trace"])
    assert run_pair(sides(stock, split_right), flags, ops, strict=True).kind == "structure"


def test_a_split_point_change_fails_in_strict_mode(stock, split_right, tmp_path, capsys):
    rc = main(["diff", "--base-src", str(stock), "--patched-src", str(split_right), "--steps", "2000",
               "--seed", "1", "--structure", "strict", "--out", str(tmp_path), "--shrink-seconds", "30",
               "--no-timing"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAILED (structure, side both)" in out and "node #" in out
    report = json.loads((tmp_path / "diff-seed1.json").read_text())
    (f,) = report["failures"]
    assert f["kind"] == "structure"
    assert main(["diff", "--base-src", str(stock), "--patched-src", str(split_right), "--structure", "strict",
                 "--replay", f["trace"]]) == 1
    assert main(["diff", "--base-src", str(stock), "--patched-src", str(split_right), "--replay", f["trace"]]) == 0


def test_speed_table_and_usage_errors(stock, tmp_path, capsys):
    rc = main(["diff", "--base-src", str(stock), "--patched-src", str(stock), "--steps", "300", "--seed", "4",
               "--out", str(tmp_path)])
    assert rc == 0
    speed = json.loads((tmp_path / "diff-seed4.json").read_text())["speed"]["classes"]
    assert speed["store"]["ops"] > 0 and speed["store"]["base_ns"] > 0 and speed["store"]["ratio"] > 0
    capsys.readouterr()
    assert main(["diff", "--base-src", str(tmp_path), "--patched-src", str(stock), "--steps", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "maplecheck: error:" in err
    assert main(["diff", "--base-kernel", "six", "--patched-src", str(stock), "--steps", "10"]) == 2
    assert "base side" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["diff", "--base-src", str(stock)])
    assert e.value.code == 2
