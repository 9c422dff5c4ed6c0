# SPDX-License-Identifier: GPL-2.0-or-later
"""The real Linux 6.12 maple tree behind the Tree protocol (ctypes over our C shim).

    factory = LinuxFactory()              # builds (or finds) the optimised adapter
    t = factory.create(MT_FLAGS_ALLOC_RANGE)
    t.store_range(10, 15, xa_mk_value(1))
    t.dump(); t.validate(); t.destroy()
    factory.live_nodes()                  # maple nodes still allocated (after rcu_barrier)

``LinuxSession`` is a :class:`maplecheck.ops.Session` whose ``run`` sends a
whole list of operations to C in one call (the batch entry point); its results
are identical to ``step`` one by one.  ``run_checked`` also runs
``mt_validate`` after every write and reports the first operation after which
the tree was unsound.

The sanitised (ASan/UBSan) library cannot be loaded into an ordinary Python;
use :class:`maplecheck.impl.linux.worker.RemoteLinuxSession` for it.
"""

from __future__ import annotations

import ctypes
import os
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from maplecheck.dump import NODE_TYPES
from maplecheck.ops import OPS, Session, TraceError
from maplecheck.tree import (CREATE_FLAGS, Alloc, Area, MapleUsageError, MasResult, Walk,
                             check_entry, check_index, mt_attr, mt_height)

from .api import API_DECODERS, API_OPCODES, LinuxApiMixin, declare_api
from .build import build_adapter

U64 = ctypes.c_uint64
_MASK = (1 << 64) - 1

#: batch opcodes (must match the enum in shim.c)
OPCODES = {
    "store_range": 0, "insert_range": 1, "erase": 2, "replace": 3, "set_rcu": 4, "load": 5,
    "walk": 6, "mas_set": 7, "mas_pause": 8,
    "mas_find": 9, "mas_find_range": 10, "mas_next": 11, "mas_next_range": 12, "mas_prev": 13,
    "mas_prev_range": 14, "mas_find_rev": 15, "mas_find_range_rev": 16,
    "empty_area": 17, "empty_area_rev": 18, "alloc_range": 19, "alloc_rrange": 20,
    "dup": 21, "destroy": 22,
    **API_OPCODES,
}
CURSOR_OPS = {n: c - 9 for n, c in OPCODES.items() if 9 <= c <= 16}
assert set(OPCODES) == set(OPS), "batch opcodes out of step with maplecheck.ops.OPS"

ABI = 2


def _s64(w: int) -> int:
    return w - (1 << 64) if w >> 63 else w


def _e(w: int):
    return w or None


class AdapterLoadError(RuntimeError):
    """The adapter library exists but cannot be loaded (e.g. the ASan build without libasan)."""


_LIBS: dict[str, ctypes.CDLL] = {}


def _asan_loaded() -> bool:
    try:
        with open("/proc/self/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False


def load_library(path: str | os.PathLike) -> ctypes.CDLL:
    """dlopen the adapter once per process and declare its functions."""
    key = str(path)
    if key in _LIBS:
        return _LIBS[key]
    if "-san-" in Path(key).name and not _asan_loaded():
        # dlopen would make the ASan runtime end the whole process
        raise AdapterLoadError(f"cannot load {key} here: the sanitised build needs libasan preloaded; "
                               "run it through maplecheck.impl.linux.worker.RemoteLinuxSession")
    try:
        lib = ctypes.CDLL(key)
    except OSError as e:
        hint = ""
        if "-san-" in Path(key).name:
            hint = " (the sanitised build must run in the worker: maplecheck.impl.linux.worker)"
        raise AdapterLoadError(f"cannot load {key}: {e}{hint}") from None
    P, L, I, pU = ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.POINTER(U64)
    sig = {
        "mc_abi": (I, []), "mc_init": (I, []),
        "mc_create": (P, [ctypes.c_uint]), "mc_destroy": (None, [P]),
        "mc_destroy_nowait": (None, [P]),
        "mc_live_nodes": (ctypes.c_ulong, [I]), "mc_flags": (ctypes.c_uint, [P]),
        "mc_height": (ctypes.c_uint, [P]),
        "mc_store_range": (L, [P, U64, U64, U64]), "mc_insert_range": (L, [P, U64, U64, U64]),
        "mc_erase": (U64, [P, U64]), "mc_replace": (L, [P, U64, U64, pU]),
        "mc_set_rcu": (None, [P, I]),
        "mc_alloc_range": (L, [P, I, U64, U64, U64, U64, pU]),
        "mc_dup": (L, [P, L, ctypes.POINTER(P)]),
        "mc_load": (U64, [P, U64]), "mc_walk": (None, [P, U64, pU]),
        "mc_cursor": (None, [P, I, U64, pU]), "mc_mas_set": (None, [P, U64]),
        "mc_mas_pause": (None, [P]), "mc_empty_area": (None, [P, I, U64, U64, U64, pU]),
        "mc_validate": (L, [P, ctypes.POINTER(ctypes.c_char_p)]),
        "mc_dump": (L, [P, pU, L]),
        "mc_batch": (L, [pU, L, pU, ctypes.POINTER(P), ctypes.POINTER(L), L, I, ctypes.POINTER(L)]),
        "mc_test_corrupt_pivot": (L, [P]), "mc_test_crash": (L, [I]),
        "mc_tree_hash": (U64, [P]), "mc_ranges_hash": (U64, [P]),
        "mc_batch_checked": (L, [pU, L, pU, ctypes.POINTER(P), ctypes.POINTER(L), L, I, L,
                                 ctypes.POINTER(L), I, pU]),
        "mc_validate_span": (L, [P, U64, U64]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    declare_api(lib)
    if lib.mc_abi() != ABI:
        raise AdapterLoadError(f"{key}: shim ABI {lib.mc_abi()} != {ABI}; rebuild")
    lib.mc_init()
    _LIBS[key] = lib
    return lib


# ------------------------------------------------------------------ dump decoding

def decode_dump(words: Sequence[int]) -> dict:
    """Turn the shim's dump words into the canonical dict of maplecheck.dump."""
    flags, height, kind, value, count = words[:5]
    root = ({"kind": "empty"}, {"kind": "entry", "value": value}, {"kind": "node"})[kind]
    nodes = []
    p = 5
    for _ in range(count):
        typ, lo, hi, end, pslot, npiv = words[p:p + 6]
        p += 6
        pivots = list(words[p:p + npiv])
        p += npiv
        nslots = words[p]
        p += 1
        raw = words[p:p + nslots]
        p += nslots
        leaf = typ < 2
        node = {"type": NODE_TYPES[typ], "min": lo, "max": hi, "end": end, "pivots": pivots,
                "slots": [w or None for w in raw] if leaf else list(raw)}
        if NODE_TYPES[typ] == "arange_64":
            ngaps = words[p]
            p += 1
            node["gaps"] = list(words[p:p + ngaps])
            p += ngaps
            node["meta_gap"] = words[p]
            p += 1
        node["parent_slot"] = None if pslot == _MASK else pslot
        nodes.append(node)
    return {"flags": mt_attr(flags), "height": height, "root": root, "nodes": nodes}


def split_messages(text: str, count: int) -> list[str]:
    """The validator's captured text as one string per failed check."""
    out = []
    for rec in text.split("\x1e"):
        lines = [l.strip() for l in rec.splitlines() if l.strip() and not l.startswith("Pass: ")]
        if lines:
            out.append("; ".join(lines))
    while len(out) < count:
        out.append("mt_validate reported a failure without a message")
    return out


# ------------------------------------------------------------------ trees

class LinuxTree(LinuxApiMixin):
    """One kernel maple tree (a ``struct maple_tree`` plus its cursor ``ma_state``)."""

    __slots__ = ("_lib", "_h", "_out", "factory")

    def __init__(self, factory: "LinuxFactory", handle: int):
        self.factory = factory
        self._lib = factory.lib
        self._h = handle
        self._out = (U64 * 4)()

    # -- plumbing
    @property
    def handle(self) -> int:
        if self._h is None:
            raise MapleUsageError("this tree was destroyed")
        return self._h

    # -- writes
    def store_range(self, first: int, last: int, entry) -> int:
        check_index("first", first), check_index("last", last), check_entry("entry", entry)
        return self._lib.mc_store_range(self.handle, first, last, entry or 0)

    def insert_range(self, first: int, last: int, entry) -> int:
        check_index("first", first), check_index("last", last), check_entry("entry", entry)
        return self._lib.mc_insert_range(self.handle, first, last, entry or 0)

    def erase(self, index: int):
        check_index("index", index)
        return self._lib.mc_erase(self.handle, index) or None

    def replace(self, index: int, entry) -> tuple[int, object]:
        check_index("index", index), check_entry("entry", entry)
        ret = self._lib.mc_replace(self.handle, index, entry or 0, self._out)
        return ret, (self._out[0] or None)

    def set_rcu(self, on: bool) -> None:
        if type(on) is not bool:
            raise MapleUsageError(f"on={on!r} is not a bool")
        self._lib.mc_set_rcu(self.handle, 1 if on else 0)

    def alloc_range(self, size: int, entry, min: int, max: int) -> Alloc:
        return self._alloc(0, size, entry, min, max)

    def alloc_rrange(self, size: int, entry, min: int, max: int) -> Alloc:
        return self._alloc(1, size, entry, min, max)

    def _alloc(self, rev, size, entry, lo, hi) -> Alloc:
        check_index("size", size), check_entry("entry", entry), check_index("min", lo), check_index("max", hi)
        ret = self._lib.mc_alloc_range(self.handle, rev, size, entry or 0, lo, hi, self._out)
        return Alloc(ret, self._out[0])

    # -- reads
    def load(self, index: int):
        check_index("index", index)
        return self._lib.mc_load(self.handle, index) or None

    def walk(self, index: int) -> Walk:
        check_index("index", index)
        o = self._out
        self._lib.mc_walk(self.handle, index, o)
        return Walk(o[0] or None, o[1], o[2])

    def mas_set(self, index: int) -> None:
        check_index("index", index)
        self._lib.mc_mas_set(self.handle, index)

    def mas_pause(self) -> None:
        self._lib.mc_mas_pause(self.handle)

    def _cursor(self, op: str, limit: int) -> MasResult:
        check_index("limit", limit)
        o = self._out
        self._lib.mc_cursor(self.handle, CURSOR_OPS[op], limit, o)
        return MasResult(o[0] or None, o[1], o[2], o[3])

    def mas_find(self, max: int) -> MasResult: return self._cursor("mas_find", max)
    def mas_find_range(self, max: int) -> MasResult: return self._cursor("mas_find_range", max)
    def mas_next(self, max: int) -> MasResult: return self._cursor("mas_next", max)
    def mas_next_range(self, max: int) -> MasResult: return self._cursor("mas_next_range", max)
    def mas_prev(self, min: int) -> MasResult: return self._cursor("mas_prev", min)
    def mas_prev_range(self, min: int) -> MasResult: return self._cursor("mas_prev_range", min)
    def mas_find_rev(self, min: int) -> MasResult: return self._cursor("mas_find_rev", min)
    def mas_find_range_rev(self, min: int) -> MasResult: return self._cursor("mas_find_range_rev", min)

    def empty_area(self, min: int, max: int, size: int) -> Area:
        return self._area(0, min, max, size)

    def empty_area_rev(self, min: int, max: int, size: int) -> Area:
        return self._area(1, min, max, size)

    def _area(self, rev, lo, hi, size) -> Area:
        check_index("min", lo), check_index("max", hi), check_index("size", size)
        o = self._out
        self._lib.mc_empty_area(self.handle, rev, lo, hi, size, o)
        return Area(_s64(o[0]), o[1], o[2])

    # -- structure
    def dup(self, fail_at: int | None = None) -> tuple[int, "LinuxTree"]:
        if fail_at is not None and (type(fail_at) is not int or fail_at < 1):
            raise MapleUsageError(f"fail_at={fail_at!r} is not None or an int >= 1")
        new = ctypes.c_void_p()
        ret = self._lib.mc_dup(self.handle, fail_at or 0, ctypes.byref(new))
        if not new.value:
            raise MemoryError("the shim could not allocate a struct maple_tree")
        return ret, LinuxTree(self.factory, new.value)

    def validate(self) -> list[str]:
        text = ctypes.c_char_p()
        n = self._lib.mc_validate(self.handle, ctypes.byref(text))
        if n == 0:
            return []
        return split_messages((text.value or b"").decode(errors="replace"), n)

    def dump_words(self) -> list[int]:
        cap = 4096
        while True:
            buf = (U64 * cap)()
            n = self._lib.mc_dump(self.handle, buf, cap)
            if n >= 0:
                return buf[:n]
            cap = -n

    def dump(self) -> dict:
        return decode_dump(self.dump_words())

    def tree_hash(self) -> int:
        """The canonical structure hash (maplecheck.hashing) computed in C."""
        return self._lib.mc_tree_hash(self.handle)

    def ranges_hash(self) -> int:
        """The contents hash (maplecheck.hashing.ranges_hash) computed in C."""
        return self._lib.mc_ranges_hash(self.handle)

    def height(self) -> int:
        return self._lib.mc_height(self.handle)

    def flags(self) -> int:
        return self._lib.mc_flags(self.handle)

    def destroy(self) -> None:
        self._lib.mc_destroy(self.handle)
        self._h = None

    # test-only hook: break a pivot so that validate() must complain
    def _test_corrupt_pivot(self) -> int:
        return self._lib.mc_test_corrupt_pivot(self.handle)


class LinuxFactory:
    """Trees of the real kernel code; owns the (process-wide) maple node cache."""

    name = "linux"

    def __init__(self, linux_src=None, sanitize: bool = False, lib_path=None, kernel: str | None = None):
        self.lib_path = Path(lib_path) if lib_path else build_adapter(linux_src, sanitize=sanitize,
                                                                      kernel=kernel)
        self.lib = load_library(self.lib_path)

    def create(self, flags: int = 0) -> LinuxTree:
        if type(flags) is not int or flags & ~CREATE_FLAGS:
            raise MapleUsageError(f"flags={flags!r} has bits outside {CREATE_FLAGS:#x}")
        h = self.lib.mc_create(flags)
        if not h:
            raise MemoryError("mc_create failed")
        return LinuxTree(self, h)

    def live_nodes(self) -> int:
        """Maple nodes allocated and not yet freed (after waiting for RCU callbacks)."""
        return self.lib.mc_live_nodes(1)


# ------------------------------------------------------------------ batch sessions

def _encode(op: tuple, out: array) -> None:
    """Append the 6 words of one checked op to ``out`` (raises MapleUsageError/TraceError)."""
    name, t, *args = op
    code = OPCODES[name]
    kinds = OPS[name]
    words = [code, t]
    for k, a in zip(kinds, args):
        words.append(0 if a is None else (1 if a is True else (0 if a is False else a)))
    words += [0] * (6 - len(words))
    out.extend(words)


def _decode(name: str, r: Sequence[int], new_tree_index=None):
    if name in ("store_range", "insert_range"):
        return _s64(r[0])
    if name in ("erase", "load"):
        return r[0] or None
    if name == "replace":
        return [_s64(r[0]), r[1] or None]
    if name == "walk":
        return [r[0] or None, r[1], r[2]]
    if name in CURSOR_OPS:
        return [r[0] or None, r[1], r[2], r[3]]
    if name in ("empty_area", "empty_area_rev"):
        return [_s64(r[0]), r[1], r[2]]
    if name in ("alloc_range", "alloc_rrange"):
        return [_s64(r[0]), r[1]]
    if name == "dup":
        return _s64(r[0])
    return None


def _make_encoder(name: str):
    """A fast encoder for one operation: its 6 words, or None when anything is off."""
    kinds = OPS[name]
    args = [f"a{k}" for k in range(len(kinds))]
    conds = ["type(t) is int", "t >= 0"]
    words = [str(OPCODES[name]), "t"]
    for a, kind in zip(args, kinds):
        if kind == "i":
            conds.append(f"type({a}) is int and 0 <= {a} <= M")
            words.append(a)
        elif kind == "e":
            conds.append(f"({a} is None or (type({a}) is int and 1 <= {a} <= M))")
            words.append(f"({a} or 0)")
        elif kind == "f":
            conds.append(f"({a} is None or (type({a}) is int and 1 <= {a} <= M))")
            words.append(f"({a} or 0)")
        elif kind == "b":
            conds.append(f"type({a}) is bool")
            words.append(f"(1 if {a} else 0)")
    words += ["0"] * (6 - len(words))
    src = (f"def enc(op):\n"
           f"    if len(op) != {len(kinds) + 2}:\n        return None\n"
           f"    _, t{''.join(', ' + a for a in args)} = op\n"
           f"    if {' and '.join(conds)}:\n        return ({', '.join(words)},)\n"
           f"    return None\n")
    ns = {"M": _MASK}
    exec(src, ns)
    return ns["enc"]


_ENCODERS = {name: _make_encoder(name) for name in OPS}


def _d_ret(r, i): return _s64(r[i])
def _d_entry(r, i): return r[i] or None
def _d_none(r, i): return None
def _d_replace(r, i): return [_s64(r[i]), r[i + 1] or None]
def _d_walk(r, i): return [r[i] or None, r[i + 1], r[i + 2]]
def _d_cursor(r, i): return [r[i] or None, r[i + 1], r[i + 2], r[i + 3]]
def _d_area(r, i): return [_s64(r[i]), r[i + 1], r[i + 2]]
def _d_alloc(r, i): return [_s64(r[i]), r[i + 1]]


_DECODERS = {name: (_d_ret if name in ("store_range", "insert_range", "dup") else
                    _d_entry if name in ("erase", "load") else
                    _d_replace if name == "replace" else
                    _d_walk if name == "walk" else
                    _d_cursor if name in CURSOR_OPS else
                    _d_area if name.startswith("empty_area") else
                    _d_alloc if name.startswith("alloc_") else _d_none)
             for name in OPS}
_DECODERS.update(API_DECODERS)


@dataclass
class LinuxSession(Session):
    """A Session of Linux trees whose ``run`` executes the whole list in one C call."""

    def __post_init__(self) -> None:
        if not isinstance(self.factory, LinuxFactory):
            raise TypeError("LinuxSession needs a LinuxFactory")
        super().__post_init__()

    def run(self, ops: Iterable[tuple]) -> list:
        return self.run_checked(ops, validate=False)[0]

    #: in run_hashed, mt_validate runs in full after this many span-validated writes
    FULL_EVERY = 256

    def run_hashed(self, ops: Iterable[tuple], validate: bool = True, hashes: bool = True):
        """Run ``ops`` in one C call (``mc_batch_checked``), checking after every write.

        After each write the shim validates what the write can have changed
        (``mc_validate_span``: every node on the written span and their
        children, the NULL rule across it), runs ``mt_validate`` in full every
        ``FULL_EVERY`` writes, after dup and on every written tree at the end;
        with ``hashes`` it returns the written tree's structure hash after each
        op (the copy's for dup; 0 for a read).  Returns ``(results, bad,
        messages, hashes, info)``; ``info[t] = (ranges hash, height, flags)``
        of each live tree at the end.
        """
        self._hashes = []
        self._want_hashes = hashes
        try:
            results, bad, msgs = self.run_checked(ops, validate)
            hashes_out = self._hashes
        finally:
            self._hashes = None
        return results, bad, msgs, hashes_out, self._tree_info(bad)

    def _tree_info(self, bad) -> dict:
        """``{t: (ranges hash, height, flags)}`` of every live tree (none after a failure)."""
        info = {}
        if bad is None:
            lib = self.factory.lib
            for t, tree in self.live_trees():
                h = tree.handle
                info[t] = (lib.mc_ranges_hash(h), lib.mc_height(h), mt_attr(lib.mc_flags(h)))
        return info

    def run_checked(self, ops: Iterable[tuple], validate: bool = True
                    ) -> tuple[list, int | None, list[str]]:
        """Run ``ops`` in one C call; with ``validate``, mt_validate after every write.

        Returns (results, bad, messages): ``bad`` is the position of the first
        operation after which validation failed (the batch stops there, its
        result included) or None; ``messages`` are that validation's findings.
        A malformed operation raises (TraceError / MapleUsageError) after the
        operations before it have run, exactly as step-by-step execution would.
        """
        ops = list(ops)
        flat: list[int] = []
        append = flat.extend
        error = None
        n_ok = 0
        encoders = _ENCODERS
        for op in ops:
            try:
                enc = encoders.get(op[0])
                words = enc(op) if enc is not None else None
                if words is None:  # slow path: find the precise error
                    if enc is None:
                        raise TraceError(f"operation {n_ok}: unknown operation {op[0]!r}")
                    self._precheck(op[0], op[1], list(op[2:]))
                    raise TraceError(f"operation {n_ok}: malformed {op!r}")
                append(words)
            except (TraceError, MapleUsageError, ValueError, TypeError) as e:
                error = e
                break
            n_ok += 1
        results, bad, msgs = self._execute(ops[:n_ok], array("Q", flat), validate)
        if bad is None and error is not None:
            raise error
        return results, bad, msgs

    def _precheck(self, name: str, t, args) -> None:
        """The usage checks the Python methods make (slow path, for the precise error)."""
        if type(t) is not int or t < 0:
            raise TraceError(f"{name} needs a tree number t >= 0")
        kinds = OPS[name]
        if len(args) != len(kinds):
            raise TraceError(f"{name} takes {len(kinds)} arguments, got {len(args)}")
        for k, a in zip(kinds, args):
            if k == "i":
                check_index("index", a)
            elif k == "e":
                check_entry("entry", a)
            elif k == "f":
                if a is not None and (type(a) is not int or a < 1):
                    raise MapleUsageError(f"fail_at={a!r} is not None or an int >= 1")
            elif k == "b" and type(a) is not bool:
                raise MapleUsageError(f"on={a!r} is not a bool")

    def _execute(self, ops: list, words: array, validate: bool):
        n = len(ops)
        if n == 0:
            return [], None, []
        lib = self.factory.lib
        ndup = sum(1 for op in ops if op[0] == "dup")
        cap = len(self.trees) + ndup
        handles = (ctypes.c_void_p * cap)()
        for i, tr in enumerate(self.trees):
            handles[i] = tr._h if tr is not None else None
        ntrees = ctypes.c_long(len(self.trees))
        res = (U64 * (4 * n))()
        bad = ctypes.c_long(-1)
        wbuf = (U64 * len(words)).from_buffer(words)
        want_hashes = getattr(self, "_hashes", None) is not None
        if want_hashes:
            hbuf = (U64 * n)()
            done = lib.mc_batch_checked(wbuf, n, res, handles, ctypes.byref(ntrees), cap,
                                        2 if validate else 0, self.FULL_EVERY, ctypes.byref(bad),
                                        1 if self._want_hashes else 0, hbuf)
        else:
            done = lib.mc_batch(wbuf, n, res, handles, ctypes.byref(ntrees), cap,
                                1 if validate else 0, ctypes.byref(bad))
        # bring the Python view of the tree table in step with C
        for i in range(len(self.trees), ntrees.value):
            self.trees.append(LinuxTree(self.factory, handles[i]))
        for i, tr in enumerate(self.trees):
            if tr is not None and not handles[i]:
                tr._h = None
                self.trees[i] = None
        executed = done if done >= 0 else -done - 1
        flat = res[:4 * executed]
        if want_hashes:
            self._hashes.extend(hbuf[:executed])
        dec = _DECODERS
        results = [dec[ops[i][0]](flat, 4 * i) for i in range(executed)]
        if done < 0:
            name, t = ops[executed][0], ops[executed][1]
            raise TraceError(f"operation {executed}: tree {t} does not exist (or was destroyed)")
        msgs: list[str] = []
        badi = bad.value if bad.value >= 0 else None
        if badi is not None:
            name, t = ops[badi][0], ops[badi][1]
            tree = self.trees[t]
            msgs = tree.validate() if tree is not None else []
            if not msgs and name == "dup":
                msgs = self.trees[-1].validate()
        return results, badi, msgs

    def close(self) -> None:
        """Destroy every tree, then wait for the RCU callbacks once."""
        lib = self.factory.lib
        for i, t in self.live_trees():
            lib.mc_destroy_nowait(t.handle)
            t._h = None
            self.trees[i] = None
        lib.mc_live_nodes(1)  # rcu_barrier()

    # conveniences mirrored by the remote session
    def dump(self, t: int) -> dict:
        return self.tree(t).dump()

    def validate(self, t: int) -> list[str]:
        return self.tree(t).validate()

    def tree_hash(self, t: int) -> int:
        return self.tree(t).tree_hash()

    def ranges_hash(self, t: int) -> int:
        return self.tree(t).ranges_hash()

    def live_nodes(self) -> int:
        return self.factory.live_nodes()

    def nomem_coverage(self):
        """Allocation-failure coverage since the last call (see shim_api.c)."""
        from .api import coverage  # noqa: PLC0415
        return coverage(self.factory.lib)

    def last_alloc(self) -> tuple[int, int]:
        """(store type, nodes requested) of the last caller-API write (see shim_api.c)."""
        from .api import last_alloc  # noqa: PLC0415
        return last_alloc(self.factory.lib)


__all__ = ["AdapterLoadError", "LinuxFactory", "LinuxSession", "LinuxTree", "OPCODES",
           "decode_dump", "load_library"]
