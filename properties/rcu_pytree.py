# SPDX-License-Identifier: GPL-2.0-or-later
"""RCU readers against a writer on our Python tree: a runner for :mod:`.rcu`.

Our write paths call :func:`maplecheck.impl.pytree.rcu.rcu_point` right after
every store a concurrent reader may see (publications, in-place slot stores,
dead marks, ``call_rcu``).  The scheduler here decides, before the write and
at each such point, whether the writer goes on or a reader runs its next
operation.  A read operation of our tree runs whole: the points are the
writer's, which is what a prototype of a new write path needs (does every
state it publishes answer as before or after the write?).

Decisions are recorded as the C scheduler records them, one
``(runnable mask, chosen)`` pair wherever two or more could run, thread 0
the writer, so :func:`.rcu.explore_exhaustive`, :func:`.rcu.explore_pct` and
:func:`.rcu.replay` drive both implementations, and a schedule replays.

Grace periods are the scheduler's: each reader's operations form one
read-side section, and every node freed while the scheduler is installed is
queued (its pivots 0 and 1 overwritten by the callback head, as ``call_rcu``
does in the kernel) until the writer's operations have returned and every
reader has finished.  A writer or reader that raises is reported as a crash
(:class:`PyRcuCrash`), as a sanitizer report is on the C side.
"""

from __future__ import annotations

import random
from collections import Counter

from maplecheck.impl.linux.rcu_adapter import ST_DIVERGED, ST_INVALID, RcuRun, RcuRunError
from maplecheck.impl.pytree import PyFactory
from maplecheck.impl.pytree import rcu as pyrcu
from maplecheck.impl.pytree.tree import PyTree
from maplecheck.ops import plain

from .rcu import RcuCase


#: dead nodes one read operation may meet before it waits for the writer
READER_PATIENCE = 8


class ReaderWaits(BaseException):
    """A read operation keeps meeting dead nodes: it can only go on once the writer does.

    A BaseException, so that no ``except Exception`` of the tree's own code takes it.
    """


class PyRcuCrash(RuntimeError):
    """Our tree raised (or leaked) under a schedule; ``schedule`` replays it."""

    def __init__(self, message: str, schedule: tuple[int, ...]) -> None:
        super().__init__(message)
        self.schedule = schedule


class RcuScheduler:
    """The turnstile: who runs at each point, and the queue of nodes awaiting a grace period."""

    def __init__(self, tree: PyTree, readers: list[list[tuple]], schedule=(), pct_seed: int = 0,
                 pct_depth: int = 0, pct_len: int = 0) -> None:
        self.views = [PyTree(tree.factory, tree.mt) for _ in readers]  # one cursor each
        self.ops = readers
        self.next = [0] * len(readers)
        self.waiting = [False] * len(readers)
        self.active = -1            # the reader whose operation is running
        self.dead_met = 0
        self.results: list[list] = [[] for _ in readers]
        self.schedule = tuple(schedule)
        self.decisions: list[tuple[int, int]] = []
        self.ran_last = -1
        self.writer_running = True
        self.diverged = False
        self.queued: list[tuple[object, int]] = []
        self.hits: Counter = Counter()
        self.pct_depth = pct_depth
        if pct_depth:
            rng = random.Random(pct_seed)
            n = len(readers) + 1
            self.prio = [pct_depth + i for i in range(n)]
            rng.shuffle(self.prio)
            self.pct_change = [rng.randrange(max(1, pct_len)) for _ in range(pct_depth - 1)]

    # -- the hooks our tree calls
    def point(self, kind: str) -> None:
        """The writer made a store readers may see: let the schedule run readers here."""
        self.hits[kind] += 1
        self.hits["writer_points"] += 1
        self.waiting = [False] * len(self.ops)  # the writer moved: waiting readers try again
        self.run_readers()

    def dead_seen(self) -> None:
        """A reader met a dead node; after :data:`READER_PATIENCE` of them it waits for the writer."""
        if self.active < 0:
            return
        self.dead_met += 1
        if self.dead_met > READER_PATIENCE:
            raise ReaderWaits()

    def queue(self, alloc, enode: int) -> None:
        """call_rcu(): the callback head lands on the node now, the free after the grace period."""
        node = alloc.nodes[enode >> 8]
        if node is None:
            raise AssertionError(f"node {enode & ~0xFF:#x} queued after it was freed")
        if len(node.pivot) >= 2:
            node.pivot[0], node.pivot[1] = pyrcu.CALLBACK_HEAD
        self.queued.append((alloc, enode))
        self.point("call_rcu")

    def end_grace_period(self) -> None:
        """Every reader has left its section: free what was queued (a node queued twice fails here)."""
        queued, self.queued = self.queued, []
        for alloc, enode in queued:
            alloc.free_now(enode)

    # -- choosing
    def _mask(self) -> int:
        mask = 1 if self.writer_running else 0
        for i, ops in enumerate(self.ops):
            if self.next[i] < len(ops) and not self.waiting[i]:
                mask |= 1 << (i + 1)
        return mask

    def _pick(self, mask: int) -> int:
        """The C scheduler's rule: the schedule, then PCT priorities or the last runner."""
        if not mask & (mask - 1):
            return mask.bit_length() - 1
        last = self.ran_last
        dflt = last if last >= 0 and mask >> last & 1 else (mask & -mask).bit_length() - 1
        k = len(self.decisions)
        if k < len(self.schedule):
            c = self.schedule[k]
            if not mask >> c & 1:
                self.diverged, c = True, dflt
        elif self.pct_depth:
            for i, at in enumerate(self.pct_change):
                if at == k and last >= 0:
                    self.prio[last] = self.pct_depth - 1 - i
            c = max((i for i in range(len(self.prio)) if mask >> i & 1), key=self.prio.__getitem__)
        else:
            c = dflt
        self.decisions.append((mask, c))
        return c

    def run_readers(self) -> None:
        """Run reader operations until the writer is chosen (or nobody is left)."""
        while True:
            mask = self._mask()
            if not mask:
                return
            c = self._pick(mask)
            self.ran_last = c
            if c == 0:
                return
            self._reader_step(c - 1)

    def _reader_step(self, i: int) -> None:
        """Reader i's next operation, whole; one that must wait is undone and tried again later."""
        k = self.next[i]
        name, _t, *args = self.ops[i][k]
        view = self.views[i]
        saved = view.cursor.copy()
        self.active, self.dead_met = i, 0
        try:
            res = plain(getattr(view, name)(*args))
        except ReaderWaits:
            view.cursor = saved
            self.waiting[i] = True
            self.hits["reader_waits"] += 1
            if not self.writer_running:
                raise PyRcuCrash(f"reader {i + 1} op {k} {name}{tuple(args)} meets dead nodes after "
                                 "the write returned (endless loop)", self.current_schedule()) from None
            return
        except Exception as e:  # noqa: BLE001 - a reader that raises is this run's crash
            raise PyRcuCrash(f"reader {i + 1} op {k} {name}{tuple(args)} raised "
                             f"{type(e).__name__}: {e}", self.current_schedule()) from e
        finally:
            self.active = -1
        self.next[i] = k + 1
        self.results[i].append(res)
        self.hits["reader_points"] += 1

    def current_schedule(self) -> tuple[int, ...]:
        return tuple(c for _, c in self.decisions)


def run_case(case: RcuCase, profile: str = "6.12", schedule=(), pct_seed: int = 0, pct_depth: int = 0,
             pct_len: int = 0) -> RcuRun:
    """One scheduled run of ``case`` on a fresh tree of our Python implementation."""
    factory = PyFactory(profile=profile)
    tree = factory.create(case.flags)
    for op in case.prefix:
        try:
            getattr(tree, op[0])(*op[2:])
        except Exception as e:  # noqa: BLE001 - the C side refuses such a prefix too
            raise RcuRunError(f"prefix op {op!r} raised {type(e).__name__}: {e}") from e
    sched = RcuScheduler(tree, case.readers, schedule, pct_seed, pct_depth, pct_len)
    writer = []
    pyrcu.install(sched)
    try:
        sched.run_readers()
        for name, _t, *args in case.writer:
            try:
                writer.append(plain(getattr(tree, name)(*args)))
            except PyRcuCrash:
                raise
            except Exception as e:  # noqa: BLE001
                raise PyRcuCrash(f"writer {name}{tuple(args)} raised {type(e).__name__}: {e}",
                                 sched.current_schedule()) from e
        sched.writer_running = False
        sched.run_readers()
    finally:
        pyrcu.install(None)
    sched.end_grace_period()
    status = (ST_DIVERGED if sched.diverged else 0) | (ST_INVALID if tree.validate() else 0)
    tree.destroy()
    if factory.live_nodes():
        raise PyRcuCrash(f"{factory.live_nodes()} nodes still allocated after the tree was destroyed",
                         sched.current_schedule())
    return RcuRun(status, writer, sched.results, sched.decisions, dict(sched.hits))


class PyRcuWorker:
    """The :class:`~.rcu_worker.RcuWorker` interface (explore, replay, close), in-process on our tree."""

    def __init__(self, profile: str = "6.12") -> None:
        self.profile = profile

    def runner(self, case: RcuCase, schedule=(), pct_seed=0, pct_depth=0, pct_len=0) -> RcuRun:
        return run_case(case, self.profile, schedule, pct_seed, pct_depth, pct_len)

    def explore(self, case: RcuCase, strategy: dict) -> dict:
        from .rcu_worker import explore_dict
        try:
            return explore_dict(self.runner, case, strategy)
        except PyRcuCrash as e:
            return {"crash": str(e), "last": {"schedule": list(e.schedule)}}

    def replay(self, case: RcuCase, schedule: list, pct: list | None = None, known_bugs: bool = True) -> dict:
        from .rcu_worker import replay_dict
        try:
            return replay_dict(self.runner, case, schedule, pct, known_bugs)
        except PyRcuCrash as e:
            return {"crash": str(e), "schedule": list(e.schedule)}

    def close(self) -> None:
        pass
