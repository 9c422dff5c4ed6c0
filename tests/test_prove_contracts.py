# SPDX-License-Identifier: GPL-2.0-or-later
"""CrossHair contracts on the node helpers at 4 slots: no counterexample for the
real helpers, a counterexample for every mutant.  Bounded: a few seconds per
condition, one crosshair run per module."""

from __future__ import annotations

import re
import subprocess
import sys

from maplecheck.properties.contracts import CONTRACTS

TIMEOUT = "3"   # seconds per condition

def _crosshair(target: str, *extra: str, timeout: str = TIMEOUT):
    cmd = [sys.executable, "-m", "crosshair", "check", "--analysis_kind=PEP316",
           f"--per_condition_timeout={timeout}", *extra, target]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240)


def test_contracts_hold():
    r = _crosshair("maplecheck.properties.contracts", "--report_all")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error:" not in r.stdout, r.stdout
    # the data-end contract is small enough to be confirmed over all paths
    if "Confirmed over all paths" not in r.stdout:   # a starved run: once more, longer
        r = _crosshair("maplecheck.properties.contracts.data_end_small", "--report_all",
                       timeout="15")
    assert "Confirmed over all paths" in r.stdout, r.stdout


def test_every_mutant_is_refuted():
    r = _crosshair("maplecheck.properties.contracts_mutants")
    assert r.returncode == 1, r.stdout + r.stderr
    refuted = set(re.findall(r"error: false when calling (\w+)\(", r.stdout))
    # a busy machine can starve a 3-second search: retry the rest one by one,
    # longer (leaf_write_small, 14 symbolic ints, often needs it)
    for name in sorted(set(CONTRACTS) - refuted):
        r = _crosshair(f"maplecheck.properties.contracts_mutants.{name}", timeout="15")
        refuted |= set(re.findall(r"error: false when calling (\w+)\(", r.stdout))
    assert refuted == set(CONTRACTS), r.stdout
