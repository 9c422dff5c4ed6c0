# SPDX-License-Identifier: GPL-2.0-or-later
"""Run node helpers on z3 terms, forking on every value-dependent branch.

The node-level helpers (impl/pytree/node.py, impl/pytree/node_ops.py) are
written in kernel shape: ``if br(cond):`` where the kernel branches on a value,
plain ``if`` where it branches on an offset.  :func:`prove` runs such code with
symbolic values: every symbolic ``br`` consults an oracle that picks a side,
records the path condition, and queues the other side when it is feasible.
Each finished path is one z3 query: precondition and path condition and the
negated postcondition must be unsatisfiable.  A satisfiable query is a
counterexample, returned with its model.

This is a small symbolic executor for straight-line-plus-loops node code; the
number of paths stays small because structural ints (offsets, data ends) are
concrete and the lemma enumerates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

from maplecheck.impl.pytree import node_ops


class PathLimit(Exception):
    pass


@dataclass
class Outcome:
    proven: bool
    paths: int = 0
    cases: int = 0
    model: object = None        # z3 model of the counterexample
    state: object = None        # the lemma's symbolic state of the failing case
    case: object = None         # the structural parameters of the failing case
    note: str = ""
    extra: dict = field(default_factory=dict)


def _explore(solver: z3.Solver, body, max_paths: int):
    """Yield (path_condition, result) for every feasible path of ``body()``."""
    pending = [[]]
    paths = 0
    while pending:
        decisions = pending.pop()
        path: list = []
        pos = 0

        def oracle(cond, decisions=decisions, path=path):
            nonlocal pos
            if pos < len(decisions):
                d = decisions[pos]
            else:
                solver.push()
                solver.add(*path)
                solver.add(cond)
                can_t = solver.check() != z3.unsat
                solver.pop()
                solver.push()
                solver.add(*path)
                solver.add(z3.Not(cond))
                can_f = solver.check() != z3.unsat
                solver.pop()
                if can_t and can_f:
                    d = True
                    pending.append(decisions[:pos] + [False])
                else:
                    d = can_t
                decisions.append(d)
            pos += 1
            path.append(cond if d else z3.Not(cond))
            return d

        node_ops.set_oracle(oracle)
        try:
            result = body()
        finally:
            node_ops.set_oracle(None)
        paths += 1
        if paths > max_paths:
            raise PathLimit(f"more than {max_paths} paths")
        yield path, result


def prove(cases, setup, body, max_paths: int = 20000, timeout_ms: int = 20000) -> Outcome:
    """Prove ``pre => post`` over every case and every path.

    ``setup(case) -> (pre: list of z3 bools, state)``; ``body(state, case) -> post``
    (a z3 bool or a Python bool) runs the helper under test.
    """
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    n_paths = 0
    n_cases = 0
    for case in cases:
        n_cases += 1
        pre, state = setup(case)
        solver.push()
        solver.add(*pre)
        if solver.check() == z3.unsat:  # vacuous case: nothing to prove
            solver.pop()
            continue
        for path, post in _explore(solver, lambda: body(state, case), max_paths):
            n_paths += 1
            if post is True:
                continue
            solver.push()
            solver.add(*path)
            solver.add(z3.Not(post) if post is not False else z3.BoolVal(True))
            r = solver.check()
            if r == z3.sat:
                m = solver.model()
                solver.pop()
                solver.pop()
                return Outcome(False, n_paths, n_cases, m, state, case)
            if r == z3.unknown:
                solver.pop()
                solver.pop()
                return Outcome(False, n_paths, n_cases, None, state, case,
                               note=f"z3: unknown ({solver.reason_unknown()})")
            solver.pop()
        solver.pop()
    return Outcome(True, n_paths, n_cases)
