# SPDX-License-Identifier: GPL-2.0-or-later
"""The lemma catalog: z3 proofs about the node helpers our tree runs.

Every lemma names the helper it covers, runs that helper (the real one, or its
must-fail mutant) on symbolic nodes of the real geometry (16 slots / 15
pivots for leaf and range nodes, 10 / 9 / 10 gaps for arange), and proves
``pre => post`` with :func:`maplecheck.properties.symexec.prove`.  Indices and
pivots are z3 Ints in [0, 2**64 - 1] (linear integer arithmetic); the pointer
encodings use 64-bit bit-vectors.  Entries are Ints >= 0 with 0 for NULL.

This module holds the encoding / metadata / data-end lemmas (the registry is
``lemma_base``);
``lemmas_write``, ``lemmas_split`` and ``lemmas_gaps`` add the rest.
"""

from __future__ import annotations

import z3

from maplecheck.impl.pytree import node as N
from maplecheck.impl.pytree.node import (MapleNode, maple_arange_64, maple_dense, maple_leaf_64,
                                         maple_range_64)

from . import mutants as M
from .symexec import prove
from .lemma_base import (ARANGE_SLOTS, FULL, GEO, LEMMAS, RANGE_SLOTS, U64, Lemma, aligned,  # noqa: F401
                         bv, entries, lemma, single, sym_layout, u64, u64s)

# ------------------------------------------------------------------ encodings

TYPE_BYTES = {maple_dense: 0x04, maple_leaf_64: 0x0C, maple_range_64: 0x14, maple_arange_64: 0x1C}


def _enode_roundtrip(t: int, mk):
    def setup():
        a = bv("addr")
        return [aligned(a)], {"addr": a}

    def body(st):
        a = st["addr"]
        e = mk(a, t)
        st["enode"] = e
        return z3.And(N.mte_to_node(e) == a,
                      N.mte_node_type(e) == t,
                      N.mte_is_leaf(e) == (t < maple_range_64),
                      (e & 0xFF) == TYPE_BYTES[t])
    return single(setup, body)


for _t, _nm in ((maple_leaf_64, "leaf"), (maple_range_64, "range"),
                (maple_arange_64, "arange"), (maple_dense, "dense")):
    lemma(f"enode_roundtrip_{_nm}", "node.mt_mk_node / mte_to_node / mte_node_type / mte_is_leaf",
          N.mt_mk_node, M.mt_mk_node_shift2 if _t != maple_dense else M.mt_mk_node_no_null_bit,
          f"a 256-aligned {_nm} node: the enode decodes to the same address and type, "
          f"is a leaf iff the type is < 2, and its low byte is {TYPE_BYTES[_t]:#04x}")(
        (lambda t: (lambda mk: _enode_roundtrip(t, mk)))(_t))


@lemma("root_bit_roundtrip", "node.mt_mk_root / mte_safe_root", N.mt_mk_root, M.mt_mk_root_bit0)
def _root_bit(mk_root):
    """ma_root = enode|2 strips back to the enode, reads as an XArray node (low
    bits 10, above 4096), and keeps the type bits, for every node type."""
    def setup():
        a = bv("addr")
        t = bv("type")
        return [aligned(a), z3.UGE(a, 4096), z3.ULE(t, 3)], {"addr": a, "type": t}

    def body(st):
        e = N.mt_mk_node(st["addr"], st["type"])
        r = mk_root(e)
        st["root"] = r
        return z3.And(N.mte_safe_root(r) == e, (r & 3) == 2, z3.UGT(r, 4096),
                      N.mte_node_type(N.mte_safe_root(r)) == st["type"])
    return single(setup, body)


def _parent_slot(alloc: bool, nslots: int, slot_fn):
    def setup():
        p = bv("parent_addr")
        s = bv("slot")
        return [aligned(p), z3.ULT(s, nslots)], {"parent_addr": p, "slot": s}

    def body(st):
        w = N.ma_parent_ptr(st["parent_addr"], st["slot"])
        st["parent"] = w
        ptype = maple_arange_64 if alloc else maple_range_64
        return z3.And(slot_fn(w) == st["slot"],
                      z3.LShR(w & 0xFC, 3) == st["slot"],   # the (p & 0xFC) >> 3 reading
                      N.ma_parent_addr(w) == st["parent_addr"],
                      z3.Not(N.ma_is_root_parent(w)),
                      N.ma_parent_type(w, alloc) == ptype)
    return single(setup, body)


lemma("parent_slot_every_slot_range", "node.ma_parent_ptr / ma_parent_slot / ma_parent_type",
      N.ma_parent_slot, M.ma_parent_slot_shift2,
      "a range_64 parent: for every slot 0..15 the parent word decodes to that slot "
      "(both mask readings), the parent address, 'not root', and type range_64")(
    lambda fn: _parent_slot(False, RANGE_SLOTS, fn))
lemma("parent_slot_every_slot_arange", "node.ma_parent_ptr / ma_parent_slot / ma_parent_type",
      N.ma_parent_slot, M.ma_parent_slot_shift2,
      "an arange_64 parent (alloc tree): for every slot 0..9 the parent word decodes "
      "to that slot, the parent address, 'not root', and type arange_64")(
    lambda fn: _parent_slot(True, ARANGE_SLOTS, fn))


@lemma("root_parent", "node.ma_root_parent / ma_is_root_parent / ma_parent_slot",
       N.ma_parent_slot, M.ma_parent_slot_no_root_test)
def _root_parent(slot_fn):
    """The root's parent word (&tree | 1, the tree struct only word-aligned)
    reads as root, slot 0; a child's parent word never reads as root."""
    def setup():
        t = bv("tree_addr")
        p = bv("parent_addr")
        s = bv("slot")
        return ([(t & 7) == 0, aligned(p), z3.ULT(s, RANGE_SLOTS)],
                {"tree_addr": t, "parent_addr": p, "slot": s})

    def body(st):
        w = N.ma_root_parent(st["tree_addr"])
        c = N.ma_parent_ptr(st["parent_addr"], st["slot"])
        return z3.And(N.ma_is_root_parent(w), slot_fn(w) == 0, z3.Not(N.ma_is_root_parent(c)))
    return single(setup, body)


@lemma("dead_node_test", "node.ma_dead", N.ma_dead, M.ma_dead_enode)
def _dead(dead_fn):
    """A node marked dead (parent word = its own address) tests dead; a live
    child (parent word of another node, any slot) and a live root (parent word
    &tree|1) do not."""
    def setup():
        a = bv("addr")
        p = bv("parent_addr")
        t = bv("tree_addr")
        s = bv("slot")
        return ([aligned(a), aligned(p), aligned(t), p != a, t != a, z3.ULT(s, RANGE_SLOTS)],
                {"addr": a, "parent_addr": p, "tree_addr": t, "slot": s})

    def body(st):
        a = st["addr"]
        return z3.And(dead_fn(a, a),
                      z3.Not(dead_fn(N.ma_parent_ptr(st["parent_addr"], st["slot"]), a)),
                      z3.Not(dead_fn(N.ma_root_parent(st["tree_addr"]), a)))
    return single(setup, body)


# ------------------------------------------------------------------ metadata

def _meta_roundtrip(t: int, use_bv: bool, pack):
    def setup():
        if use_bv:
            e, g = bv("end"), bv("gap")
            return [z3.ULT(e, 256), z3.ULT(g, 256)], {"end": e, "gap": g}
        e, g = z3.Int("end"), z3.Int("gap")
        return [e >= 0, e < 256, g >= 0, g < 256], {"end": e, "gap": g}

    def body(st):
        node = MapleNode(GEO, t)
        old_last = z3.Int("slot_last_before")
        node.slot[-1] = old_last
        if use_bv:
            node.slot[-1] = bv("slot_last_before")
        saved = node.slot[-1]
        pack(node, t, st["gap"], st["end"])
        st["meta_word"] = node.slot[-1]
        conds = [N.ma_meta_end(node, t) == st["end"], N.ma_meta_gap(node, t) == st["gap"]]
        if t == maple_arange_64:
            conds.append(node.slot[-1] == saved)  # the real meta field leaves the last slot alone
        return z3.And(*conds)
    return single(setup, body)


lemma("meta_overlay_roundtrip_leaf", "node.ma_set_meta / ma_meta_end / ma_meta_gap",
      N.ma_set_meta, M.ma_set_meta_gap_shift4,
      "leaf_64: {end, gap} written into the last slot as end | gap<<8 (z3 Int: end + 256*gap) "
      "reads back as end and gap for every byte pair")(
    lambda fn: _meta_roundtrip(maple_leaf_64, False, fn))
lemma("meta_overlay_roundtrip_range_bv", "node.ma_set_meta / ma_meta_end / ma_meta_gap",
      N.ma_set_meta, M.ma_set_meta_gap_shift4,
      "range_64, bit-vector words: the overlay end | gap<<8 reads back as end and gap")(
    lambda fn: _meta_roundtrip(maple_range_64, True, fn))
lemma("meta_arange_field", "node.ma_set_meta / ma_meta_end / ma_meta_gap",
      N.ma_set_meta, M.ma_set_meta_arange_overlay,
      "arange_64 keeps {end, gap} in its meta field: it reads back and slot 9 (data) is untouched")(
    lambda fn: _meta_roundtrip(maple_arange_64, False, fn))


# ------------------------------------------------------------------ data end

def _data_end(t: int, fn):
    nslots = GEO.slots[t]

    def setup(end):
        node, lo, hi, pre = sym_layout("n", t, end)
        return pre, {"node": node, "min": lo, "max": hi, "end": end}

    def body(st, end):
        got = fn(st["node"], t, st["max"])
        st["data_end"] = got
        return got == end
    return prove(range(nslots), setup, body)


for _t, _nm in ((maple_leaf_64, "leaf"), (maple_range_64, "range"), (maple_arange_64, "arange")):
    lemma(f"data_end_{_nm}", "node.ma_data_end", N.ma_data_end, M.ma_data_end_off_by_one,
          f"{_nm}: for every data end and every pivot array satisfying the pivot invariants "
          f"(metadata as written), ma_data_end returns that end")(
        (lambda t: (lambda fn: _data_end(t, fn)))(_t))


@lemma("safe_pivot_every_offset", "node.mas_safe_pivot", N.mas_safe_pivot, M.mas_safe_pivot_off_by_one)
def _safe_pivot(fn):
    """mas_safe_pivot at a symbolic offset 0..15 is pivot[offset], or the node
    max at offset 15 (the implied pivot of a full node)."""
    def setup():
        node, lo, hi, pre = sym_layout("n", maple_leaf_64, RANGE_SLOTS - 1)
        off = z3.Int("offset")
        return pre + [off >= 0, off < RANGE_SLOTS], {"node": node, "max": hi, "offset": off}

    def body(st):
        node, off = st["node"], st["offset"]
        conds = []
        for i in range(RANGE_SLOTS):
            want = node.pivot[i] if i < RANGE_SLOTS - 1 else st["max"]
            conds.append(z3.Implies(off == i, fn(node, off, st["max"]) == want))
            conds.append(fn(node, i, st["max"]) == want)
        return z3.And(*conds)
    return single(setup, body)


# the other catalog parts register themselves on import (they import lemma_base only)
from . import lemmas_copy, lemmas_gaps, lemmas_split, lemmas_write  # noqa: E402,F401
