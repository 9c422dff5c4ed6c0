# SPDX-License-Identifier: GPL-2.0-or-later
"""The Tree protocol and the kernel ABI every implementation shares.

One protocol is satisfied by the model (``maplecheck.model``), our Python maple
tree (``maplecheck.impl.pytree``) and the Linux adapter
(``maplecheck.impl.linux``).  Every property, engine and benchmark is written
against it.

Conventions (the kernel's, so a Python result and a C result compare directly):

* Indices are Python ints in ``[0, MAX]``; anything else is a *usage* error and
  raises :class:`MapleUsageError` before the tree is touched.
* Entries are ints encoded as the kernel encodes them (``xa_mk_value(n)`` is
  ``2n + 1``, XA_ZERO_ENTRY is ``0x406``, pointers are multiples of 4 above
  4096) or ``None`` for NULL.
* Legal calls never raise: they return ``0`` or a negative errno.  A Python
  exception out of an implementation is a bug in that implementation.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

MAX = (1 << 64) - 1  # ULONG_MAX

# errno values, returned negated as the kernel does
ENOENT = 2
ENOMEM = 12
EBUSY = 16
EEXIST = 17
EINVAL = 22

# tree flags (include/linux/maple_tree.h)
MT_FLAGS_ALLOC_RANGE = 0x01
MT_FLAGS_USE_RCU = 0x02
MT_FLAGS_HEIGHT_OFFSET = 2
MT_FLAGS_HEIGHT_MASK = 0x7C
MT_FLAGS_LOCK_MASK = 0x300
MT_FLAGS_LOCK_EXTERN = 0x300
MT_FLAGS_ALLOC_WRAPPED = 0x800
MAPLE_HEIGHT_MAX = 31
MM_MT_FLAGS = MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN | MT_FLAGS_USE_RCU

#: flags a user may pass to ``create``
CREATE_FLAGS = MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU | MT_FLAGS_LOCK_MASK

# enum maple_status
MA_ACTIVE, MA_START, MA_ROOT, MA_NONE, MA_PAUSE, MA_OVERFLOW, MA_UNDERFLOW, MA_ERROR = range(8)
STATUS_NAMES = ("active", "start", "root", "none", "pause", "overflow", "underflow", "error")

# XArray entry encoding (include/linux/xarray.h)
MAPLE_RESERVED_RANGE = 4096
XA_RETRY_ENTRY = 0x402
XA_ZERO_ENTRY = 0x406


def xa_mk_value(v: int) -> int:
    """The value entry for the small integer ``v`` (always odd)."""
    return (v << 1) | 1


def xa_is_value(entry) -> bool:
    return entry is not None and entry & 1 == 1


def xa_is_internal(entry) -> bool:
    return entry is not None and entry & 3 == 2


def xa_is_zero(entry) -> bool:
    return entry == XA_ZERO_ENTRY


def xa_is_advanced(entry) -> bool:
    """Internal entries up to XA_RETRY_ENTRY: refused by ``mtree_store*``."""
    return xa_is_internal(entry) and entry <= XA_RETRY_ENTRY


def mt_is_reserved(entry) -> bool:
    """Internal entries below MAPLE_RESERVED_RANGE: refused by ``mtree_alloc_*``."""
    return xa_is_internal(entry) and entry < MAPLE_RESERVED_RANGE


def xa_is_node(entry) -> bool:
    return xa_is_internal(entry) and entry > MAPLE_RESERVED_RANGE


def mt_height(flags: int) -> int:
    return (flags & MT_FLAGS_HEIGHT_MASK) >> MT_FLAGS_HEIGHT_OFFSET


def mt_attr(flags: int) -> int:
    """The flags without the height bits (what ``__mt_dup`` compares)."""
    return flags & ~MT_FLAGS_HEIGHT_MASK


class MapleUsageError(ValueError):
    """A call outside the protocol's domain (index out of range, bad type).

    Raised before anything is changed, so a campaign loses nothing.
    """


class MasNullNode(MapleUsageError):
    """A cursor call for which Linux 6.12 would step from a NULL ``mas->node`` and crash.

    A state reaches overflow or underflow from its setup limit check, before
    any walk (``mas_set(5); mas_next(3)``), so it has no node; a later call
    that clears that status without walking (``mas_next`` with a wider max,
    ``mas_prev``/``mas_find_rev`` with a lower min, the ``_range`` variants)
    dereferences NULL in ``mas_next_slot``/``mas_prev_slot``.  The kernel
    defines no result, so the model and our tree refuse the call (leaving the
    state as it was) and engines do not send it to Linux.
    """


def check_index(name: str, value) -> int:
    """Return ``value`` if it is an index in [0, MAX], else raise MapleUsageError."""
    if type(value) is not int or not 0 <= value <= MAX:
        raise MapleUsageError(f"{name}={value!r} is not an index in [0, 2**64-1]")
    return value


def check_entry(name: str, value):
    """Return ``value`` if it is None or an entry word in [1, MAX] (word 0 is NULL: pass None)."""
    if value is not None and (type(value) is not int or not 1 <= value <= MAX):
        raise MapleUsageError(f"{name}={value!r} is not an entry (None or an int in [1, 2**64-1])")
    return value


class MasResult(NamedTuple):
    """What an ma_state iteration call leaves behind: its return value and state."""

    entry: int | None
    index: int
    last: int
    status: int

    def __str__(self) -> str:  # compact form for failure reports
        e = "NULL" if self.entry is None else hex(self.entry)
        return f"{e} [{self.index:#x}, {self.last:#x}] {STATUS_NAMES[self.status]}"


class Walk(NamedTuple):
    """``mas_walk``: the content of the range holding an index, and that range."""

    entry: int | None
    first: int
    last: int


class Area(NamedTuple):
    """``mas_empty_area(_rev)``: 0 or -errno, and the range found."""

    ret: int
    index: int
    last: int


class Cyclic(NamedTuple):
    """``mtree_alloc_cyclic``: 0, 1 (the search wrapped) or -errno; the start chosen; the new ``next``."""

    ret: int
    start: int
    next: int


class Found(NamedTuple):
    """``mt_find``/``mt_find_after``: the entry found (None if none) and the updated ``*index``."""

    entry: int | None
    index: int


class Alloc(NamedTuple):
    """``mtree_alloc_(r)range``: 0 or -errno, and the start chosen (0 on error)."""

    ret: int
    start: int


class StoreCalls:
    """The four store_* protocol methods of a concrete tree, routed to its ``_store_api(name, ...)``."""

    __slots__ = ()

    def store_gfp(self, first, last, entry, fail_at=None) -> int:
        return self._store_api("store_gfp", first, last, entry, fail_at)

    def store_nowait(self, first, last, entry, fail_at=None) -> int:
        return self._store_api("store_nowait", first, last, entry, fail_at)

    def store_prealloc(self, first, last, entry, fail_at=None) -> int:
        return self._store_api("store_prealloc", first, last, entry, fail_at)

    def prealloc_destroy(self, first, last, entry, fail_at=None) -> int:
        return self._store_api("prealloc_destroy", first, last, entry, fail_at)


@runtime_checkable
class Tree(Protocol):
    """One maple tree.  Methods named after the kernel call they stand for.

    Writes (``mtree_*``):
        store_range(first, last, entry) -> 0 | -EINVAL | -ENOMEM
        insert_range(first, last, entry) -> 0 | -EEXIST | -EINVAL | -ENOMEM
        erase(index) -> old entry            (mtree_erase)
        replace(index, entry) -> (ret, old)  (mas_replace_entry / exact-fit store)
        set_rcu(on)                          (mt_set_in_rcu / mt_clear_in_rcu)

    The rest of the kernel's caller API (``maplecheck.impl.linux.shim_api.c``):
        store_gfp(first, last, entry, fail_at) -> 0 | -EINVAL
            mtree_store_range's own form: mas_store_gfp(GFP_KERNEL) under the lock.
            fail_at=k refuses the k-th node requested during the call (that one
            request only; a bulk request of n counts n and fails whole).  The
            refused allocation sets -ENOMEM, mas_nomem allocates again and the
            write is retried from the start, so the caller sees 0 and the store.
        store_nowait(first, last, entry, fail_at) -> 0 | -EINVAL | -ENOMEM
            mas_store_gfp(GFP_NOWAIT): fail_at=k refuses the k-th node request
            and every later one of the call (memory is gone), so mas_nomem's
            own retry fails too.  -ENOMEM iff the write needed >= k nodes (a
            structural fact: the tree under test decides, the model accepts
            both outcomes); after -ENOMEM the contents are unchanged, the tree
            valid, and no node is left allocated.
        store_prealloc(first, last, entry, fail_at) -> 0 | -EINVAL | -ENOMEM
            mas_preallocate(GFP_KERNEL) then mas_store_prealloc on the same
            ma_state and range, as mm pairs vma_iter_prealloc/vma_iter_store.
            fail_at refuses the k-th node request of the preallocation (it has
            no retry): -ENOMEM, nothing stored, nothing leaked.  A store on a
            state whose preallocation did not cover it is a caller bug the
            kernel does not define; the pair is one operation so it cannot occur.
        prealloc_destroy(first, last, entry, fail_at) -> 0 | -EINVAL | -ENOMEM
            mas_preallocate then mas_destroy (the caller gives up): contents unchanged.
        mas_erase(index, fail_at) -> old entry
            mas_erase on MA_STATE(index, index); fail_at as store_gfp (its own
            mas_nomem(GFP_KERNEL) retry).
        alloc_cyclic(entry, min, max, next) -> Cyclic
            mtree_alloc_cyclic: -EINVAL (not an alloc tree, reserved entry),
            -EBUSY, 0, or 1 when the search wrapped to ``min``; sets and clears
            MT_FLAGS_ALLOC_WRAPPED in the tree's flags.
        mt_find(index, max), mt_find_after(index, max) -> Found
        mt_next(index, max), mt_prev(index, min) -> entry
    Entries are checked as mtree_store_range checks them (advanced ones and
    first > last are -EINVAL) for every store_* call.

    Reads:
        load(index) -> entry                 (mtree_load: XA_ZERO_ENTRY reads as None)
        walk(index) -> Walk                  (mas_walk on a fresh state)

    The cursor: each tree owns one ``ma_state`` (``MA_STATE(mas, tree, 0, 0)``).
        mas_set(index); mas_pause()
        mas_find(max), mas_find_range(max), mas_next(max), mas_next_range(max),
        mas_prev(min), mas_prev_range(min), mas_find_rev(min),
        mas_find_range_rev(min) -> MasResult
    A write through the tree resets the cursor with ``mas_set(cursor index)``,
    as a kernel caller must before reusing a state across a modification.

    Gaps (alloc-range trees):
        empty_area(min, max, size), empty_area_rev(min, max, size) -> Area
        alloc_range(size, entry, min, max), alloc_rrange(...) -> Alloc

    Structure:
        dup(fail_at=None) -> (ret, Tree)     (__mt_dup into a fresh tree of equal flags;
                                              fail_at=k refuses the k-th node allocation,
                                              counting from 1; on error the new tree is empty)
        validate() -> list[str]              (empty when sound)
        dump() -> dict                       (maplecheck.dump format)
        height() -> int; flags() -> int      (flags as the kernel stores them, height bits included)
        destroy()
    """

    def store_range(self, first: int, last: int, entry) -> int: ...
    def insert_range(self, first: int, last: int, entry) -> int: ...
    def erase(self, index: int): ...
    def replace(self, index: int, entry) -> tuple[int, object]: ...
    def set_rcu(self, on: bool) -> None: ...
    def load(self, index: int): ...
    def walk(self, index: int) -> Walk: ...
    def mas_set(self, index: int) -> None: ...
    def mas_pause(self) -> None: ...
    def mas_find(self, max: int) -> MasResult: ...
    def mas_find_range(self, max: int) -> MasResult: ...
    def mas_next(self, max: int) -> MasResult: ...
    def mas_next_range(self, max: int) -> MasResult: ...
    def mas_prev(self, min: int) -> MasResult: ...
    def mas_prev_range(self, min: int) -> MasResult: ...
    def mas_find_rev(self, min: int) -> MasResult: ...
    def mas_find_range_rev(self, min: int) -> MasResult: ...
    def store_gfp(self, first: int, last: int, entry, fail_at: int | None = None) -> int: ...
    def store_nowait(self, first: int, last: int, entry, fail_at: int | None = None) -> int: ...
    def store_prealloc(self, first: int, last: int, entry, fail_at: int | None = None) -> int: ...
    def prealloc_destroy(self, first: int, last: int, entry, fail_at: int | None = None) -> int: ...
    def mas_erase(self, index: int, fail_at: int | None = None): ...
    def alloc_cyclic(self, entry, min: int, max: int, next: int) -> Cyclic: ...
    def mt_find(self, index: int, max: int) -> Found: ...
    def mt_find_after(self, index: int, max: int) -> Found: ...
    def mt_next(self, index: int, max: int): ...
    def mt_prev(self, index: int, min: int): ...
    def empty_area(self, min: int, max: int, size: int) -> Area: ...
    def empty_area_rev(self, min: int, max: int, size: int) -> Area: ...
    def alloc_range(self, size: int, entry, min: int, max: int) -> Alloc: ...
    def alloc_rrange(self, size: int, entry, min: int, max: int) -> Alloc: ...
    def dup(self, fail_at: int | None = None) -> tuple[int, "Tree"]: ...
    def validate(self) -> list[str]: ...
    def dump(self) -> dict: ...
    def height(self) -> int: ...
    def flags(self) -> int: ...
    def destroy(self) -> None: ...


@runtime_checkable
class TreeFactory(Protocol):
    """Makes trees of one implementation and owns its node allocator."""

    name: str

    def create(self, flags: int = 0) -> Tree: ...

    def live_nodes(self) -> int:
        """Nodes allocated and not yet freed, over every tree of this factory."""
        ...
