# SPDX-License-Identifier: GPL-2.0-or-later
"""The abstract interval map: the executable specification of the Tree protocol.

The whole index space ``[0, MAX]`` is kept as contiguous ranges, left to right,
NULL ranges included, in two parallel lists:

* ``_lasts[i]``   the last index of range ``i`` (strictly increasing, ends with MAX);
* ``_entries[i]`` its entry (None for NULL).

Range ``i`` starts at ``_lasts[i-1] + 1`` (0 for the first).  Equal neighbouring
entries stay separate ranges; two NULL ranges are never adjacent (a NULL write
absorbs its NULL neighbours, as the kernel's leaf writes and spanning stores do).
So the model's ranges are exactly the kernel tree's leaf slot ranges, and an
empty tree is the single range ``[0, MAX] = NULL``.

Besides the ranges the model keeps what ``ma_root`` holds (:meth:`root_kind`),
because results depend on it: ``"empty"`` (NULL), ``"entry"`` (a root pointer:
the entry for ``[0, 0]`` kept directly, no node) or ``"node"``.  Empty -> root
pointer on storing a non-internal entry at exactly ``[0, 0]``; root pointer ->
node on any other non-NULL store; a node tree never becomes a root pointer
again and becomes empty when every index turns NULL (linux-6.12-facts.md 1.4),
with one exception checked on Linux: a one-slot leaf root ``[0, MAX] = E``
overwritten by NULL over all of ``[0, MAX]`` (or erased) is an exact fit and
keeps its leaf, so a node tree can hold only NULL.

The model is the specification: it answers what the API documents and never
reads the tree under test.  An insert never overwrites; a gap search finds the
lowest (reverse: highest) fit of ``size`` inside ``[min, max]``, with sizes
computed exactly (no unsigned wrap).  Where a kernel answers otherwise on some
shapes (a leaf root's new_root insert, the reverse search's blind spot in the
root's first child, a 2**64-sized gap counted as 0) that is a *deviation*,
registered with its predicate in :mod:`maplecheck.properties.known`, not here.

The cursor is one ``ma_state`` per tree.  Its status machine is transcribed
from ``lib/maple_tree.c`` (``mas_next_setup``, ``mas_prev_setup``,
``mas_find_setup``, ``mas_find_rev_setup``, ``mas_next_slot``,
``mas_prev_slot``, ``mas_walk``) at the range level.  Besides index, last and
status the model tracks whether ``mas->node`` is set (``_mas_node``): a few
call sequences make the kernel step from a NULL node and crash; the model
refuses those with :class:`MasNullNode` (a :class:`MapleUsageError`) and
leaves everything unchanged.  :meth:`ModelTree.mas_would_crash` lets an engine
avoid them.
"""

from __future__ import annotations

from bisect import bisect_left

from .api import ApiMixin

from maplecheck.tree import (
    MasNullNode,
    CREATE_FLAGS, EBUSY, EEXIST, EINVAL, ENOENT, MA_ACTIVE, MA_NONE, MA_OVERFLOW, MA_PAUSE,
    MA_ROOT, MA_START, MA_UNDERFLOW, MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_ALLOC_WRAPPED, MT_FLAGS_HEIGHT_MASK,
    MT_FLAGS_USE_RCU, Alloc, Area, MapleUsageError, MasResult, Walk, check_entry, check_index,
    XA_ZERO_ENTRY, mt_is_reserved, xa_is_advanced,
)

__all__ = ["ModelFactory", "ModelTree", "MasNullNode", "MAS_OPS", "ROOT_EMPTY", "ROOT_ENTRY",
           "ROOT_NODE"]

#: what ``ma_root`` holds (the dump's root kinds)
ROOT_EMPTY, ROOT_ENTRY, ROOT_NODE = "empty", "entry", "node"

#: the cursor operations and their limit argument ("max" or "min")
MAS_OPS = {
    "mas_find": "max", "mas_find_range": "max", "mas_next": "max", "mas_next_range": "max",
    "mas_prev": "min", "mas_prev_range": "min", "mas_find_rev": "min", "mas_find_range_rev": "min",
}


def _is_root_safe(entry) -> bool:
    """May ``entry`` live in ``ma_root`` directly (low two bits not ``10``)?"""
    return entry & 3 != 2


class ModelTree(ApiMixin):
    """One abstract maple tree (see the module docstring)."""

    __slots__ = ("_flags", "_lasts", "_entries", "_root",
                 "_mas_index", "_mas_last", "_mas_status", "_mas_node")

    def __init__(self, flags: int = 0) -> None:
        if type(flags) is not int or flags & ~CREATE_FLAGS:
            raise MapleUsageError(f"flags={flags!r}: allowed bits are {CREATE_FLAGS:#x}")
        self._flags = flags
        self._lasts = [MAX]
        self._entries = [None]
        self._root = ROOT_EMPTY
        # MA_STATE(mas, tree, 0, 0)
        self._mas_index = 0
        self._mas_last = 0
        self._mas_status = MA_START
        self._mas_node = False

    # ------------------------------------------------------------ helpers

    def _start_of(self, i: int) -> int:
        return self._lasts[i - 1] + 1 if i else 0

    def _is_empty(self) -> bool:
        return self._root is ROOT_EMPTY

    def _root_entry(self):
        """``mas_root()``: the raw root value for an empty or root-pointer tree."""
        return self._entries[0] if self._root is ROOT_ENTRY else None

    def _reset_cursor(self) -> None:
        """What a caller does after a write: ``mas_set(mas, mas->index)``."""
        self._mas_last = self._mas_index
        self._mas_status = MA_START
        self._mas_node = False

    def _store(self, first: int, last: int, entry) -> None:
        """Overwrite ``[first, last]`` with ``entry`` in the ranges (no checks, no root logic)."""
        lasts = self._lasts
        entries = self._entries
        i = bisect_left(lasts, first)
        j = bisect_left(lasts, last, i)
        new_l = []
        new_e = []
        lo = i
        hi = j + 1
        start_i = lasts[i - 1] + 1 if i else 0
        if entry is None:
            # widen over NULL neighbours (mas_wr_extend_null / spanning NULL absorb)
            if start_i < first:
                if entries[i] is not None:
                    new_l.append(first - 1)
                    new_e.append(entries[i])
            elif i and entries[i - 1] is None:
                lo = i - 1
            if lasts[j] > last:
                if entries[j] is not None:
                    new_l.append(last)
                    new_e.append(None)
                    new_l.append(lasts[j])
                    new_e.append(entries[j])
                else:
                    new_l.append(lasts[j])
                    new_e.append(None)
            elif hi < len(lasts) and entries[hi] is None:
                new_l.append(lasts[hi])
                new_e.append(None)
                hi += 1
            else:
                new_l.append(last)
                new_e.append(None)
        else:
            if start_i < first:
                new_l.append(first - 1)
                new_e.append(entries[i])
            new_l.append(last)
            new_e.append(entry)
            if lasts[j] > last:
                new_l.append(lasts[j])
                new_e.append(entries[j])
        lasts[lo:hi] = new_l
        entries[lo:hi] = new_e

    def _write(self, first: int, last: int, entry) -> None:
        """A store with the root bookkeeping of ``mas_store_root``/``mas_root_expand``/new_root."""
        root = self._root
        if root is ROOT_ENTRY:
            if entry is None:
                if first == 0:                  # the root pointer is cleared
                    self._root = ROOT_EMPTY
                    self._lasts = [MAX]
                    self._entries = [None]
                return
            if first == 0 and last == 0 and _is_root_safe(entry):
                self._entries[0] = entry
                return
            self._root = ROOT_NODE              # mas_root_expand: a leaf is built
            self._store(first, last, entry)
            return
        if root is ROOT_EMPTY:
            if entry is None:
                return
            self._store(first, last, entry)
            self._root = ROOT_ENTRY if first == 0 and last == 0 and _is_root_safe(entry) else ROOT_NODE
            return
        if entry is None:
            if len(self._lasts) == 1:
                # a leaf root with one slot [0, MAX]: NULL over all of it (or into it, when
                # it is already NULL) is an exact fit and keeps the node (wr_exact_fit runs
                # before wr_new_root)
                if self._entries[0] is None or (first == 0 and last == MAX):
                    self._entries[0] = None
                    return
            self._store(first, last, None)
            if len(self._lasts) == 1 and self._entries[0] is None:
                self._root = ROOT_EMPTY         # new_root / spanning store to [0, MAX]
            return
        self._store(first, last, entry)

    def _any_entry(self, first: int, last: int) -> bool:
        """Is any index of ``[first, last]`` non-NULL (XA_ZERO_ENTRY counts)?"""
        i = bisect_left(self._lasts, first)
        # no two NULL ranges are adjacent: spanning two ranges means touching an entry
        return self._entries[i] is not None or self._lasts[i] < last

    # ------------------------------------------------------------ writes

    def store_range(self, first: int, last: int, entry) -> int:
        """``mtree_store_range``: 0, or -EINVAL for ``first > last`` or an advanced entry."""
        check_index("first", first)
        check_index("last", last)
        check_entry("entry", entry)
        self._reset_cursor()
        if xa_is_advanced(entry) or first > last:
            return -EINVAL
        self._write(first, last, entry)
        return 0

    def insert_range(self, first: int, last: int, entry) -> int:
        """``mtree_insert_range``: -EINVAL, -EEXIST if any entry in range, else 0.

        An insert never overwrites.  A NULL entry is not refused: inserting NULL
        over an all-NULL range succeeds and changes nothing (-EEXIST otherwise).
        """
        check_index("first", first)
        check_index("last", last)
        check_entry("entry", entry)
        self._reset_cursor()
        if xa_is_advanced(entry) or first > last:
            return -EINVAL
        if self._any_entry(first, last):
            return -EEXIST
        if entry is not None:
            self._write(first, last, entry)
        return 0

    def erase(self, index: int):
        """``mtree_erase``: clear the whole range holding ``index``; return its entry."""
        check_index("index", index)
        self._reset_cursor()
        i = bisect_left(self._lasts, index)
        old = self._entries[i]
        if old is not None:
            self._write(self._start_of(i), self._lasts[i], None)
        return old

    def replace(self, index: int, entry) -> tuple[int, object]:
        """Exact-fit store on the range holding ``index``: ``(0, old)``, or an error and no change."""
        check_index("index", index)
        check_entry("entry", entry)
        self._reset_cursor()
        if entry is None or xa_is_advanced(entry):
            return (-EINVAL, None)
        i = bisect_left(self._lasts, index)
        old = self._entries[i]
        if old is None:
            return (-ENOENT, None)
        self._entries[i] = entry
        if self._root is ROOT_ENTRY and not _is_root_safe(entry):
            self._root = ROOT_NODE          # mas_store_root expands an internal-looking entry
        return (0, old)

    def set_rcu(self, on: bool) -> None:
        """``mt_set_in_rcu`` / ``mt_clear_in_rcu``."""
        if type(on) is not bool:
            raise MapleUsageError(f"on={on!r} is not a bool")
        self._reset_cursor()
        if on:
            self._flags |= MT_FLAGS_USE_RCU
        else:
            self._flags &= ~MT_FLAGS_USE_RCU

    # ------------------------------------------------------------ plain reads

    def load(self, index: int):
        """``mtree_load``: the entry at ``index``; XA_ZERO_ENTRY reads as NULL."""
        check_index("index", index)
        e = self._entries[bisect_left(self._lasts, index)]
        return None if e == XA_ZERO_ENTRY else e

    def walk(self, index: int) -> Walk:
        """``mas_walk`` on a fresh state: the raw slot content and its range."""
        check_index("index", index)
        if self._root is ROOT_ENTRY:
            if index == 0:
                return Walk(self._entries[0], 0, 0)
            return Walk(None, 1, MAX)
        lasts = self._lasts
        i = bisect_left(lasts, index)
        return Walk(self._entries[i], lasts[i - 1] + 1 if i else 0, lasts[i])

    def ranges(self) -> list[tuple[int, int, object]]:
        """Every range left to right, NULL ranges included, as ``(first, last, entry)``."""
        out = []
        first = 0
        for last, e in zip(self._lasts, self._entries):
            out.append((first, last, e))
            first = last + 1
        return out

    def is_root_pointer(self) -> bool:
        """Does the kernel keep this tree's only entry in ``ma_root`` (height 0, no node)?"""
        return self._root is ROOT_ENTRY

    def root_kind(self) -> str:
        """``"empty"``, ``"entry"`` (root pointer) or ``"node"``, as in the canonical dump.

        A node tree can hold only NULL: a one-slot leaf root ``[0, MAX] = E`` that is
        erased (or overwritten by NULL over ``[0, MAX]``) keeps its leaf.
        """
        return self._root

    def __len__(self) -> int:
        """The number of ranges (NULL ranges included)."""
        return len(self._lasts)

    # ------------------------------------------------------------ the cursor

    def _cursor(self) -> tuple:
        return (self._mas_index, self._mas_last, self._mas_status, self._mas_node)

    def _set_cursor(self, index: int, last: int, status: int, node: bool | None = None) -> None:
        """Model-only: set the ``ma_state`` fields directly, as kernel tests do.

        ``node`` defaults to whether a kernel state with this status would hold
        a leaf (active/overflow/underflow on a node tree).
        """
        self._mas_index = index
        self._mas_last = last
        self._mas_status = status
        if node is None:
            node = (status in (MA_ACTIVE, MA_OVERFLOW, MA_UNDERFLOW)
                    and self._root is ROOT_NODE)
        self._mas_node = node

    def _result(self, entry) -> MasResult:
        return MasResult(entry, self._mas_index, self._mas_last, self._mas_status)

    def _mas_walk(self):
        """``mas_walk``: always re-walks from the root at ``mas->index``."""
        index = self._mas_index
        root = self._root
        if root is ROOT_ENTRY:
            self._mas_node = False
            if index == 0:
                self._mas_status = MA_ROOT
                self._mas_last = 0
                return self._entries[0]
            self._mas_index = 1
            self._mas_last = MAX
            self._mas_status = MA_NONE
            return None
        lasts = self._lasts
        if root is ROOT_EMPTY:
            self._mas_node = False
            self._mas_status = MA_NONE
            self._mas_index = 0
            self._mas_last = MAX
            return None
        i = bisect_left(lasts, index)
        self._mas_index = lasts[i - 1] + 1 if i else 0
        self._mas_last = lasts[i]
        self._mas_status = MA_ACTIVE
        self._mas_node = True
        return self._entries[i]

    def _next_slot(self, max: int, empty: bool):
        """``mas_next_slot`` at the range level."""
        if not self._mas_node:
            raise MasNullNode("mas_next_slot would run on a NULL mas->node")
        last = self._mas_last
        if last >= max:
            self._mas_status = MA_OVERFLOW
            return None
        lasts = self._lasts
        entries = self._entries
        i = bisect_left(lasts, last)
        while True:
            i += 1
            self._mas_index = lasts[i - 1] + 1
            last = self._mas_last = lasts[i]
            e = entries[i]
            if e is not None or empty:
                return e
            if last >= max:
                self._mas_status = MA_OVERFLOW
                return None

    def _prev_slot(self, min: int, empty: bool):
        """``mas_prev_slot`` at the range level."""
        if not self._mas_node:
            raise MasNullNode("mas_prev_slot would run on a NULL mas->node")
        index = self._mas_index
        if index <= min:
            self._mas_status = MA_UNDERFLOW
            return None
        lasts = self._lasts
        entries = self._entries
        i = bisect_left(lasts, index)
        while True:
            i -= 1
            self._mas_last = index - 1
            index = self._mas_index = lasts[i - 1] + 1 if i else 0
            e = entries[i]
            if e is not None or empty:
                return e
            if index <= min:
                self._mas_status = MA_UNDERFLOW
                return None

    def _next_setup(self, max: int):
        """``mas_next_setup``: ``(done, entry)``."""
        st = self._mas_status
        was_none = st == MA_NONE
        if self._mas_last >= max:
            self._mas_status = MA_OVERFLOW
            return True, None
        if st == MA_ACTIVE:
            return False, None
        if st == MA_NONE or st == MA_PAUSE or st == MA_START:
            self._mas_status = MA_START
            self._mas_walk()
        elif st == MA_OVERFLOW:
            self._mas_status = MA_ACTIVE
        elif st == MA_UNDERFLOW:
            self._mas_status = MA_ACTIVE
            e = self._mas_walk()
            if e is not None:
                return True, e
        st = self._mas_status
        if st == MA_ACTIVE:
            return False, None
        if st == MA_ROOT:
            if was_none and self._mas_index == 0:
                self._mas_index = self._mas_last = 0
                return True, None
            self._mas_index = 1
            self._mas_last = MAX
            self._mas_status = MA_NONE
            return True, None
        if st == MA_NONE:
            return True, None
        return False, None

    def _prev_setup(self, min: int):
        """``mas_prev_setup``: ``(done, entry)``."""
        if self._mas_index <= min:
            self._mas_status = MA_UNDERFLOW
            return True, None
        st = self._mas_status
        if st == MA_ACTIVE:
            return False, None
        if st == MA_NONE or st == MA_PAUSE:
            self._mas_status = MA_START
        elif st == MA_UNDERFLOW:
            self._mas_status = MA_ACTIVE
        elif st == MA_OVERFLOW:
            self._mas_status = MA_ACTIVE
            e = self._mas_walk()
            if e is not None:
                return True, e
        if self._mas_status == MA_START:
            self._mas_walk()
        st = self._mas_status
        if st == MA_ROOT:
            if not self._mas_index:
                self._mas_status = MA_NONE
                return True, None
            self._mas_index = self._mas_last = 0
            return True, self._root_entry()
        if st == MA_NONE:
            if self._mas_index:
                self._mas_index = self._mas_last = 0
                self._mas_status = MA_ROOT
                return True, self._root_entry()
            return True, None
        return False, None

    def _find_setup(self, max: int):
        """``mas_find_setup``: ``(done, entry)``."""
        st = self._mas_status
        if st == MA_ACTIVE:
            return self._mas_last >= max, None
        if st == MA_PAUSE:
            if self._mas_last >= max:
                return True, None
            self._mas_last += 1
            self._mas_index = self._mas_last
            self._mas_status = MA_START
        elif st == MA_NONE:
            if self._mas_last >= max:
                return True, None
            self._mas_index = self._mas_last
            self._mas_status = MA_START
        elif st == MA_UNDERFLOW:
            if self._mas_index >= max:
                self._mas_status = MA_OVERFLOW
                return True, None
            self._mas_status = MA_ACTIVE
            e = self._mas_walk()
            if e is not None:
                return True, e
        elif st == MA_OVERFLOW:
            if self._mas_last >= max:
                return True, None
            self._mas_status = MA_ACTIVE
            e = self._mas_walk()
            if e is not None:
                return True, e
        if self._mas_status == MA_START:
            if self._mas_index > max:
                return True, None
            e = self._mas_walk()
            if e is not None:
                return True, e
        st = self._mas_status
        if st == MA_ROOT:
            self._mas_status = MA_NONE
            self._mas_index = 1
            self._mas_last = MAX
            return True, None
        if st == MA_NONE:
            return True, None
        if self._mas_index == max:
            return True, None
        return False, None

    def _find_rev_setup(self, min: int):
        """``mas_find_rev_setup``: ``(done, entry)``."""
        st = self._mas_status
        if st != MA_ACTIVE:
            if st == MA_PAUSE:
                if self._mas_index <= min:
                    self._mas_status = MA_UNDERFLOW
                    return True, None
                self._mas_index -= 1
                self._mas_last = self._mas_index
                self._mas_status = MA_START
            elif st == MA_NONE:
                if self._mas_index <= min:
                    self._mas_status = MA_NONE
                    return True, None
                self._mas_last = self._mas_index
                self._mas_status = MA_START
            elif st == MA_OVERFLOW:
                if self._mas_index <= min:
                    self._mas_status = MA_UNDERFLOW
                    return True, None
                self._mas_status = MA_ACTIVE
            elif st == MA_UNDERFLOW:
                if self._mas_index <= min:
                    return True, None
                self._mas_status = MA_ACTIVE
            if self._mas_status == MA_START:
                if self._mas_index < min:
                    return True, None
                e = self._mas_walk()
                if e is not None:
                    return True, e
            st = self._mas_status
            if st == MA_ROOT:
                self._mas_status = MA_NONE
                return True, None
            if st == MA_NONE:
                self._mas_index = self._mas_last = 0
                self._mas_status = MA_ROOT
                return True, self._root_entry()
        # active:
        if self._mas_index < min:
            return True, None
        return False, None

    def _mas_call(self, setup, step, limit: int, empty: bool, force_active: bool = False) -> MasResult:
        saved = self._cursor()
        try:
            done, e = setup(limit)
            if not done:
                e = step(limit, empty)
                if force_active:
                    self._mas_status = MA_ACTIVE
        except MasNullNode:
            self._mas_index, self._mas_last, self._mas_status, self._mas_node = saved
            raise
        return MasResult(e, self._mas_index, self._mas_last, self._mas_status)

    def mas_set(self, index: int) -> None:
        check_index("index", index)
        self._mas_index = self._mas_last = index
        self._mas_status = MA_START
        self._mas_node = False

    def mas_pause(self) -> None:
        self._mas_status = MA_PAUSE
        self._mas_node = False

    def mas_find(self, max: int) -> MasResult:
        check_index("max", max)
        return self._mas_call(self._find_setup, self._next_slot, max, False, True)

    def mas_find_range(self, max: int) -> MasResult:
        check_index("max", max)
        return self._mas_call(self._find_setup, self._next_slot, max, True)

    def mas_next(self, max: int) -> MasResult:
        check_index("max", max)
        return self._mas_call(self._next_setup, self._next_slot, max, False)

    def mas_next_range(self, max: int) -> MasResult:
        check_index("max", max)
        return self._mas_call(self._next_setup, self._next_slot, max, True)

    def mas_prev(self, min: int) -> MasResult:
        check_index("min", min)
        return self._mas_call(self._prev_setup, self._prev_slot, min, False)

    def mas_prev_range(self, min: int) -> MasResult:
        check_index("min", min)
        return self._mas_call(self._prev_setup, self._prev_slot, min, True)

    def mas_find_rev(self, min: int) -> MasResult:
        check_index("min", min)
        return self._mas_call(self._find_rev_setup, self._prev_slot, min, False)

    def mas_find_range_rev(self, min: int) -> MasResult:
        check_index("min", min)
        return self._mas_call(self._find_rev_setup, self._prev_slot, min, True)

    def mas_would_crash(self, name: str, limit: int) -> bool:
        """Would cursor call ``name(limit)`` make Linux 6.12 step from a NULL node?

        Pure: the cursor is left as it was.  ``name`` is one of :data:`MAS_OPS`.
        """
        if name not in MAS_OPS:
            return False
        saved = self._cursor()
        try:
            getattr(self, name)(limit)
        except MasNullNode:
            return True
        finally:
            self._mas_index, self._mas_last, self._mas_status, self._mas_node = saved
        return False

    def cursor(self) -> MasResult:
        """The cursor's fields now, as a MasResult with entry None."""
        return MasResult(None, self._mas_index, self._mas_last, self._mas_status)

    # ------------------------------------------------------------ gaps

    def _area_checks(self, min: int, max: int, size: int) -> int:
        if min > max or size == 0 or max - min < size - 1:
            return -EINVAL
        return 0

    def empty_area(self, min: int, max: int, size: int) -> Area:
        """``mas_empty_area`` on a fresh state: the lowest fit of ``size`` in one NULL range.

        A NULL range clipped to ``[min, max]`` fits when it holds ``size`` indices
        (``[0, MAX]`` holds 2**64).
        """
        check_index("min", min)
        check_index("max", max)
        check_index("size", size)
        ret = self._area_checks(min, max, size)
        if ret:
            return Area(ret, 0, 0)
        if self._root is not ROOT_NODE:           # mas_sparse_area
            if self._root is ROOT_ENTRY and min == 0:
                min = 1
                if min > max or max - min + 1 < size:
                    return Area(-EBUSY, 0, 0)
            return Area(0, min, min + size - 1)
        lasts = self._lasts
        entries = self._entries
        n = len(lasts)
        i = bisect_left(lasts, min)
        start = lasts[i - 1] + 1 if i else 0
        while i < n and start <= max:
            end = lasts[i]
            if entries[i] is None:
                lo = start if start > min else min
                hi = end if end < max else max
                if hi - lo + 1 >= size:
                    return Area(0, lo, lo + size - 1)
            start = end + 1
            i += 1
        return Area(-EBUSY, 0, 0)

    def empty_area_rev(self, min: int, max: int, size: int) -> Area:
        """``mas_empty_area_rev`` on a fresh state: the highest fit of ``size`` in one NULL range.

        The highest NULL range that, clipped to ``[min, max]``, holds ``size``
        indices; the area is the top ``size`` indices of that clipped range.
        """
        check_index("min", min)
        check_index("max", max)
        check_index("size", size)
        ret = self._area_checks(min, max, size)
        if ret:
            return Area(ret, 0, 0)
        if self._root is not ROOT_NODE:           # mas_sparse_area
            if self._root is ROOT_ENTRY and min == 0:
                min = 1
                if min > max or max - min + 1 < size:
                    return Area(-EBUSY, 0, 0)
            return Area(0, max - size + 1, max)
        lasts = self._lasts
        entries = self._entries
        i = bisect_left(lasts, max)
        while i >= 0 and lasts[i] >= min:
            if entries[i] is None:
                lo = lasts[i - 1] + 1 if i else 0
                lo = lo if lo > min else min
                hi = lasts[i] if lasts[i] < max else max
                if hi - lo + 1 >= size:
                    return Area(0, hi - size + 1, hi)
                if hi - min + 1 < size:
                    break                         # every lower range is smaller still
            i -= 1
        return Area(-EBUSY, 0, 0)

    def _alloc(self, size: int, entry, min: int, max: int, rev: bool) -> Alloc:
        check_index("size", size)
        check_entry("entry", entry)
        check_index("min", min)
        check_index("max", max)
        if not self._flags & MT_FLAGS_ALLOC_RANGE or mt_is_reserved(entry):
            self._reset_cursor()
            return Alloc(-EINVAL, 0)
        area = self.empty_area_rev(min, max, size) if rev else self.empty_area(min, max, size)
        return self.alloc_at(area, entry)

    def alloc_at(self, area: Area, entry) -> Alloc:
        """The second half of ``mtree_alloc_(r)range``: insert ``entry`` at a found ``area``.

        ``area`` is what the gap search answered: an error passes through with no
        change; else ``(0, start)``.  The cursor is reset either way.
        """
        self._reset_cursor()
        if area.ret:
            return Alloc(area.ret, 0)
        if entry is None:
            # mas_insert(NULL) widens mas->index to the start of the NULL range
            # holding the fit (mas_wr_extend_null) on a node tree; nothing changes.
            if self._root is not ROOT_NODE:
                return Alloc(0, area.index)
            i = bisect_left(self._lasts, area.index)
            return Alloc(0, self._start_of(i))
        self._write(area.index, area.last, entry)
        return Alloc(0, area.index)

    def alloc_range(self, size: int, entry, min: int, max: int) -> Alloc:
        """``mtree_alloc_range``: insert ``entry`` at the lowest fit; ``(0, start)`` or ``(-errno, 0)``."""
        return self._alloc(size, entry, min, max, False)

    def alloc_rrange(self, size: int, entry, min: int, max: int) -> Alloc:
        """``mtree_alloc_rrange``: insert ``entry`` at the highest fit (see :meth:`empty_area_rev`)."""
        return self._alloc(size, entry, min, max, True)

    # ------------------------------------------------------------ structure

    def dup(self, fail_at: int | None = None) -> tuple[int, "ModelTree"]:
        """``__mt_dup``: always ``(0, copy)`` (the model has no nodes; ``fail_at`` is ignored)."""
        if fail_at is not None and (type(fail_at) is not int or fail_at < 1):
            raise MapleUsageError(f"fail_at={fail_at!r} is not None or an int >= 1")
        new = ModelTree(self._flags & CREATE_FLAGS)
        new._flags = self._flags  # MT_FLAGS_ALLOC_WRAPPED travels with the attributes
        new._lasts = list(self._lasts)
        new._entries = list(self._entries)
        new._root = self._root
        return 0, new

    def validate(self) -> list[str]:
        """The model's own representation invariants; empty when sound."""
        out = []
        lasts, entries = self._lasts, self._entries
        if not lasts or len(lasts) != len(entries):
            return [f"model.shape: {len(lasts)} lasts vs {len(entries)} entries"]
        if lasts[-1] != MAX:
            out.append(f"model.cover: last range ends at {lasts[-1]:#x}, not MAX")
        prev = -1
        for i, (last, e) in enumerate(zip(lasts, entries)):
            if type(last) is not int or not 0 <= last <= MAX:
                out.append(f"model.index: range {i} last={last!r}")
            elif last <= prev:
                out.append(f"model.sorted: range {i} last={last:#x} <= previous {prev:#x}")
            if e is not None and (type(e) is not int or not 1 <= e <= MAX):
                out.append(f"model.entry: range {i} entry={e!r}")
            if e is None and i and entries[i - 1] is None:
                out.append(f"model.null_merge: ranges {i - 1} and {i} are both NULL "
                           f"(ending {lasts[i - 1]:#x}, {last:#x})")
            prev = last if type(last) is int else prev
        if self._root is ROOT_ENTRY:
            if not (len(lasts) == 2 and lasts[0] == 0 and entries[0] is not None
                    and entries[1] is None and _is_root_safe(entries[0])):
                out.append("model.root_pointer: flagged root pointer but ranges are "
                           f"{self.ranges()[:3]}")
        if self._root is ROOT_EMPTY and not (len(lasts) == 1 and entries[0] is None):
            out.append(f"model.root_empty: flagged empty but holds {len(lasts)} ranges")
        if self._root not in (ROOT_EMPTY, ROOT_ENTRY, ROOT_NODE):
            out.append(f"model.root_kind: {self._root!r}")
        if self._flags & ~(CREATE_FLAGS | MT_FLAGS_ALLOC_WRAPPED):
            out.append(f"model.flags: {self._flags:#x} has bits outside {CREATE_FLAGS:#x}")
        return out

    def dump(self) -> dict:
        return {"flags": self._flags, "model": True, "ranges": [list(r) for r in self.ranges()]}

    def height(self):
        """The model has no nodes: None."""
        return None

    def flags(self) -> int:
        """The tree attributes (alloc, RCU, lock bits); the model has no height."""
        return self._flags & ~MT_FLAGS_HEIGHT_MASK

    def destroy(self) -> None:
        """``__mt_destroy``: every index NULL, attributes kept."""
        self._lasts = [MAX]
        self._entries = [None]
        self._root = ROOT_EMPTY
        self._mas_index = self._mas_last = 0
        self._mas_status = MA_START
        self._mas_node = False

    def __repr__(self) -> str:
        return f"<ModelTree flags={self._flags:#x} root={self._root} ranges={len(self._lasts)}>"


class ModelFactory:
    """Makes model trees; the model allocates no nodes."""

    name = "model"

    def create(self, flags: int = 0) -> ModelTree:
        return ModelTree(flags)

    def live_nodes(self) -> int:
        return 0

