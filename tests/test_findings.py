# SPDX-License-Identifier: GPL-2.0-or-later
"""Findings a kernel developer can act on: C export and --run, pictures, reports, --initial, small traces.

The lookup bug is the one of tests/test_linux_campaign.py (``mtree_lookup_walk``
compares pivots with ``>``): a campaign on that tree finds it, the export of the
shrunk trace fails when built into that tree's own radix-tree maple harness and
passes in the stock tree's.
"""

import os
import re
import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest

from maplecheck.cli import main
from maplecheck.export import c_test, c_word, c_entry
from maplecheck.impl.linux.source import kernel_source
from maplecheck.maps import layout_ops, parse_maps, vma_entries
from maplecheck.ops import read_trace, write_trace
from maplecheck.properties import simplify as S
from maplecheck.properties.engine import run_campaign
from maplecheck.tree import MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU, xa_mk_value

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finding_mutants import kernel_for, mutant  # noqa: E402
from test_linux_campaign import make_buggy_tree  # noqa: E402


@pytest.fixture(scope="module")
def stock_src() -> Path:
    return kernel_source(os.environ.get("MAPLECHECK_LINUX_SRC"))


@pytest.fixture(scope="module")
def lookup_finding(stock_src, tmp_path_factory):
    buggy = make_buggy_tree(stock_src, tmp_path_factory.mktemp("kernel") / "linux-buggy")
    out = tmp_path_factory.mktemp("out")
    res = run_campaign("linux", seed=1, steps=3000, linux_src=str(buggy), out=out, shrink_budget_s=20)
    assert len(res.failures) == 1
    return buggy, res.failures[0]


# ---------------------------------------------------------------- export

def test_export_of_the_lookup_bug_fails_there_and_passes_on_stock(lookup_finding, stock_src, capsys):
    buggy, f = lookup_finding
    assert f.ops <= 10
    flags, ops = read_trace(f.trace)
    text = c_test(flags, ops, "lookup")
    assert "static noinline void __init check_lookup(struct maple_tree *mt)" in text
    assert "MT_BUG_ON(mt, mtree_load(mt," in text and "mtree_store_range(mt," in text
    trace = str(f.trace)
    assert main(["export", trace, "--c", "--name", "lookup", "--run", "--linux-src", str(buggy)]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("result=fail")
    assert main(["export", trace, "--c", "--name", "lookup", "--run", "--linux-src", str(stock_src)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("result=pass")


@pytest.mark.parametrize("name", ["insert-new-root-overwrites", "gap-search-unsigned-size"])
def test_export_at_a_registered_deviation_states_the_kernels_answer(name, linux_kernel, capsys):
    """The deviation is the stock kernel's registered behaviour: the export passes there, and says so."""
    trace = Path(__file__).resolve().parent / "corpus/deviations" / f"{name}.jsonl"
    src = str(kernel_source(kernel=linux_kernel))
    flags, ops = read_trace(trace)
    test = c_test(flags, ops, "dev", linux_src=src)
    assert f"registered deviation {name}" in test and "the model's answer is" in test
    assert main(["export", str(trace), "--c", "--run", "--kernel", linux_kernel]) == 0
    assert capsys.readouterr().out.strip().endswith("result=pass")


def test_export_prints_a_pasteable_test(tmp_path, capsys):
    t = write_trace(tmp_path / "t.jsonl", MT_FLAGS_ALLOC_RANGE,
                    [("store_range", 0, 10, 20, xa_mk_value(3)), ("dup", 0, None),
                     ("walk", 1, 15), ("mas_find", 1, MAX), ("alloc_range", 0, 5, 7, 0, 100),
                     ("empty_area_rev", 1, 0, MAX, 4096)])
    assert main(["export", str(t), "--c"]) == 0
    out = capsys.readouterr().out
    assert "mtree_dup(mt, &tree1, GFP_KERNEL) != 0" in out
    assert "mas_find(&cur1, ULONG_MAX)" in out and "cur1.status != ma_active" in out
    assert "mtree_alloc_range(mt, &start, xa_mk_value(3), 5, 0, 100, GFP_KERNEL) != 0" in out
    assert "mt_init_flags(&tree, MT_FLAGS_ALLOC_RANGE);" in out
    assert out.strip().splitlines()[-1] == "test=check_t ops=6"
    assert (c_word(MAX), c_word(4096), c_entry(None), c_entry(7)) == ("ULONG_MAX", "0x1000UL", "NULL",
                                                                      "xa_mk_value(3)")
    assert main(["export", str(t)]) == 2  # no format chosen


# ---------------------------------------------------------------- show

def _height3_trace(tmp_path) -> Path:
    ops = [("store_range", 0, 10 * i, 10 * i + 5, xa_mk_value(i)) for i in range(300)] + [("load", 0, 1500)]
    return write_trace(tmp_path / "h3.jsonl", 0, ops)


def test_show_draws_a_height_3_tree(tmp_path, capsys):
    svg = tmp_path / "h3.svg"
    assert main(["show", str(_height3_trace(tmp_path)), "--svg", str(svg)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("trees=1 height=3 nodes=42")
    text = svg.read_text()
    assert "<svg" in text and "range_64" in text and "leaf_64" in text
    assert "#1f6fd1" in text  # the walk of load(1500) is marked


def test_show_two_trees_highlights_the_first_difference(tmp_path, capsys):
    from maplecheck.impl.pytree import big_node, split

    real = big_node.mab_calc_split

    def split_one_left(mas, b):
        at, mid = real(mas, b)
        return at - 1, mid

    ops = [("store_range", 0, i, i, xa_mk_value(i)) for i in range(16)]
    t = write_trace(tmp_path / "split.jsonl", 0, ops)
    png = tmp_path / "diff.png"
    old = split.mab_calc_split
    split.mab_calc_split = split_one_left
    try:
        assert main(["show", str(t), "--step", "15", "--impl", "both", "--png", str(png)]) == 0
    finally:
        split.mab_calc_split = old
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("trees=2 height=2 nodes=3 diff_node=0")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_text_without_dot(tmp_path, capsys, monkeypatch):
    import maplecheck.show as show

    monkeypatch.setattr(show, "have_dot", lambda: False)
    assert main(["show", str(_height3_trace(tmp_path)), "--svg", str(tmp_path / "x.svg")]) == 0
    out = capsys.readouterr().out
    assert "dot is not installed" in out and "range_64" in out and "walk of index 1500 visits" in out
    assert not (tmp_path / "x.svg").exists()


# ---------------------------------------------------------------- report

def _png_is_busy(png: Path) -> bool:
    """A real page: a PNG of at least 800x600 whose pixel data is far from one colour."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    return w >= 800 and h >= 600 and len(set(raw)) > 40 and raw.count(0) < 0.995 * len(raw)


def test_report_renders_in_headless_chromium(tmp_path):
    from maplecheck.report import screenshot, write_report

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is part of the set-up (make setup)"
    from maplecheck.properties.engine import Failure

    res = run_campaign("python", seed=1, steps=300, example_len=100, out=tmp_path / "out")
    trace = write_trace(tmp_path / "f.jsonl", 0, [("store_range", 0, i, i, xa_mk_value(i)) for i in range(16)]
                        + [("load", 0, 8)], note="validate: a planted finding")
    res.failures.append(Failure("validate", "after store_range: planted", trace, trace, 17, 170))
    page = write_report(res, tmp_path / "report", timeline=[(0.1, 100), (0.2, 300), (0.4, 500)])
    html = page.read_text()
    assert "Finding 1: validate" in html and "finding1.svg" in html and "check_finding1" in html
    assert "<polyline" in html and "Write paths" in html
    assert (tmp_path / "report/finding1.svg").read_text().count("<svg") == 1
    png = screenshot(page, tmp_path / "report.png", chromium)
    assert png.exists() and _png_is_busy(png)


def test_fuzz_report_flag(tmp_path, capsys):
    rc = main(["fuzz", "--impl", "python", "--steps", "600", "--example-len", "200", "--seed", "2",
               "--out", str(tmp_path / "o"), "--report", str(tmp_path / "r")])
    assert rc == 0
    html = (tmp_path / "r/index.html").read_text()
    assert "no finding" in html and "store_range" in html and "<polyline" in html


# ---------------------------------------------------------------- --initial

MAPS = """\
55d0c0a00000-55d0c0a28000 r--p 00000000 08:01 1234 /usr/bin/cat
55d0c0a28000-55d0c0aa0000 r-xp 00028000 08:01 1234 /usr/bin/cat
7ffd4b1f0000-7ffd4b211000 rw-p 00000000 00:00 0 [stack]
garbage line
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
"""


def test_maps_are_stored_as_mm_stores_vmas():
    vmas = parse_maps(MAPS)
    assert vmas == [(0x55d0c0a00000, 0x55d0c0a28000), (0x55d0c0a28000, 0x55d0c0aa0000),
                    (0x7ffd4b1f0000, 0x7ffd4b211000)]  # the gate area is not in mm_mt
    ops = layout_ops(vmas)
    assert ops[0][:4] == ("store_range", 0, 0x55d0c0a00000, 0x55d0c0a27fff)  # [vm_start, vm_end - 1]
    entries = [e for *_, e in vma_entries(vmas)]
    assert len(set(entries)) == 3 and all(e % 256 == 0 for e in entries)


def test_fuzz_initial_self_passes(tmp_path, capsys, stock_src):
    rc = main(["fuzz", "--impl", "linux", "--initial", "/proc/self/maps", "--steps", "1500",
               "--seed", "4", "--out", str(tmp_path), "--linux-src", str(stock_src)])
    captured = capsys.readouterr()
    assert rc == 0, captured.out
    assert "initial tree:" in captured.err and "VMAs" in captured.err
    assert main(["fuzz", "--impl", "python", "--initial", str(tmp_path / "nope"), "--steps", "5"]) == 2


def test_bench_fork_initial(capsys):
    assert main(["bench", "fork", "--impl", "python", "--initial", "self", "--iterations", "2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.match(r"impl=python mode=native entries=\d+ ", last)


# ---------------------------------------------------------------- simplify

def test_compress_map_keeps_order_and_the_ends():
    vals = {0, 5, 6, 1000, 10 ** 12, MAX - 3, MAX}
    m = S.compress_map(vals, 10)
    assert [m[v] for v in sorted(vals)] == [0, 5, 6, 16, 26, MAX - 3, MAX]


def test_without_dup_and_lineage():
    ops = [("store_range", 0, 1, 2, 3), ("dup", 0, None), ("store_range", 1, 5, 6, 3),
           ("dup", 1, None), ("store_range", 0, 9, 9, 3), ("load", 2, 5)]
    assert S.without_dup(ops, 3)[-1] == ("load", 1, 5)
    assert S.lineage_ops(ops) == [("store_range", 0, 1, 2, 3), ("store_range", 0, 5, 6, 3), ("load", 0, 5)]


def test_simplify_makes_indices_entries_and_flags_plain():
    def fails(flags, ops):  # "bug": load of an index right after the end of a stored range
        stores = [op for op in ops if op[0] == "store_range"]
        return any(op[0] == "load" and any(op[2] == s[3] + 1 for s in stores) for op in ops)

    ops = [("set_rcu", 0, True), ("store_range", 0, 0x7f0012345000, 0x7f0012346fff, 0x1234560),
           ("store_range", 0, 5, 9, 0x999990), ("load", 0, 0x7f0012347000)]
    m = S.minimize(MT_FLAGS_USE_RCU | MT_FLAGS_ALLOC_RANGE, ops, fails, 10.0,
                   lambda o, f, b: o)
    assert m.flags == 0 and m.one_minimal
    assert m.ops == [("store_range", 0, 0, 1, xa_mk_value(1)), ("load", 0, 2)]


@pytest.mark.parametrize("name", ["new_end_low"])
def test_mutant_findings_shrink_to_ten_operations(name, tmp_path):
    with mutant(name):
        res = run_campaign("python", seed=1, steps=4000, out=tmp_path, shrink_budget_s=15,
                           kernel=kernel_for(name))
    assert len(res.failures) == 1
    f = res.failures[0]
    header = read_trace(f.trace) and __import__("json").loads(f.trace.read_text().splitlines()[0])
    assert f.ops <= 10 and header["one_minimal"] is True


def test_an_exception_in_our_tree_is_a_finding_shrunk_and_saved(tmp_path, capsys):
    from maplecheck.properties.engine import check_trace

    with mutant("new_end_raises"):
        res = run_campaign("python", seed=1, steps=4000, out=tmp_path, shrink_budget_s=10)
        (f,) = res.failures
        assert f.kind == "exception" and "IndexError: planted" in f.message and f.ops <= 10
        flags, ops = read_trace(f.trace)
        assert check_trace("python", flags, ops).kind == "exception"
        assert main(["replay", str(f.trace), "--impl", "python"]) == 1
    assert check_trace("python", flags, ops) is None
    assert main(["replay", str(f.trace), "--impl", "python"]) == 0



def test_a_shape_bound_finding_is_resampled_to_a_short_one(tmp_path):
    """split_right seed 2 first fails after a 130-store descending build that no removal survives;
    a fresh short example breaking the same rule is found and shrunk instead."""
    import json

    with mutant("split_right"):
        res = run_campaign("python", seed=2, steps=4000, out=tmp_path, shrink_budget_s=30,
                           kernel="6.12")
    (f,) = res.failures
    header = json.loads(f.trace.read_text().splitlines()[0])
    assert f.original_ops > 100 and f.ops <= 20 and header["resampled"] is True
    assert "node_occupancy" in f.message


def test_failure_signature_names_the_rule():
    from maplecheck.properties.engine import failure_signature

    assert failure_signature("validate", "after store_range(t0, 0xf, 0xf, 3): python: node_occupancy: "
                             "path=[1] leaf_64") == ("validate", "node_occupancy")
    assert failure_signature("exception", "python raised on store_range(t0, 1, 2, 3): IndexError: "
                             "planted") == ("exception", "IndexError")
    assert failure_signature("result", "load(t0, 0x5): model=1 python=2") == ("result", "load")


def test_spread_indices_lets_stores_go(monkeypatch):
    """A "the root split" failure: adjacent stores fill one slot each; spread apart, eight do."""
    from maplecheck.properties.engine import shrink
    from maplecheck.properties.impls import open_session

    def fails(flags, ops):
        s = open_session("python", flags)
        for op in ops:
            s.step(op)
        return s.dump(0).get("height", 0) >= 2

    ops = [("store_range", 0, i, i, xa_mk_value(1)) for i in range(1, 20)]
    assert len(S.minimize(0, ops, fails, 20.0, shrink).ops) == 8
    monkeypatch.setattr(S, "PASSES", tuple(p for p in S.PASSES if p is not S.spread_indices))
    assert len(S.minimize(0, ops, fails, 20.0, shrink).ops) > 8
