# SPDX-License-Identifier: GPL-2.0-or-later
"""The fast seeded engine: campaigns, replay and trace shrinking.

A campaign is a sequence of examples.  Example ``k`` of seed ``S`` is fully
determined by ``(S, k)``: its flags and operations come from
:func:`maplecheck.properties.gen.example_ops`.  Operations go through
:class:`~maplecheck.properties.lockstep.Lockstep` in batches (one call into
the Linux worker per batch).  The first failure is shrunk by delta debugging
over the operation list — every candidate replayed on fresh trees — and the
minimal trace is written to disk, with the original beside it, before the
campaign reports.
"""

from __future__ import annotations

import contextlib
import random
import re
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from maplecheck.ops import NOMEM_DECIDED, TraceError, write_trace

from .gen import example_ops
from .impls import beside_linux, impl_names, linux_tree, open_session, python_follows_linux
from .known import may_deviate
from .lockstep import ALLOC_COMPARED, Divergence, Lockstep
from .simplify import minimize

BATCH = 512


class ImplFailure(Exception):
    """Anything that makes a run fail: a divergence or a crash of the C side."""

    def __init__(self, step: int, kind: str, message: str) -> None:
        super().__init__(f"step {step}: {kind}: {message}")
        self.step = step
        self.kind = kind
        self.message = message


@dataclass
class Failure:
    kind: str
    message: str
    trace: Path
    original: Path
    ops: int
    original_ops: int
    #: the registered known kernel bug that explains it, None when none does
    known: str | None = None
    #: shrinking was cut short (interrupt or time limit): the trace fails but may not be minimal
    partial: bool = False
    #: the creation flags of the failing trace's first tree
    flags: int = 0
    #: False when there was no time left to ask whether a known bug explains it
    triaged: bool = True


@dataclass
class CampaignResult:
    impl: str
    seed: int
    steps: int = 0
    examples: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    heights: Counter = field(default_factory=Counter)
    flags: Counter = field(default_factory=Counter)
    known: Counter = field(default_factory=Counter)
    deviations: Counter = field(default_factory=Counter)
    skipped: int = 0
    store_types: Counter = field(default_factory=Counter)
    #: why the campaign stopped early: "" (it did not), "interrupted", "out of time"
    stopped: str = ""
    #: operations sent, by name
    ops: Counter = field(default_factory=Counter)
    #: per impl and store type: [most nodes one write requested, hits for k = 1..]
    nomem: dict = field(default_factory=dict)

    def nomem_lines(self) -> list[str]:
        """One line per impl and store type: the refused request indices hit, out of those reachable."""
        from maplecheck.impl.pytree.state import STORE_TYPE_NAMES
        out = []
        for impl, rows in sorted(self.nomem.items()):
            for t, (most, hits) in sorted(rows.items()):
                if not most and not any(hits):
                    continue
                name = STORE_TYPE_NAMES[t] if t < len(STORE_TYPE_NAMES) else str(t)
                hit = [k + 1 for k, n in enumerate(hits) if n]
                missing = [k for k in range(1, most + 1) if k not in hit]
                out.append(f"{impl} {name}: up to {most} nodes per write, -ENOMEM at k="
                           f"{_ranges(hit) or '-'}" + (f" (missing {_ranges(missing)})" if missing
                                                         else " (every index)"))
        return out
    enomem: Counter = field(default_factory=Counter)       # dup(fail_at): -ENOMEM injection points
    timeline: list = field(default_factory=list)           # (seconds, steps) after each example

    def summary(self) -> str:
        return (f"impl={self.impl} steps={self.steps} examples={self.examples} "
                f"failures={len(self.failures)} deviations={sum(self.deviations.values())} "
                f"seconds={self.seconds:.1f}"
                + (f" stopped={self.stopped.replace(' ', '-')}" if self.stopped else ""))


#: a --minutes campaign, shrinking included, ends within minutes * 60 + STOP_GRACE_S
STOP_GRACE_S = 60.0
#: time kept back from shrinking for each replay that follows it (a hang costs a deadline)
DEADLINE_RESERVE_S = 12.0


def _stop_exceptions() -> tuple:
    """What ends work early without being a finding: an interrupt, or the time limit."""
    from maplecheck.impl.linux.worker import OutOfTime
    return (KeyboardInterrupt, OutOfTime)


def _ranges(ks: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3,5'."""
    out, i = [], 0
    while i < len(ks):
        j = i
        while j + 1 < len(ks) and ks[j + 1] == ks[j] + 1:
            j += 1
        out.append(f"{ks[i]}-{ks[j]}" if j > i else f"{ks[i]}")
        i = j + 1
    return ",".join(out)


def _take_nomem(res: "CampaignResult", ls: Lockstep) -> None:
    """Add the trees' allocation-failure coverage of one example to the campaign's."""
    for name, sess in ls.impls.items():
        take = getattr(sess, "nomem_coverage", None)
        rows = take() if take else None
        if not rows:
            continue
        acc = res.nomem.setdefault(name, {})
        for t, (most, hits) in enumerate(rows):
            if not most and not any(hits):
                continue
            m, h = acc.get(t, (0, [0] * len(hits)))
            acc[t] = (max(m, most), [a + b for a, b in zip(h, hits)])


# ---------------------------------------------------------------- running ops

def open_lockstep(impl: str, flags: int, linux_src: str | None = None, sanitize: bool = False,
                  contents_every: int = 1, avoid_known_bugs: bool = True,
                  kernel: str | None = None) -> Lockstep:
    linux_src = beside_linux(impl_names(impl), linux_tree(linux_src, kernel))
    same_structure = impl != "both" or python_follows_linux(linux_src)[0]
    model = open_session("model", flags)
    impls = {}
    try:
        for name in impl_names(impl):
            impls[name] = open_session(name, flags, linux_src, sanitize)
    except BaseException:
        model.close()
        for s in impls.values():
            s.close()
        raise
    return Lockstep(model, impls, contents_every=contents_every, avoid_known_bugs=avoid_known_bugs,
                    compare_dumps=same_structure, compare_alloc=same_structure)


def _needs_single_step(op: tuple, compare_alloc: bool = True) -> bool:
    """Operations that lockstep judges with facts read off the trees first.

    dup(fail_at) (the node count decides -ENOMEM), ops a registered kernel
    deviation may concern (its predicate reads the tree first), destroy
    (the known-bug check), and, when two trees' node requests are compared,
    the caller-API writes — see :class:`Lockstep`.
    """
    name, _t, *args = op
    if compare_alloc and name in ALLOC_COMPARED:  # node requests compared op by op
        return True
    if name == "dup" or name in NOMEM_DECIDED:
        return args[-1] is not None
    return name == "destroy" or may_deviate(op)


def run_ops(ls: Lockstep, ops: list[tuple], batched: bool = True) -> None:
    """Apply ``ops`` through lockstep; raise ImplFailure on the first problem.

    Batched, the operations go in chunks (:meth:`Lockstep.run_chunk`): every
    tree is validated after every write inside its session and, with two
    trees, their structure hashes are compared after every write, so a
    difference that later evens out (a split one slot off, then a push that
    restores the shape) is still caught at the write that made it.
    """
    from maplecheck.impl.linux.worker import ImplCrash, ImplHang  # noqa: WPS433 (optional dependency)

    try:
        if not batched:
            for op in ops:
                ls.apply(op)
        else:
            chunk: list[tuple] = []
            compare_alloc = len(ls.impls) > 1 and ls.compare_alloc
            for op in ops:
                if _needs_single_step(op, compare_alloc):
                    if chunk:
                        ls.run_chunk(chunk)
                        chunk = []
                    ls.apply(op, exact=False)
                    continue
                chunk.append(op)
                if len(chunk) >= BATCH:
                    ls.run_chunk(chunk)
                    chunk = []
            if chunk:
                ls.run_chunk(chunk)
        ls.finish()
    except Divergence as d:
        raise ImplFailure(d.step, d.kind, d.message) from d
    except ImplHang as c:
        raise ImplFailure(ls.steps - 1, "hang", str(c)) from c
    except ImplCrash as c:
        raise ImplFailure(ls.steps - 1, "crash", str(c)) from c
    except TraceError as e:
        raise ImplFailure(ls.steps - 1, "trace", str(e)) from e


def check_trace(impl: str, flags: int, ops: list[tuple], linux_src: str | None = None,
                sanitize: bool = False, batched: bool = True,
                avoid_known_bugs: bool = True, kernel: str | None = None) -> ImplFailure | None:
    """Replay ``ops`` on fresh trees; return the failure, or None when all is well.

    Batched replay validates after every write, compares every result and
    (with two trees) the structure hashes after every write, but compares
    contents with the model once per chunk; when a structure or contents
    check failed, the prefix is replayed one operation at a time so the
    failure carries the dump diff and names the first operation after which
    the trees differ.
    """
    linux_src = linux_tree(linux_src, kernel)
    f = _check_once(impl, flags, ops, linux_src, sanitize, batched, avoid_known_bugs)
    if f is not None and batched and f.kind in ("contents", "dump", "flags"):
        exact = _check_once(impl, flags, ops[:f.step + 1], linux_src, sanitize, False, avoid_known_bugs)
        if exact is not None:
            return exact
    return f


def _check_once(impl, flags, ops, linux_src, sanitize, batched, avoid_known_bugs):
    ls = open_lockstep(impl, flags, linux_src, sanitize, avoid_known_bugs=avoid_known_bugs)
    try:
        run_ops(ls, ops, batched=batched)
    except ImplFailure as f:
        return f
    finally:
        _close_quietly(ls)
    return None


def _close_quietly(ls: Lockstep) -> None:
    try:
        ls.close()
    except Exception:  # a crashed worker has nothing left to close
        pass


# ---------------------------------------------------------------- shrinking

def shrink(ops: list[tuple], fails: Callable[[list[tuple]], bool], budget_s: float = 120.0) -> list[tuple]:
    """Delta debugging (ddmin) over the operation list, then a one-by-one sweep.

    ``fails(candidate)`` replays a candidate on fresh trees.  Candidates that
    no longer make sense (an operation on a tree that no longer exists) simply
    do not fail.  Stops improving when ``budget_s`` runs out; the result always
    fails.
    """
    best = [ops]
    try:
        return _ddmin(ops, fails, time.monotonic() + budget_s, best)
    except _stop_exceptions():
        raise ShrinkStopped(best[0]) from None


class ShrinkStopped(Exception):
    """Shrinking was interrupted or ran out of time; ``ops`` is the smallest failing trace so far."""

    def __init__(self, ops: list[tuple]) -> None:
        super().__init__(f"shrinking stopped at {len(ops)} ops")
        self.ops = ops


def _ddmin(ops: list[tuple], fails, deadline: float, best: list) -> list[tuple]:
    """The ddmin loop and sweep of :func:`shrink`; ``best[0]`` always holds the smallest failing list."""
    n = 2
    while len(ops) >= 2 and time.monotonic() < deadline:
        size = max(1, len(ops) // n)
        chunks = [ops[i:i + size] for i in range(0, len(ops), size)]
        reduced = False
        for k in range(len(chunks)):
            if time.monotonic() >= deadline:
                break
            complement = [op for j, c in enumerate(chunks) if j != k for op in c]
            if complement and fails(complement):
                ops = best[0] = complement
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if n >= len(ops):
                break
            n = min(len(ops), n * 2)
    i = len(ops) - 1
    while i >= 0 and time.monotonic() < deadline:
        candidate = ops[:i] + ops[i + 1:]
        if candidate and fails(candidate):
            ops = best[0] = candidate
        i -= 1
    return ops


def minimize_failure(impl: str, flags: int, ops: list[tuple], failure: ImplFailure, out: Path,
                     name: str, linux_src: str | None = None, sanitize: bool = False,
                     budget_s: float = 120.0, avoid_known_bugs: bool = True) -> Failure:
    """Shrink a failing example and write both traces; return where they are.

    The original trace is on disk before any replay.  A hang is first located
    exactly (one operation per worker call).  Replays use the worker's usual
    deadlines, so shrinking a hang ends; an interrupt or the time limit stops
    shrinking and the smallest failing trace so far is written.  A crash or
    hang is finally replayed one operation per call so that the report names
    the operation, and a crash of the plain build is replayed on the
    sanitized build for symbolized C frames.
    """
    prefix = ops[:failure.step + 1]
    original = write_trace(out / f"{name}.original.jsonl", flags, prefix,
                           note=f"{failure.kind}: {failure.message[:500]}")
    # a crash of the C side needs only the C side to reproduce, which replays batched
    c_side = failure.kind in ("crash", "hang") and "linux" in impl_names(impl)
    shrink_impl = "linux" if c_side else impl
    t0 = time.monotonic()

    want = failure_signature(failure.kind, failure.message)
    if failure.kind == "result":
        want = (failure.kind, None)  # a wrong answer may show on another read as it shrinks

    def fails(fl: int, candidate: list[tuple]) -> bool:
        """Fails the same way: the same kind and, for a validator report or an exception, the
        same broken rule or exception type (shrinking does not slip to another bug)."""
        f = check_trace(shrink_impl, fl, candidate, linux_src, sanitize,
                        avoid_known_bugs=avoid_known_bugs)
        if f is None:
            return False
        got = failure_signature(f.kind, f.message)
        return got == want or (want[1] is None and got[0] == want[0])

    small, partial, final, one_minimal, resampled = prefix, False, None, False, False
    try:
        if failure.kind == "hang":
            exact = check_trace(shrink_impl, flags, prefix, linux_src, sanitize, batched=False,
                                avoid_known_bugs=avoid_known_bugs)
            if exact is not None and exact.kind == "hang":
                small = prefix = prefix[:exact.step + 1]
            confirmed = exact is not None and exact.kind == "hang"
        else:
            confirmed = fails(flags, prefix)
        if confirmed:
            # ddmin, then simpler operations (maplecheck.properties.simplify)
            resample = (None if failure.kind == "hang" else
                        _resampler(shrink_impl, failure, linux_src, sanitize, avoid_known_bugs))
            m = minimize(flags, prefix, fails, budget_s - (time.monotonic() - t0), shrink, resample)
            small, flags, one_minimal, resampled = m.ops, m.flags, m.one_minimal, m.resampled
        final = check_trace(impl, flags, small, linux_src, sanitize, batched=not c_side,
                            avoid_known_bugs=avoid_known_bugs)
        if final is not None and final.step < len(small) - 1:
            small = small[:final.step + 1]  # a simplified trace can fail earlier: it ends there
        if final is not None and final.kind == "crash" and not sanitize:
            final = with_sanitized_frames(final, flags, small, linux_src, avoid_known_bugs)
    except ShrinkStopped as st:
        small, partial = st.ops, True
        flags = getattr(st, "flags", flags)  # the flags the stopped pass was shrinking under
    except _stop_exceptions():
        partial = True
    final = final or failure
    trace = write_trace(out / f"{name}.jsonl", flags, small, note=f"{final.kind}: {final.message[:2000]}",
                        extra={"one_minimal": one_minimal, **({"resampled": True} if resampled else {})})
    return Failure(final.kind, final.message, trace, original, len(small), len(prefix), partial=partial,
                   flags=flags)


#: fresh examples for resampling (maplecheck.properties.simplify.resampled): short, small bursts
RESAMPLE_SEED, RESAMPLE_LEN, RESAMPLE_BULK = 0x5EED, 200, 200
_RULE = re.compile(r"\b(?:python|linux|model): (\w+):")
_RAISED = re.compile(r" raised on .*?: (\w+): ")


def failure_signature(kind: str, message: str) -> tuple[str, str | None]:
    """What "fails the same way" means for a different trace: the kind and, where the
    message names one, the broken rule (validate), the exception type (exception)
    or the operation (result)."""
    if kind == "validate":
        hit = _RULE.search(message)
    elif kind == "exception":
        hit = _RAISED.search(message)
    elif kind == "result":
        return kind, message.split("(", 1)[0]
    else:
        hit = None
    return kind, hit[1] if hit else None


def _resampler(impl: str, failure: ImplFailure, linux_src, sanitize: bool, avoid_known_bugs: bool):
    """``resample(k)``: the failing prefix of the k-th fresh short example when it fails
    as ``failure`` does (same :func:`failure_signature`), else None."""
    want = failure_signature(failure.kind, failure.message)

    def resample(k: int):
        flags, ops = example_ops(example_seed(RESAMPLE_SEED, k), RESAMPLE_LEN, bulk_max=RESAMPLE_BULK)
        f = check_trace(impl, flags, ops, linux_src, sanitize, avoid_known_bugs=avoid_known_bugs)
        if f is None or failure_signature(f.kind, f.message) != want:
            return None
        return flags, ops[:f.step + 1]
    return resample


def _explained_by(impl: str, flags: int, found: Failure, linux_src) -> str | None:
    """The registered known bug that explains a minimized crash or hang, if one does.

    Out of time, the answer is "" (not checked); an interrupt propagates.
    """
    from maplecheck.impl.linux.worker import OutOfTime
    from maplecheck.ops import read_trace
    _flags, small = read_trace(found.trace)
    try:
        bug = triage_crash(impl, flags, small, ImplFailure(len(small) - 1, found.kind, found.message), linux_src)
    except OutOfTime:
        return ""
    return bug.name if bug is not None else None


def _unshrunk(flags: int, ops: list[tuple], failure: ImplFailure, out: Path, name: str) -> Failure:
    """Save a finding as it was found, when there is no time left to shrink it."""
    note = f"{failure.kind}: {failure.message[:2000]}"
    original = write_trace(out / f"{name}.original.jsonl", flags, ops, note=note)
    trace = write_trace(out / f"{name}.jsonl", flags, ops, note=note)
    return Failure(failure.kind, failure.message, trace, original, len(ops), len(ops), partial=True,
                   flags=flags)


def with_sanitized_frames(failure: ImplFailure, flags: int, ops: list[tuple], linux_src,
                           avoid_known_bugs: bool) -> ImplFailure:
    """Add the sanitized build's report (symbolized C frames) to a plain build's crash."""
    try:
        san = check_trace("linux", flags, ops, linux_src, sanitize=True, batched=False,
                          avoid_known_bugs=avoid_known_bugs)
    except Exception:  # no sanitized build here: the plain report stands alone
        return failure
    if san is None or san.kind != "crash":
        return failure
    return ImplFailure(failure.step, failure.kind,
                       f"{failure.message}\nsanitized replay of the same trace:\n{san.message}")


# ---------------------------------------------------------------- triage

def triage_crash(impl: str, flags: int, ops: list[tuple], failure: ImplFailure,
                 linux_src: str | None, avoid_known_bugs: bool = True):
    """Is this crash a known kernel bug?  Return it, or None for a new finding.

    A crash of a plain tree in RCU mode is replayed on the ASan/UBSan build;
    it is the known RCU destroy bug when the sanitizer's report points into
    the RCU destroy path and the same operations do not crash without RCU mode.
    """
    from .known import RCU_CLEAR_META_FULL, is_known_rcu_destroy_crash
    from maplecheck.tree import MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU

    if failure.kind not in ("crash", "hang") or "linux" not in impl_names(impl):
        return None
    if flags & MT_FLAGS_ALLOC_RANGE or not (flags & MT_FLAGS_USE_RCU
                                            or any(op[0] == "set_rcu" and op[2] for op in ops)):
        return None
    # the same implementations as the run that crashed; a crash gets a second
    # chance to show (the optimised and the sanitizer build lay memory out apart)
    for _attempt in range(2 if failure.kind == "crash" else 1):
        san = check_trace(impl, flags, ops, linux_src, sanitize=True, avoid_known_bugs=avoid_known_bugs)
        if san is not None and san.kind == "crash":
            break
    if san is None or san.kind != "crash" or not is_known_rcu_destroy_crash(san.message):
        return None
    no_rcu = [op for op in ops if op[0] != "set_rcu"]
    plain = check_trace(impl, flags & ~MT_FLAGS_USE_RCU, no_rcu, linux_src)
    if plain is not None and plain.kind == "crash":
        return None  # it crashes without RCU mode too: not the RCU destroy path's bug
    # (a replay that ran out of time on a loaded machine, or another finding of its own,
    # does not make the RCU destroy crash a new one; that other finding shows by itself)
    return RCU_CLEAR_META_FULL


# ---------------------------------------------------------------- campaigns

def example_seed(seed: int, k: int) -> int:
    return random.Random(f"maplecheck/{seed}/{k}").getrandbits(64)


def run_campaign(impl: str, seed: int = 0, steps: int | None = None, minutes: float | None = None,
                 out: Path = Path("maplecheck-out"), linux_src: str | None = None,
                 sanitize: bool = False, example_len: int = 2000, bulk_max: int = 6000,
                 progress: Callable[[CampaignResult], None] | None = None,
                 shrink_budget_s: float = 120.0, avoid_known_bugs: bool = True,
                 make_example: Callable | None = None,
                 kernel: str | None = None) -> CampaignResult:
    """Run examples until ``steps`` operations or ``minutes`` have passed, or a failure.

    With ``minutes``, the whole campaign (triage and shrinking included) ends
    by ``minutes * 60 + STOP_GRACE_S`` seconds whatever the C side does: no
    worker call waits past that.  An interrupt (KeyboardInterrupt) ends it
    too; any finding made is saved, and ``stopped`` says why it ended early.
    ``make_example(seed, length, bulk_max) -> (flags, ops)`` replaces the generator
    (``--initial``: every example starts by building a real VMA layout).
    """
    from maplecheck.impl.linux.worker import call_limit

    linux_src = linux_tree(linux_src, kernel)
    if steps is None and minutes is None:
        steps = 20000
    res = CampaignResult(impl=impl, seed=seed)
    before = _store_type_counts()
    t0 = time.monotonic()
    deadline = t0 + minutes * 60 if minutes is not None else None
    hard_end = deadline + STOP_GRACE_S if deadline is not None else None
    with call_limit(hard_end), _alarm_at(hard_end):
        try:
            _campaign_loop(res, impl, seed, steps, deadline, hard_end, out, linux_src, sanitize,
                           example_len, bulk_max, progress, shrink_budget_s, avoid_known_bugs, t0,
                           make_example)
        except KeyboardInterrupt:
            res.stopped = "interrupted"
        except _stop_exceptions():
            res.stopped = "out of time"
    res.seconds = time.monotonic() - t0
    after = _store_type_counts()
    res.store_types = Counter({k: after[k] - before[k] for k in after if after[k] > before[k]})
    return res


@contextlib.contextmanager
def _alarm_at(end: float | None):
    """Past monotonic time ``end``, raise OutOfTime in the main thread (SIGALRM).

    The bound for work in this process (our Python tree looping), as
    call_limit is for the Linux worker; elsewhere than the main thread, no alarm.
    """
    from maplecheck.impl.linux.worker import OutOfTime

    if end is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(_signum, _frame):
        raise OutOfTime("campaign time limit reached")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, end - time.monotonic()))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _campaign_loop(res, impl, seed, steps, deadline, hard_end, out, linux_src, sanitize,
                   example_len, bulk_max, progress, shrink_budget_s, avoid_known_bugs, t0,
                   make_example=None) -> None:
    """The examples of :func:`run_campaign`, accumulated into ``res``."""
    k = 0
    while True:
        if steps is not None and res.steps >= steps:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        length = example_len if steps is None else max(1, min(example_len, steps - res.steps))
        flags, ops = (make_example or example_ops)(example_seed(seed, k), length, bulk_max=bulk_max)
        ls = open_lockstep(impl, flags, linux_src, sanitize, avoid_known_bugs=avoid_known_bugs)
        try:
            run_ops(ls, ops)
            _take_nomem(res, ls)
            res.heights[ls.max_height] += 1
            res.known.update(ls.known_avoided)
            res.deviations.update(ls.deviations)
            res.skipped += ls.skipped
        except ImplFailure as f:
            _close_quietly(ls)
            res.steps += f.step + 1
            res.examples += 1
            count_coverage(res, ops[:f.step + 1])
            name = f"{impl}-seed{seed}-ex{k}"
            try:  # a hang is triaged once minimized (each replay of a hang costs a deadline)
                bug = (triage_crash(impl, flags, ops[:f.step + 1], f, linux_src)
                       if avoid_known_bugs and f.kind != "hang" else None)
            except _stop_exceptions():  # keep the finding, unshrunk
                res.failures.append(_unshrunk(flags, ops[:f.step + 1], f, Path(out), name))
                raise
            if bug is not None:
                res.known[bug.name] += 1
                write_trace(Path(out) / "known" / f"{bug.name}-{name}.jsonl", flags, ops[:f.step + 1],
                            note=f"known kernel bug {bug.name}: {bug.summary}")
                k += 1
                continue
            budget = shrink_budget_s
            if hard_end is not None:  # leave room for the final replays within the hard end
                budget = max(0.0, min(budget, hard_end - time.monotonic() - 2 * DEADLINE_RESERVE_S))
            found = minimize_failure(impl, flags, ops, f, Path(out), name, linux_src,
                                     sanitize, budget, avoid_known_bugs)
            if found.kind == "hang" or (not avoid_known_bugs and found.kind == "crash"):
                found.known = None if found.partial else _explained_by(impl, flags, found, linux_src)
                found.triaged = not found.partial and found.known != ""
                found.known = found.known or None
            if found.known and avoid_known_bugs:  # a known bug's hang: stepped around like its crash
                res.known[found.known] += 1
                k += 1
                continue
            res.failures.append(found)
            if found.partial:
                res.stopped = "interrupted" if hard_end is None or time.monotonic() < hard_end else "out of time"
            break
        except BaseException:
            _close_quietly(ls)
            raise
        _close_quietly(ls)
        res.flags[flags] += 1
        res.steps += len(ops)
        res.examples += 1
        k += 1
        res.seconds = time.monotonic() - t0
        count_coverage(res, ops)
        if progress:
            progress(res)


def count_coverage(res: CampaignResult, ops: list[tuple]) -> None:
    """Operations and -ENOMEM points of one passed example, and a throughput sample."""
    res.ops.update(op[0] for op in ops)
    res.enomem.update(op[2] for op in ops if op[0] == "dup" and op[2] is not None)
    res.timeline.append((res.seconds, res.steps))


def _store_type_counts() -> Counter:
    """Write paths taken by our Python tree so far (Linux's are not observable)."""
    from maplecheck.impl.pytree.state import STORE_TYPE_NAMES
    from maplecheck.impl.pytree.write import STORE_TYPE_COUNTS
    return Counter(dict(zip(STORE_TYPE_NAMES, STORE_TYPE_COUNTS)))



