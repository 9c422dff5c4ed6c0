# SPDX-License-Identifier: GPL-2.0-or-later
"""The Linux adapter's half of the caller API beyond ``mtree_*`` (C side: shim_api.c).

:class:`LinuxApiMixin` gives :class:`~maplecheck.impl.linux.adapter.LinuxTree`
the protocol methods ``store_gfp`` ... ``mt_prev``; :func:`declare_api` types
the C functions; :data:`API_OPCODES` and :data:`API_DECODERS` extend the
batch tables.  :func:`coverage` reads the allocation-failure coverage table.
"""

from __future__ import annotations

import ctypes

from maplecheck.tree import (Cyclic, Found, MapleUsageError, StoreCalls, check_entry,
                             check_index)

U64 = ctypes.c_uint64

#: first batch opcode of shim_api.c (OP_COUNT in shim.c)
API_OP0 = 23
API_OPCODES = {name: API_OP0 + i for i, name in enumerate((
    "store_gfp", "store_nowait", "store_prealloc", "prealloc_destroy", "mas_erase",
    "alloc_cyclic", "mt_find", "mt_find_after", "mt_next", "mt_prev"))}
_STORE_HOW = {"store_gfp": 0, "store_nowait": 1, "store_prealloc": 2, "prealloc_destroy": 3}

#: rows and columns of mc_api_coverage (MC_COV_TYPES, MC_COV_K in shim_api.c)
COV_TYPES, COV_K = 16, 32


def _s64(w: int) -> int:
    return w - (1 << 64) if w >> 63 else w


def _d_store(r, i): return _s64(r[i])
def _d_entry(r, i): return r[i] or None
def _d_cyclic(r, i): return [_s64(r[i]), r[i + 1], r[i + 2]]
def _d_found(r, i): return [r[i] or None, r[i + 1]]


API_DECODERS = {"store_gfp": _d_store, "store_nowait": _d_store, "store_prealloc": _d_store,
                "prealloc_destroy": _d_store, "mas_erase": _d_entry, "alloc_cyclic": _d_cyclic,
                "mt_find": _d_found, "mt_find_after": _d_found, "mt_next": _d_entry,
                "mt_prev": _d_entry}


def declare_api(lib) -> None:
    """Set the ctypes signatures of shim_api.c's functions."""
    P, L, I, pU = ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.POINTER(U64)
    for name, res, args in (
            ("mc_store_api", L, [P, I, U64, U64, U64, L]),
            ("mc_mas_erase", U64, [P, U64, L]),
            ("mc_alloc_cyclic", L, [P, U64, U64, U64, pU]),
            ("mc_mt_find", None, [P, I, U64, U64, pU]),
            ("mc_mt_step", U64, [P, I, U64, U64]),
            ("mc_api_coverage", L, [pU, L, I]),
            ("mc_api_last", None, [pU])):
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def coverage(lib, reset: bool = True) -> list[tuple[int, list[int]]]:
    """Per store type (kernel enum order): (most nodes one write requested, hits[k] for k=1..COV_K).

    With ``reset`` the table starts over (a campaign reads it after every example).
    """
    n = COV_TYPES * (COV_K + 1)
    buf = (U64 * n)()
    lib.mc_api_coverage(buf, n, 1 if reset else 0)
    rows = []
    for t in range(COV_TYPES):
        row = list(buf[t * (COV_K + 1):(t + 1) * (COV_K + 1)])
        rows.append((row[0], row[1:]))
    return rows


def last_alloc(lib) -> tuple[int, int]:
    """(store type, nodes requested) of the last caller-API write."""
    buf = (U64 * 2)()
    lib.mc_api_last(buf)
    return buf[0], buf[1]


def _check_fail_at(fail_at) -> int:
    if fail_at is not None and (type(fail_at) is not int or fail_at < 1):
        raise MapleUsageError(f"fail_at={fail_at!r} is not None or an int >= 1")
    return fail_at or 0


class LinuxApiMixin(StoreCalls):
    """Protocol methods of shim_api.c; needs ``self._lib``, ``self.handle`` and ``self._out``."""

    __slots__ = ()

    def _store_api(self, how: str, first, last, entry, fail_at) -> int:
        check_index("first", first), check_index("last", last), check_entry("entry", entry)
        k = _check_fail_at(fail_at)
        return self._lib.mc_store_api(self.handle, _STORE_HOW[how], first, last, entry or 0, k)

    def mas_erase(self, index, fail_at=None):
        check_index("index", index)
        return self._lib.mc_mas_erase(self.handle, index, _check_fail_at(fail_at)) or None

    def alloc_cyclic(self, entry, min, max, next) -> Cyclic:
        check_entry("entry", entry), check_index("min", min), check_index("max", max)
        check_index("next", next)
        o = self._out
        o[1] = next
        ret = self._lib.mc_alloc_cyclic(self.handle, entry or 0, min, max, o)
        return Cyclic(ret, o[0], o[1])

    def _find(self, after: int, index, max) -> Found:
        check_index("index", index), check_index("max", max)
        o = self._out
        self._lib.mc_mt_find(self.handle, after, index, max, o)
        return Found(o[0] or None, o[1])

    def mt_find(self, index, max) -> Found:
        return self._find(0, index, max)

    def mt_find_after(self, index, max) -> Found:
        return self._find(1, index, max)

    def mt_next(self, index, max):
        check_index("index", index), check_index("max", max)
        return self._lib.mc_mt_step(self.handle, 0, index, max) or None

    def mt_prev(self, index, min):
        check_index("index", index), check_index("min", min)
        return self._lib.mc_mt_step(self.handle, 1, index, min) or None
