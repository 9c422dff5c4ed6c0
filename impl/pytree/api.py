# SPDX-License-Identifier: GPL-2.0-or-later
"""The rest of the caller API on our tree: preallocation, writes under allocation failure, cyclic.

Mirrors ``impl/linux/shim_api.c`` call for call (see maplecheck.tree for the
promises).  Every call with ``fail_at`` arms the tree's NodeAllocator the way
the shim arms the node cache: nodes requested during the call are counted (a
bulk request of n counts n), and the request holding the k-th node is refused
as a whole; earlier and later ones are served.  A refused allocation sets the
state's error to -ENOMEM; ``mas_nomem`` (GFP_KERNEL: it may block, so it
allocates again with injection past the refused request) then lets the write
start over, as ``mas_store_gfp`` and ``mas_erase`` do in the kernel.

:data:`NOMEM_COVERAGE` counts, per store type, the writes whose k-th node
request was refused and the largest request count seen (the shim's
``mc_api_coverage`` table, same layout).
"""

from __future__ import annotations

from maplecheck.tree import (EINVAL, ENOMEM, MA_ERROR, MA_START, Cyclic, Found, MapleUsageError,
                             StoreCalls, check_entry, check_index, xa_is_advanced)

from .gap import mtree_alloc_cyclic
from .iterate import mt_find, mt_find_after, mt_next, mt_prev
from .nav import mas_destroy
from .state import MaState
from .write import mas_store, mas_wr_preallocate, mas_wr_store_entry
from .wr_state import WrState

#: store types x (max requested, hits for k = 1..COV_K), as shim_api.c's table
COV_TYPES, COV_K = 16, 32
NOMEM_COVERAGE = [[0] * (COV_K + 1) for _ in range(COV_TYPES)]
#: the last caller-API write's (store type, nodes requested), as shim_api.c's mc_api_last
LAST_ALLOC = [0, 0]


def take_coverage() -> list[tuple[int, list[int]]]:
    """:data:`NOMEM_COVERAGE` as ``impl.linux.api.coverage`` gives it, then start over."""
    rows = [(row[0], row[1:]) for row in NOMEM_COVERAGE]
    for row in NOMEM_COVERAGE:
        row[:] = [0] * (COV_K + 1)
    return rows


def _check_fail_at(fail_at) -> None:
    if fail_at is not None and (type(fail_at) is not int or fail_at < 1):
        raise MapleUsageError(f"fail_at={fail_at!r} is not None or an int >= 1")


def _arm(tree, fail_at) -> None:
    tree.alloc.fail_at(fail_at)


def _disarm(mas: MaState, fail_at) -> None:
    """End injection; note the write's store type, requests and refusal."""
    alloc = mas.tree.alloc
    n = alloc.requested
    LAST_ALLOC[:] = [mas.store_type, n]
    alloc.disarm()
    alloc.requested = 0
    row = NOMEM_COVERAGE[mas.store_type] if mas.store_type < COV_TYPES else None
    if row is None:
        return
    hit = fail_at is not None and n >= fail_at
    if hit and fail_at <= COV_K:
        row[fail_at] += 1
        row[0] = max(row[0], fail_at)  # it needed that many
    if not hit and n > row[0]:
        row[0] = n


def mas_nomem(mas: MaState) -> bool:
    """mas_nomem(GFP_KERNEL): after -ENOMEM, let the caller start over (the pool is kept)."""
    if mas.status != MA_ERROR or mas.error != -ENOMEM:
        return False
    mas.status = MA_START
    mas.node = None
    return True


def mas_store_gfp_retry(mas: MaState, entry) -> int:
    """mas_store_gfp(GFP_KERNEL): preallocate, retry through mas_nomem, store, destroy."""
    index, last = mas.index, mas.last
    while True:
        wr = WrState(mas, entry)
        if mas_wr_preallocate(wr, entry):
            break
        if not mas_nomem(mas):
            ret = mas.error
            mas_destroy(mas)
            return ret
        if entry is None:
            mas.set_range(index, last)
    mas_wr_store_entry(wr)
    mas_destroy(mas)
    return 0


def mas_preallocate(mas: MaState, entry):
    """mas_preallocate(): the write state with the pool filled, or -ENOMEM (nothing held)."""
    wr = WrState(mas, entry)
    if not mas_wr_preallocate(wr, entry):
        ret = mas.error
        mas_destroy(mas)
        mas.reset()
        return ret
    return wr


def mas_store_prealloc(wr: WrState) -> None:
    """mas_store_prealloc(): store with the preallocated nodes, then release the rest."""
    mas_wr_store_entry(wr)
    mas_destroy(wr.mas)


def mas_erase_gfp(mas: MaState):
    """mas_erase(): clear the range holding mas->index, retrying through mas_nomem."""
    from .walk import mas_state_walk  # noqa: PLC0415
    index = mas.index
    mas.status = MA_START
    while True:
        entry = mas_state_walk(mas)
        if entry is None:
            return None
        mas.reset()
        wr = WrState(mas, None)
        if mas_wr_preallocate(wr, None):
            mas_wr_store_entry(wr)
            break
        if not mas_nomem(mas):
            break
        mas.index = mas.last = index
    mas_destroy(mas)
    return entry


class PyApiMixin(StoreCalls):
    """Protocol methods beyond ``mtree_*`` for PyTree (needs ``self.mt``, ``_reset_cursor``)."""

    __slots__ = ()

    def _store_api(self, how: str, first, last, entry, fail_at) -> int:
        check_index("first", first), check_index("last", last), check_entry("entry", entry)
        _check_fail_at(fail_at)
        if xa_is_advanced(entry) or first > last:
            LAST_ALLOC[:] = [0, 0]
            self._reset_cursor()
            return -EINVAL
        mas = MaState(self.mt, first, last)
        _arm(self.mt, fail_at)
        try:
            ret = self._store_how(how, mas, entry)
        finally:
            _disarm(mas, fail_at)
        self._reset_cursor()
        return ret

    @staticmethod
    def _store_how(how: str, mas: MaState, entry) -> int:
        if how == "store_gfp":
            return mas_store_gfp_retry(mas, entry)
        if how == "store_nowait":
            mas_store(mas, entry)  # destroys the state itself, also on error
            return mas.error if mas.status == MA_ERROR else 0
        wr = mas_preallocate(mas, entry)
        if isinstance(wr, int):
            return wr
        if how == "store_prealloc":
            mas_store_prealloc(wr)
        else:
            mas_destroy(mas)
        return 0

    def mas_erase(self, index, fail_at=None):
        check_index("index", index)
        _check_fail_at(fail_at)
        mas = MaState(self.mt, index, index)
        _arm(self.mt, fail_at)
        try:
            old = mas_erase_gfp(mas)
        finally:
            _disarm(mas, fail_at)
        self._reset_cursor()
        return old

    def alloc_cyclic(self, entry, min, max, next) -> Cyclic:
        check_entry("entry", entry), check_index("min", min), check_index("max", max)
        check_index("next", next)
        ret, start, nxt = mtree_alloc_cyclic(self.mt, entry, min, max, next)
        self._reset_cursor()
        return Cyclic(ret, start if ret >= 0 else 0, nxt)

    def mt_find(self, index, max) -> Found:
        check_index("index", index), check_index("max", max)
        return Found(*mt_find(self.mt, index, max))

    def mt_find_after(self, index, max) -> Found:
        check_index("index", index), check_index("max", max)
        return Found(*mt_find_after(self.mt, index, max))

    def mt_next(self, index, max):
        check_index("index", index), check_index("max", max)
        return mt_next(self.mt, index, max)

    def mt_prev(self, index, min):
        check_index("index", index), check_index("min", min)
        return mt_prev(self.mt, index, min)
