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
    """Yield (path_condition, result) for every feasible path of ``body()``.

    Model-guided: every queued path carries a model of the precondition and
    its path so far.  At a new symbolic branch the side that model satisfies is
    feasible for free; only the other side is checked, and when it is feasible
    it is queued with the model the check found.  One solver call per new
    branch point, and no infeasible path is ever run.
    """
    if solver.check() != z3.sat:
        return
    pending = [([], solver.model())]
    paths = 0
    while pending:
        decisions, model = pending.pop()
        path: list = []
        pos = 0
        seen: dict = {}

        def oracle(cond, decisions=decisions, path=path, seen=seen, model=model):
            nonlocal pos
            if pos < len(decisions):
                d = decisions[pos]
            elif cond.get_id() in seen:
                d = seen[cond.get_id()]
                decisions.append(d)
            else:
                d = z3.is_true(model.eval(cond, model_completion=True))
                other = z3.Not(cond) if d else cond
                solver.push()
                solver.add(*path)
                solver.add(other)
                if solver.check() == z3.sat:
                    pending.append((decisions[:pos] + [not d], solver.model()))
                solver.pop()
                decisions.append(d)
            pos += 1
            seen[cond.get_id()] = d
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


def prove(cases, setup, body, max_paths: int = 200000, timeout_ms: int = 20000,
          tags=None, vacuous_ok: bool = False) -> Outcome:
    """Prove ``pre => post`` over every case and every path.

    ``setup(case) -> (pre: list of z3 bools, state)``; ``body(state, case)`` runs
    the helper under test and returns the postcondition (a z3 bool or a Python
    bool), or ``(tag, post)`` when one exploration serves several lemmas.  With
    ``tags``, the result is a dict tag -> Outcome (each tag stops at its first
    counterexample, the exploration goes on for the others).
    """
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    outs = {t: Outcome(True) for t in (tags or [None])}
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
            tag = None
            if isinstance(post, tuple):
                tag, post = post
            out = outs.get(tag)
            if out is None:
                continue
            out.paths += 1
            out.cases = n_cases
            if post is True or not out.proven:
                continue
            solver.push()
            solver.add(*path)
            solver.add(z3.Not(post) if post is not False else z3.BoolVal(True))
            r = solver.check()
            if r == z3.sat:
                out.proven = False
                out.model = solver.model()
                out.state = dict(state) if isinstance(state, dict) else state
                out.case = case
            elif r == z3.unknown:
                out.proven = False
                out.case = case
                out.note = f"z3: unknown ({solver.reason_unknown()})"
            solver.pop()
            if tags is None and not out.proven:
                solver.pop()
                return out
        solver.pop()
        if tags is not None and not any(o.proven for o in outs.values()):
            break
    for o in outs.values():
        o.cases = n_cases
        if o.proven and n_cases and not o.paths and not vacuous_ok:
            o.proven = False
            o.note = "vacuous: no case satisfies the precondition"
    return outs if tags is not None else outs[None]
