# SPDX-License-Identifier: GPL-2.0-or-later
"""Export a trace as a kernel-style C test, and run it in a kernel tree's own harness.

``c_test(flags, ops, name)`` writes one ``static noinline void __init
check_NAME(struct maple_tree *mt)`` function in the style of
``lib/test_maple_tree.c``: the trace's operations as plain kernel calls
(``mtree_store_range``, ``mas_walk``, ``mas_find`` ...) and after each one an
``MT_BUG_ON`` comparing what the kernel returned with what the model (the
specification) says it must return.  After every write ``mt_validate`` runs,
and at the end every range of every live tree is walked and compared.  The
function needs nothing but the maple tree API, so it can be pasted into
``lib/test_maple_tree.c`` (called from ``maple_tree_seed``) or
``tools/testing/radix-tree/maple.c`` as it is.

``run_c_test(...)`` builds the test the way ``make -C tools/testing/radix-tree
maple`` builds the kernel's user-space maple test: a copy of that directory
whose ``maple.c`` is replaced by our file (``#include``-ing the tree's
``lib/maple_tree.c`` and calling the test from ``main``), compiled with the
tree's own Makefile and scaffolding objects.  The build directory is cached per
tree, so only ``maple.o`` is rebuilt for a new test.  Exit status of the test
program: 0 every check held, anything else the bug reproduced.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from .tree import MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU, STATUS_NAMES
from .ops import WRITES, TraceError
from .properties.impls import SetupError

#: cursor calls: kernel function, and whether its argument is a max (else a min)
CURSOR_CALLS = ("mas_find", "mas_find_range", "mas_next", "mas_next_range", "mas_prev",
                "mas_prev_range", "mas_find_rev", "mas_find_range_rev")
#: most ranges the final contents check walks (beyond that the per-op checks must do)
MAX_CONTENT_CHECKS = 64


class ExportError(SetupError):
    """The trace cannot be written as a C test (one line)."""


def c_word(v: int) -> str:
    """An index as a C constant: decimal when small, ULONG_MAX, else hex with UL."""
    if v == MAX:
        return "ULONG_MAX"
    if v < 4096:
        return f"{v}"
    return f"{v:#x}UL"


def c_entry(e) -> str:
    """An entry word as C: NULL, xa_mk_value(n) for value entries, else a cast pointer."""
    if e is None:
        return "NULL"
    if e & 1:
        return f"xa_mk_value({c_word(e >> 1)})"
    if e == 0x406:
        return "XA_ZERO_ENTRY"
    return f"(void *){e:#x}UL"


def c_flags(flags: int) -> str:
    """Creation flags as the kernel's macros."""
    names = []
    if flags & MT_FLAGS_ALLOC_RANGE:
        names.append("MT_FLAGS_ALLOC_RANGE")
    if flags & MT_FLAGS_USE_RCU:
        names.append("MT_FLAGS_USE_RCU")
    rest = flags & ~(MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU)
    if rest:
        names.append(f"{rest:#x}")
    return " | ".join(names) or "0"


def c_name(name: str) -> str:
    """A C identifier from a user-given test name."""
    ident = re.sub(r"\W", "_", name).strip("_") or "maplecheck"
    return ident if not ident[0].isdigit() else "t_" + ident


def model_results(flags: int, ops: list[tuple]) -> tuple[list, list]:
    """Run ``ops`` on the model; return each op's plain result and the final model trees."""
    from maplecheck.properties.impls import open_session

    from maplecheck.tree import MapleUsageError

    session = open_session("model", flags)
    results = []
    for op in ops:
        try:
            results.append(session.step(op))
        except MapleUsageError:  # a call Linux leaves undefined: lockstep never sends it either
            results.append(UNDEFINED)
    return results, session.trees


#: the result of an operation the model refuses (see maplecheck.tree.MasNullNode)
UNDEFINED = object()


class _Writer:
    """Emits the body of the test function, one kernel call per operation."""

    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.lines: list[str] = []
        self.trees = ["mt"]          # C expression (a pointer) of tree t
        self.locals = {"entry": False, "ret": False, "start": False, "mas": False, "i": False}

    def tree(self, t: int) -> str:
        if t >= len(self.trees) or self.trees[t] is None:
            raise ExportError(f"operation on tree {t}, which does not exist")
        return self.trees[t]

    def cur(self, t: int) -> str:
        return f"cur{t}"

    def emit(self, line: str = "") -> None:
        self.lines.append(("\t" + line) if line else "")

    def check(self, t: int, cond: str) -> None:
        self.emit(f"MT_BUG_ON({self.tree(t)}, {cond});")

    def reset_cursor(self, t: int) -> None:
        """A write invalidates the tree's state: the caller re-walks from its index."""
        self.emit(f"mas_set(&{self.cur(t)}, {self.cur(t)}.index);")

    def op(self, step: int, op: tuple, res) -> None:
        name, t, *a = op
        mt = self.tree(t)
        self.emit(f"/* step {step}: {name}({', '.join(map(str, a))}) on tree {t} */")
        if res is UNDEFINED:
            self.emit("/* left out: undefined in Linux for this state (the model refuses it) */")
            return
        getattr(self, "op_" + name, self.op_cursor)(t, mt, name, a, res)
        if name in WRITES and name not in ("destroy", "dup"):
            self.emit(f"mt_validate({mt});")
            self.reset_cursor(t)

    # writes ---------------------------------------------------------------

    def op_store_range(self, t, mt, name, a, res):
        self.check(t, f"mtree_{name}({mt}, {c_word(a[0])}, {c_word(a[1])}, {c_entry(a[2])}, "
                      f"GFP_KERNEL) != {res}")

    op_insert_range = op_store_range

    def op_erase(self, t, mt, name, a, res):
        self.check(t, f"mtree_erase({mt}, {c_word(a[0])}) != {c_entry(res)}")

    def op_replace(self, t, mt, name, a, res):
        ret, old = res
        if ret == -22:  # -EINVAL: a NULL or advanced entry is refused before any walk
            self.emit(f"/* replace with {c_entry(a[1])} is refused (-EINVAL): nothing to call */")
            return
        self.locals.update(mas=True, entry=True)
        self.emit(f"mas.tree = {mt};")
        self.emit(f"mas_set(&mas, {c_word(a[0])});")
        self.emit(f"mtree_lock({mt});")
        self.emit("entry = mas_walk(&mas);")
        if ret == 0:
            self.emit(f"MT_BUG_ON({mt}, entry != {c_entry(old)});")
            self.emit(f"MT_BUG_ON({mt}, mas_store_gfp(&mas, {c_entry(a[1])}, GFP_KERNEL) != 0);")
        else:
            self.emit(f"MT_BUG_ON({mt}, entry != NULL); /* -ENOENT: an empty range, nothing to replace */")
        self.emit(f"mtree_unlock({mt});")

    def op_set_rcu(self, t, mt, name, a, res):
        self.emit(f"mt_set_in_rcu({mt});" if a[0] else f"mt_clear_in_rcu({mt});")

    def op_alloc_range(self, t, mt, name, a, res):
        ret, start = res
        self.locals["start"] = True
        self.check(t, f"mtree_{name}({mt}, &start, {c_entry(a[1])}, {c_word(a[0])}, "
                      f"{c_word(a[2])}, {c_word(a[3])}, GFP_KERNEL) != {ret}")
        if ret == 0:
            self.check(t, f"start != {c_word(start)}")

    op_alloc_rrange = op_alloc_range

    def op_dup(self, t, mt, name, a, res):
        new = len(self.trees)
        if a[0] is not None:
            raise ExportError("dup with an injected allocation failure has no plain kernel call")
        # the copy gets the source's flags as they are now (RCU may have been toggled)
        self.emit(f"mt_init_flags(&tree{new}, {mt}->ma_flags & ~MT_FLAGS_HEIGHT_MASK);")
        self.check(t, f"mtree_dup({mt}, &tree{new}, GFP_KERNEL) != {res}")
        self.emit(f"mt_validate(&tree{new});")
        self.reset_cursor(t)
        self.trees.append(f"&tree{new}")

    def op_destroy(self, t, mt, name, a, res):
        self.emit(f"mtree_destroy({mt});")
        self.trees[t] = None

    # reads ----------------------------------------------------------------

    def op_load(self, t, mt, name, a, res):
        self.check(t, f"mtree_load({mt}, {c_word(a[0])}) != {c_entry(res)}")

    def op_walk(self, t, mt, name, a, res):
        entry, first, last = res
        self.locals.update(mas=True, entry=True)
        self.emit(f"mas.tree = {mt};")
        self.emit(f"mas_set(&mas, {c_word(a[0])});")
        self.emit("rcu_read_lock();")
        self.emit("entry = mas_walk(&mas);")
        self.emit("rcu_read_unlock();")
        self.check(t, f"entry != {c_entry(entry)}")
        self.check(t, f"mas.index != {c_word(first)} || mas.last != {c_word(last)}")

    def op_mas_set(self, t, mt, name, a, res):
        self.emit(f"mas_set(&{self.cur(t)}, {c_word(a[0])});")

    def op_mas_pause(self, t, mt, name, a, res):
        self.emit(f"mas_pause(&{self.cur(t)});")

    def op_cursor(self, t, mt, name, a, res):
        if name not in CURSOR_CALLS:
            raise ExportError(f"no C form for operation {name}")
        entry, index, last, status = res
        self.locals["entry"] = True
        self.emit("rcu_read_lock();")
        self.emit(f"entry = {name}(&{self.cur(t)}, {c_word(a[0])});")
        self.emit("rcu_read_unlock();")
        self.check(t, f"entry != {c_entry(entry)}")
        self.check(t, f"{self.cur(t)}.index != {c_word(index)} || {self.cur(t)}.last != {c_word(last)}")
        self.check(t, f"{self.cur(t)}.status != ma_{STATUS_NAMES[status]}")

    def op_empty_area(self, t, mt, name, a, res):
        ret, index, last = res
        self.locals.update(mas=True, ret=True)
        self.emit(f"mas.tree = {mt};")
        self.emit("mas_reset(&mas);")
        self.emit("rcu_read_lock();")
        self.emit(f"ret = mas_{name}(&mas, {c_word(a[0])}, {c_word(a[1])}, {c_word(a[2])});")
        self.emit("rcu_read_unlock();")
        self.check(t, f"ret != {ret}")
        if ret == 0:
            self.check(t, f"mas.index != {c_word(index)} || mas.last != {c_word(last)}")

    op_empty_area_rev = op_empty_area

    # the end ------------------------------------------------------------------

    def contents(self, trees) -> None:
        """Walk every range of every live tree and compare it with the model's."""
        live = [(t, m) for t, m in enumerate(trees) if m is not None and self.trees[t] is not None]
        if sum(len(m.ranges()) for _, m in live) > MAX_CONTENT_CHECKS:
            self.emit("/* final contents check left out: too many ranges */")
            return
        self.locals.update(mas=True, entry=True, i=True)
        for t, m in live:
            mt = self.trees[t]
            self.emit(f"/* the model's contents of tree {t}: every range, NULL ranges included */")
            self.emit(f"{{\n\t\tstruct {{ unsigned long first, last; void *entry; }} want{t}[] = {{")
            for first, last, e in m.ranges():
                self.emit(f"\t{{ {c_word(first)}, {c_word(last)}, {c_entry(e)} }},")
            self.emit("};")
            self.emit(f"mas.tree = {mt};")
            self.emit(f"for (i = 0; i < ARRAY_SIZE(want{t}); i++) {{")
            self.emit(f"\tmas_set(&mas, want{t}[i].first);")
            self.emit("\trcu_read_lock();")
            self.emit("\tentry = mas_walk(&mas);")
            self.emit("\trcu_read_unlock();")
            self.emit(f"\tMT_BUG_ON({mt}, entry != want{t}[i].entry || mas.index != want{t}[i].first || "
                      f"mas.last != want{t}[i].last);")
            self.emit("}")
            self.emit("}")

    def destroy_copies(self) -> None:
        for t, expr in enumerate(self.trees):
            if t and expr is not None:
                self.emit(f"mtree_destroy({expr});")


def c_test(flags: int, ops: list[tuple], name: str = "maplecheck", note: str | None = None) -> str:
    """The C test function for a trace (see the module docstring)."""
    results, trees = model_results(flags, ops)
    w = _Writer(flags)
    for step, (op, res) in enumerate(zip(ops, results)):
        w.op(step, op, res)
    w.contents(trees)
    w.destroy_copies()
    fn = f"check_{c_name(name)}"
    head = ["/*", f" * {fn}(): generated by maplecheck from a {len(ops)}-operation trace.",
            f" * Set-up: mt_init_flags(mt, {c_flags(flags)}); the caller destroys mt.",
            " * Every MT_BUG_ON states what the kernel must return (the model's result)."]
    if note:
        head.append(" * Finding: " + note.replace("*/", "* /").splitlines()[0][:200])
    head.append(" */")
    decl = [f"static noinline void __init {fn}(struct maple_tree *mt)", "{"]
    for t in range(len(w.trees)):
        if t:
            decl.append(f"\tstruct maple_tree tree{t};")
    cursors = sorted({op[1] for op in ops if op[0] in CURSOR_CALLS + ("mas_set", "mas_pause")}
                     | {op[1] for op in ops if op[0] in WRITES})
    for t in cursors:
        expr = "mt" if t == 0 else f"&tree{t}"
        decl.append(f"\tMA_STATE(cur{t}, {expr}, 0, 0);")
    if w.locals["mas"]:
        decl.append("\tMA_STATE(mas, mt, 0, 0);")
    if w.locals["entry"]:
        decl.append("\tvoid *entry;")
    if w.locals["ret"]:
        decl.append("\tint ret;")
    if w.locals["i"]:
        decl.append("\tunsigned int i;")
    if w.locals["start"]:
        decl.append("\tunsigned long start;")
    body = w.lines
    # a cursor of a copy is declared before the copy exists: only its fields are set here
    return "\n".join(head + decl + [""] + body + ["}", ""])


def c_registration(flags: int, name: str) -> str:
    """How the test is called from maple_tree_seed() in lib/test_maple_tree.c."""
    fn = f"check_{c_name(name)}"
    return (f"\tmt_init_flags(&tree, {c_flags(flags)});\n\t{fn}(&tree);\n\tmtree_destroy(&tree);\n")


# ---------------------------------------------------------------- running it

#: where the harness's maple.c pulls in the kernel's test suite: ours replaces it from there on
TEST_SUITE_INCLUDE = '#include "../../../lib/test_maple_tree.c"'

HARNESS_MAIN = """
int main(int argc, char **argv)
{{
	struct maple_tree tree;

	maple_tree_init();
	rcu_register_thread();
{call}	rcu_barrier();
	rcu_unregister_thread();
	printf("maplecheck: %u of %u checks passed\\n",
	       atomic_read(&maple_tree_tests_passed), atomic_read(&maple_tree_tests_run));
	return atomic_read(&maple_tree_tests_passed) == atomic_read(&maple_tree_tests_run) ? 0 : 1;
}}
"""


def harness_source(maple_c: str, test: str, flags: int, name: str) -> str:
    """Our replacement of the harness's maple.c: the tree's prelude, the kernel, the test, main."""
    prelude = maple_c[:maple_c.index(TEST_SUITE_INCLUDE)]
    return prelude + "\n" + test + HARNESS_MAIN.format(call=c_registration(flags, name))


class HarnessError(SetupError):
    """The harness could not be built (our problem or the tree's, not a finding)."""


def _harness_dir(src: Path) -> Path:
    """A cached copy of the tree's tools/testing/radix-tree, next to links to what it reads.

    The cache is shared by trees that differ only in ``lib/maple_tree.c`` (a
    mutant next to its stock tree): that one file is copied in per run with an
    old time stamp, so ``make`` rebuilds only ``maple.o`` (whose ``maple.c``
    names the file's hash) and never the scaffolding objects.
    """
    from maplecheck.impl.linux.source import cache_dir

    h = hashlib.sha256()
    for top in ("tools", "include", "arch", "lib/test_maple_tree.c"):
        h.update(str((src / top).resolve()).encode())
    rdx = src / "tools/testing/radix-tree"
    for f in sorted(rdx.iterdir()):
        if f.is_file():
            h.update(f.name.encode() + f.read_bytes())
    root = cache_dir() / "harness" / h.hexdigest()[:16]
    if not (root / "tools/testing/radix-tree").is_dir():
        tmp = root.with_name(root.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        # real folders wherever a file includes "../../../lib/...": a path through a
        # symlinked folder would climb out of the link's target, into the stock tree
        real = {"tools": ("testing",), "tools/testing": ("radix-tree", "shared"),
                "tools/testing/shared": (), "lib": ("maple_tree.c",)}
        for rel in real:
            (tmp / rel).mkdir(parents=True)
        shutil.copytree(rdx, tmp / "tools/testing/radix-tree", symlinks=False)
        for rel, skip in {"": ("tools", "lib"), **real}.items():
            for top in (src / rel).iterdir():
                if top.name not in skip:
                    (tmp / rel / top.name).symlink_to(top.resolve())
        try:
            os.rename(tmp, root)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    return root


#: the time stamp of the copied lib/maple_tree.c: older than any object, so only maple.o rebuilds
OLD_MTIME = 946684800  # 2000-01-01


def _put_kernel_file(root: Path, src: Path) -> str:
    """Copy the tree's lib/maple_tree.c into the harness (when it differs); return its hash."""
    data = (src / "lib/maple_tree.c").read_bytes()
    dest = root / "lib/maple_tree.c"
    if not dest.exists() or dest.read_bytes() != data:
        dest.write_bytes(data)
    os.utime(dest, (OLD_MTIME, OLD_MTIME))
    return hashlib.sha256(data).hexdigest()


def run_c_test(test: str, flags: int, name: str, src: Path, timeout: float = 120.0) -> tuple[bool, str]:
    """Build ``test`` into the tree's maple harness and run it; return (passed, output)."""
    import fcntl

    root = _harness_dir(src)
    build = root / "tools/testing/radix-tree"
    maple_c = (src / "tools/testing/radix-tree/maple.c").read_text()
    if TEST_SUITE_INCLUDE not in maple_c:
        raise HarnessError(f"{src}: tools/testing/radix-tree/maple.c does not include lib/test_maple_tree.c")
    with open(root / ".maplecheck.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time in a cached harness
        digest = _put_kernel_file(root, src)
        source = f"/* lib/maple_tree.c sha256 {digest} */\n" + harness_source(maple_c, test, flags, name)
        return _build_and_run(build, source, src, timeout)


def _build_and_run(build: Path, source: str, src: Path, timeout: float) -> tuple[bool, str]:
    """make maple (only what changed: the same test twice builds nothing) and run it."""
    target = build / "maple.c"
    if not target.exists() or target.read_text() != source:
        target.write_text(source)
    jobs = str(min(2, os.cpu_count() or 1))
    proc = subprocess.run(["make", "-j", jobs, "-s", "maple"], cwd=build, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise HarnessError(f"building the test in {src}/tools/testing/radix-tree failed:\n{tail}")
    try:
        run = subprocess.run([str(build / "maple")], cwd=build, capture_output=True, text=True,
                             timeout=timeout, env={**os.environ, "ASAN_OPTIONS": "detect_leaks=0"})
    except subprocess.TimeoutExpired:
        return False, f"the test did not finish in {timeout:.0f}s"
    out = (run.stdout + run.stderr).strip()
    return run.returncode == 0, out


# ---------------------------------------------------------------- the command

def main(args) -> int:
    """``maplecheck export TRACE --c [--name N] [--out FILE] [--run (--linux-src DIR | --kernel V)]``."""
    from maplecheck.impl.linux.source import LinuxSourceError, kernel_source
    from maplecheck.ops import read_trace

    if not args.c:
        raise ExportError("choose an output format: --c")
    flags, ops = read_trace(Path(args.trace))
    name = args.name or c_name(Path(args.trace).name.split(".")[0])
    note = _trace_note(Path(args.trace))
    test = c_test(flags, ops, name, note)
    if args.out:
        Path(args.out).write_text(test)
    elif not args.run:
        print(test)
        print("/* call it from maple_tree_seed() in lib/test_maple_tree.c:\n"
              + c_registration(flags, name) + " */")
    if not args.run:
        print(f"test=check_{c_name(name)} ops={len(ops)}")
        return 0
    try:  # --kernel V was resolved to its tree (args.linux_src) by the command line
        src = kernel_source(args.linux_src)
    except LinuxSourceError as e:
        raise ExportError(str(e)) from None
    passed, out = run_c_test(test, flags, name, src)
    if not passed:
        print("\n".join(out.splitlines()[-15:]))
    print(f"test=check_{c_name(name)} ops={len(ops)} tree={src} result={'pass' if passed else 'fail'}")
    return 0 if passed else 1


def _trace_note(path: Path) -> str | None:
    """The finding recorded in a trace's header, if any."""
    import json

    try:
        return json.loads(path.read_text().splitlines()[0]).get("note")
    except (ValueError, IndexError, OSError):
        return None
