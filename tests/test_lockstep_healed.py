# SPDX-License-Identifier: GPL-2.0-or-later
"""Per-write checking: a corruption that a later write heals is caught at the bad write.

Chunked lockstep (``Lockstep.run_chunk``) validates incrementally and
compares structure hashes after every write, so a defect that the next write
repairs must still be reported at the write that made it, in each mode:

* python: our tree with a mutant store that breaks the written leaf's pivot
  order on one write; the next store of the same range repairs it;
* linux: the kernel's tree corrupted by the shim's test hook right after a
  write; the next write replaces the whole tree;
* both: our tree with a mutant store that keeps every invariant but stores a
  different entry, which the next store overwrites with the right one: only
  the per-write structure hash comparison with Linux can see it.
"""

from __future__ import annotations

import pytest

from maplecheck.impl.linux.adapter import LinuxFactory, LinuxSession
from maplecheck.impl.pytree import PyFactory
from maplecheck.impl.pytree.node import ma_data_end
from maplecheck.impl.pytree.tree import PyTree
from maplecheck.properties.impls import model_factory, open_session
from maplecheck.properties.lockstep import Divergence, LocalSession, Lockstep
from maplecheck.tree import MAX, xa_mk_value

BAD = 30  # the write (operation index) the mutants spoil
OPS = ([("store_range", 0, 10 * i, 10 * i + 5, xa_mk_value(i)) for i in range(BAD + 1)]
       + [("store_range", 0, 10 * BAD, 10 * BAD + 5, xa_mk_value(BAD))]
       + [("load", 0, 10 * i) for i in range(5)])


class _Mutant(PyTree):
    __slots__ = ()
    writes = [0]

    def store_range(self, first, last, entry):
        self.writes[0] += 1
        if self.writes[0] == BAD + 2:
            self.heal()
        ret = super().store_range(first, last, entry)
        if self.writes[0] == BAD + 1:
            self.spoil(first)
        return ret

    def spoil(self, index):
        raise NotImplementedError

    def heal(self):
        """Undo the damage (before the next write runs)."""


class _PivotMutant(_Mutant):
    """Breaks the pivot order of the leaf holding ``index`` (the validator sees it)."""

    __slots__ = ()

    def spoil(self, index):
        mt = self.mt
        enode = mt.ma_root & ~2
        while (enode >> 3) & 0xF >= 2:  # to the right-most leaf (where appends land)
            node = mt.alloc.nodes[enode >> 8]
            enode = node.slot[ma_data_end(node, (enode >> 3) & 0xF, MAX)]
        leaf = mt.alloc.nodes[enode >> 8]
        leaf.pivot[0], leaf.pivot[1] = leaf.pivot[1], leaf.pivot[0]
        self.spoiled[0] = leaf

    spoiled = [None]

    def heal(self):
        leaf = self.spoiled[0]
        leaf.pivot[0], leaf.pivot[1] = leaf.pivot[1], leaf.pivot[0]


class _EntryMutant(_Mutant):
    """Stores a different entry (every invariant holds; contents are healed next write)."""

    __slots__ = ()

    def spoil(self, index):
        super().store_range(index, index + 5, xa_mk_value(999))


class _MutantFactory(PyFactory):
    def __init__(self, cls):
        super().__init__()
        self.cls = cls
        cls.writes[0] = 0

    def create(self, flags=0):
        t = super().create(flags)
        return self.cls(self, t.mt)


def _lockstep(impls):
    return Lockstep(LocalSession(model_factory(), 0), impls)


def _first_failure(ls):
    with pytest.raises(Divergence) as e:
        ls.run_chunk(OPS)
    return e.value


def test_python_heals_too_late():
    f = _first_failure(_lockstep({"python": LocalSession(_MutantFactory(_PivotMutant), 0)}))
    assert (f.step, f.kind) == (BAD, "validate"), f
    # the mutant does heal: run without checks, the tree ends sound
    s = LocalSession(_MutantFactory(_PivotMutant), 0)
    s.run(OPS)
    assert s.validate(0) == []
    # without the mutant the same operations pass
    _lockstep({"python": LocalSession(PyFactory(), 0)}).run_chunk(OPS)


def test_linux_heals_too_late():
    sess = LinuxSession(LinuxFactory(), 0)
    ls = _lockstep({"linux": sess})
    ls.run_chunk(OPS[:BAD + 1])
    assert sess.tree(0)._test_corrupt_pivot() == 0
    heal = [("store_range", 0, 5, 5, xa_mk_value(1)), ("store_range", 0, 0, MAX, None)]
    with pytest.raises(Divergence) as e:
        ls.run_chunk(heal)
    assert (e.value.step, e.value.kind) == (BAD + 1, "validate"), e.value
    sess.close()


def test_both_heals_too_late():
    impls = {"python": LocalSession(_MutantFactory(_EntryMutant), 0), "linux": open_session("linux", 0)}
    ls = _lockstep(impls)
    f = _first_failure(ls)
    ls.close()
    assert (f.step, f.kind) == (BAD, "dump"), f
