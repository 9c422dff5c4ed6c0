# SPDX-License-Identifier: GPL-2.0-or-later
"""Lockstep: drive the model and one or more trees with the same operations.

This is the one place where "the implementation agrees with the model" is
decided; the Hypothesis state machines, the seeded fuzzer and ``replay`` all
go through :class:`Lockstep`.  After every operation:

* each tree's result equals the model's (with the kernel's documented,
  structure-dependent exceptions handled explicitly below, never by loosening
  a comparison);
* after every write, each tree's validator is clean;
* contents (every range, NULL ranges included) equal the model's — after every
  write, or every ``contents_every`` writes when a campaign trades per-step
  cost for speed;
* with two concrete trees, their canonical dumps are equal after every write.

An operation for which the kernel defines no result (the model refuses it with
:class:`~maplecheck.tree.MapleUsageError`, e.g. a cursor call that would make
Linux step from a NULL node) is counted in ``skipped`` and not sent to the trees.

A failed check raises :class:`Divergence`, which carries the index of the
operation that exposed it and a readable explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from maplecheck.dump import dump_diff, dump_ranges
from maplecheck.hashing import dump_hash, ranges_hash
from maplecheck.ops import NOMEM_DECIDED, WRITES, Session, format_op, format_result, plain
from maplecheck.tree import ENOMEM, MAX, MapleUsageError, mt_attr

from .known import destroy_may_hit_known_bug, destroy_workaround, deviation_for


#: writes after which our tree is checked (and hashed) in full: a copy, and the
#: allocations, whose stored range is known only after they ran
FULL_CHECKED = frozenset({"dup", "alloc_range", "alloc_rrange", "alloc_cyclic"})

#: writes whose node requests are compared between two trees (maplecheck.tree's caller API)
ALLOC_COMPARED = frozenset({"store_gfp", "store_nowait", "store_prealloc", "prealloc_destroy",
                            "mas_erase"})


class Divergence(AssertionError):
    """A tree disagreed with the model, with another tree, or with its own invariants."""

    def __init__(self, step: int, kind: str, message: str) -> None:
        super().__init__(f"step {step}: {kind}: {message}")
        self.step = step
        self.kind = kind
        self.message = message


class SessionLike(Protocol):
    """What lockstep needs of an implementation: a Session, local or remote."""

    def step(self, op: tuple) -> Any: ...
    def run(self, ops: list[tuple]) -> list[Any]: ...
    def dump(self, t: int) -> dict: ...
    def validate(self, t: int) -> list[str]: ...
    def live_nodes(self) -> int: ...
    def close(self) -> None: ...


class LocalSession(Session):
    """A :class:`~maplecheck.ops.Session` with the query methods lockstep uses."""

    #: in ``run_hashed``, a tree is checked in full after this many incremental checks
    FULL_EVERY = 256

    def dump(self, t: int) -> dict:
        return self.tree(t).dump()

    def validate(self, t: int) -> list[str]:
        return self.tree(t).validate()

    def height(self, t: int) -> int:
        return self.tree(t).height()

    def live_nodes(self) -> int:
        return self.factory.live_nodes()

    def nomem_coverage(self):
        """The tree's allocation-failure coverage since the last call, or None (the model)."""
        take = getattr(self.factory, "nomem_coverage", None)
        return take() if take else None

    def last_alloc(self):
        """(store type, nodes requested) of the tree's last caller-API write, or None."""
        take = getattr(self.factory, "last_alloc", None)
        return take() if take else None

    #: in a batch, a Python validator walks at most about this many nodes per write
    VALIDATE_NODES_PER_WRITE = 64

    def run_checked(self, ops: list[tuple], validate: bool = True):
        """Run ``ops`` and validate written trees; stop at the first problem.

        Returns ``(results, bad_index or None, messages)`` like the Linux batch
        path.  A Python validator costs time proportional to the tree, so
        inside a batch a tree of N nodes is validated after every
        ``N / VALIDATE_NODES_PER_WRITE``-th write to it (after every write
        while it is small), and every written tree is validated at the end of
        the batch; replay and the state machines validate after every write.
        """
        results = []
        since: dict[int, int] = {}
        for k, op in enumerate(ops):
            results.append(self.step(op))
            if not validate or op[0] not in WRITES or op[0] == "destroy":
                continue
            t = op[1]
            since[t] = since.get(t, 0) + 1
            if since[t] * self.VALIDATE_NODES_PER_WRITE >= self.factory.live_nodes():
                since[t] = 0
                problems = self.validate(t)
                if problems:
                    return results, k, problems
        for t, n in since.items():
            if n and self.trees[t] is not None:
                problems = self.validate(t)
                if problems:
                    return results, len(ops) - 1, problems
        return results, None, []

    # ------------------------------------------------------------ per-write hashed checking
    def _checker(self, t: int):
        """Tree ``t``'s incremental checker (our tree), or None for any other tree."""
        checkers = self.__dict__.setdefault("_checkers", {})
        c = checkers.get(t)
        if c is None or c.mt is not getattr(self.trees[t], "mt", None):
            mt = getattr(self.trees[t], "mt", None)
            if mt is None or not hasattr(mt, "alloc"):
                return None
            from maplecheck.impl.pytree.checker import WriteChecker  # noqa: PLC0415
            c = checkers[t] = WriteChecker(mt)
            c.full()
            self.__dict__.setdefault("_since_full", {})[t] = 0
        return c

    def check_tree(self, t: int, full: bool = False, span: tuple[int, int] = (0, 0)):
        """Validate tree ``t`` and hash its structure: ``(problems, hash)``.

        Our tree is checked incrementally (what a write to ``span`` touched,
        :mod:`maplecheck.impl.pytree.checker`), in full every ``FULL_EVERY``
        checks or when ``full``; any other tree in full, by its validator and
        the hash of its dump.
        """
        c = self._checker(t)
        if c is None:
            return self.validate(t), dump_hash(self.dump(t))
        since = self._since_full
        since[t] = since.get(t, 0) + 1
        if full or since[t] >= self.FULL_EVERY:
            since[t] = 0
            self.__dict__.setdefault("_full_done", set()).add(t)
            return c.full()
        return c.after_write(*span)

    def step(self, op: tuple):
        """One operation; a write outside ``run_hashed`` makes tree ``t`` be checked
        in full next time (the checker's memory no longer describes it)."""
        result = super().step(op)
        if op[0] in WRITES and not self.__dict__.get("_in_hashed"):
            self.__dict__.get("_checkers", {}).pop(op[1], None)
        return result

    def _span(self, op: tuple):
        """The range a write can change, read before it runs (None: no tree change)."""
        name, t, *args = op
        if name in ("store_range", "insert_range", "store_gfp", "store_nowait", "store_prealloc",
                    "prealloc_destroy"):
            return args[0], args[1]
        if name in ("erase", "replace", "mas_erase") and self._checker(t) is not None:
            w = self.trees[t].walk(args[0])
            return w[1], w[2]
        return 0, 0

    def run_hashed(self, ops: list[tuple], validate: bool = True, hashes: bool = True):
        """Run ``ops``, checking after every write; stop at the first invalid tree.

        (Our tree's hashes come with its incremental check at no extra cost, so
        ``hashes`` changes nothing here.)

        Returns ``(results, bad, messages, hashes, info)`` as the Linux worker
        does: ``hashes[k]`` is the written tree's structure hash after op k
        (the copy's for dup, 0 for a read); ``info[t] = (ranges hash or None,
        height, flags)`` of each live tree at the end (the ranges hash only
        when the tree was just checked in full).
        """
        self._in_hashed = True
        try:
            return self._run_hashed(ops, validate)
        finally:
            self._in_hashed = False

    def _run_hashed(self, ops: list[tuple], validate: bool):
        results, hashes = [], []
        for k, op in enumerate(ops):
            name, t = op[0], op[1]
            span = self._span(op) if name in WRITES else None
            results.append(self.step(op))
            h = 0
            if span is not None and name != "destroy" and validate:
                if name == "dup":
                    t, span = len(self.trees) - 1, (0, 0)
                # where an allocation stores is known only after it ran: checked in full
                problems, h = self.check_tree(t, full=name in FULL_CHECKED, span=span)
                if problems:
                    hashes.append(h)
                    return results, k, problems, hashes, {}
            hashes.append(h)
        return results, None, [], hashes, self._tree_info()

    def _tree_info(self) -> dict:
        """Height and flags of each live tree; the ranges hash of those checked in full."""
        info = {}
        done = self.__dict__.pop("_full_done", set())
        for t, tree in self.live_trees():
            rh = ranges_hash(dump_ranges(self.dump(t))) if t in done else None
            info[t] = (rh, tree.height(), tree.flags())
        return info


_fmt_result = format_result
_fmt_op = format_op


@dataclass
class Lockstep:
    """The model plus named concrete sessions, stepped together.

    ``contents_every``: check full contents every N writes (1 = every write).
    ``validate``: run each tree's validator after every write.
    """

    model: LocalSession
    impls: dict[str, SessionLike]
    contents_every: int = 1
    validate: bool = True
    compare_dumps: bool = True
    #: do the trees request nodes alike (node counts and refused requests compared)?
    compare_alloc: bool = True
    steps: int = 0
    writes: int = 0
    max_height: int = 0
    skipped: int = 0
    avoid_known_bugs: bool = True
    known_avoided: dict = field(default_factory=dict)
    deviations: dict = field(default_factory=dict)
    history: list[tuple] = field(default_factory=list)
    _infos: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ stepping
    def apply(self, op: tuple, exact: bool = True) -> Any:
        """Apply one operation everywhere and check it; return the model's result.

        ``exact``: after a write, validate in full and compare whole dumps (what
        a replay does, so a difference prints the dump diff); otherwise the
        operation is checked as a one-operation chunk (``run_chunk``'s checks).
        """
        i = self.steps
        self.steps += 1
        self.history.append(op)
        name, t, *args = op
        if name == "destroy" and self.avoid_known_bugs:
            self._step_around_known_bugs(t)
        before = self._pre_op_facts(op)
        if self._nomem_decided(op) and len(self.impls) > 1 and not self.compare_alloc:
            # trees of different shapes need different node counts: no refusal to compare
            op = (*op[:-1], None)
            self.history[-1] = op
        if self._nomem_decided(op):
            self._model_before = self.model.tree(t).dup()[1]
            self._model_before._mas_index, self._model_before._mas_last = \
                self.model.tree(t)._mas_index, self.model.tree(t)._mas_last
        if name == "dup" and before and len(set(before.values())) > 1:
            # trees of different shapes (a kernel our tree does not follow) fail at
            # different node requests: where -ENOMEM comes is structure, not compared
            op, args, before = (name, t, None), [None], {}
        deviation = self._deviation(op)
        try:
            expect = self._model_step(op)
        except MapleUsageError:
            self.skipped += 1  # the kernel has no defined result: not sent to the trees
            return None
        if name == "dup" and args[0] is not None and before:
            expect = self._expected_dup(args[0], before)
        decided = self._nomem_decided(op)
        # the one-operation chunk checks neither deviations, refused node requests nor node counts
        if (not exact and not decided and deviation is None and name not in ALLOC_COMPARED
                and all(hasattr(s, "run_hashed") for s in self.impls.values())):
            self._run_sessions([op], [expect], [i])
            if name in WRITES:
                self.writes += 1
                self._check_infos(self._infos, i)
            return expect
        if decided:
            live = {n: s.live_nodes() for n, s in self.impls.items()}
        first = True
        for impl_name, sess in self.impls.items():
            try:
                got = sess.step(op)
            except Exception as e:  # an exception for a legal call is a bug
                kind = {"ImplCrash": "crash", "ImplHang": "hang"}.get(type(e).__name__)
                if kind:  # the C side died or stopped answering: not a Python bug
                    raise Divergence(i, kind, f"{impl_name} on {_fmt_op(op)}: {e}") from e
                if type(e).__name__ == "WorkerError":  # our own failure, never a finding
                    raise
                raise Divergence(i, "exception", f"{impl_name} raised on {_fmt_op(op)}: "
                                 f"{type(e).__name__}: {e}") from e
            if decided and first and got == -ENOMEM and expect == 0:
                self._model_undo_refused(op)  # the tree needed the refused node: nothing stored
                expect = got
            first = False
            if got != expect and deviation is not None and got == deviation[1]:
                expect = self._follow_deviation(t, deviation)
            if got != expect:
                raise Divergence(i, "result", f"{_fmt_op(op)}: model={_fmt_result(expect)} "
                                 f"{impl_name}={_fmt_result(got)}")
            if decided and got == -ENOMEM and sess.live_nodes() != live[impl_name]:
                raise Divergence(i, "leak", f"{_fmt_op(op)}: {impl_name} returned -ENOMEM with "
                                 f"{sess.live_nodes() - live[impl_name]} nodes left allocated")
        if name in ALLOC_COMPARED and len(self.impls) > 1 and self.compare_alloc:
            self._check_alloc(op, i)
        if name in WRITES:
            self.writes += 1
            self._check_after_write(op, i)
        return expect

    def _check_alloc(self, op: tuple, i: int) -> None:
        """Two trees of one version classify a write alike and request as many nodes for it.

        A wrong preallocation count is a bug even when the tree comes out right.
        """
        seen = {n: s.last_alloc() for n, s in self.impls.items()}
        (n1, a1), *rest = [(n, tuple(a)) for n, a in seen.items() if a is not None]
        for n2, a2 in rest:
            if a1 != a2:
                raise Divergence(i, "alloc", f"{_fmt_op(op)}: (store type, nodes requested) "
                                 f"{n1}={a1} {n2}={a2}")

    @staticmethod
    def _nomem_decided(op: tuple) -> bool:
        """Does the tree under test decide between 0 and -ENOMEM (see ops.NOMEM_DECIDED)?"""
        return op[0] in NOMEM_DECIDED and op[-1] is not None

    def _model_undo_refused(self, op: tuple) -> None:
        """The model stepped as if the write succeeded; put back the state before it."""
        name, t, *_ = op
        self.model.trees[t] = self._model_before
        self.model.trees[t].write_refused()

    def run_batch(self, ops: list[tuple], validate_each: bool = True) -> None:
        """Apply many operations; a write whose -ENOMEM the tree decides runs on its own."""
        seg: list[tuple] = []
        for op in ops:
            if self._nomem_decided(op):
                if seg:
                    self._run_segment(seg, validate_each)
                    seg = []
                self.apply(op)
            else:
                seg.append(op)
        if seg:
            self._run_segment(seg, validate_each)

    def _run_segment(self, ops: list[tuple], validate_each: bool = True) -> None:
        """Apply many operations, letting sessions with a batch path use it.

        Results are compared operation by operation; the validator's verdict
        comes from the session (a batching session validates inside the batch,
        unless ``validate_each`` is off: a state machine's bulk rule is one
        step, validated at its end).  Dumps and contents are checked at the
        end of the batch.
        """
        base = self.steps
        expects, sent, where = self._model_pass(ops)
        for impl_name, sess in self.impls.items():
            got, bad, messages = sess.run_checked(sent, self.validate and validate_each)
            for k, (op, e, g) in enumerate(zip(sent, expects, got)):
                if g != e:
                    raise Divergence(where[k], "result", f"{_fmt_op(op)}: model={_fmt_result(e)} "
                                     f"{impl_name}={_fmt_result(g)}")
            if bad is not None:
                raise Divergence(where[bad], "validate", f"after {_fmt_op(sent[bad])}: {impl_name}: "
                                 + "; ".join(messages[:5]))
        self.writes += sum(op[0] in WRITES for op in ops)
        self.check_all(base + len(ops) - 1)

    def run_chunk(self, ops: list[tuple]) -> None:
        """Apply many operations with every per-write check, one crossing per session.

        The model's results are computed first; each session runs the whole
        chunk itself (the Linux worker in one request), validating after every
        write and returning each written tree's structure hash.  Results are compared in one pass, and with two
        trees their hashes after every write; the earliest problem is raised.
        At the end each tree's contents are compared with the model's by a
        ranges hash (dumps are taken only to explain a difference).
        """
        base = self.steps
        expects, sent, where = self._model_pass(ops)
        self._run_sessions(sent, expects, where)
        self.writes += sum(op[0] in WRITES for op in ops)
        self._check_infos(self._infos, base + len(ops) - 1)

    def _run_sessions(self, sent: list[tuple], expects: list, where: list[int]) -> None:
        """Each session runs ``sent`` checked; raise the earliest problem (``where`` gives
        each op's step).  Leaves each session's end-of-run tree facts in ``_infos``."""
        hashes = self.compare_dumps and len(self.impls) > 1
        outcome = {n: s.run_hashed(sent, self.validate, hashes) for n, s in self.impls.items()}
        problems = []  # (position, order, kind, message)
        for n, (got, bad, messages, _h, _i) in outcome.items():
            for k, (op, e, g) in enumerate(zip(sent, expects, got)):
                if g != e:
                    problems.append((k, 0, "result", f"{_fmt_op(op)}: model={_fmt_result(e)} "
                                     f"{n}={_fmt_result(g)}"))
                    break
            if bad is not None:
                problems.append((bad, 1, "validate", f"after {_fmt_op(sent[bad])}: {n}: "
                                 + "; ".join(messages[:5])))
        if self.compare_dumps and len(outcome) > 1:
            (n1, o1), *rest = outcome.items()
            for n2, o2 in rest:
                for k, (h1, h2) in enumerate(zip(o1[3], o2[3])):
                    if h1 != h2:
                        problems.append((k, 2, "dump", f"tree {sent[k][1]} after {_fmt_op(sent[k])}: "
                                         f"structure hashes differ ({n1} {h1:#x}, {n2} {h2:#x})"))
                        break
        if problems:
            k, _o, kind, message = min(problems)
            raise Divergence(where[k], kind, message)
        self._infos = {n: o[4] for n, o in outcome.items()}

    def _check_infos(self, infos: dict[str, dict], i: int) -> None:
        """Contents (by ranges hash), height and flags of every live tree after a chunk."""
        for t, mtree in self.model.live_trees():
            want_attr = mt_attr(mtree.flags())
            want = None
            for n, info in infos.items():
                if t not in info:
                    continue
                rh, height, flags = info[t]
                self.max_height = max(self.max_height, height or 0)
                if mt_attr(flags) != want_attr:
                    raise Divergence(i, "flags", f"tree {t}: model attr={want_attr:#x} {n}={flags:#x}")
                if rh is None:
                    continue
                if want is None:
                    want = ranges_hash(mtree.ranges())
                if rh != want:
                    self._check_contents(t, {n: self.impls[n].dump(t)}, i, None)
                    raise Divergence(i, "contents", f"tree {t}: {n}'s ranges hash differs from the model's")

    def _model_pass(self, ops: list[tuple]):
        """The model's results for a chunk: ``(expects, sent, where)``; the calls the
        model refuses are counted as skipped and not sent (``where`` maps back to steps)."""
        base = self.steps
        expects, sent, where = [], [], []
        for k, op in enumerate(ops):
            self.history.append(op)
            self.steps += 1
            try:
                expects.append(self.model.step(op))
            except MapleUsageError:
                self.skipped += 1  # the kernel has no defined result: not sent to the trees
                continue
            sent.append(op)
            where.append(base + k)
        return expects, sent, where

    # ------------------------------------------------------------ expectations
    def _pre_op_facts(self, op: tuple) -> dict[str, Any]:
        """Facts about each tree needed to judge a structure-dependent result."""
        name, t, *args = op
        facts: dict[str, Any] = {}
        if name == "dup" and args[0] is not None:
            for n, s in self.impls.items():
                facts[n] = len(s.dump(t).get("nodes", ()))  # __mt_dup needs one node per source node
        return facts

    def _model_step(self, op: tuple) -> Any:
        """The model's result: the specification's answer (it reads nothing off the trees)."""
        return self.model.step(op)

    def _deviation(self, op: tuple):
        """A registered kernel deviation that fires on ``op`` here: (deviation, result, model copy)."""
        if not self.impls or not self.avoid_known_bugs:
            return None
        dev = deviation_for(op, self.model.tree(op[1]), lambda: self._first_dump(op[1]))
        return (dev[0], plain(dev[1]), dev[2]) if dev else None

    def _follow_deviation(self, t: int, deviation) -> Any:
        """The kernel answered as the registered deviation says: count it, follow it."""
        dev, result, tree = deviation
        self.deviations[dev.name] = self.deviations.get(dev.name, 0) + 1
        self.model.trees[t] = tree
        return result

    def _first_dump(self, t: int) -> dict:
        return next(iter(self.impls.values())).dump(t)

    def _step_around_known_bugs(self, t: int) -> None:
        """Before destroying tree ``t``, leave RCU mode if that destroy hits a known bug."""
        if not destroy_may_hit_known_bug(self.model.tree(t).flags()):
            return
        for sess in self.impls.values():
            d = sess.dump(t)
            bug = destroy_workaround(d) if "nodes" in d else None
            if bug is not None:
                self.known_avoided[bug.name] = self.known_avoided.get(bug.name, 0) + 1
                self.apply(("set_rcu", t, False))
                return

    def _expected_dup(self, fail_at: int, nodes: dict[str, int]) -> int:
        """dup(fail_at=k) fails with -ENOMEM exactly when k <= the source's node count.

        ``__mt_dup`` allocates one node per source node; every concrete tree
        must agree on that count (their dumps are compared), so the first
        tree's count decides, and the model's copy is emptied on failure.
        """
        if fail_at <= next(iter(nodes.values())):
            self._model_dup_failed()
            return -ENOMEM
        return 0

    def _model_dup_failed(self) -> None:
        """The model's copy of a failed dup is an empty tree with the same flags."""
        self.model.trees[-1].destroy()  # keeps the attributes (MT_FLAGS_ALLOC_WRAPPED too)

    # ------------------------------------------------------------ whole-tree checks
    def _check_after_write(self, op: tuple, i: int) -> None:
        check_contents = self.writes % self.contents_every == 0
        touched = self._touched_trees(op)
        for t in touched:
            dumps = {}
            for impl_name, sess in self.impls.items():
                if self.validate:
                    problems = sess.validate(t)
                    if problems:
                        raise Divergence(i, "validate", f"after {_fmt_op(op)}: {impl_name}: "
                                         + "; ".join(problems[:5]))
                if check_contents or (self.compare_dumps and len(self.impls) > 1):
                    dumps[impl_name] = sess.dump(t)
            if check_contents:
                self._check_contents(t, dumps, i, op)
            self._check_dumps(t, dumps, i, op)

    def _touched_trees(self, op: tuple) -> list[int]:
        name, t, *_ = op
        if name == "destroy":
            return []
        if name == "dup":
            return [t, len(self.model.trees) - 1]
        return [t]

    def _check_contents(self, t: int, dumps: dict[str, dict], i: int, op: tuple | None) -> None:
        want = self.model.tree(t).ranges()
        want_attr = mt_attr(self.model.tree(t).flags())
        for impl_name, d in dumps.items():
            self.max_height = max(self.max_height, d.get("height") or 0)
            got = dump_ranges(d)
            if got != want:
                raise Divergence(i, "contents", f"tree {t} after {_fmt_op(op) if op else 'batch'}: "
                                 f"{impl_name} differs from the model: {_first_range_diff(want, got)}")
            if d["flags"] != want_attr:
                raise Divergence(i, "flags", f"tree {t}: model attr={want_attr:#x} "
                                 f"{impl_name}={d['flags']:#x}")

    def _check_dumps(self, t: int, dumps: dict[str, dict], i: int, op: tuple | None) -> None:
        if not self.compare_dumps or len(dumps) < 2:
            return
        (n1, d1), *rest = dumps.items()
        for n2, d2 in rest:
            diff = dump_diff(d1, d2, (n1, n2))
            if diff:
                raise Divergence(i, "dump", f"tree {t} after {_fmt_op(op) if op else 'batch'}:\n{diff}")

    def check_all(self, i: int | None = None) -> None:
        """Validate and compare every live tree in full (end of a batch or example)."""
        i = self.steps - 1 if i is None else i
        for t, _ in self.model.live_trees():
            dumps = {}
            for impl_name, sess in self.impls.items():
                if self.validate:
                    problems = sess.validate(t)
                    if problems:
                        raise Divergence(i, "validate", f"tree {t}: {impl_name}: " + "; ".join(problems[:5]))
                dumps[impl_name] = sess.dump(t)
            self._check_contents(t, dumps, i, None)
            self._check_dumps(t, dumps, i, None)

    def _final_check(self) -> None:
        """The end of an example: every tree validated in full, contents and structure compared.

        A Linux session has validated each tree in full at the end of the
        chunk that last wrote it (``mc_batch_checked``), so it is asked only
        for its structure hash; our tree is checked in full here.  Sessions
        without ``run_hashed`` (and any difference, to explain it by a dump
        diff) go through :meth:`check_all`.
        """
        i = self.steps - 1
        if not all(hasattr(s, "run_hashed") for s in self.impls.values()):
            self.check_all(i)
            return
        for t, mtree in self.model.live_trees():
            hashes = {}
            for n, sess in self.impls.items():
                if hasattr(sess, "check_tree"):
                    problems, hashes[n] = sess.check_tree(t, full=True)
                    if problems:
                        raise Divergence(i, "validate", f"tree {t}: {n}: " + "; ".join(problems[:5]))
                    if ranges_hash(dump_ranges(sess.dump(t))) != ranges_hash(mtree.ranges()):
                        self.check_all(i)
                elif len(self.impls) > 1:
                    hashes[n] = sess.tree_hash(t)
            if len(set(hashes.values())) > 1:
                self.check_all(i)
                raise Divergence(i, "dump", f"tree {t}: structure hashes differ at the end: {hashes}")

    def finish(self) -> None:
        """Check every tree in full, destroy them all and check that no node leaked."""
        i = self.steps
        if self.steps:
            self._final_check()
        destroys = [("destroy", t) for t, _ in self.model.live_trees()]
        if all(hasattr(s, "run_hashed") for s in self.impls.values()):
            if self.avoid_known_bugs:
                for _op, t in destroys:
                    self._step_around_known_bugs(t)
            self.run_chunk(destroys)
        else:
            for op in destroys:
                self.apply(op)
        for impl_name, sess in self.impls.items():
            live = sess.live_nodes()
            if live:
                raise Divergence(i, "leak", f"{impl_name}: {live} nodes still allocated after "
                                 "every tree was destroyed")

    def close(self) -> None:
        self.model.close()
        for sess in self.impls.values():
            sess.close()


def _first_range_diff(want: list, got: list) -> str:
    for k, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return (f"range #{k}: model=[{a[0]:#x}, {a[1]:#x}]={_fmt_result(a[2])} "
                    f"tree=[{b[0]:#x}, {b[1]:#x}]={_fmt_result(b[2])}")
    return f"model has {len(want)} ranges, tree has {len(got)}"
