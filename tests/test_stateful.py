# SPDX-License-Identifier: GPL-2.0-or-later
"""The Hypothesis state machines, bounded for CI (the ``ci`` profile is derandomized).

Each machine drives one implementation and the model in lockstep; the mutant
run shows the machine is able to fail.
"""

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from maplecheck.model import ModelFactory
from maplecheck.model.mtree import ModelTree
from maplecheck.properties.impls import register_local
from maplecheck.properties.lockstep import Divergence
from maplecheck.properties.stateful import machine_for


class EraseKeepsNeighbourNull(ModelTree):
    """Mutant: erase of a range leaves it in place when the next range is NULL."""

    def erase(self, index):
        w = self.walk(index)
        if w.entry is not None and w.last != (1 << 64) - 1 and self.walk(w.last + 1).entry is None:
            return w.entry
        return super().erase(index)


class _MutantFactory(ModelFactory):
    def create(self, flags=0):
        return EraseKeepsNeighbourNull(flags)


register_local("stateful-mutant", _MutantFactory())


def _run(impl, examples, steps, shrink=True, **kw):
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.generate)
    run_state_machine_as_test(machine_for(impl, **kw),
                              settings=settings(settings.default, max_examples=examples,
                                                stateful_step_count=steps, phases=phases))


def test_python_tree_against_the_model():
    _run("python", examples=20, steps=30)


def test_linux_against_the_model():
    _run("linux", examples=8, steps=30)


def test_python_and_linux_in_lockstep():
    _run("both", examples=6, steps=25)


def test_the_machine_catches_a_mutant():
    with pytest.raises(Divergence):
        _run("stateful-mutant", examples=60, steps=30, shrink=False)
