# SPDX-License-Identifier: GPL-2.0-or-later
"""A fork simulation on the Tree protocol: ``dup_mmap`` and ``exit_mmap`` of Linux 6.12.

An address space is a sorted list of :class:`Vma` records (``[start, end)``,
flags, payload).  Each VMA is stored in an mm-like tree (alloc-range, RCU,
external lock: ``MM_MT_FLAGS``) as a pointer-like word: the parent's words
are :func:`parent_word` and the child's copies :func:`child_word` (distinct
multiples of 16 above 4096, so neither is ever confused with a value entry, a
reserved entry or XA_ZERO_ENTRY).

:func:`dup_mmap` follows ``kernel/fork.c`` (6.12):

1. ``child = parent.dup()`` (``__mt_dup``); on error the child stays empty and
   the error is returned;
2. ``set_rcu(False)`` on the child;
3. walk the child's entries (still the parent's words) with the cursor
   (``for_each_vma`` is ``mas_find``); ``VM_DONTCOPY`` → store NULL over the
   VMA (may fail → stop); otherwise copy the VMA and replace the entry with
   the copy's word (the exact-fit store: in place, cannot fail);
4. success → ``set_rcu(True)``; failure → ``XA_ZERO_ENTRY`` over the range of
   the first VMA not copied; entries after the marker still hold the parent's
   words.

Copy failures are injected with ``fail_copy_at=k`` (the k-th VMA to be
copied, counting from 1, DONTCOPY ones not counted), of two kinds:

* ``"dup"``: ``vm_area_dup`` fails: nothing stored for that VMA; the marker
  goes over it;
* ``"pages"``: ``copy_page_range`` fails after the copy was stored: the marker
  goes over the *next* VMA of the child (none if it was the last).

:func:`exit_mmap` tears down like ``mm/mmap.c``: free the VMAs up to the first
XA_ZERO_ENTRY (or all), then destroy the tree; it returns the words it freed
so a test can check no parent VMA is freed by the child.  :func:`expected_fork`
computes the whole outcome directly from the VMA list.  :func:`old_fork_path`
is the pre-6.8 path: every copied VMA inserted into an empty tree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

from .tree import CREATE_FLAGS, ENOMEM, MAX, MM_MT_FLAGS, MT_FLAGS_USE_RCU, XA_ZERO_ENTRY

VM_DONTCOPY = 0x00020000  #: include/linux/mm.h
VM_ACCOUNT = 0x00100000
FORK_FLAGS = MM_MT_FLAGS & CREATE_FLAGS  #: alloc-range | RCU | external lock

PARENT_BASE = 0x10_0000_0000
CHILD_BASE = 0x20_0000_0000

__all__ = ["Vma", "VM_DONTCOPY", "FORK_FLAGS", "parent_word", "child_word", "make_vmas",
           "build_parent", "dup_mmap", "exit_mmap", "expected_fork", "old_fork_path",
           "ForkResult", "Expected"]


@dataclass(frozen=True)
class Vma:
    """One VMA: ``[start, end)``, its flags, and an arbitrary payload."""

    start: int
    end: int
    flags: int = 0
    payload: object = None
    index: int = field(default=0, compare=False)  #: position in the address space

    @property
    def last(self) -> int:
        return self.end - 1

    @property
    def dontcopy(self) -> bool:
        return bool(self.flags & VM_DONTCOPY)


def parent_word(vma: Vma) -> int:
    """The parent's entry for ``vma``: a unique pointer-like word."""
    return PARENT_BASE + (vma.index << 4)


def child_word(vma: Vma) -> int:
    """The child's copy of ``vma``: a different unique pointer-like word."""
    return CHILD_BASE + (vma.index << 4)


def _numbered(vmas: Sequence[Vma]) -> list[Vma]:
    out = []
    prev_end = 0
    for i, v in enumerate(vmas):
        if not (v.start < v.end and v.start >= prev_end and v.end - 1 <= MAX):
            raise ValueError(f"VMA {i} [{v.start:#x}, {v.end:#x}) is empty, unsorted or overlapping")
        prev_end = v.end
        out.append(v if v.index == i else Vma(v.start, v.end, v.flags, v.payload, i))
    return out


def make_vmas(n: int, seed: int = 0, dontcopy: float = 0.1, page: int = 4096,
              start: int = 0x400000) -> list[Vma]:
    """A plausible address space of ``n`` VMAs: page-aligned, some adjacent, some DONTCOPY."""
    rng = random.Random(seed)
    out = []
    pos = start
    for i in range(n):
        if rng.random() < 0.6:
            pos += page * rng.choice((1, 1, 2, 16, 256))
        size = page * rng.choice((1, 1, 2, 3, 8, 33, 512))
        flags = VM_DONTCOPY if rng.random() < dontcopy else 0
        out.append(Vma(pos, pos + size, flags, None, i))
        pos += size
    return out


def build_parent(factory, vmas: Sequence[Vma], flags: int = FORK_FLAGS):
    """The parent's tree: every VMA stored over ``[start, end - 1]`` as :func:`parent_word`."""
    vmas = _numbered(vmas)
    t = factory.create(flags)
    for v in vmas:
        ret = t.store_range(v.start, v.last, parent_word(v))
        if ret:
            raise AssertionError(f"storing VMA {v.index} [{v.start:#x}, {v.end:#x}) gave {ret}")
    return t


class ForkResult(NamedTuple):
    ret: int  #: 0 or -errno, as dup_mmap returns it
    child: object  #: the child's tree (empty if the dup failed)
    copied: list  #: child words stored, in order
    marker: tuple | None  #: (first, last) of the XA_ZERO_ENTRY, if any


def dup_mmap(parent, vmas: Sequence[Vma], fail_copy_at: int | None = None,
             dup_fail_at: int | None = None, fail_kind: str = "dup") -> ForkResult:
    """Fork the address space held by ``parent`` (see the module text)."""
    if fail_kind not in ("dup", "pages"):
        raise ValueError(f"fail_kind {fail_kind!r} is not 'dup' or 'pages'")
    vmas = _numbered(vmas)
    by_start = {v.start: v for v in vmas}
    ret, child = parent.dup(dup_fail_at)  # __mt_dup, both locks held
    if ret:
        return ForkResult(ret, child, [], None)
    child.set_rcu(False)  # mt_clear_in_rcu: edits below in place where possible
    copied: list[int] = []
    retval = 0
    mpnt: Vma | None = None
    ncopy = 0
    pos = 0
    while True:  # for_each_vma(vmi, mpnt) on the child
        child.mas_set(pos)
        r = child.mas_find(MAX)
        if r.entry is None:
            break
        v = by_start.get(r.index)
        if v is None or r.last != v.last or r.entry != parent_word(v):
            raise AssertionError(f"child entry {r} is not a parent VMA")
        if v.dontcopy:
            ret = child.store_range(v.start, v.last, None)  # vma_iter_clear_gfp
            if ret:
                retval, mpnt = ret, v
                break
        else:
            ncopy += 1
            if fail_copy_at == ncopy and fail_kind == "dup":  # vm_area_dup() failed
                retval, mpnt = -ENOMEM, v
                break
            word = child_word(v)
            ret, old = child.replace(v.start, word)  # vma_iter_bulk_store: exact fit
            if ret or old != parent_word(v):
                raise AssertionError(f"exact-fit replace of VMA {v.index} gave {(ret, old)}")
            copied.append(word)
            if fail_copy_at == ncopy and fail_kind == "pages":  # copy_page_range() failed
                retval = -ENOMEM
                mpnt = None
                if v.last != MAX:
                    child.mas_set(v.end)
                    n = child.mas_find(MAX)  # vma_next()
                    if n.entry is not None:
                        mpnt = by_start[n.index]
                break
        if r.last == MAX:
            break
        pos = r.last + 1
    marker = None
    if not retval:
        child.set_rcu(True)  # mt_set_in_rcu
    elif mpnt is not None:
        marker = (mpnt.start, mpnt.last)
        ret = child.store_range(mpnt.start, mpnt.last, XA_ZERO_ENTRY)
        if ret:
            raise AssertionError(f"storing the XA_ZERO_ENTRY marker gave {ret}")
    return ForkResult(retval, child, copied, marker)


def exit_mmap(tree) -> list[int]:
    """Tear down an address space: free VMAs up to the first XA_ZERO_ENTRY, then destroy.

    Returns the words of the VMAs freed, in order.
    """
    freed: list[int] = []
    tree.mas_set(0)
    r = tree.mas_find(MAX)  # vma_next(): XA_ZERO_ENTRY comes back as itself
    while r.entry is not None and r.entry != XA_ZERO_ENTRY:
        freed.append(r.entry)  # remove_vma()
        r = tree.mas_find(MAX)
    tree.destroy()  # __mt_destroy: the nodes only
    return freed


class Expected(NamedTuple):
    ret: int
    ranges: list  #: every range of the child, NULL ranges included
    rcu: int  #: the child's MT_FLAGS_USE_RCU bit after the fork
    freed: list  #: what exit_mmap(child) frees


def expected_fork(vmas: Sequence[Vma], fail_copy_at: int | None = None, dup_ok: bool = True,
                  fail_kind: str = "dup", flags: int = FORK_FLAGS) -> Expected:
    """The outcome of :func:`dup_mmap`, computed from the VMA list alone."""
    vmas = _numbered(vmas)
    if not dup_ok:
        return Expected(-ENOMEM, [(0, MAX, None)], flags & MT_FLAGS_USE_RCU, [])
    entries: list[tuple[int, int, int]] = []
    ret = 0
    ncopy = 0
    stop = None  # index of the first VMA not processed
    for i, v in enumerate(vmas):
        if v.dontcopy:
            continue
        ncopy += 1
        if fail_copy_at == ncopy:
            ret = -ENOMEM
            if fail_kind == "dup":
                stop = i
            else:
                entries.append((v.start, v.last, child_word(v)))
                stop = i + 1
            break
        entries.append((v.start, v.last, child_word(v)))
    marker_at = None
    if stop is not None:
        # processed DONTCOPY VMAs before the stop are gone; the rest keep the parent's words
        if stop < len(vmas):
            marker_at = stop
        for v in vmas[stop:]:
            e = XA_ZERO_ENTRY if v.index == marker_at else parent_word(v)
            entries.append((v.start, v.last, e))
        entries.sort()
    ranges = _fill(entries)
    freed = []
    for _, _, e in ranges:
        if e == XA_ZERO_ENTRY:
            break
        if e is not None:
            freed.append(e)
    rcu = 0 if ret else MT_FLAGS_USE_RCU
    return Expected(ret, ranges, rcu, freed)


def _fill(entries) -> list:
    out = []
    pos = 0
    for first, last, e in entries:
        if first > pos:
            out.append((pos, first - 1, None))
        out.append((first, last, e))
        pos = last + 1
    if not out or out[-1][1] < MAX:
        out.append((pos, MAX, None))
    return out


def old_fork_path(factory, vmas: Sequence[Vma], flags: int = FORK_FLAGS):
    """The pre-6.8 fork: insert every copied VMA, in order, into an empty tree.

    The kernel used bulk mode (``mas_expected_entries``); the protocol has no
    bulk mode, so this stores each range with ``store_range``.  The contents
    equal a successful :func:`dup_mmap`'s (the structure need not).
    """
    vmas = _numbered(vmas)
    t = factory.create(flags & ~MT_FLAGS_USE_RCU)
    for v in vmas:
        if v.dontcopy:
            continue
        ret = t.store_range(v.start, v.last, child_word(v))
        if ret:
            raise AssertionError(f"old fork path: storing VMA {v.index} gave {ret}")
    if flags & MT_FLAGS_USE_RCU:
        t.set_rcu(True)
    return t
