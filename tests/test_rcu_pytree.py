# SPDX-License-Identifier: GPL-2.0-or-later
"""RCU readers against our Python tree's writer: its publication points, grace periods and mutants."""

import pytest

from maplecheck.cli import main
from maplecheck.cmd_rcu import read_rcu_trace, write_rcu_trace
from maplecheck.properties.rcu import campaign_cases
from maplecheck.properties.rcu_mutants import PY_RCU_CASES, RCU_CASES, py_rcu_mutant
from maplecheck.properties.rcu_pytree import PyRcuWorker, run_case

PROFILES = ("6.12", "7.3")


@pytest.mark.parametrize("profile", PROFILES)
def test_our_tree_passes_the_mutants_cases_and_campaign_writes(profile):
    w = PyRcuWorker(profile)
    for case in list(RCU_CASES.values()) + list(PY_RCU_CASES.values()):
        r = w.explore(case, {"kind": "exhaustive", "bound": 1, "max_schedules": 400})
        assert "crash" not in r and r["finding"] is None, r
    for k, case in enumerate(campaign_cases(11, 150, 2)):
        if k == 25:
            break
        for st in ({"kind": "exhaustive", "bound": 1, "max_schedules": 300},
                   {"kind": "pct", "schedules": 10, "depth": 3, "seed": k}):
            r = w.explore(case, st)
            assert "crash" not in r and r["finding"] is None, (case, r)


def test_a_reader_that_meets_dead_nodes_waits_for_the_writer():
    """Between a root's dead mark and its children's adoption a reader can only spin: it waits."""
    case = RCU_CASES["no-dead-recheck"]
    run = run_case(case, "6.12", schedule=[0, 0] + [1] * 40)
    assert run.hits.get("reader_waits", 0) >= 1 and run.status == 0
    assert len(run.readers[0]) == len(case.readers[0])


def test_queued_nodes_carry_the_callback_head_until_the_grace_period():
    from maplecheck.impl.pytree import rcu as pyrcu
    from maplecheck.properties.rcu_pytree import RcuScheduler
    from maplecheck.impl.pytree import PyFactory
    from maplecheck.tree import MT_FLAGS_USE_RCU

    t = PyFactory().create(MT_FLAGS_USE_RCU)
    for i in range(20):
        t.store_range(10 * i, 10 * i + 5, 2 * i + 1)
    live = t.factory.live_nodes()
    sched = RcuScheduler(t, [])
    pyrcu.install(sched)
    try:
        t.store_range(12, 13, 999)       # a node store: the old leaf is replaced
    finally:
        pyrcu.install(None)
    queued = list(sched.queued)   # the replaced leaf (and the unused preallocated nodes)
    assert queued and all(tuple(a.nodes[e >> 8].pivot[:2]) == pyrcu.CALLBACK_HEAD for a, e in queued)
    assert t.factory.live_nodes() == live + len(queued)
    sched.end_grace_period()
    assert all(a.nodes[e >> 8] is None for a, e in queued) and t.factory.live_nodes() == live


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", sorted(PY_RCU_CASES))
def test_python_mutant_is_caught_and_replays(tmp_path, name, profile):
    case = PY_RCU_CASES[name]
    w = PyRcuWorker(profile)
    with py_rcu_mutant(name):
        r = w.explore(case, {"kind": "exhaustive", "bound": 1})
    if "crash" in r:
        assert "raised" in r["crash"]
        schedule = r["last"]["schedule"]
    else:
        assert r["finding"] and "returned" in r["finding"]["reason"]
        schedule = r["finding"]["schedule"]
    trace = write_rcu_trace(tmp_path / "t.jsonl", case, schedule, name)
    assert read_rcu_trace(trace)[0] == case
    with py_rcu_mutant(name):
        assert main(["replay", str(trace), "--impl", "python"]) == 1
    assert main(["replay", str(trace), "--impl", "python"]) == 0


def test_fuzz_rcu_on_our_tree(tmp_path, capsys):
    assert main(["fuzz", "--rcu", "--impl", "python", "--steps", "20", "--seed", "4",
                 "--out", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("cases=20 ") and "assign[" in last and "failures=0" in last
    assert main(["fuzz", "--rcu", "--impl", "both", "--steps", "2", "--out", str(tmp_path)]) == 2


def test_python_mutant_found_by_a_campaign(tmp_path, capsys):
    """py-free-now is found by fuzz --rcu on our tree from seeded cases, shrunk, saved, replayable."""
    with py_rcu_mutant("py-free-now"):
        rc = main(["fuzz", "--rcu", "--impl", "python", "--steps", "200", "--seed", "4",
                   "--out", str(tmp_path), "--shrink-seconds", "10"])
    assert rc == 1
    (trace,) = sorted(tmp_path.glob("*-min.jsonl"))
    with py_rcu_mutant("py-free-now"):
        assert main(["replay", str(trace), "--impl", "python"]) == 1
