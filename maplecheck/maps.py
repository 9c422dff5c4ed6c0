# SPDX-License-Identifier: GPL-2.0-or-later
"""Real starting trees: a process's VMA layout as mm keeps it in ``mm->mm_mt``.

``--initial MAPS`` (a ``/proc/PID/maps`` file, ``self``, or a PID) on ``fuzz``,
``diff`` and ``bench fork``.  mm stores each VMA by byte address over
``[vm_start, vm_end - 1]`` with the VMA pointer as the entry, in a tree created
with ``MM_MT_FLAGS`` (alloc-range, RCU mode, external lock: the mmap lock).  In
user space there is no mmap lock to name, so the trees here keep the tree's own
lock; the alloc-range and RCU flags are as in mm.  The gate area
(``[vsyscall]``, above the user address space) is not in the tree, so it is
left out, as are lines that do not parse.

Entries stand for ``struct vm_area_struct *``: distinct, 256-byte aligned
words in the kernel's direct map, one per VMA, in address order.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from .tree import MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU

#: the flags of mm_mt that a user-space tree can have (MM_MT_FLAGS without the external lock)
MAPS_FLAGS = MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU
#: x86-64 TASK_SIZE_MAX: the top of the user address space (4-level paging)
TASK_SIZE = (1 << 47) - 4096
#: where the stand-in VMA pointers start (a direct-map address), and their spacing
VMA_BASE, VMA_SIZE = 0xFFFF888100000000, 0x100

_LINE = re.compile(r"^([0-9a-fA-F]+)-([0-9a-fA-F]+)\s")


class MapsError(ValueError):
    """The maps source cannot be read or holds no VMA (one line)."""


def maps_path(source: str) -> Path:
    """``self``, a PID, or a path -> the maps file to read."""
    if source == "self":
        return Path("/proc/self/maps")
    if source.isdigit():
        return Path(f"/proc/{source}/maps")
    return Path(source)


def parse_maps(text: str) -> list[tuple[int, int]]:
    """The user VMAs of a maps text as ``(vm_start, vm_end)``, sorted, non-overlapping."""
    vmas = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        start, end = int(m.group(1), 16), int(m.group(2), 16)
        if start < end <= TASK_SIZE + 4096 and start < TASK_SIZE:
            vmas.append((start, end))
    vmas.sort()
    out: list[tuple[int, int]] = []
    for start, end in vmas:
        if out and start < out[-1][1]:
            continue  # a torn read of a changing process: keep the first
        out.append((start, end))
    return out


def read_layout(source: str) -> list[tuple[int, int]]:
    """Read and parse a maps source; raise MapsError when there is nothing to use."""
    path = maps_path(source)
    try:
        text = path.read_text()
    except OSError as e:
        raise MapsError(f"--initial {source}: cannot read {path}: {e.strerror}") from None
    vmas = parse_maps(text)
    if not vmas:
        raise MapsError(f"--initial {source}: {path} holds no user VMA lines (start-end perms ...)")
    return vmas


def vma_entries(vmas: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Each VMA as the range mm stores, ``(vm_start, vm_end - 1, vma pointer)``."""
    return [(start, end - 1, VMA_BASE + VMA_SIZE * k) for k, (start, end) in enumerate(vmas)]


def layout_ops(vmas: list[tuple[int, int]], t: int = 0) -> list[tuple]:
    """The stores that build the layout, in address order, as mmap would have inserted them."""
    return [("store_range", t, first, last, entry) for first, last, entry in vma_entries(vmas)]


def boundaries(vmas: list[tuple[int, int]]) -> list[int]:
    """Indices worth aiming at: every VMA's first and last byte and the bytes around them."""
    pts = []
    for start, end in vmas:
        pts.extend((start - 1, start, end - 1, end))
    return [p for p in pts if p >= 0]


def initial_examples(vmas: list[tuple[int, int]]):
    """An example maker for the engine: the layout first, then operations aimed at it."""
    from maplecheck.properties.gen import OpGen
    from maplecheck.tree import MAX

    prefix = layout_ops(vmas)
    points = [0, 1, MAX - 1, MAX] + boundaries(vmas)

    def make(seed: int, length: int, bulk_max: int = 6000) -> tuple[int, list[tuple]]:
        rng = random.Random(seed)
        gen = OpGen(rng, MAPS_FLAGS, bulk_max=bulk_max, points=list(points))
        ops: list[tuple] = list(prefix)
        while len(ops) < len(prefix) + length:
            ops.extend(gen.ops())
        return MAPS_FLAGS, ops[:len(prefix) + length]

    return make


def describe(vmas: list[tuple[int, int]]) -> str:
    span = vmas[-1][1] - vmas[0][0] if vmas else 0
    """One line about a layout for progress output."""
    return f"{len(vmas)} VMAs over {span:#x} bytes" if vmas else "no VMA"
