# SPDX-License-Identifier: GPL-2.0-or-later
"""The seeded engine, lockstep, shrinking and traces, on in-process implementations.

A deliberately broken implementation (a *mutant*: the model with an off-by-one
at the last index of a range) must be caught, shrunk to a short trace that
replays the failure, and that trace must pass on the real model.
"""

import json

import pytest

from maplecheck.model import ModelFactory
from maplecheck.model.mtree import ModelTree
from maplecheck.ops import TraceError, read_trace, write_trace
from maplecheck.properties.engine import check_trace, example_seed, run_campaign, shrink
from maplecheck.properties.gen import example_ops
from maplecheck.properties.impls import register_local
from maplecheck.properties.lockstep import Divergence, Lockstep, LocalSession
from maplecheck.tree import MAX, MapleUsageError, xa_mk_value


class OffByOneLoad(ModelTree):
    """load(last index of a multi-index range) returns the next range's entry."""

    def load(self, index):
        w = self.walk(index)
        if w.last == index and w.first != w.last and index < MAX:
            return super().load(index + 1)
        return super().load(index)


class LeakyDup(ModelTree):
    """A tree whose factory reports a node leaked after every tree is destroyed."""


class MutantFactory(ModelFactory):
    def __init__(self, cls, leak=0):
        super().__init__()
        self.cls, self.leak = cls, leak
        self.name = "mutant"

    def create(self, flags=0):
        return self.cls(flags)

    def live_nodes(self):
        return self.leak


register_local("model-twin", ModelFactory())
register_local("mutant-load", MutantFactory(OffByOneLoad))
register_local("mutant-leak", MutantFactory(LeakyDup, leak=1))


def test_same_seed_same_stream():
    assert example_ops(example_seed(7, 3), 500) == example_ops(example_seed(7, 3), 500)
    assert example_ops(example_seed(7, 3), 500) != example_ops(example_seed(7, 4), 500)


def test_campaign_on_a_correct_implementation_passes():
    res = run_campaign("model-twin", seed=1, steps=3000, example_len=500, bulk_max=400)
    assert res.failures == [] and res.steps >= 3000 and res.examples >= 3
    assert "failures=0" in res.summary()


def test_mutant_is_caught_shrunk_and_replayable(tmp_path):
    res = run_campaign("mutant-load", seed=1, steps=20000, out=tmp_path)
    assert len(res.failures) == 1
    f = res.failures[0]
    assert f.kind == "result" and "load" in f.message
    assert f.trace.exists() and f.original.exists()
    assert f.ops <= 4 < f.original_ops  # ddmin leaves a store and the load
    flags, ops = read_trace(f.trace)
    assert check_trace("mutant-load", flags, ops) is not None   # replays the bug
    assert check_trace("model-twin", flags, ops) is None        # passes on the real thing


def test_leak_is_a_failure():
    flags, ops = 0, [("store_range", 0, 5, 9, xa_mk_value(1))]
    f = check_trace("mutant-leak", flags, ops)
    assert f is not None and f.kind == "leak"


def test_lockstep_names_the_step_and_both_results():
    ls = Lockstep(LocalSession(ModelFactory(), 0), {"mutant": LocalSession(MutantFactory(OffByOneLoad), 0)})
    ls.apply(("store_range", 0, 10, 20, xa_mk_value(3)))
    ls.apply(("load", 0, 15))
    with pytest.raises(Divergence) as e:
        ls.apply(("load", 0, 20))
    assert e.value.step == 2 and "model=7" in str(e.value) and "mutant=None" in str(e.value)


def test_shrink_is_minimal_for_a_simple_predicate():
    ops = [("load", 0, i) for i in range(100)]
    small = shrink(ops, lambda c: any(op[2] == 37 for op in c) and any(op[2] == 80 for op in c))
    assert sorted(op[2] for op in small) == [37, 80]


# ---------------------------------------------------------------- traces and bad input

def test_trace_round_trip(tmp_path):
    ops = [("store_range", 0, 0, MAX, xa_mk_value(1)), ("dup", 0, None), ("erase", 1, 5),
           ("set_rcu", 0, True), ("mas_set", 1, 3), ("mas_find", 1, MAX), ("destroy", 1)]
    p = write_trace(tmp_path / "t.jsonl", 3, ops)
    assert read_trace(p) == (3, ops)


@pytest.mark.parametrize("body, message", [
    ("", "empty file"),
    ("not json\n", "header is not JSON"),
    ('{"maplecheck": 1, "flags": 4096}\n', "flags"),
    ('{"maplecheck": 1, "flags": 0}\n{"op": "frobnicate", "t": 0, "args": []}\n', ":2: unknown operation"),
    ('{"maplecheck": 1, "flags": 0}\n{"op": "erase", "t": 0, "args": [-1]}\n', "not a valid index"),
    ('{"maplecheck": 1, "flags": 0}\n{"op": "erase", "t": 0, "args": [18446744073709551616]}\n',
     "not a valid index"),
    ('{"maplecheck": 1, "flags": 0}\n{"op": "store_range", "t": 0, "args": [1, 2]}\n', "takes 3 arguments"),
    ('{"maplecheck": 1, "flags": 0}\n{"op": "store_range", "t": 0, "args": [1, 2, 0]}\n', "not a valid entry"),
    ('{"maplecheck": 1, "flags": 0}\n{"op": "load", "t": 0, "args": [1]}\n[1,2]\n', ":3: expected"),
])
def test_malformed_traces_are_refused_with_the_line(tmp_path, body, message):
    p = tmp_path / "bad.jsonl"
    p.write_text(body)
    with pytest.raises(TraceError, match=message):
        read_trace(p)


def test_operation_on_a_missing_tree_is_a_trace_failure():
    f = check_trace("model-twin", 0, [("load", 3, 0)])
    assert f is not None and f.kind == "trace" and "tree 3 does not exist" in f.message


@pytest.mark.parametrize("call", [
    lambda t: t.store_range(-1, 5, 1),
    lambda t: t.store_range(0, MAX + 1, 1),
    lambda t: t.load(MAX + 1),
    lambda t: t.store_range(0, 5, 0),   # word 0 is NULL: pass None
    lambda t: t.walk("7"),
])
def test_out_of_domain_calls_raise_usage_errors_and_change_nothing(call):
    t = ModelFactory().create(0)
    t.store_range(3, 4, xa_mk_value(9))
    before = t.ranges()
    with pytest.raises(MapleUsageError):
        call(t)
    assert t.ranges() == before


def test_trace_file_is_plain_json_lines(tmp_path):
    p = write_trace(tmp_path / "x.jsonl", 1, [("insert_range", 0, 1, 2, 3)], note="why")
    lines = [json.loads(l) for l in p.read_text().splitlines()]
    assert lines[0] == {"maplecheck": 1, "flags": 1, "note": "why"}
    assert lines[1] == {"op": "insert_range", "t": 0, "args": [1, 2, 3]}


def test_minutes_bound_work_in_this_process_too(monkeypatch, tmp_path):
    """A Python tree that never returns cannot hold a --minutes campaign past its hard end."""
    import time as _time

    from maplecheck.properties import engine

    monkeypatch.setattr(engine, "STOP_GRACE_S", 0.5)

    def endless(ls, ops, batched=True):
        while True:
            _time.sleep(0.01)

    monkeypatch.setattr(engine, "run_ops", endless)
    t0 = _time.monotonic()
    res = engine.run_campaign("python", minutes=0.01, out=tmp_path)
    assert _time.monotonic() - t0 < 5
    assert res.stopped == "out of time" and res.failures == []
