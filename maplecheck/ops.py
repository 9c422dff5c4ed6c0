# SPDX-License-Identifier: GPL-2.0-or-later
"""Operations as plain data, their execution, and traces on disk.

An operation is a tuple ``(name, t, *args)``: the protocol method ``name``
applied to tree number ``t`` of a :class:`Session`.  Tree 0 is created by the
session; ``dup`` appends the copy as the next tree number.  Every engine (the
Hypothesis state machines, the seeded fuzzer, replay) speaks this vocabulary,
and a trace is simply a header line and one operation per line, in JSON::

    {"maplecheck": 1, "flags": 1}
    {"op": "store_range", "t": 0, "args": [10, 15, 21]}
    {"op": "dup", "t": 0, "args": [null]}
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .tree import (CREATE_FLAGS, MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_LOCK_EXTERN, MT_FLAGS_USE_RCU, Tree,
                   TreeFactory)

TRACE_VERSION = 1

# argument kinds: i = index/size in [0, MAX]; e = entry (None or a word in [1, MAX]); f = optional
# positive int (fail_at); b = bool
OPS: dict[str, str] = {
    "store_range": "iie",
    "insert_range": "iie",
    "erase": "i",
    "replace": "ie",
    "set_rcu": "b",
    "load": "i",
    "walk": "i",
    "mas_set": "i",
    "mas_pause": "",
    "mas_find": "i",
    "mas_find_range": "i",
    "mas_next": "i",
    "mas_next_range": "i",
    "mas_prev": "i",
    "mas_prev_range": "i",
    "mas_find_rev": "i",
    "mas_find_range_rev": "i",
    "empty_area": "iii",
    "empty_area_rev": "iii",
    "alloc_range": "ieii",
    "alloc_rrange": "ieii",
    "dup": "f",
    "destroy": "",
    "store_gfp": "iief",
    "store_nowait": "iief",
    "store_prealloc": "iief",
    "prealloc_destroy": "iief",
    "mas_erase": "if",
    "alloc_cyclic": "eiii",
    "mt_find": "ii",
    "mt_find_after": "ii",
    "mt_next": "ii",
    "mt_prev": "ii",
}

#: operations that may change a tree (the validator runs after these)
WRITES = frozenset({"store_range", "insert_range", "erase", "replace", "set_rcu",
                    "alloc_range", "alloc_rrange", "dup", "destroy", "store_gfp",
                    "store_nowait", "store_prealloc", "prealloc_destroy", "mas_erase",
                    "alloc_cyclic"})

#: writes whose -ENOMEM depends on how many nodes the tree needs: with fail_at
#: set, the tree under test decides between 0 and -ENOMEM (see maplecheck.tree)
NOMEM_DECIDED = frozenset({"store_nowait", "store_prealloc", "prealloc_destroy"})


class TraceError(ValueError):
    """A malformed trace or operation; carries the line number when known."""


def check_op(op: Sequence, where: str = "operation") -> tuple:
    """Validate one operation tuple and return it as a tuple; raise TraceError."""
    if not op or not isinstance(op[0], str) or op[0] not in OPS:
        raise TraceError(f"{where}: unknown operation {op[0] if op else None!r}")
    name, *rest = op
    if not rest or type(rest[0]) is not int or rest[0] < 0:
        raise TraceError(f"{where}: {name} needs a tree number t >= 0")
    t, args = rest[0], rest[1:]
    kinds = OPS[name]
    if len(args) != len(kinds):
        raise TraceError(f"{where}: {name} takes {len(kinds)} arguments, got {len(args)}")
    for k, a in zip(kinds, args):
        ok = {
            "i": type(a) is int and 0 <= a <= MAX,
            "e": a is None or (type(a) is int and 1 <= a <= MAX),
            "f": a is None or (type(a) is int and a >= 1),
            "b": type(a) is bool,
        }[k]
        if not ok:
            raise TraceError(f"{where}: {name} argument {a!r} is not a valid "
                             + {"i": "index (0..2**64-1)", "e": "entry", "f": "fail_at (None or >= 1)",
                                "b": "bool"}[k])
    return (name, t, *args)


_FLAG_NAMES = ((MT_FLAGS_ALLOC_RANGE, "MT_FLAGS_ALLOC_RANGE"), (MT_FLAGS_USE_RCU, "MT_FLAGS_USE_RCU"),
               (MT_FLAGS_LOCK_EXTERN, "MT_FLAGS_LOCK_EXTERN"))


def format_flags(flags: int) -> str:
    """Creation flags by name (``MT_FLAGS_ALLOC_RANGE|MT_FLAGS_USE_RCU``; ``0`` for none)."""
    names = [n for bit, n in _FLAG_NAMES if flags & bit == bit]
    rest = flags & ~sum(bit for bit, _ in _FLAG_NAMES)
    return "|".join(names + ([hex(rest)] if rest else [])) or "0"


def format_result(r: Any) -> str:
    """A result as a kernel developer reads it: errnos by name, indices and entries in hex."""
    if isinstance(r, list):
        return "[" + ", ".join(format_result(x) for x in r) + "]"
    if isinstance(r, int) and not isinstance(r, bool):
        if -4095 <= r < 0 and -r in errno.errorcode:
            return "-" + errno.errorcode[-r]
        if r > 9:
            return hex(r)
    return repr(r)


def format_op(op: tuple) -> str:
    """``name(tT, args...)`` with the arguments formatted like results."""
    name, t, *args = op
    return f"{name}(t{t}" + "".join(", " + format_result(a) for a in args) + ")"


def plain(result: Any) -> Any:
    """A result as plain, comparable, JSON-serialisable data."""
    if isinstance(result, tuple):
        return [plain(x) for x in result]
    return result


@dataclass
class Session:
    """The trees of one implementation, addressed by number, driven by operations."""

    factory: TreeFactory
    flags: int
    trees: list[Tree | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.flags & ~CREATE_FLAGS:
            raise TraceError(f"flags {self.flags:#x} has bits outside {CREATE_FLAGS:#x}")
        self.trees.append(self.factory.create(self.flags))

    def tree(self, t: int) -> Tree:
        if t >= len(self.trees) or self.trees[t] is None:
            raise TraceError(f"tree {t} does not exist (or was destroyed)")
        return self.trees[t]

    def step(self, op: tuple) -> Any:
        """Apply one checked operation and return its plain result."""
        name, t, *args = op
        tree = self.tree(t)
        if name == "dup":
            ret, new = tree.dup(*args)
            self.trees.append(new)
            return ret
        if name == "destroy":
            tree.destroy()
            self.trees[t] = None
            return None
        return plain(getattr(tree, name)(*args))

    def run(self, ops: Iterable[tuple]) -> list[Any]:
        """Apply many operations; implementations with a batch entry point override this."""
        return [self.step(op) for op in ops]

    def live_trees(self) -> list[tuple[int, Tree]]:
        return [(i, t) for i, t in enumerate(self.trees) if t is not None]

    def close(self) -> None:
        for i, t in self.live_trees():
            t.destroy()
            self.trees[i] = None


# ---------------------------------------------------------------- traces on disk

def write_trace(path: str | Path, flags: int, ops: Iterable[tuple], note: str | None = None,
                extra: dict | None = None) -> Path:
    """Write a trace; ``extra`` adds header fields (e.g. ``one_minimal``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header: dict[str, Any] = {"maplecheck": TRACE_VERSION, "flags": flags, **(extra or {})}
    if note:
        header["note"] = note
    with open(path, "w") as f:
        f.write(json.dumps(header) + "\n")
        for name, t, *args in ops:
            f.write(json.dumps({"op": name, "t": t, "args": list(args)}) + "\n")
    return path


def read_trace(path: str | Path) -> tuple[int, list[tuple]]:
    """Read and fully validate a trace; raise TraceError naming the bad line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TraceError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise TraceError(f"{path}:{line}: not UTF-8 text (byte {data[e.start]:#04x})") from None
    if not lines:
        raise TraceError(f"{path}: empty file, expected a header line")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError as e:
        raise TraceError(f"{path}:1: header is not JSON: {e.msg}") from None
    if not isinstance(header, dict) or header.get("maplecheck") != TRACE_VERSION:
        raise TraceError(f"{path}:1: not a maplecheck trace header (want {{\"maplecheck\": {TRACE_VERSION}, ...}})")
    flags = header.get("flags")
    if type(flags) is not int or flags & ~CREATE_FLAGS:
        raise TraceError(f"{path}:1: flags {flags!r} invalid (allowed bits {CREATE_FLAGS:#x})")
    ops = []
    trees = TreeNumbers()
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise TraceError(f"{path}:{n}: not JSON: {e.msg}") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("args", []), list):
            raise TraceError(f"{path}:{n}: expected {{\"op\": ..., \"t\": ..., \"args\": [...]}}")
        op = check_op((rec.get("op"), rec.get("t", 0), *rec.get("args", [])), f"{path}:{n}")
        trees.apply(op, f"{path}:{n}")
        ops.append(op)
    return flags, ops


class TreeNumbers:
    """Which tree numbers exist as a trace runs: tree 0 at the start, each dup appends one.

    A trace that names a tree never made, or one already destroyed, is
    malformed: no implementation can run it.
    """

    def __init__(self) -> None:
        self.alive = [True]

    def apply(self, op: tuple, where: str) -> None:
        name, t, *_ = op
        if t >= len(self.alive) or not self.alive[t]:
            made = "was destroyed" if t < len(self.alive) else f"was never made ({len(self.alive)} so far)"
            raise TraceError(f"{where}: {name} uses tree {t}, which {made}")
        if name == "dup":
            self.alive.append(True)
        elif name == "destroy":
            self.alive[t] = False
