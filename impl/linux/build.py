# SPDX-License-Identifier: GPL-2.0-or-later
"""Compile the C shim together with the kernel's maple tree into a shared library.

``build_adapter(linux_src=None, sanitize=False, kernel=None) -> Path`` returns the path of a
``libmaplecheck-linux-*.so`` in the cache, building it when no library with the
same inputs exists.  The cache key hashes every source input (our shim, the
kernel's ``lib/maple_tree.c``, the headers and scaffolding it is built with),
the compiler flags and the compiler's version, so editing a kernel tree given
with ``--linux-src`` triggers a rebuild.

Two flavours: optimised (``-O2``) and sanitised (ASan + UBSan, ``-O1 -g``).
The sanitised library can only be loaded into a process that has libasan
preloaded; :mod:`maplecheck.impl.linux.worker` takes care of that.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .source import LinuxSourceError, cache_dir, kernel_info, kernel_source

HERE = Path(__file__).resolve().parent
SHIM = HERE / "shim.c"
SHIM_API = HERE / "shim_api.c"  # #included by shim.c
# the "rcu" flavour: the shim under a deterministic scheduler (rcu_shim.c includes shim.c)
RCU_SOURCES = [HERE / "rcu_shim.c", HERE / "rcu_sched.h"]

COMMON_FLAGS = ["-std=gnu11", "-fPIC", "-shared", "-pthread", "-Wall",
                "-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-but-set-variable",
                "-Wno-format-security", "-Wno-unused-result", "-Wno-address-of-packed-member",
                "-fno-strict-aliasing", "-g"]
OPT_FLAGS = ["-O2"]
SAN_FLAGS = ["-O1", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
             "-fno-sanitize-recover=undefined"]
LIBS = ["-Wl,-z,defs", "-lurcu", "-lurcu-common", "-lpthread"]

# Scaffolding files hashed as build inputs (relative to the kernel tree).
_HASHED_DIRS = ["tools/testing/shared", "tools/include/linux", "tools/include/asm",
                "tools/include/asm-generic", "tools/arch/x86/include"]
_HASHED_FILES = ["lib/maple_tree.c", "include/linux/maple_tree.h", "include/linux/xarray.h",
                 "include/linux/kconfig.h", "tools/testing/radix-tree/Makefile"]


class AdapterBuildError(RuntimeError):
    """The adapter could not be built.

    The message's first line names the first compiler error and its file
    (``... failed: FILE:LINE: MESSAGE``); the compiler's tail follows.
    """


def _cc() -> str:
    cc = os.environ.get("CC", "gcc")
    if not shutil.which(cc):
        raise AdapterBuildError(f"C compiler {cc!r} not found (install gcc or set CC)")
    return cc


def _compiler_version(cc: str) -> str:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise AdapterBuildError(f"cannot run {cc} --version: {e}") from None
    return out.splitlines()[0] if out else cc


def _hash_inputs(src: Path, flags: list[str], cc_version: str, extra: list[Path] = ()) -> str:
    h = hashlib.sha256()
    h.update(cc_version.encode())
    h.update("\0".join(flags).encode())
    h.update(SHIM.read_bytes())
    # the library's debug info names source files: a tree elsewhere gets its own build
    h.update(str(src.resolve()).encode())
    h.update(Path(__file__).read_bytes())  # how the tree is built is an input too
    for inc in sorted(HERE.glob("shim_*.c")):  # files shim.c #includes
        h.update(inc.name.encode())
        h.update(inc.read_bytes())
    for f in extra:  # a flavour's own sources
        h.update(f.name.encode())
        h.update(f.read_bytes())
    files: list[Path] = [src / f for f in _HASHED_FILES]
    for d in _HASHED_DIRS:
        p = src / d
        if p.is_dir():
            files.extend(sorted(x for x in p.rglob("*") if x.is_file()))
    for f in files:
        h.update(str(f.relative_to(src)).encode())
        try:
            h.update(f.read_bytes())
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()[:16]


#: the architecture the tree's tools/scripts/Makefile.arch yields on x86_64
SRCARCH = "x86"


def _make_flags(text: str) -> list[str]:
    """Every word of the ``CFLAGS +=`` assignments in a Makefile text (continuations joined)."""
    words: list[str] = []
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        m = re.match(r"\s*CFLAGS\s*\+?=(.*)", line)
        if m:
            words += m.group(1).split()
    return words


def harness_flags(src: Path) -> tuple[list[str], list[str]]:
    """The ``-I`` folders and ``-D`` defines the tree's radix-tree harness compiles with.

    Read from ``tools/testing/shared/shared.mk`` and ``tools/testing/radix-tree/Makefile``
    (relative folders resolved from ``tools/testing/radix-tree``, ``$(SRCARCH)`` as on
    x86_64); sanitizer, optimisation and warning flags are ours to choose, so not taken.
    """
    rt = src / "tools/testing/radix-tree"
    words: list[str] = []
    for mk in (src / "tools/testing/shared/shared.mk", rt / "Makefile"):
        if mk.is_file():
            words += _make_flags(mk.read_text())
    includes: list[str] = []
    defines: list[str] = []
    for w in words:
        w = w.replace("$(SRCARCH)", SRCARCH)
        if w.startswith("-I") and "$(" not in w:
            d = os.path.normpath(rt / w[2:])  # lexically: a tree of symlinks stays itself
            if d not in includes:
                includes.append(d)
        elif w.startswith("-D") and "$(" not in w and w not in defines:
            defines.append(w)
    if not includes:
        raise AdapterBuildError(f"{src}: no include paths found in tools/testing/shared/shared.mk")
    return includes, defines


def feature_macros(info: dict) -> list[str]:
    """The ``MC_HAVE_*`` macros shim.c is compiled with, one per detected feature."""
    return [f"MC_HAVE_{name.upper()}" for name, on in sorted(info["features"].items()) if on]


def harness_libs(src: Path) -> list[str]:
    """The tools/lib sources the harness links (``LIBS :=`` of shared.mk, found via its vpath)."""
    mk = src / "tools/testing/shared/shared.mk"
    text = mk.read_text() if mk.is_file() else ""
    out = []
    for m in re.finditer(r"^LIBS\s*:?=(.*)$", text, re.M):
        for obj in m.group(1).split():
            c = src / "tools/lib" / (obj[:-2] + ".c" if obj.endswith(".o") else obj)
            if c.is_file():
                out.append(str(c))
    return out


def _harness_shim(build: Path, src: Path) -> Path:
    """A copy of the tree's maple-shim.c whose relative include reaches *this* tree's lib/.

    maple-shim.c includes ``../../../lib/maple_tree.c`` relative to itself; in a
    tree whose tools/ is a symlink (a patched copy of another tree) that would
    be the other tree's file.  The copy sits in ``build/tree/tools/testing/shared``
    beside a ``build/tree/lib`` link to ``src/lib``.
    """
    shared = build / "tree/tools/testing/shared"
    shared.mkdir(parents=True)
    (build / "tree/lib").symlink_to(src / "lib", target_is_directory=True)
    shim = shared / "maple-shim.c"
    shutil.copyfile(src / "tools/testing/shared/maple-shim.c", shim)
    return shim


def _write_generated(build: Path, src: Path) -> None:
    """The headers the harness Makefile generates, as it generates them for a 64-bit build."""
    gen = build / "generated"
    gen.mkdir(parents=True, exist_ok=True)
    mk = src / "tools/testing/shared/shared.mk"
    rules = mk.read_text() if mk.is_file() else ""
    shutil.copyfile(src / "tools/testing/shared/autoconf.h", gen / "autoconf.h")
    bits = "#define CONFIG_64BIT 1\n"
    if "CONFIG_PHYS_ADDR_T_" in rules:
        bits += "#define CONFIG_PHYS_ADDR_T_64BIT 1\n"
    (gen / "bit-length.h").write_text(bits)
    (gen / "map-shift.h").write_text("#define XA_CHUNK_SHIFT 3\n")


_CC_ERROR = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:\d+:)?\s*(?:fatal )?error:\s*(?P<msg>.*)$")
_LD_ERROR = re.compile(r"^(?:/\S*ld(?:\.\w+)?|collect2|ld): (?:.*?: )?(?P<msg>(?:undefined reference|multiple definition)"
                       r".*)$")


def first_error(text: str) -> str:
    """The first compiler (else linker) error of a failed build, as ``FILE:LINE: MESSAGE``."""
    lines = text.splitlines()
    for line in lines:
        m = _CC_ERROR.match(line.strip())
        if m:
            return f"{m['file']}:{m['line']}: {m['msg']}"
    for line in lines:
        m = _LD_ERROR.match(line.strip())
        if m:
            where = re.search(r"(\S+\.c):(\d+)", line)
            return (f"{where[1]}:{where[2]}: " if where else "link: ") + m["msg"]
    tail = [l for l in lines if l.strip()]
    return tail[-1].strip() if tail else "no compiler output"


def _in_tree(msg: str, build: Path, src: Path) -> str:
    """Name files of the build folder's shim copy by their place in the kernel tree."""
    path, sep, rest = msg.partition(":")
    if sep and path.startswith(str(build / "tree")):
        path = str(src / os.path.relpath(os.path.normpath(path), build / "tree"))
    return path + sep + rest


def _tail(text: str, head: int = 40, tail: int = 10) -> str:
    """The compiler's output for MAPLECHECK_DEBUG: its head (where the first error is) and its end."""
    lines = [l for l in text.splitlines() if l.strip()]
    if len(lines) <= head + tail:
        return "\n".join(lines)
    return "\n".join(lines[:head] + [f"... ({len(lines) - head - tail} lines)"] + lines[-tail:])


def build_adapter(linux_src: str | os.PathLike | None = None, sanitize: bool = False,
                  kernel: str | None = None, verbose: bool = False, rcu: bool = False) -> Path:
    """Build (or find in the cache) the adapter library; return its path.

    ``rcu=True`` is the scheduled flavour: rcu_shim.c (which includes shim.c)
    turns the tree's publication points and RCU primitives into calls to a
    deterministic coroutine scheduler; it is cached under its own key.

    Raises :class:`AdapterBuildError` (compiler failure) or
    :class:`~maplecheck.impl.linux.source.LinuxSourceError` (no kernel tree).
    """
    src = kernel_source(linux_src, kernel)
    cc = _cc()
    flags = COMMON_FLAGS + (SAN_FLAGS if sanitize else OPT_FLAGS)
    key = _hash_inputs(src, flags, _compiler_version(cc), RCU_SOURCES if rcu else [])
    out_dir = cache_dir() / "build"
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = out_dir / f"libmaplecheck-linux-{'rcu-' if rcu else ''}{'san' if sanitize else 'opt'}-{key}.so"
    if lib.exists():
        return lib

    with tempfile.TemporaryDirectory(prefix="mc-build-", dir=out_dir) as tmp:
        build = Path(tmp)
        _write_generated(build, src)
        inc_dirs, defines = harness_flags(src)
        includes = ["-I", str(build)]
        for d in inc_dirs:
            includes += ["-I", d]
        shim_c = _harness_shim(build, src)
        features = [f"-D{m}" for m in feature_macros(kernel_info(src))]
        define = f'-DMC_KERNEL_MAPLE_SHIM_C="{shim_c}"'
        sources = [str(RCU_SOURCES[0] if rcu else SHIM), str(src / "tools/testing/shared/linux.c"), *harness_libs(src)]
        tmp_lib = build / lib.name
        cmd = [cc, *flags, *defines, *features, *includes, define, *sources, "-o", str(tmp_lib), *LIBS]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            out = proc.stderr or proc.stdout
            raise AdapterBuildError(
                f"building the Linux adapter from {src} failed: {_in_tree(first_error(out), build, src)}\n"
                + _tail(out))
        if verbose:
            print(f"built {lib.name} in {time.monotonic() - t0:.1f}s")
        os.replace(tmp_lib, lib)  # atomic: a half-written library is never visible
    return lib


def cli_build(linux_src: str | os.PathLike | None = None, kernel: str | None = None) -> Path:
    """What ``maplecheck linux build [--linux-src DIR]`` calls: build both flavours.

    Returns the optimised adapter's path (the CLI prints ``adapter=PATH``).
    Raises AdapterBuildError / LinuxSourceError with a one-line first line.
    """
    path = build_adapter(linux_src, sanitize=False, kernel=kernel)
    build_adapter(linux_src, sanitize=True, kernel=kernel)
    return path


__all__ = ["AdapterBuildError", "LinuxSourceError", "build_adapter", "cli_build"]
