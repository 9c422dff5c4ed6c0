# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck bench fuzz`` runs every mode on one seed and reports rates (no timing asserted)."""

from maplecheck.bench_fuzz import MODES, bench_fuzz, summary_line


def test_bench_fuzz_reports_every_mode_and_the_raw_rate():
    lines = []
    rates = bench_fuzz(seed=3, seconds=0.1, example_len=150, say=lines.append)
    assert rates["failures"] == 0
    assert all(rates[m] > 0 for m in (*MODES, "raw_c"))
    assert any("raw_c / both" in line for line in lines)
    last = summary_line(rates, 1.0)
    assert [kv.split("=")[0] for kv in last.split()] == ["python", "linux", "both", "raw_c", "seconds"]
