# SPDX-License-Identifier: GPL-2.0-or-later
"""The model against concrete Linux 6.12 facts and test expectations, and a naive reference."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maplecheck.model import MAS_OPS, MasNullNode, ModelFactory, ModelTree
from maplecheck.properties.known import GAP_SIZE_WRAP, deviation_for, kernel_empty_area, kernel_empty_area_rev
from maplecheck.tree import (
    EBUSY, EEXIST, EINVAL, ENOENT, MA_ACTIVE, MA_NONE, MA_OVERFLOW, MA_PAUSE, MA_ROOT, MA_START,
    MA_UNDERFLOW, MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_LOCK_EXTERN, MT_FLAGS_USE_RCU, MM_MT_FLAGS,
    XA_RETRY_ENTRY, XA_ZERO_ENTRY, Alloc, Area, MapleUsageError, MasResult, Tree, TreeFactory,
    Walk, xa_mk_value,
)

PTR = 0x1234500
PTR2 = 0x7FFF0000
PTR3 = 0x7FFF1000


def mk(flags: int = 0) -> ModelTree:
    return ModelFactory().create(flags)


def test_protocol() -> None:
    f = ModelFactory()
    assert isinstance(f, TreeFactory) and f.name == "model" and f.live_nodes() == 0
    t = f.create(MT_FLAGS_ALLOC_RANGE)
    assert isinstance(t, Tree)
    assert t.ranges() == [(0, MAX, None)]
    assert t.height() is None and t.flags() == MT_FLAGS_ALLOC_RANGE
    assert t.dump() == {"flags": 1, "model": True, "ranges": [[0, MAX, None]]}
    assert t.validate() == []


# ------------------------------------------------------------ check_state_handling

def _mas(t: ModelTree, name: str, arg: int, entry, index: int, last: int, status: int) -> None:
    got = getattr(t, name)(arg)
    assert got == MasResult(entry, index, last, status), f"{name}({arg:#x}) -> {got}"


def test_state_handling_root_pointer() -> None:
    t = mk()
    assert t.store_range(0, 0, PTR) == 0
    assert t.is_root_pointer()
    _mas(t, "mas_prev", 0, None, 0, 0, MA_UNDERFLOW)          # start -> underflow
    t.mas_set(10)
    _mas(t, "mas_prev", 0, PTR, 0, 0, MA_ROOT)                # start -> root
    t.mas_set(10)
    t.mas_pause()
    _mas(t, "mas_prev", 0, PTR, 0, 0, MA_ROOT)                # pause -> root
    t.mas_set(0)
    _mas(t, "mas_next", MAX, None, 1, MAX, MA_NONE)           # start -> none
    t.mas_set(10)
    _mas(t, "mas_next", MAX, None, 1, MAX, MA_NONE)
    t.mas_set(0)
    _mas(t, "mas_find", MAX, PTR, 0, 0, MA_ROOT)              # find: start -> root
    _mas(t, "mas_find", MAX, None, 1, MAX, MA_NONE)           # root -> none
    _mas(t, "mas_find", MAX, None, 1, MAX, MA_NONE)           # none -> none
    t.mas_set(10)
    _mas(t, "mas_find", MAX, None, 1, MAX, MA_NONE)           # start -> none
    _mas(t, "mas_find_rev", 0, PTR, 0, 0, MA_ROOT)            # none -> root
    t.mas_set(0)
    _mas(t, "mas_find_rev", 0, PTR, 0, 0, MA_ROOT)            # start -> root
    _mas(t, "mas_find_rev", 0, None, 0, 0, MA_NONE)           # root -> none
    _mas(t, "mas_find_rev", 0, None, 0, 0, MA_NONE)           # none -> none
    t.mas_set(10)
    _mas(t, "mas_find_rev", 0, PTR, 0, 0, MA_ROOT)            # start -> root
    assert t.walk(10) == Walk(None, 1, MAX)
    assert t.walk(0) == Walk(PTR, 0, 0)
    assert t.load(0) == PTR and t.load(1) is None


def _three(flags: int = 0) -> ModelTree:
    t = mk(flags)
    t.store_range(0, 0, PTR)
    t.store_range(0, 0, None)
    assert t.ranges() == [(0, MAX, None)] and not t.is_root_pointer()
    t.store_range(0x1000, 0x1500, PTR)
    t.store_range(0x2000, 0x2500, PTR2)
    t.store_range(0x3000, 0x3500, PTR3)
    return t


def test_state_handling_nodes() -> None:
    t = _three()
    t.mas_set(0)
    _mas(t, "mas_next", MAX, PTR, 0x1000, 0x1500, MA_ACTIVE)
    t.mas_set(0)
    t.mas_pause()
    _mas(t, "mas_next", MAX, PTR, 0x1000, 0x1500, MA_ACTIVE)
    t._set_cursor(0, 0, MA_NONE, node=False)
    _mas(t, "mas_next", MAX, PTR, 0x1000, 0x1500, MA_ACTIVE)
    _mas(t, "mas_next", 0x2100, PTR2, 0x2000, 0x2500, MA_ACTIVE)     # spanning limit
    _mas(t, "mas_next", 0x2999, None, 0x2501, 0x2FFF, MA_OVERFLOW)
    _mas(t, "mas_next", MAX, PTR3, 0x3000, 0x3500, MA_ACTIVE)        # overflow -> active
    _mas(t, "mas_next", MAX, None, 0x3501, MAX, MA_OVERFLOW)
    _mas(t, "mas_next", MAX, None, 0x3501, MAX, MA_OVERFLOW)
    _mas(t, "mas_prev", 0, PTR3, 0x3000, 0x3500, MA_ACTIVE)          # overflow -> active
    # next: none -> active, skipping the value at the location
    t.mas_set(0)
    t.mas_next(MAX)
    t._set_cursor(0x1000, 0x1500, MA_NONE, node=False)
    _mas(t, "mas_next", MAX, PTR2, 0x2000, 0x2500, MA_ACTIVE)
    _mas(t, "mas_prev", 0, PTR, 0x1000, 0x1500, MA_ACTIVE)
    t.mas_next(MAX)
    _mas(t, "mas_prev", 0x1200, PTR, 0x1000, 0x1500, MA_ACTIVE)      # spanning limit
    _mas(t, "mas_prev", 0x1200, None, 0x1000, 0x1500, MA_UNDERFLOW)
    _mas(t, "mas_prev", 0x0100, None, 0, 0x0FFF, MA_UNDERFLOW)
    _mas(t, "mas_prev", 0, None, 0, 0x0FFF, MA_UNDERFLOW)
    _mas(t, "mas_prev", 0, None, 0, 0x0FFF, MA_UNDERFLOW)
    _mas(t, "mas_next", MAX, PTR, 0x1000, 0x1500, MA_ACTIVE)         # underflow -> active
    _mas(t, "mas_prev", 0x1000, None, 0x1000, 0x1500, MA_UNDERFLOW)
    _mas(t, "mas_find", MAX, PTR, 0x1000, 0x1500, MA_ACTIVE)         # underflow -> first value
    t.mas_set(0x3600)
    _mas(t, "mas_prev", 0, PTR3, 0x3000, 0x3500, MA_ACTIVE)
    t.mas_pause()
    _mas(t, "mas_prev", 0, PTR2, 0x2000, 0x2500, MA_ACTIVE)
    _mas(t, "mas_prev", 0x1600, None, 0x1501, 0x1FFF, MA_UNDERFLOW)
    _mas(t, "mas_prev", 0, PTR, 0x1000, 0x1500, MA_ACTIVE)
    t.mas_set(0)
    _mas(t, "mas_find", MAX, PTR, 0x1000, 0x1500, MA_ACTIVE)
    t.mas_set(0)
    t.mas_pause()
    _mas(t, "mas_find", MAX, PTR, 0x1000, 0x1500, MA_ACTIVE)
    t.mas_set(1200)
    _mas(t, "mas_find", MAX, PTR, 0x1000, 0x1500, MA_ACTIVE)
    _mas(t, "mas_find", MAX, PTR2, 0x2000, 0x2500, MA_ACTIVE)
    _mas(t, "mas_find", 0x2700, None, 0x2501, 0x2FFF, MA_ACTIVE)
    _mas(t, "mas_find", 0x5000, PTR3, 0x3000, 0x3500, MA_ACTIVE)
    _mas(t, "mas_find", MAX, None, 0x3501, MAX, MA_ACTIVE)
    _mas(t, "mas_find_rev", 0, PTR3, 0x3000, 0x3500, MA_ACTIVE)
    _mas(t, "mas_find_rev", 0, PTR2, 0x2000, 0x2500, MA_ACTIVE)
    t.mas_pause()
    _mas(t, "mas_find_rev", 0, PTR, 0x1000, 0x1500, MA_ACTIVE)
    _mas(t, "mas_find_rev", 0, None, 0, 0x0FFF, MA_UNDERFLOW)
    t.mas_set(0x1200)
    _mas(t, "mas_find_rev", 0, PTR, 0x1000, 0x1500, MA_ACTIVE)
    assert t.walk(0x1200) == Walk(PTR, 0x1000, 0x1500)
    assert t.walk(0x1600) == Walk(None, 0x1501, 0x1FFF)


def test_empty_tree_cursor() -> None:
    t = mk()
    assert t.walk(5) == Walk(None, 0, MAX)
    t.mas_set(5)
    _mas(t, "mas_find", MAX, None, 0, MAX, MA_NONE)        # facts 3.5: [0, MAX], none
    t.mas_set(5)
    _mas(t, "mas_prev", 0, None, 0, MAX, MA_NONE)          # the walk leaves index 0
    _mas(t, "mas_next", MAX, None, 0, MAX, MA_OVERFLOW)
    t.mas_set(5)
    _mas(t, "mas_find_rev", 0, None, 0, 0, MA_ROOT)        # none -> root, mas_root() is NULL
    _mas(t, "mas_next", MAX, None, 1, MAX, MA_NONE)


def test_next_prev_range_variants() -> None:
    t = _three()
    t.mas_set(0x1200)
    _mas(t, "mas_next_range", MAX, None, 0x1501, 0x1FFF, MA_ACTIVE)
    _mas(t, "mas_next_range", MAX, PTR2, 0x2000, 0x2500, MA_ACTIVE)
    _mas(t, "mas_prev_range", 0, None, 0x1501, 0x1FFF, MA_ACTIVE)
    _mas(t, "mas_prev_range", 0x1501, None, 0x1501, 0x1FFF, MA_UNDERFLOW)
    t.mas_set(0x2600)
    _mas(t, "mas_find_range", 0x2700, None, 0x2501, 0x2FFF, MA_OVERFLOW)  # walked NULL, step overflows
    _mas(t, "mas_find_range", 0x2700, None, 0x2501, 0x2FFF, MA_OVERFLOW)
    _mas(t, "mas_find_range", MAX, PTR3, 0x3000, 0x3500, MA_ACTIVE)
    _mas(t, "mas_find_range", 0x3500, None, 0x3000, 0x3500, MA_ACTIVE)
    t.mas_set(0x2600)
    _mas(t, "mas_find_range_rev", 0, PTR2, 0x2000, 0x2500, MA_ACTIVE)  # walked NULL, then one step
    _mas(t, "mas_find_range_rev", 0, None, 0x1501, 0x1FFF, MA_ACTIVE)


def test_find_at_max_and_wrap() -> None:
    t = mk()
    t.store_range(MAX - 1, MAX, xa_mk_value(3))
    t.mas_set(0)
    _mas(t, "mas_find", MAX, xa_mk_value(3), MAX - 1, MAX, MA_ACTIVE)
    _mas(t, "mas_find", MAX, None, MAX - 1, MAX, MA_ACTIVE)     # last >= max: nothing more
    _mas(t, "mas_next", MAX, None, MAX - 1, MAX, MA_OVERFLOW)
    t.mas_set(5)
    _mas(t, "mas_find", 5, None, 0, MAX - 2, MA_ACTIVE)          # walked NULL, then step refuses
    t.mas_set(MAX)
    _mas(t, "mas_prev", 0, None, 0, MAX - 2, MA_UNDERFLOW)


def test_null_node_hazard() -> None:
    t = _three()
    t.mas_set(5)
    _mas(t, "mas_next", 3, None, 5, 5, MA_OVERFLOW)   # overflow without a walk: mas->node NULL
    assert t.mas_would_crash("mas_next", 10)
    assert t.mas_would_crash("mas_find_range_rev", 0)     # overflow -> active, no walk
    before = t.cursor()
    with pytest.raises(MasNullNode):
        t.mas_next(10)
    assert t.cursor() == before
    # mas_find and mas_prev re-walk from overflow: defined
    assert not t.mas_would_crash("mas_find", MAX)
    assert not t.mas_would_crash("mas_prev", 0)
    _mas(t, "mas_find", MAX, PTR, 0x1000, 0x1500, MA_ACTIVE)
    t.mas_set(0x1200)
    t.mas_pause()
    _mas(t, "mas_find_rev", 0x2000, None, 0x1200, 0x1200, MA_UNDERFLOW)
    assert t.mas_would_crash("mas_find_rev", 0) and t.mas_would_crash("mas_prev", 0)
    assert set(MAS_OPS) >= {"mas_next", "mas_find_rev"}


def test_find_rev_overflow_from_start_is_crash() -> None:
    t = _three()
    t.mas_set(0x1200)
    _mas(t, "mas_next", 0x1000, None, 0x1200, 0x1200, MA_OVERFLOW)
    # mas_find_rev_setup turns overflow into active without walking, then steps
    assert t.mas_would_crash("mas_find_rev", 0)


# ------------------------------------------------------------ writes

def test_store_errors() -> None:
    t = mk()
    assert t.store_range(10, 5, PTR) == -EINVAL
    for bad in (2, 6, 0x3FE, XA_RETRY_ENTRY):
        assert t.store_range(1, 1, bad) == -EINVAL
        assert t.insert_range(1, 1, bad) == -EINVAL
    assert t.insert_range(10, 5, PTR) == -EINVAL
    assert t.ranges() == [(0, MAX, None)]
    with pytest.raises(MapleUsageError):
        t.store_range(-1, 5, PTR)
    with pytest.raises(MapleUsageError):
        t.store_range(0, MAX + 1, PTR)
    with pytest.raises(MapleUsageError):
        t.store_range(0, 5, 0)
    with pytest.raises(MapleUsageError):
        t.load("1")


def test_store_splits_and_merges() -> None:
    t = mk()
    t.store_range(20, 25, 5)
    t.store_range(30, 35, 7)
    assert t.store_range(22, 40, 9) == 0
    assert t.ranges() == [(0, 19, None), (20, 21, 5), (22, 40, 9), (41, MAX, None)]
    t.store_range(41, 50, 9)                          # equal neighbours stay separate
    assert t.ranges()[3] == (41, 50, 9)
    t.store_range(22, 40, None)                       # NULL stays distinct from non-NULL
    assert t.ranges() == [(0, 19, None), (20, 21, 5), (22, 40, None), (41, 50, 9), (51, MAX, None)]
    t.store_range(41, 50, None)                       # merges both sides
    assert t.ranges() == [(0, 19, None), (20, 21, 5), (22, MAX, None)]
    t.store_range(20, 21, None)
    assert t.ranges() == [(0, MAX, None)] and t.validate() == []


def test_erase_example() -> None:
    # facts 4.4: erase 12 in [10,15] between NULLs -> one NULL range 6..19
    t = mk()
    for k, (a, b) in enumerate([(0, 5), (10, 15), (20, 25), (30, 35)]):
        t.store_range(a, b, xa_mk_value(k))
    assert t.erase(12) == xa_mk_value(1)
    assert t.walk(12) == Walk(None, 6, 19)
    assert t.erase(12) is None
    assert t.ranges() == [(0, 5, 1), (6, 19, None), (20, 25, 5), (26, 29, None), (30, 35, 7),
                          (36, MAX, None)]


def test_insert() -> None:
    t = mk()
    assert t.insert_range(5, 9, XA_ZERO_ENTRY) == 0      # mtree_insert accepts XA_ZERO_ENTRY
    assert t.load(7) is None and t.walk(7) == Walk(XA_ZERO_ENTRY, 5, 9)
    assert t.insert_range(7, 7, PTR) == -EEXIST          # the zero entry is an entry
    assert t.insert_range(0, 4, PTR) == 0
    assert t.insert_range(10, 20, PTR2) == 0
    assert t.insert_range(3, 30, PTR3) == -EEXIST
    assert t.insert_range(21, 30, None) == 0             # NULL over NULL: 0, no change
    assert t.insert_range(20, 30, None) == -EEXIST
    assert t.ranges() == [(0, 4, PTR), (5, 9, XA_ZERO_ENTRY), (10, 20, PTR2), (21, MAX, None)]
    r = mk()
    r.store_range(0, 0, PTR)
    assert r.insert_range(0, 5, PTR2) == -EEXIST and r.is_root_pointer()
    assert r.insert_range(1, 5, PTR2) == 0 and not r.is_root_pointer()


def test_insert_never_overwrites_and_the_new_root_deviation() -> None:
    """[run] the model's insert never overwrites; Linux's leaf-root new_root store is a deviation.

    facts 4.7: on a leaf root, an insert whose write (after NULL widening) covers
    [0, MAX] skips the -EEXIST checks.  That lives in the registry
    (``known.INSERT_NEW_ROOT``), which reads the root's height off the kernel's dump.
    """
    from maplecheck.properties.known import INSERT_NEW_ROOT, deviation_for, insert_widens_to_full_range

    def leaf():
        t = mk()
        t.store_range(10, 20, 7)
        t.store_range(30, 40, 9)
        return t
    t = leaf()
    assert t.insert_range(0, MAX, PTR) == -EEXIST
    assert t.insert_range(3, 45, None) == -EEXIST
    assert t.ranges() == [(0, 9, None), (10, 20, 7), (21, 29, None), (30, 40, 9), (41, MAX, None)]
    assert insert_widens_to_full_range(t, 0, MAX, PTR)
    leaf_dump = {"height": 1}
    dev, result, after = deviation_for(("insert_range", 0, 0, MAX, PTR), t, lambda: leaf_dump)
    assert dev is INSERT_NEW_ROOT and result == 0 and after.ranges() == [(0, MAX, PTR)]
    assert t.ranges()[1] == (10, 20, 7)                             # the model's tree is left as it was
    assert deviation_for(("insert_range", 0, 0, MAX, PTR), t, lambda: {"height": 2}) is None
    # NULL inserts widen over NULL neighbours first: [3, 45] -> [0, MAX]
    dev, result, after = deviation_for(("insert_range", 0, 3, 45, None), t, lambda: leaf_dump)
    assert result == 0 and after.root_kind() == "empty"
    assert not insert_widens_to_full_range(t, 3, 35, None)          # ends inside an entry
    assert not insert_widens_to_full_range(t, 12, 45, None)         # starts inside an entry
    assert not insert_widens_to_full_range(t, 21, 45, None)         # 21 is in [21,29], not at 0
    assert insert_widens_to_full_range(t, 0, 40, None)              # 40 ends an entry, NULL after
    assert insert_widens_to_full_range(t, 10, 45, None)             # 10 starts an entry, NULL before
    assert deviation_for(("insert_range", 0, 0, 39, None), t, lambda: leaf_dump) is None
    one = mk()
    one.store_range(0, MAX, PTR)                                    # one slot: exact fit, checked
    assert one.insert_range(0, MAX, PTR2) == -EEXIST
    assert deviation_for(("insert_range", 0, 0, MAX, PTR2), one, lambda: leaf_dump) is None


def test_root_pointer_transitions() -> None:
    t = mk()
    t.store_range(0, 0, XA_ZERO_ENTRY)                    # internal-looking: a leaf is built
    assert not t.is_root_pointer()
    t.erase(0)
    assert t.ranges() == [(0, MAX, None)]
    t.store_range(0, 0, PTR)
    assert t.is_root_pointer()
    t.store_range(0, 0, PTR2)                             # stays a root pointer
    assert t.is_root_pointer() and t.walk(0) == Walk(PTR2, 0, 0)
    t.store_range(5, 9, None)                             # NULL away from 0: nothing happens
    assert t.is_root_pointer()
    t.store_range(0, 3, None)                             # index 0: root cleared
    assert t.ranges() == [(0, MAX, None)] and not t.is_root_pointer()
    t.store_range(0, 0, PTR)
    t.store_range(5, 9, PTR2)                             # expands into a node
    assert not t.is_root_pointer()
    t.erase(5)
    # a node tree never collapses back into a root pointer
    assert t.ranges() == [(0, 0, PTR), (1, MAX, None)] and not t.is_root_pointer()
    assert t.walk(5) == Walk(None, 1, MAX)
    t.mas_set(0)
    _mas(t, "mas_find", MAX, PTR, 0, 0, MA_ACTIVE)      # active, not root
    # replace with an internal-looking entry on a root pointer expands it
    r = mk()
    r.store_range(0, 0, PTR)
    assert r.replace(0, XA_ZERO_ENTRY) == (0, PTR) and not r.is_root_pointer()
    assert r.validate() == []


def test_replace() -> None:
    t = mk()
    t.store_range(10, 20, 5)
    assert t.replace(15, None) == (-EINVAL, None)
    assert t.replace(15, XA_RETRY_ENTRY) == (-EINVAL, None)
    assert t.replace(5, 7) == (-ENOENT, None)
    assert t.replace(15, 7) == (0, 5)
    assert t.ranges() == [(0, 9, None), (10, 20, 7), (21, MAX, None)]


def test_cursor_reset_by_writes() -> None:
    t = _three()
    t.mas_set(0x1200)
    t.mas_find(MAX)
    assert t.cursor() == MasResult(None, 0x1000, 0x1500, MA_ACTIVE)
    t.store_range(1, 1, PTR)
    assert t.cursor() == MasResult(None, 0x1000, 0x1000, MA_START)
    t.mas_pause()
    assert t.cursor().status == MA_PAUSE


def test_set_rcu_dup_destroy() -> None:
    t = mk(MM_MT_FLAGS & ~MT_FLAGS_USE_RCU)
    t.set_rcu(True)
    assert t.flags() == MM_MT_FLAGS
    t.store_range(0, 0, PTR)
    ret, d = t.dup(fail_at=1)
    assert ret == 0 and d.ranges() == t.ranges() and d.is_root_pointer()
    assert d.flags() == MM_MT_FLAGS and d.cursor() == MasResult(None, 0, 0, MA_START)
    d.store_range(3, 4, PTR2)
    assert t.ranges() == [(0, 0, PTR), (1, MAX, None)]
    t.set_rcu(False)
    assert t.flags() == MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN
    t.destroy()
    assert t.ranges() == [(0, MAX, None)] and t.flags() == MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN


# ------------------------------------------------------------ gaps

def _window() -> ModelTree:
    t = mk(MT_FLAGS_ALLOC_RANGE)
    for i in range(1, 21):
        t.store_range(i * 10, i * 10 + 9, xa_mk_value(i))
    t.store_range(160, 169, None)
    return t


def test_empty_area_window() -> None:
    t = _window()
    assert t.empty_area_rev(5, 90, 10).ret == -EBUSY
    assert t.empty_area_rev(6, 90, 5).ret == -EBUSY
    assert t.empty_area_rev(5, 90, 5) == Area(0, 5, 9)
    assert t.empty_area_rev(5, 217, 9) == Area(0, 161, 169)
    assert t.empty_area_rev(100, 218, 3) == Area(0, 216, 218)
    assert t.empty_area_rev(100, 218, 16) == Area(-EBUSY, 0, 0)
    assert t.empty_area_rev(167, 200, 4).ret == -EBUSY
    assert t.empty_area_rev(100, 162, 4).ret == -EBUSY
    assert t.empty_area(0, 100, 9) == Area(0, 0, 8)
    assert t.empty_area(0, 100, 4) == Area(0, 0, 3)
    assert t.empty_area(0, 100, 11).ret == -EBUSY
    assert t.empty_area(5, 100, 6).ret == -EBUSY
    assert t.empty_area(0, 8, 10) == Area(-EINVAL, 0, 0)
    assert t.empty_area(100, 165, 3) == Area(0, 160, 162)
    assert t.empty_area(100, 163, 6).ret == -EBUSY
    assert t.empty_area(10, 5, 1).ret == -EINVAL
    assert t.empty_area(0, 100, 0).ret == -EINVAL


def test_empty_area_sparse() -> None:
    t = mk(MT_FLAGS_ALLOC_RANGE)
    assert t.empty_area(0, 100, 5) == Area(0, 0, 4)
    assert t.empty_area_rev(0, 100, 5) == Area(0, 96, 100)
    t.store_range(0, 0, PTR)
    assert t.empty_area(0, 100, 5) == Area(0, 1, 5)
    assert t.empty_area(0, 4, 5) == Area(-EBUSY, 0, 0)       # min bumped to 1, no longer fits
    assert t.empty_area(0, 0, 1) == Area(-EBUSY, 0, 0)
    assert t.empty_area_rev(0, 100, 5) == Area(0, 96, 100)
    assert t.empty_area_rev(0, 4, 5) == Area(-EBUSY, 0, 0)


def test_alloc_range() -> None:
    plain = mk()
    assert plain.alloc_range(1, PTR, 0, 100) == Alloc(-EINVAL, 0)
    t = _window()
    assert t.alloc_range(1, 2, 0, 100) == Alloc(-EINVAL, 0)         # reserved entry
    assert t.alloc_range(0, PTR, 0, 100) == Alloc(-EINVAL, 0)
    assert t.alloc_range(11, PTR, 0, 100) == Alloc(-EBUSY, 0)
    assert t.alloc_range(4, PTR, 2, 100) == Alloc(0, 2)
    assert t.walk(3) == Walk(PTR, 2, 5)
    assert t.alloc_rrange(4, PTR2, 0, 300) == Alloc(0, 297)
    assert t.walk(298) == Walk(PTR2, 297, 300)
    assert t.alloc_range(1, XA_ZERO_ENTRY, 0, 300) == Alloc(-EINVAL, 0)  # reserved too
    assert t.alloc_range(1, xa_mk_value(9), 0, 300) == Alloc(0, 0)
    assert t.alloc_range(5, None, 163, 300) == Alloc(0, 160)        # NULL: widened start, no change
    assert t.walk(163) == Walk(None, 160, 169)
    e = mk(MT_FLAGS_ALLOC_RANGE)
    assert e.alloc_range(1, PTR, 0, 10) == Alloc(0, 0) and e.is_root_pointer()


# ------------------------------------------------------------ naive reference

SMALL = list(range(0, 65)) + [MAX - 2, MAX - 1, MAX]
BLOCK = (65, MAX - 3)


def _cell(index: int) -> int:
    return index if index <= 64 else 65 + 1 + (index - (MAX - 2))


def _cell_bounds(c: int) -> tuple[int, int]:
    if c <= 64:
        return c, c
    if c == 65:
        return BLOCK
    i = MAX - 2 + (c - 66)
    return i, i


class Ref:
    """Per-cell entries and write ids; a range is a run of one id, NULL runs merge."""

    N = 69

    def __init__(self) -> None:
        self.e = [None] * self.N
        self.id = [0] * self.N
        self.next = 1

    def store(self, first: int, last: int, entry) -> None:
        a, b = _cell(first), _cell(last)
        wid = self.next
        self.next += 1
        for c in range(a, b + 1):
            self.e[c] = entry
            self.id[c] = wid if entry is not None else 0

    def run(self, c: int) -> tuple[int, int]:
        key = (self.e[c], self.id[c])
        a = c
        while a > 0 and (self.e[a - 1], self.id[a - 1]) == key:
            a -= 1
        b = c
        while b < self.N - 1 and (self.e[b + 1], self.id[b + 1]) == key:
            b += 1
        return a, b

    def ranges(self) -> list:
        out, c = [], 0
        while c < self.N:
            a, b = self.run(c)
            out.append((_cell_bounds(a)[0], _cell_bounds(b)[1], self.e[c]))
            c = b + 1
        return out


idx = st.sampled_from(SMALL)
ent = st.one_of(st.none(), st.integers(0, 6).map(xa_mk_value), st.just(XA_ZERO_ENTRY),
                st.sampled_from([PTR, PTR2]))
op = st.one_of(
    st.tuples(st.just("store"), idx, idx, ent),
    st.tuples(st.just("insert"), idx, idx, ent),
    st.tuples(st.just("erase"), idx),
    st.tuples(st.just("replace"), idx, ent),
)


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=40))
def test_against_reference(ops) -> None:
    t, ref = mk(), Ref()
    for o in ops:
        if o[0] == "store":
            _, a, b, e = o
            ret = t.store_range(a, b, e)
            if a > b:
                assert ret == -EINVAL
            else:
                assert ret == 0
                ref.store(a, b, e)
        elif o[0] == "insert":
            _, a, b, e = o
            ret = t.insert_range(a, b, e)
            if a > b:
                assert ret == -EINVAL
            elif any(ref.e[c] is not None for c in range(_cell(a), _cell(b) + 1)):
                assert ret == -EEXIST
            else:
                assert ret == 0
                if e is not None:
                    ref.store(a, b, e)
        elif o[0] == "erase":
            c = _cell(o[1])
            old = ref.e[c]
            assert t.erase(o[1]) == old
            if old is not None:
                a, b = ref.run(c)
                ref.store(_cell_bounds(a)[0], _cell_bounds(b)[1], None)
        else:
            _, i, e = o
            c = _cell(i)
            old = ref.e[c]
            got = t.replace(i, e)
            if e is None:
                assert got == (-EINVAL, None)
            elif old is None:
                assert got == (-ENOENT, None)
            else:
                assert got == (0, old)
                a, b = ref.run(c)
                for k in range(a, b + 1):
                    ref.e[k] = e
        assert t.validate() == []
        assert t.ranges() == ref.ranges()
    rp = t.is_root_pointer()
    for i in SMALL:
        c = _cell(i)
        want = ref.e[c]
        assert t.load(i) == (None if want == XA_ZERO_ENTRY else want)
        a, b = ref.run(c)
        w = Walk(want, _cell_bounds(a)[0], _cell_bounds(b)[1])
        if rp:
            w = Walk(want, 0, 0) if i == 0 else Walk(None, 1, MAX)
        assert t.walk(i) == w
    if rp:
        assert ref.ranges()[0][:2] == (0, 0) and len(ref.ranges()) == 2


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(idx, idx, ent), max_size=25), idx, idx)
def test_iteration_spec(stores, start, limit) -> None:
    """mas_for_each from a fresh state visits every entry whose range meets [start, limit]
    and starts at or before limit; mas_find_rev the same backwards."""
    t = mk()
    for a, b, e in stores:
        t.store_range(min(a, b), max(a, b), e)
    want = [r for r in t.ranges() if r[2] is not None and r[1] >= start and r[0] <= limit]
    if t.is_root_pointer():
        want = want[:1] if start == 0 else []
    t.mas_set(start)
    got = []
    for _ in range(200):
        r = t.mas_find(limit)
        if r.entry is None:
            break
        got.append((r.index, r.last, r.entry))
    if start <= limit:
        assert got == want
    # reverse: from start down to `limit` used as min
    lo = limit
    want_rev = [r for r in reversed(t.ranges()) if r[2] is not None and r[0] <= start and r[1] >= lo]
    if t.is_root_pointer():
        # the walk ends in none and mas_find_rev_setup returns the root entry, whatever min is
        want_rev = [t.ranges()[0]]
    t.mas_set(start)
    got = []
    for _ in range(200):
        r = t.mas_find_rev(lo)
        if r.entry is None:
            break
        got.append((r.index, r.last, r.entry))
    if start >= lo:
        assert got == want_rev


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(idx, idx, ent), max_size=25), idx, idx, st.sampled_from([1, 2, 3, 7, 64]))
def test_empty_area_against_scan(stores, lo, hi, size) -> None:
    t = mk(MT_FLAGS_ALLOC_RANGE)
    for a, b, e in stores:
        t.store_range(min(a, b), max(a, b), e)
    if t.root_kind() != "node":
        return
    got, got_rev = t.empty_area(lo, hi, size), t.empty_area_rev(lo, hi, size)
    if lo > hi or hi - lo < size - 1:
        assert got.ret == got_rev.ret == -EINVAL
        return
    rng = t.ranges()
    fits = []
    for a, b, e in rng:
        if e is None:
            s, l = max(a, lo), min(b, hi)
            if l >= s and l - s + 1 >= size:
                fits.append((s, l, a))
    if not fits:
        assert got.ret == -EBUSY
    else:
        assert got == Area(0, fits[0][0], fits[0][0] + size - 1)
    fits_rev = fits                                     # the highest fit, exactly
    if not fits_rev:
        assert got_rev.ret == -EBUSY
    else:
        assert got_rev == Area(0, fits_rev[-1][1] - size + 1, fits_rev[-1][1])


def test_null_leaf_root() -> None:
    """[run] a one-slot leaf root [0, MAX] = E keeps its node when erased (exact fit)."""
    t = mk(MT_FLAGS_ALLOC_RANGE)
    t.store_range(0, MAX, 3)
    assert t.erase(0) == 3
    assert t.ranges() == [(0, MAX, None)] and t.root_kind() == "node"
    assert t.walk(7) == Walk(None, 0, MAX)
    t.store_range(4, 9, None)                                  # NULL into NULL: still a node
    assert t.root_kind() == "node" and t.validate() == []
    t.mas_set(5)
    _mas(t, "mas_next", 10, None, 0, MAX, MA_OVERFLOW)         # walked to [0, MAX], active, then step
    t.mas_set(5)
    _mas(t, "mas_find", 39, None, 0, MAX, MA_ACTIVE)
    # the spec: [0, MAX] holds 2**64 indices (Linux's unsigned size says 0: a registered deviation)
    assert t.empty_area_rev(5, 100, 3) == Area(0, 98, 100)
    assert kernel_empty_area_rev(t, 5, 100, 3, MAX) == Area(-EBUSY, 0, 0)
    assert t.empty_area(5, 100, 3) == Area(0, 5, 7)
    assert t.empty_area(0, MAX, 3) == Area(0, 0, 2)
    assert kernel_empty_area(t, 0, MAX, 3) == Area(-EBUSY, 0, 0)
    assert kernel_empty_area(t, 0, 100, 3) == t.empty_area(0, 100, 3) == Area(0, 0, 2)
    assert t.alloc_range(3, 9, 5, 100) == Alloc(0, 5)
    assert t.ranges() == [(0, 4, None), (5, 7, 9), (8, MAX, None)]
    t.store_range(0, MAX, None)                                # not one slot any more: new_root
    assert t.root_kind() == "empty"
    e = mk()
    e.store_range(0, MAX, 5)
    e.store_range(0, MAX, None)
    assert e.dup()[1].root_kind() == "node"


def test_empty_area_rev_max_wrap() -> None:
    """[run] with max == MAX, Linux finds nothing in the root's first child (a deviation)."""
    t = mk(MT_FLAGS_ALLOC_RANGE)
    for i in range(1, 41):
        t.store_range(10 * i, 10 * i + 5, 3)
    for i in range(3, 41):
        t.store_range(10 * i + 6, 10 * i + 9, 5)
    t.store_range(406, MAX, 7)
    assert t.empty_area_rev(1, MAX - 1, 4) == Area(0, 26, 29)
    assert t.empty_area(1, MAX, 4) == Area(0, 1, 4)
    # the spec finds the highest fit; Linux (height 2, root pivot[0] well above 29) gives -EBUSY:
    # a registered deviation, whose predicate reads that pivot off the kernel's dump
    assert t.empty_area_rev(1, MAX, 4) == Area(0, 26, 29)
    assert kernel_empty_area_rev(t, 1, MAX, 4, 155) == Area(-EBUSY, 0, 0)
    assert kernel_empty_area_rev(t, 1, MAX - 1, 4, 155) == Area(0, 26, 29)
    dump = {"height": 2, "nodes": [{"pivots": [155]}]}
    dev, result, after = deviation_for(("alloc_rrange", 0, 4, 9, 1, MAX), t, lambda: dump)
    assert dev is GAP_SIZE_WRAP and result == Alloc(-EBUSY, 0) and after.ranges() == t.ranges()
    assert deviation_for(("alloc_rrange", 0, 4, 9, 1, MAX - 1), t, lambda: dump) is None
    assert t.alloc_rrange(4, 9, 1, MAX) == Alloc(0, 26)
    # a leaf root: the first range is slot 0
    u = mk(MT_FLAGS_ALLOC_RANGE)
    u.store_range(36, MAX, 1)
    assert u.empty_area_rev(11, MAX, 1) == Area(0, 35, 35)
    assert kernel_empty_area_rev(u, 11, MAX, 1, 35) == Area(-EBUSY, 0, 0)
    assert u.empty_area_rev(11, MAX - 1, 1) == Area(0, 35, 35)
