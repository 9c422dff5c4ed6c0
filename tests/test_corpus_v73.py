# SPDX-License-Identifier: GPL-2.0-or-later
"""The Linux 7.3 recordings of the write-path corpus (tests/corpus/v7.3).

The traces are the corpus' own (tests/corpus/*.jsonl); ``v7.3/NAME.linux.json``
pins the op results and final dumps produced by Linux 7.3.4's maple tree
(``make_corpus.py --kernel 7.3``).  Our tree's 7.3 profile must
reproduce every one; the 6.12 profile must not (the recordings tell the write
paths apart: 8/9 against 10/7 splits, rebalance, spanning store).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maplecheck.dump import dump_diff
from maplecheck.ops import Session, read_trace

CORPUS = Path(__file__).resolve().parent / "corpus"
V73 = CORPUS / "v7.3"
NAMES = sorted(p.name[:-len(".linux.json")] for p in V73.glob("*.linux.json"))


def _replay(profile: str, name: str):
    from maplecheck.impl.pytree import PyFactory
    flags, ops = read_trace(CORPUS / f"{name}.jsonl")
    s = Session(PyFactory(profile=profile), flags)
    try:
        results = [s.step(op) for op in ops]
        dumps = {str(i): t.dump() for i, t in s.live_trees()}
    finally:
        s.close()
    return ops, json.loads(json.dumps(results)), dumps


def _differences(profile: str, name: str) -> list[str]:
    rec = json.loads((V73 / f"{name}.linux.json").read_text())
    ops, results, dumps = _replay(profile, name)
    out = [f"op {i} {ops[i]}: python={a!r} linux={b!r}"
           for i, (a, b) in enumerate(zip(results, rec["results"])) if a != b]
    if sorted(dumps) != sorted(rec["dumps"]):
        out.append(f"live trees {sorted(dumps)} vs {sorted(rec['dumps'])}")
    for t, exp in rec["dumps"].items():
        if t in dumps:
            d = dump_diff(dumps[t], exp, ("python", "linux-7.3"))
            if d:
                out.append(f"tree {t}: {d}")
    return out


def test_v73_corpus_present():
    assert len(NAMES) >= 80


@pytest.mark.parametrize("name", NAMES)
def test_python_73_matches_recorded_linux_73(name):
    diffs = _differences("7.3", name)
    assert not diffs, f"{name}: " + "\n".join(diffs[:3])


def test_profile_612_fails_the_73_recordings():
    """The mutant: the 6.12 write path run against 7.3 recordings must be caught."""
    caught = [n for n in NAMES if _differences("6.12", n)]
    assert len(caught) >= 10, caught
    assert {"split_leaf", "spanning_leaves"} & set(caught) or len(caught) >= 20, caught
