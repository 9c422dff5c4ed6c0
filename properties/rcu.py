# SPDX-License-Identifier: GPL-2.0-or-later
"""RCU readers against a writer: scheduled interleavings and what a reader may see.

A :class:`RcuCase` is a tree built by ``prefix`` (unscheduled, in RCU mode),
one ``writer`` list of write operations, and one list of read operations per
reader.  A *runner* executes the case under one schedule (the C scheduler of
``impl/linux/rcu_shim.c`` through :class:`~maplecheck.impl.linux.rcu_adapter.RcuLib`,
or our Python tree through :mod:`maplecheck.properties.rcu_pytree`) and
returns an :class:`~maplecheck.impl.linux.rcu_adapter.RcuRun`.

What a reader must see (``check_run``): the model's states S0 (after the
prefix), S1 ... Sn (after each writer op) are the only linearization points.
Each read operation on its own must return the model's answer in some state
Sj, and the states of a reader's successive operations never go back in time
(an iteration step continues from the cursor the previous step left, in the
state that step linearized in).  The writer's own results must be the model's.
No crash, no sanitizer report (the child process dies: the runner raises),
no endless loop (the scheduler abandons a reader past its point limit), and
the tree is valid after the run.

Strategies: ``explore_exhaustive`` enumerates every schedule with at most
``bound`` preemptions (depth-first over recorded decisions; switching between
two readers with the writer not involved is pruned, since readers do not
write); ``explore_pct`` draws PCT schedules (random priorities with
``depth - 1`` change points).  Both stop at the first failure.
"""

from __future__ import annotations

import copy
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator

from maplecheck.model import ModelTree
from maplecheck.ops import plain
from maplecheck.tree import MA_ACTIVE, MA_PAUSE, MA_START, MAX

from .known import RCU_REWALK_NODELESS, RCU_REWALK_SKIP, RCU_TORN_RANGE, may_deviate

READ_OPS = frozenset({"load", "walk", "mas_set", "mas_pause", "mas_find", "mas_find_range",
                      "mas_next", "mas_next_range", "mas_prev", "mas_prev_range", "mas_find_rev",
                      "mas_find_range_rev", "empty_area", "empty_area_rev"})
CURSOR_OPS = frozenset(n for n in READ_OPS if n.startswith("mas_"))
RCU_WRITES = frozenset({"store_range", "insert_range", "erase", "replace", "alloc_range",
                        "alloc_rrange"})


@dataclass
class RcuCase:
    """One writer and its readers over the tree ``prefix`` builds (tree 0 only)."""

    flags: int
    prefix: list[tuple]
    writer: list[tuple]
    readers: list[list[tuple]]

    def as_dict(self) -> dict:
        return {"flags": self.flags, "prefix": [list(o) for o in self.prefix],
                "writer": [list(o) for o in self.writer],
                "readers": [[list(o) for o in r] for r in self.readers]}

    @classmethod
    def from_dict(cls, d: dict) -> "RcuCase":
        return cls(d["flags"], [tuple(o) for o in d["prefix"]], [tuple(o) for o in d["writer"]],
                   [[tuple(o) for o in r] for r in d["readers"]])


@dataclass
class Finding:
    """A schedule under which the case fails, and why."""

    case: RcuCase
    schedule: tuple[int, ...]
    reason: str
    schedules: int = 0          # schedules explored up to and including this one


@dataclass
class Exploration:
    """What one exploration did."""

    schedules: int = 0
    seconds: float = 0.0
    hits: Counter = field(default_factory=Counter)
    known: Counter = field(default_factory=Counter)
    finding: Finding | None = None


Runner = Callable[..., object]  # runner(case, schedule=(), pct_seed=0, pct_depth=0, pct_len=0) -> RcuRun


# ------------------------------------------------------------------ the model's answers

def model_states(case: RcuCase) -> tuple[list[ModelTree], list]:
    """The model after the prefix and after each writer op, and the writer's expected results."""
    m = ModelTree(case.flags)
    for name, _t, *args in case.prefix:
        _model_apply(m, name, args)
    states, results = [copy.deepcopy(m)], []
    for name, _t, *args in case.writer:
        results.append(_model_apply(m, name, args))
        states.append(copy.deepcopy(m))
    return states, results


def _model_apply(m: ModelTree, name: str, args):
    return plain(getattr(m, name)(*args))


def _continuing_cursor(m: ModelTree, cursor: tuple, name: str) -> tuple:
    """``cursor`` as state ``m`` can continue it (see :func:`_reader_answers`)."""
    index, last, status, node = cursor
    if status != MA_ACTIVE or name in ("mas_set", "mas_pause"):
        return cursor
    _e, first, end = plain(m.walk(index))
    if (first, end) == (index, last):
        return cursor
    if name in BACKWARD:
        if first == index:
            return (first, end, MA_ACTIVE, node)
    else:
        _e, first, end = plain(m.walk(last))
        if end == last:
            return (first, end, MA_ACTIVE, node)
    return (index, last, MA_PAUSE, False)


def _both_find_nothing(want, got) -> bool:
    """Two cursor answers ``[entry, index, last, status]`` without an entry."""
    return (isinstance(want, list) and isinstance(got, list) and len(want) == 4 == len(got)
            and want[0] is None and got[0] is None)


def _no_entry_alike(want, got) -> bool:
    """Both answers find nothing, with the same status (the range they stand on may differ:
    a cursor whose range a write changed keeps its own, and an overflow or underflow
    after it reports the reader's range, not the state's)."""
    return _both_find_nothing(want, got) and want[3] == got[3]


def _reader_answers(m: ModelTree, cursor: tuple, op: tuple):
    """The model's answer to one read op from ``cursor``, and the cursor after it (or None).

    A cursor standing on a range that state ``m`` does not have (a concurrent
    write changed it) continues in ``m`` from the edge it is leaving (``last``
    going forward, ``index`` going back): on the range of ``m`` with that same
    edge if there is one, else as a paused iteration does.
    """
    name, _t, *args = op
    if name in CURSOR_OPS:
        cursor = _continuing_cursor(m, cursor, name)
        m._set_cursor(*cursor)
        if name not in ("mas_set", "mas_pause") and m.mas_would_crash(name, args[0]):
            return None
        res = _model_apply(m, name, args)
        return res, m._cursor()
    return _model_apply(m, name, args), cursor


FORWARD = frozenset({"mas_find", "mas_find_range", "mas_next", "mas_next_range"})
BACKWARD = frozenset({"mas_prev", "mas_prev_range", "mas_find_rev", "mas_find_range_rev"})


def _rewalk_cursors(states: list[ModelTree], i: int, cur: tuple, name: str) -> list[tuple]:
    """Cursors a 6.12 dead-node rewalk may restart from (known bug rcu-rewalk-skips-range).

    The step saved ``mas->last`` (forward) or ``mas->index`` (backward) of the
    range it stood on, in state ``i`` (for a fresh cursor: the range its first
    walk found), and restarts from that single index in a later state.
    """
    index, last, status, _node = cur
    if name not in FORWARD | BACKWARD:
        return []
    if status == MA_ACTIVE:
        first_last = [(index, last)]
    elif status == MA_START:
        first_last = []
        for st in states[i:]:
            w = plain(st.walk(index))
            first_last.append((w[1], w[2]))
    else:
        return []
    return [((b, b, MA_START, False) if name in FORWARD else (a, a, MA_START, False))
            for a, b in set(first_last)]


#: after a rewalk, a find continues as the step past the saved range
_AS_STEP = {"mas_find": "mas_next", "mas_find_range": "mas_next_range", "mas_find_rev": "mas_prev",
            "mas_find_range_rev": "mas_prev_range"}


def _rewalk_match(want, got) -> bool:
    """Equal, or both without an entry (a rewalk leaves its walked range and status behind)."""
    return want == got or _both_find_nothing(want, got)


def _torn_range(states: list[ModelTree], j0: int, got) -> int | None:
    """The state a torn range (known deviation rcu-slot-store-torn-range) was read in, or None.

    ``got`` is ``[entry, index, last, ...]``: a non-NULL entry that state j
    (j >= 1) holds at index or last, reported over a range whose start and end
    are each a range boundary of state j or of state j - 1.
    """
    if not isinstance(got, list) or len(got) < 3 or got[0] is None:
        return None
    entry, index, last = got[0], got[1], got[2]
    if not (isinstance(index, int) and isinstance(last, int)) or index > last:
        return None
    for j in range(max(1, j0), len(states)):
        new, old = states[j], states[j - 1]
        if entry not in (plain(new.walk(index))[0], plain(new.walk(last))[0]):
            continue
        starts = {plain(s.walk(index))[1] for s in (new, old)}
        ends = {plain(s.walk(last))[2] for s in (new, old)}
        if index in starts and last in ends:
            return j
    return None


def reader_linearizable(states: list[ModelTree], ops: list[tuple], results: list,
                        known: Counter | None = None) -> str | None:
    """None if each op's result is the model's in some state; else why not.

    Each step on its own: a step may answer from the state before the write
    after an earlier step answered from the state after it.  (RCU promises a
    reader one state or the other per lookup, not an order across lookups: a
    cursor that climbs through a live child's parent pointer, not yet moved to
    the new parent, reads the replaced one until it is marked dead.)  A cursor
    carries its position from step to step (``cands``: the state a step was
    answered in, and the cursor after it).

    With ``known`` (a Counter), a step that is only explained by the known 6.12
    rewalk defect is accepted and counted there under its name.
    """
    cands = {(0, (0, 0, MA_START, False))}
    for k, (op, got) in enumerate(zip(ops, results)):
        nxt = set()
        seen = []
        for _j0, cur in cands:
            for j in range(len(states)):
                ans = _reader_answers(states[j], cur, op)
                if ans is None:
                    continue
                seen.append((j, ans[0]))
                if ans[0] == got or (_no_entry_alike(ans[0], got) and op[0] in CURSOR_OPS
                                     and (got[3] != MA_ACTIVE
                                          or _continuing_cursor(states[j], cur, op[0]) != cur)):
                    nxt.add((j, ans[1]))
        if not nxt and known is not None:
            for j0, cur in cands:
                for rew in _rewalk_cursors(states, j0, cur, op[0]):
                    for j in range(j0 + 1, len(states)):
                        ans = _reader_answers(states[j], rew, _AS_STEP.get(op[0], op[0]) and
                                              (_AS_STEP.get(op[0], op[0]), *op[1:]))
                        if ans is not None and _rewalk_match(ans[0], got):
                            # continue from where the kernel's cursor really is
                            nxt.add((j, (got[1], got[2], got[3], ans[1][3])))
            if nxt:
                known[RCU_REWALK_SKIP.name] += 1
        if not nxt and known is not None:
            j = _torn_range(states, min(j0 for j0, _ in cands), got)
            if j is not None:
                known[RCU_TORN_RANGE.name] += 1
                for j0, cur in cands:  # a cursor op stands where the kernel's cursor stands
                    if j0 <= j:
                        nxt.add((j, (got[1], got[2], got[3], True) if len(got) == 4 else cur))
        if not nxt:
            want = sorted({f"S{j}: {a!r}" for j, a in seen})
            return (f"reader op {k} {op[0]}{tuple(op[2:])} returned {got!r}; "
                    f"the model allows {', '.join(want) or 'nothing'}")
        cands = nxt
    return None


def check_run(case: RcuCase, states: list[ModelTree], expected_writer: list, run,
              known: Counter | None = None) -> str | None:
    """Why this run is wrong, or None (known defects are counted in ``known`` when given)."""
    from maplecheck.impl.linux.rcu_adapter import ST_INVALID, ST_READER_STUCK, ST_WRITER_STUCK

    if run.status & ST_READER_STUCK:
        return "a reader did not finish (endless loop)"
    if run.status & ST_WRITER_STUCK:
        return "the writer did not finish (endless loop)"
    if run.status & ST_INVALID:
        return "the tree fails mt_validate after the write"
    if run.writer != expected_writer:
        return f"writer results {run.writer!r}, the model says {expected_writer!r}"
    for i, (ops, res) in enumerate(zip(case.readers, run.readers)):
        why = reader_linearizable(states, ops, res, known)
        if why:
            return f"reader {i + 1}: {why}"
    return None


def nodeless(m: ModelTree) -> bool:
    """Does the kernel hold this tree without nodes?  (Empty, or one entry at index 0
    alone, which the root pointer holds.)"""
    used = [(first, last) for first, last, e in m.ranges() if e is not None]
    return not used or used == [(0, 0)]


def may_rewalk_into_nodeless(case: RcuCase) -> bool:
    """Can a reader of ``case`` meet known bug rcu-rewalk-into-nodeless-tree?  (A write
    that takes a tree with nodes to one without, and a reader that steps.)"""
    states, _ = model_states(case)
    steps = FORWARD | BACKWARD
    return (any(not nodeless(a) and nodeless(b) for a, b in zip(states, states[1:]))
            and any(op[0] in steps for ops in case.readers for op in ops))


def known_reader_crash(case: RcuCase, why: str):
    """The registered bug a crashed run of ``case`` is, or None: a reader that crashed
    in the kernel's retry after a rewalk (a sanitizer report through
    mas_rewalk_if_dead; our tree, which follows it, raises in the reader op) where
    a write empties the tree of nodes."""
    crashed = "mas_rewalk_if_dead" in why or (why.startswith("reader ") and " raised " in why)
    return RCU_REWALK_NODELESS if crashed and may_rewalk_into_nodeless(case) else None


# ------------------------------------------------------------------ strategies

def _preemptions(decisions, upto: int) -> int:
    n, prev = 0, None
    for mask, c in decisions[:upto]:
        if prev is not None and mask >> prev & 1 and c != prev:
            n += 1
        prev = c
    return n


def _alternatives(decisions, i: int, nreaders: int) -> Iterator[tuple[int, bool]]:
    """Other choices at decision i: (thread, is_preemption); reader-reader swaps are pruned."""
    mask, c = decisions[i]
    prev = decisions[i - 1][1] if i else None
    for alt in range(nreaders + 1):
        if alt == c or not mask >> alt & 1:
            continue
        if nreaders > 1 and alt != 0 and c != 0:
            continue
        yield alt, prev is not None and mask >> prev & 1 and alt != prev


def _one(runner, case, states, expected, schedule, ex: Exploration, **pct) -> object:
    run = runner(case, schedule=schedule, **pct)
    ex.schedules += 1
    ex.hits.update(run.hits)
    return run


def explore_exhaustive(runner, case: RcuCase, bound: int = 2, max_schedules: int = 100000,
                       deadline: float | None = None, known_bugs: bool = True) -> Exploration:
    """Every schedule with at most ``bound`` preemptions (up to ``max_schedules``)."""
    t0 = time.monotonic()
    ex = Exploration()
    states, expected = model_states(case)
    stack: list[tuple[int, ...]] = [()]
    while stack and ex.schedules < max_schedules:
        if deadline is not None and time.monotonic() > deadline:
            break
        prefix = stack.pop()
        run = _one(runner, case, states, expected, prefix, ex)
        why = check_run(case, states, expected, run, ex.known if known_bugs else None)
        if why:
            ex.finding = Finding(case, run.schedule, why, ex.schedules)
            break
        dec = run.decisions
        for i in range(len(dec) - 1, len(prefix) - 1, -1):
            base = _preemptions(dec, i)
            for alt, pre in _alternatives(dec, i, len(case.readers)):
                if base + pre <= bound:
                    stack.append(tuple(c for _, c in dec[:i]) + (alt,))
    ex.seconds = time.monotonic() - t0
    return ex


def explore_pct(runner, case: RcuCase, schedules: int = 200, depth: int = 3, seed: int = 0,
                deadline: float | None = None, known_bugs: bool = True) -> Exploration:
    """``schedules`` PCT runs of depth ``depth`` (change points spread over one default run)."""
    t0 = time.monotonic()
    ex = Exploration()
    states, expected = model_states(case)
    base = _one(runner, case, states, expected, (), ex)
    why = check_run(case, states, expected, base, ex.known if known_bugs else None)
    if why:
        ex.finding = Finding(case, base.schedule, why, 1)
    length = max(1, len(base.decisions))
    rng = random.Random(seed)
    while not ex.finding and ex.schedules < schedules:
        if deadline is not None and time.monotonic() > deadline:
            break
        run = _one(runner, case, states, expected, (), ex, pct_seed=rng.getrandbits(62) | 1,
                   pct_depth=depth, pct_len=length)
        why = check_run(case, states, expected, run, ex.known if known_bugs else None)
        if why:
            ex.finding = Finding(case, run.schedule, why, ex.schedules)
    ex.seconds = time.monotonic() - t0
    return ex


def replay(runner, case: RcuCase, schedule, known_bugs: bool = True) -> tuple[object, str | None]:
    """Run exactly ``schedule`` once; the run and why it is wrong (or None)."""
    states, expected = model_states(case)
    run = runner(case, schedule=tuple(schedule))
    return run, check_run(case, states, expected, run, Counter() if known_bugs else None)


# ------------------------------------------------------------------ shrinking

def shrink_case(fails: Callable[[RcuCase], Finding | None], finding: Finding,
                budget_s: float = 60.0) -> Finding:
    """Drop prefix ops (halves, then one by one), reader ops and readers while it still fails."""
    t_end = time.monotonic() + budget_s
    best = finding

    def attempt(case: RcuCase) -> bool:
        nonlocal best
        if time.monotonic() > t_end:
            return False
        f = fails(case)
        if f:
            best = f
            return True
        return False

    # readers: fewer, then shorter (trailing ops)
    for i in range(len(best.case.readers) - 1, -1, -1):
        if len(best.case.readers) > 1:
            c = best.case
            attempt(RcuCase(c.flags, c.prefix, c.writer, c.readers[:i] + c.readers[i + 1:]))
    for i in range(len(best.case.readers)):
        while len(best.case.readers[i]) > 1:
            c = best.case
            rs = [list(r) for r in c.readers]
            rs[i] = rs[i][:-1]
            if not attempt(RcuCase(c.flags, c.prefix, c.writer, rs)):
                break
    # prefix: chunks of decreasing size; the leading set_rcu stays
    chunk = max(1, (len(best.case.prefix) - 1) // 2)
    while chunk >= 1 and time.monotonic() < t_end:
        i = 1
        while i < len(best.case.prefix) and time.monotonic() < t_end:
            c = best.case
            cand = RcuCase(c.flags, c.prefix[:i] + c.prefix[i + chunk:], c.writer, c.readers)
            if not attempt(cand):
                i += chunk
        chunk //= 2
    return best


# ------------------------------------------------------------------ cases from a campaign

def reader_ops(rng: random.Random, around: tuple[int, int], flags: int) -> list[tuple]:
    """A short read sequence near ``around`` (first, last of the write)."""
    lo, hi = around
    pick = [lo, hi, max(0, lo - 1), min(MAX, hi + 1), (lo + hi) // 2]
    kind = rng.randrange(5)
    if kind == 4:
        # a long walk from far below the write: it crosses leaves (and climbs
        # through their parents) while the write replaces nodes elsewhere
        return ([("mas_set", 0, rng.choice([0, lo // 4, lo // 2]))]
                + [("mas_next_range", 0, MAX)] * rng.randint(12, 32))
    x = rng.choice(pick)
    if kind == 0:
        return [("load", 0, x), ("walk", 0, rng.choice(pick))]
    if kind == 1:
        return [("mas_set", 0, max(0, lo - rng.randrange(64)))] + [("mas_next", 0, MAX)] * rng.randint(2, 5)
    if kind == 2:
        return [("mas_set", 0, min(MAX, hi + rng.randrange(64)))] + [("mas_prev", 0, 0)] * rng.randint(2, 5)
    return [("mas_set", 0, x), ("mas_find", 0, MAX), ("mas_find", 0, MAX)]


def write_span(op: tuple) -> tuple[int, int] | None:
    """The index range a write touches (None when unknown before it runs)."""
    name, _t, *a = op
    if name in ("store_range", "insert_range"):
        return a[0], a[1]
    if name in ("erase", "replace"):
        return a[0], a[0]
    return None


def campaign_cases(seed: int, steps: int, readers: int, bulk_max: int = 600) -> Iterator[RcuCase]:
    """Cases from a seeded campaign: each tree-0 write of an example against fresh readers."""
    from maplecheck.properties.gen import example_ops

    rng = random.Random(seed)
    flags, ops = example_ops(seed, steps, bulk_max=bulk_max)
    prefix: list[tuple] = [("set_rcu", 0, True)]
    for op in ops:
        if op[1] != 0:
            continue
        name = op[0]
        if name in ("dup", "destroy") or may_deviate(op):
            break  # a registered deviation is lockstep's to judge; the model would part from the tree
        if name == "set_rcu":
            continue
        if name in RCU_WRITES:
            span = write_span(op)
            if span:
                rs = [reader_ops(rng, span, flags) for _ in range(readers)]
                yield RcuCase(flags, list(prefix), [op], rs)
            prefix.append(op)
