# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck bench fuzz``: checked steps per second of each campaign, in one run.

The same seed drives three campaigns, each for the same time budget:

* ``python``: the model and our Python tree in lockstep;
* ``linux``: the model and the Linux tree (in its worker process);
* ``both``: the model, our tree and Linux's, with the structure of the two
  trees compared after every write;

and, as the ceiling the checked rates are measured against, ``raw_c``: the
same examples' operations executed by the Linux shim's batch entry point in
this process, with no validation and no model (operations per second).

Every checked campaign validates each tree after every write and compares
results with the model, exactly as ``maplecheck fuzz`` does (it *is*
``run_campaign``).  A campaign that finds something is reported
(``failures=``) and its rate still counts the steps it ran.
The last line is ``python= linux= both= raw_c= seconds=`` (steps/s).
"""

from __future__ import annotations

import time

MODES = ("python", "linux", "both")


def _raw_c_ops(seed: int, k: int, example_len: int):
    """Example ``k``'s operations as Linux may receive them: RCU mode off (the known
    RCU destroy bugs would end the measurement), every dup and every write allowed
    to succeed (no injected allocation failure: the model alone cannot tell which
    fail, and a cursor after a refused write is not the model's), the calls a
    registered deviation may concern removed (after one, the kernel's tree is not the
    model's, and a cursor call the model allows may be one Linux leaves undefined)
    and the calls the model refuses removed."""
    from maplecheck.model import ModelFactory
    from maplecheck.ops import NOMEM_DECIDED, Session
    from maplecheck.properties.engine import example_seed
    from maplecheck.properties.known import may_deviate
    from maplecheck.properties.gen import example_ops
    from maplecheck.tree import MT_FLAGS_USE_RCU, MapleUsageError

    flags, ops = example_ops(example_seed(seed, k), example_len)
    flags &= ~MT_FLAGS_USE_RCU
    model = Session(ModelFactory(), flags)
    kept = []
    for op in ops:
        if op[0] == "set_rcu" or may_deviate(op):
            continue
        if op[0] == "dup" or op[0] in NOMEM_DECIDED:
            op = (*op[:-1], None)
        try:
            model.step(op)
        except MapleUsageError:
            continue
        kept.append(op)
    model.close()
    return flags, kept


def _raw_c_rate(seed: int, seconds: float, example_len: int, linux_src) -> float:
    """Operations/s of the shim's batch entry point (in the worker, one call per example)."""
    from maplecheck.properties.impls import open_session

    ops_done, spent, k = 0, 0.0, 0
    stop = time.monotonic() + seconds  # preparing the operations counts against the budget
    while time.monotonic() < stop or not ops_done:
        flags, ops = _raw_c_ops(seed, k, example_len)
        k += 1
        sess = open_session("linux", flags, linux_src)
        t0 = time.perf_counter()
        sess.run(ops)
        spent += time.perf_counter() - t0
        ops_done += len(ops)
        sess.close()
    return ops_done / spent if spent else 0.0


def bench_fuzz(seed: int = 1, seconds: float = 10.0, example_len: int = 2000, linux_src=None,
               modes=MODES, say=print) -> dict[str, float]:
    """Run each mode's campaign for ``seconds``; return steps/s per mode, ``raw_c``, ``failures``."""
    from maplecheck.properties.engine import run_campaign

    from maplecheck.properties.impls import linux_library

    linux_library(linux_src, False)  # build (or find) the adapter before any clock runs
    rates: dict[str, float] = {}
    failures = 0
    for mode in modes:
        res = run_campaign(mode, seed=seed, minutes=seconds / 60, linux_src=linux_src,
                           example_len=example_len, out=_scratch_out(), shrink_budget_s=5.0)
        failures += len(res.failures)
        rates[mode] = res.steps / res.seconds if res.seconds else 0.0
        say(f"{mode:>6}: {res.steps:>8} checked steps in {res.seconds:5.1f}s = "
            f"{rates[mode]:>9,.0f} steps/s ({res.examples} examples, failures={len(res.failures)})")
    rates["raw_c"] = _raw_c_rate(seed, seconds, example_len, linux_src)
    say(f" raw_c: {rates['raw_c']:>9,.0f} ops/s (shim batch, no validation, no model)")
    for mode in modes:
        if rates[mode]:
            say(f"raw_c / {mode}: {rates['raw_c'] / rates[mode]:,.1f}x")
    rates["failures"] = failures
    return rates


def _scratch_out():
    import tempfile
    from pathlib import Path
    return Path(tempfile.mkdtemp(prefix="maplecheck-bench-fuzz-"))


def summary_line(rates: dict[str, float], seconds: float) -> str:
    """``python= linux= both= raw_c= seconds=`` (steps/s, ops/s for raw_c)."""
    return " ".join(f"{k}={rates[k]:.0f}" for k in (*MODES, "raw_c")) + f" seconds={seconds:.1f}"


def main(args) -> int:
    """CLI entry: ``maplecheck bench fuzz [--seed S] [--seconds T] [--linux-src DIR]``."""
    import sys

    from maplecheck.cli import UsageProblem

    t0 = time.monotonic()
    seconds = args.seconds if getattr(args, "seconds", None) is not None else 10.0
    if not seconds > 0:
        raise UsageProblem("--seconds must be positive")
    rates = bench_fuzz(seed=args.seed if getattr(args, "seed", None) is not None else 1,
                       seconds=seconds, linux_src=args.linux_src,
                       say=lambda *a: print(*a, file=sys.stderr, flush=True))
    print(summary_line(rates, time.monotonic() - t0))
    return 1 if rates["failures"] else 0
