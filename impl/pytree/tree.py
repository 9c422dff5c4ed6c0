# SPDX-License-Identifier: GPL-2.0-or-later
"""The Tree protocol over our Python maple tree: :class:`PyTree` and :class:`PyFactory`."""

from __future__ import annotations

from maplecheck.tree import (CREATE_FLAGS, MT_FLAGS_USE_RCU, Alloc, Area, MapleUsageError,
                             MasResult, Walk, check_entry, check_index, mt_attr, xa_is_node)

from .alloc import NodeAllocator
from .api import PyApiMixin
from .dumper import dump_tree
from .mtree import MapleTree
from .nav import mte_destroy_walk
from .node import LINUX_64, Geometry
from .profile import is_v7
from .state import MaState
from .walk import mas_walk, mtree_load
from .write import mtree_erase, mtree_insert_range, mtree_store_range


class PyTree(PyApiMixin):
    """One Python maple tree plus its cursor ``ma_state``."""

    __slots__ = ("factory", "mt", "cursor")

    def __init__(self, factory: "PyFactory", mt: MapleTree) -> None:
        self.factory = factory
        self.mt = mt
        self.cursor = MaState(mt, 0, 0)

    def _reset_cursor(self) -> None:
        self.cursor.set(self.cursor.index)

    # -- writes
    def store_range(self, first: int, last: int, entry) -> int:
        check_index("first", first), check_index("last", last), check_entry("entry", entry)
        ret = mtree_store_range(self.mt, first, last, entry)
        self._reset_cursor()
        return ret

    def insert_range(self, first: int, last: int, entry) -> int:
        check_index("first", first), check_index("last", last), check_entry("entry", entry)
        ret = mtree_insert_range(self.mt, first, last, entry)
        self._reset_cursor()
        return ret

    def erase(self, index: int):
        check_index("index", index)
        old = mtree_erase(self.mt, index)
        self._reset_cursor()
        return old

    def replace(self, index: int, entry) -> tuple[int, object]:
        check_index("index", index), check_entry("entry", entry)
        from .replace import replace  # noqa: PLC0415
        ret = replace(self.mt, index, entry)
        self._reset_cursor()
        return ret

    def set_rcu(self, on: bool) -> None:
        if type(on) is not bool:
            raise MapleUsageError(f"on={on!r} is not a bool")
        if on:
            self.mt.ma_flags |= MT_FLAGS_USE_RCU
        else:
            self.mt.ma_flags &= ~MT_FLAGS_USE_RCU
        self._reset_cursor()

    # -- reads
    def load(self, index: int):
        check_index("index", index)
        return mtree_load(self.mt, index)

    def walk(self, index: int) -> Walk:
        check_index("index", index)
        mas = MaState(self.mt, index, index)
        entry = mas_walk(mas)
        return Walk(entry, mas.index, mas.last)

    # -- the cursor
    def mas_set(self, index: int) -> None:
        check_index("index", index)
        self.cursor.set(index)

    def mas_pause(self) -> None:
        from .iterate import mas_pause  # noqa: PLC0415
        mas_pause(self.cursor)

    def _cursor(self, name: str, limit: int) -> MasResult:
        check_index("limit", limit)
        from . import iterate  # noqa: PLC0415
        mas = self.cursor
        entry = getattr(iterate, name)(mas, limit)
        return MasResult(entry, mas.index, mas.last, mas.status)

    def mas_find(self, max: int) -> MasResult: return self._cursor("mas_find", max)
    def mas_find_range(self, max: int) -> MasResult: return self._cursor("mas_find_range", max)
    def mas_next(self, max: int) -> MasResult: return self._cursor("mas_next", max)
    def mas_next_range(self, max: int) -> MasResult: return self._cursor("mas_next_range", max)
    def mas_prev(self, min: int) -> MasResult: return self._cursor("mas_prev", min)
    def mas_prev_range(self, min: int) -> MasResult: return self._cursor("mas_prev_range", min)
    def mas_find_rev(self, min: int) -> MasResult: return self._cursor("mas_find_rev", min)
    def mas_find_range_rev(self, min: int) -> MasResult:
        return self._cursor("mas_find_range_rev", min)

    # -- gaps
    def empty_area(self, min: int, max: int, size: int) -> Area:
        return self._area("mas_empty_area", min, max, size)

    def empty_area_rev(self, min: int, max: int, size: int) -> Area:
        return self._area("mas_empty_area_rev", min, max, size)

    def _area(self, name, lo, hi, size) -> Area:
        check_index("min", lo), check_index("max", hi), check_index("size", size)
        from . import gap  # noqa: PLC0415
        mas = MaState(self.mt, 0, 0)
        ret = getattr(gap, name)(mas, lo, hi, size)
        return Area(ret, mas.index, mas.last) if ret == 0 else Area(ret, 0, 0)

    def alloc_range(self, size: int, entry, min: int, max: int) -> Alloc:
        return self._alloc("mtree_alloc_range", size, entry, min, max)

    def alloc_rrange(self, size: int, entry, min: int, max: int) -> Alloc:
        return self._alloc("mtree_alloc_rrange", size, entry, min, max)

    def _alloc(self, name, size, entry, lo, hi) -> Alloc:
        check_index("size", size), check_entry("entry", entry)
        check_index("min", lo), check_index("max", hi)
        from . import gap  # noqa: PLC0415
        ret, start = getattr(gap, name)(self.mt, size, entry, lo, hi)
        self._reset_cursor()
        return Alloc(ret, start if ret == 0 else 0)

    # -- structure
    def dup(self, fail_at: int | None = None) -> tuple[int, "PyTree"]:
        if fail_at is not None and (type(fail_at) is not int or fail_at < 1):
            raise MapleUsageError(f"fail_at={fail_at!r} is not None or an int >= 1")
        from .dup import mt_dup  # noqa: PLC0415
        new = MapleTree(self.mt.alloc, mt_attr(self.mt.ma_flags), self.mt.profile)
        ret = mt_dup(self.mt, new, fail_at)
        self._reset_cursor()
        return ret, PyTree(self.factory, new)

    def validate(self) -> list[str]:
        from .validate import validate_tree  # noqa: PLC0415
        return validate_tree(self.mt)

    def dump(self) -> dict:
        return dump_tree(self.mt)

    def height(self) -> int:
        return self.mt.mt_height()

    def flags(self) -> int:
        return self.mt.ma_flags

    def destroy(self) -> None:
        """__mt_destroy(): root NULL, every node freed, flags lose the height."""
        mt = self.mt
        root = mt.ma_root
        mt.ma_root = None
        if root is not None and xa_is_node(root):
            mte_destroy_walk(mt, root & ~2)
        mt.ma_flags = mt_attr(mt.ma_flags)
        self.cursor.set(0)


class PyFactory:
    """Trees of our Python implementation sharing one node allocator."""

    name = "python"

    def __init__(self, geometry: Geometry = LINUX_64, profile: str = "6.12") -> None:
        """``profile``: the kernel series whose write path the trees follow (profile.py)."""
        is_v7(profile)
        self.profile = profile
        self.geometry = geometry
        self.alloc = NodeAllocator(geometry)

    def create(self, flags: int = 0) -> PyTree:
        if type(flags) is not int or flags & ~CREATE_FLAGS:
            raise MapleUsageError(f"flags={flags!r} has bits outside {CREATE_FLAGS:#x}")
        return PyTree(self, MapleTree(self.alloc, flags, self.profile))

    def live_nodes(self) -> int:
        return self.alloc.live

    def nomem_coverage(self):
        """Allocation-failure coverage since the last call (see impl.pytree.api)."""
        from .api import take_coverage  # noqa: PLC0415
        return take_coverage()

    def last_alloc(self) -> tuple[int, int]:
        """(store type, nodes requested) of the last caller-API write."""
        from .api import LAST_ALLOC  # noqa: PLC0415
        return tuple(LAST_ALLOC)
