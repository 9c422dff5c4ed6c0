# SPDX-License-Identifier: GPL-2.0-or-later
"""The write-path regression corpus (tests/corpus, built by tests/corpus/make_corpus.py).

Every trace targets one write path or boundary case of the Linux 6.12 maple
tree.  Its ``.linux.json`` record pins the op results and the dump of every
live tree after the last op, as produced by the real kernel code.  Here, per
trace:

* our Python tree must reproduce the recorded results and dumps;
* the Linux adapter, rebuilt now, must still reproduce them (a kernel source or
  adapter change is noticed);
* both implementations pass the lockstep check against the model;
* the targeted store types / paths were hit on our Python tree (recorded, and
  re-checked live with the classifier wrapped).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from maplecheck.dump import dump_diff, dump_text
from maplecheck.ops import Session, read_trace

CORPUS = Path(__file__).resolve().parent / "corpus"
NAMES = sorted(p.name[:-len(".jsonl")] for p in CORPUS.glob("*.jsonl"))


def _load(name: str):
    flags, ops = read_trace(CORPUS / f"{name}.jsonl")
    record = json.loads((CORPUS / f"{name}.linux.json").read_text())
    return flags, ops, record


def _maker():
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.define()
    return mod


@pytest.fixture(scope="module")
def maker():
    return _maker()


@pytest.fixture(scope="module")
def linux_factory():
    from maplecheck.impl.linux.adapter import LinuxFactory
    from maplecheck.properties.impls import linux_library
    return LinuxFactory(lib_path=linux_library(None, False))


def _replay(factory, flags, ops):
    s = Session(factory, flags)
    try:
        results = [s.step(op) for op in ops]
        dumps = {str(i): t.dump() for i, t in s.live_trees()}
    finally:
        s.close()
    return json.loads(json.dumps(results)), dumps


def _compare(who: str, name: str, ops, results, dumps, record) -> None:
    want = record["results"]
    assert len(results) == len(want)
    for i, (got, exp) in enumerate(zip(results, want)):
        assert got == exp, f"{name}: op {i} {ops[i]}: {who}={got!r} recorded linux={exp!r}"
    assert sorted(dumps) == sorted(record["dumps"]), f"{name}: live trees {sorted(dumps)} vs {sorted(record['dumps'])}"
    for t, exp in record["dumps"].items():
        diff = dump_diff(dumps[t], exp, (who, "linux"))
        assert diff is None, (f"{name}: tree {t} dump differs: {diff}\n--- {who}\n{dump_text(dumps[t])}\n"
                              f"--- recorded linux\n{dump_text(exp)}")


def test_corpus_present(maker):
    assert len(NAMES) >= 40
    assert sorted(maker.SCENARIOS) == NAMES, "corpus files out of date: run python tests/corpus/make_corpus.py"


@pytest.mark.parametrize("name", NAMES)
def test_python_matches_recorded_linux(name):
    from maplecheck.impl.pytree import PyFactory
    flags, ops, record = _load(name)
    results, dumps = _replay(PyFactory(), flags, ops)
    _compare("python", name, ops, results, dumps, record)


@pytest.mark.parametrize("name", NAMES)
def test_linux_matches_recorded(name, linux_factory):
    flags, ops, record = _load(name)
    results, dumps = _replay(linux_factory, flags, ops)
    _compare("linux-now", name, ops, results, dumps, record)


@pytest.mark.parametrize("impl", ["python", "linux"])
@pytest.mark.parametrize("name", NAMES)
def test_check_trace_against_model(name, impl):
    from maplecheck.properties.engine import check_trace
    flags, ops, _ = _load(name)
    failure = check_trace(impl, flags, ops)
    assert failure is None, f"{name} on {impl}: {failure}"


@pytest.mark.parametrize("name", NAMES)
def test_recorded_targets(name, maker):
    flags, ops, record = _load(name)
    _, targets, _, mops, focus = maker.SCENARIOS[name]
    assert list(targets) == record["targets"] and mops == ops, f"{name}: corpus out of date, regenerate"
    seen = set(record["focus_events"])
    assert set(record["targets"]) <= seen, f"{name}: targets {record['targets']} not in recorded {sorted(seen)}"
    assert set(record["store_types"]) >= {t for t in record["targets"] if t in maker.STORE_TYPES}


def test_targets_still_reached(maker):
    """Re-run every scenario on pytree with the classifier wrapped: each still hits its target."""
    from maplecheck.impl.pytree import PyFactory
    rec = maker.Recorder()
    missed = []
    try:
        for name in NAMES:
            flags, targets, _, ops, focus = maker.SCENARIOS[name]
            rec.events.clear()
            _, _, per_op, _ = maker.replay_python(PyFactory(), flags, ops, rec)
            seen = {x for ev in per_op[focus:] for x in ev}
            if not set(targets) <= seen:
                missed.append(f"{name}: wants {list(targets)}, saw {sorted(seen)}")
    finally:
        rec.restore()
    assert not missed, "\n".join(missed)
