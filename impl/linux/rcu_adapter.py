# SPDX-License-Identifier: GPL-2.0-or-later
"""The scheduled build of the Linux maple tree ("rcu" flavour of build.py), over ctypes.

    lib = RcuLib(build_adapter(rcu=True))        # the optimised flavour loads in-process
    run = lib.run(flags, prefix, writer, readers, schedule=(1, 0, 0))
    run.results, run.decisions, run.hits, run.status

One run creates tree 0 with ``flags``, applies ``prefix`` (unscheduled), then
runs the ``writer`` ops as coroutine 0 and each list of ``readers`` ops as
coroutine 1, 2, ... under the scheduler of ``rcu_shim.c``.  ``decisions`` is
one ``(enabled_mask, chosen)`` pair per point where more than one coroutine
could run; replaying ``[c for _, c in decisions]`` as the schedule reproduces
the run exactly (the scheduled build is deterministic).  The sanitised flavour
needs libasan preloaded: :mod:`maplecheck.properties.rcu_worker` runs it in a
child process.
"""

from __future__ import annotations

import ctypes
from array import array
from dataclasses import dataclass, field

from .adapter import _DECODERS, _ENCODERS, load_library

U64 = ctypes.c_uint64

#: scheduling point kinds, in the order of enum mc_sp_kind (rcu_sched.h)
SP_KINDS = ("assign", "write_once", "wmb", "call_rcu", "deref", "read_once", "rmb")
MAX_READERS = 3
MAX_DECISIONS = 1 << 16

#: status bits returned by mc_rcu_run
ST_READER_STUCK, ST_WRITER_STUCK, ST_DIVERGED, ST_INVALID = 1, 2, 4, 8


class RcuRunError(RuntimeError):
    """The scheduled run could not start (bad arguments or a prefix op the batch refused)."""


@dataclass
class RcuRun:
    """The outcome of one scheduled run."""

    status: int
    writer: list                    # plain results of the writer's ops
    readers: list[list]             # plain results of each reader's ops
    decisions: list[tuple[int, int]]
    hits: dict[str, int] = field(default_factory=dict)

    @property
    def schedule(self) -> tuple[int, ...]:
        """The choices of this run: replaying them gives the same run."""
        return tuple(c for _, c in self.decisions)


def _words(ops) -> array:
    out = array("Q")
    for op in ops:
        w = _ENCODERS[op[0]](tuple(op))
        if w is None:
            raise RcuRunError(f"cannot encode {op!r}")
        out.extend(w)
    return out


class RcuLib:
    """The ``mc_rcu_run`` entry point of a scheduled adapter library."""

    def __init__(self, lib_path):
        self.lib = load_library(lib_path)
        fn = self.lib.mc_rcu_run
        P = ctypes.c_void_p
        fn.restype = ctypes.c_long
        fn.argtypes = [ctypes.c_uint, P, ctypes.c_long, P, ctypes.c_long, P, P, ctypes.c_int, P,
                       P, ctypes.c_long, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, P, P,
                       ctypes.c_long, ctypes.POINTER(ctypes.c_long), P]
        self._enabled = (ctypes.c_ubyte * MAX_DECISIONS)()
        self._chosen = (ctypes.c_ubyte * MAX_DECISIONS)()
        self._hits = (ctypes.c_long * (len(SP_KINDS) + 2))()

    def run(self, flags: int, prefix, writer, readers, schedule=(), pct_seed: int = 0,
            pct_depth: int = 0, pct_len: int = 0) -> RcuRun:
        if len(readers) > MAX_READERS:
            raise RcuRunError(f"at most {MAX_READERS} readers")
        pw, ww = _words(prefix), _words(writer)
        rw = _words([op for r in readers for op in r])
        counts = (ctypes.c_long * max(1, len(readers)))(*[len(r) for r in readers])
        nres = len(writer) + sum(len(r) for r in readers)
        res = (U64 * (4 * max(1, nres)))()
        sched = (ctypes.c_ubyte * max(1, len(schedule)))(*schedule)
        ndec = ctypes.c_long(0)

        def addr(a):
            return a.buffer_info()[0] if len(a) else None

        st = self.lib.mc_rcu_run(flags, addr(pw), len(prefix), addr(ww), len(writer), addr(rw),
                                 counts, len(readers), res, sched, len(schedule), pct_seed,
                                 pct_depth, pct_len, self._enabled, self._chosen, MAX_DECISIONS,
                                 ctypes.byref(ndec), self._hits)
        if st < 0:
            raise RcuRunError("the scheduled run refused its arguments or its prefix")
        n = min(ndec.value, MAX_DECISIONS)
        decisions = list(zip(self._enabled[:n], self._chosen[:n]))
        out, i = [], 0
        for op in list(writer) + [op for r in readers for op in r]:
            out.append(_DECODERS[op[0]](res, 4 * i))
            i += 1
        w, rest = out[:len(writer)], out[len(writer):]
        rs = []
        for r in readers:
            rs.append(rest[:len(r)])
            rest = rest[len(r):]
        hits = dict(zip(SP_KINDS, self._hits[:len(SP_KINDS)]))
        hits["writer_points"] = self._hits[len(SP_KINDS)]
        hits["reader_points"] = self._hits[len(SP_KINDS) + 1]
        return RcuRun(st, w, rs, decisions, hits)


__all__ = ["MAX_READERS", "RcuLib", "RcuRun", "RcuRunError", "SP_KINDS",
           "ST_DIVERGED", "ST_INVALID", "ST_READER_STUCK", "ST_WRITER_STUCK"]
