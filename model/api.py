# SPDX-License-Identifier: GPL-2.0-or-later
"""The model's half of the caller API beyond ``mtree_*`` and the cursor.

What each call promises (see :class:`maplecheck.tree.Tree`):

* ``store_gfp``, ``store_nowait``, ``store_prealloc``: the store of
  ``store_range``.  Allocation failure is the tree's business: ``store_gfp``
  retries through ``mas_nomem`` and always stores; for ``store_nowait`` and
  ``store_prealloc`` the outcome -ENOMEM (contents unchanged) is allowed too,
  and the lockstep checker, told by the tree under test which one happened,
  calls :meth:`ApiMixin.write_refused` instead of the store.
* ``prealloc_destroy``: nothing changes, 0.
* ``mas_erase``: ``erase``.
* ``alloc_cyclic``: the lowest free index in ``[max(min, next), max]``, else
  (wrapping, result 1) in ``[min, max]``; ``next`` becomes start + 1, and
  reaching 2**64 sets MT_FLAGS_ALLOC_WRAPPED, which makes the next success
  report 1 and clears it.
* ``mt_find``: the first non-NULL, non-zero entry of a range ending at or
  after ``index`` and starting at or before ``max``; ``index`` becomes that
  range's last + 1 (mod 2**64).  ``mt_find_after`` answers None at index 0.
* ``mt_next``/``mt_prev``: ``mas_next``/``mas_prev`` on a fresh state.

The mixin uses only ModelTree's public methods and its range lists.
"""

from __future__ import annotations

from bisect import bisect_left

from maplecheck.tree import (EINVAL, MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_WRAPPED, Cyclic,
                             Found, MapleUsageError, check_entry, check_index, mt_is_reserved,
                             xa_is_advanced, xa_is_zero)


def check_fail_at(fail_at) -> None:
    """``fail_at`` is None or an int >= 1 (else MapleUsageError)."""
    if fail_at is not None and (type(fail_at) is not int or fail_at < 1):
        raise MapleUsageError(f"fail_at={fail_at!r} is not None or an int >= 1")


class ApiMixin:
    """Caller API of ModelTree that the ``mtree_*`` methods do not cover."""

    __slots__ = ()

    # ------------------------------------------------------------ writes
    def store_gfp(self, first: int, last: int, entry, fail_at: int | None = None) -> int:
        check_fail_at(fail_at)
        return self.store_range(first, last, entry)

    def store_nowait(self, first: int, last: int, entry, fail_at: int | None = None) -> int:
        check_fail_at(fail_at)
        return self.store_range(first, last, entry)

    def store_prealloc(self, first: int, last: int, entry, fail_at: int | None = None) -> int:
        check_fail_at(fail_at)
        return self.store_range(first, last, entry)

    def prealloc_destroy(self, first: int, last: int, entry, fail_at: int | None = None) -> int:
        check_fail_at(fail_at)
        check_index("first", first)
        check_index("last", last)
        check_entry("entry", entry)
        self._reset_cursor()
        return -EINVAL if self._bad_store(first, last, entry) else 0

    @staticmethod
    def _bad_store(first: int, last: int, entry) -> bool:
        """The arguments ``mtree_store_range`` refuses with -EINVAL."""
        return xa_is_advanced(entry) or first > last

    def write_refused(self) -> None:
        """A write the tree refused for memory: nothing changes but the caller's cursor reset."""
        self._reset_cursor()

    def mas_erase(self, index: int, fail_at: int | None = None):
        check_fail_at(fail_at)
        return self.erase(index)

    def alloc_cyclic(self, entry, min: int, max: int, next: int) -> Cyclic:
        check_entry("entry", entry)
        for name, v in (("min", min), ("max", max), ("next", next)):
            check_index(name, v)
        self._reset_cursor()
        if not self._flags & MT_FLAGS_ALLOC_RANGE or mt_is_reserved(entry):
            return Cyclic(-EINVAL, 0, next)
        lo = next if next > min else min
        area = self.empty_area(lo, max, 1)
        ret = area.ret
        if ret < 0 and lo > min:
            area = self.empty_area(min, max, 1)
            ret = 1 if area.ret == 0 else area.ret
        if ret < 0:
            return Cyclic(ret, 0, next)
        start = self._insert_at(area.index, entry)
        if self._flags & MT_FLAGS_ALLOC_WRAPPED and ret == 0:
            self._flags &= ~MT_FLAGS_ALLOC_WRAPPED
            ret = 1
        nxt = (start + 1) & MAX
        if nxt == 0:
            self._flags |= MT_FLAGS_ALLOC_WRAPPED
        return Cyclic(ret, start, nxt)

    def _insert_at(self, index: int, entry) -> int:
        """Insert ``entry`` at the free ``index``; the state's index afterwards (NULL widens it)."""
        if entry is None:
            return self._start_of(bisect_left(self._lasts, index)) if self.root_kind() == "node" else index
        self._write(index, index, entry)
        return index

    # ------------------------------------------------------------ reads
    def mt_find(self, index: int, max: int) -> Found:
        check_index("index", index)
        check_index("max", max)
        if index > max:
            return Found(None, index)
        lasts, entries = self._lasts, self._entries
        if self.root_kind() != "node":
            e = self._root_entry()
            if index == 0 and e is not None and not xa_is_zero(e):
                return Found(e, 1)
            return Found(None, index)
        i = bisect_left(lasts, index)
        while i < len(lasts):
            e = entries[i]
            if e is not None and not xa_is_zero(e):
                return Found(e, (lasts[i] + 1) & MAX)
            if lasts[i] >= max:
                break
            i += 1
        return Found(None, index)

    def mt_find_after(self, index: int, max: int) -> Found:
        check_index("index", index)
        check_index("max", max)
        if index == 0:
            return Found(None, 0)
        return self.mt_find(index, max)

    def _fresh_state_call(self, name: str, index: int, limit: int):
        """``name(limit)`` on MA_STATE(index, index); the tree's own cursor is left alone."""
        check_index("index", index)
        saved = self._cursor()
        try:
            self.mas_set(index)
            return getattr(self, name)(limit).entry
        finally:
            self._mas_index, self._mas_last, self._mas_status, self._mas_node = saved

    def mt_next(self, index: int, max: int):
        return self._fresh_state_call("mas_next", index, max)

    def mt_prev(self, index: int, min: int):
        return self._fresh_state_call("mas_prev", index, min)
