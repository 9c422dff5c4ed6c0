# SPDX-License-Identifier: GPL-2.0-or-later
"""Registered kernel deviations: each trace deviates where the registry says, and only is explained there.

Per kernel of $MAPLECHECK_TEST_KERNELS and per registered deviation's trace:

* with the registry on, the trace passes and the deviation is counted;
* with it off (``--no-known-bugs``), the raw divergence is reported, as a
  result mismatch, exactly on the series the registry says it fires on;
* a kernel that answered as the model would (a fixed series) is never counted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maplecheck.ops import read_trace
from maplecheck.properties.engine import check_trace, open_lockstep, run_ops
from maplecheck.properties.known import DEVIATIONS, fires_on

ROOT = Path(__file__).resolve().parent.parent
CASES = [(dev, trace) for dev in DEVIATIONS for trace in dev.traces]


@pytest.mark.parametrize("dev, trace", CASES, ids=[Path(t).stem for _d, t in CASES])
def test_deviation_trace_per_kernel(dev, trace, linux_kernel):
    flags, ops = read_trace(ROOT / trace)
    raw = check_trace("linux", flags, ops, avoid_known_bugs=False, kernel=linux_kernel)
    if fires_on(dev, linux_kernel):
        assert raw is not None and raw.kind == "result", raw
    else:
        assert raw is None
    ls = open_lockstep("linux", flags, kernel=linux_kernel)
    try:
        run_ops(ls, ops, batched=False)
    finally:
        ls.close()
    seen = ls.deviations.get(dev.name, 0)
    assert seen >= 1 if fires_on(dev, linux_kernel) else seen == 0
    assert set(ls.deviations) <= {dev.name}


def test_batched_campaign_path_single_steps_deviating_ops(linux_kernel):
    """The batched replay (a campaign's path) explains the deviation too: those ops are single-stepped."""
    for dev, trace in CASES:
        flags, ops = read_trace(ROOT / trace)
        assert check_trace("linux", flags, ops, batched=True, kernel=linux_kernel) is None, trace


def test_python_tree_deviates_like_6_12():
    """Our Python tree follows 6.12, deviations included: the registry explains them there too."""
    for dev, trace in CASES:
        flags, ops = read_trace(ROOT / trace)
        assert check_trace("python", flags, ops) is None, trace
        assert check_trace("python", flags, ops, avoid_known_bugs=False) is not None, trace
