# SPDX-License-Identifier: GPL-2.0-or-later
"""The z3 lemma catalog: every lemma proves on the real helper and is refuted
(with a counterexample) on its must-fail mutant."""

from __future__ import annotations

import io

import pytest

from maplecheck.prove import LemmaResult, render, run_lemmas, summary
from maplecheck.properties.lemmas import LEMMAS

NAMES = list(LEMMAS)


def test_catalog_is_big_enough():
    assert len(NAMES) >= 30
    for lem in LEMMAS.values():
        assert lem.helper and lem.statement
        assert lem.real is not None and lem.mutant is not None
        assert lem.mutant is not lem.real


@pytest.mark.parametrize("name", NAMES)
def test_lemma_proves(name):
    (r,) = run_lemmas([name])
    assert r.proven, f"{name}: {r.note}\n{r.counterexample}"
    assert r.paths > 0


@pytest.mark.parametrize("name", NAMES)
def test_mutant_gets_counterexample(name):
    (r,) = run_lemmas([name], mutants=True)
    assert not r.proven, f"{name}: the mutant {LEMMAS[name].mutant} was not refuted"
    assert "unknown" not in r.note            # a real counterexample, not a z3 give-up
    assert r.counterexample.strip()


def test_counterexample_is_drawn_as_a_node():
    (r,) = run_lemmas(["data_end_leaf"], mutants=True)
    assert "node:" in r.counterexample and "|" in r.counterexample
    assert "data_end" in r.values


def test_unknown_lemma_name():
    with pytest.raises(KeyError):
        run_lemmas(["no_such_lemma"])


def test_render_and_summary():
    ok = LemmaResult("a", "node.x", True, 0.5, 3, 1)
    bad = LemmaResult("b", "node.y", False, 0.25, 1, 1, "st", counterexample="node: 1 |2| 3")
    from rich.console import Console
    buf = io.StringIO()
    render([ok, bad], console=Console(file=buf, width=160))
    text = buf.getvalue()
    assert "proven" in text and "FAILED" in text and "node: 1 |2| 3" in text
    assert summary([ok, bad], 1.0) == "lemmas=2 proven=1 failed=1 seconds=1.0"
