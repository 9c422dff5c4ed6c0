# SPDX-License-Identifier: GPL-2.0-or-later
"""Compile the C shim together with the kernel's maple tree into a shared library.

``build_adapter(linux_src=None, sanitize=False) -> Path`` returns the path of a
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
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .source import LinuxSourceError, cache_dir, kernel_source

HERE = Path(__file__).resolve().parent
SHIM = HERE / "shim.c"
# the "rcu" flavour: the shim under a deterministic scheduler (rcu_shim.c includes shim.c)
RCU_SOURCES = [HERE / "rcu_shim.c", HERE / "rcu_sched.h"]

COMMON_FLAGS = ["-std=gnu11", "-fPIC", "-shared", "-pthread", "-D_LGPL_SOURCE", "-Wall",
                "-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-but-set-variable",
                "-Wno-format-security", "-Wno-unused-result", "-Wno-address-of-packed-member",
                "-fno-strict-aliasing", "-g"]
OPT_FLAGS = ["-O2"]
SAN_FLAGS = ["-O1", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
             "-fno-sanitize-recover=undefined"]
LIBS = ["-Wl,-z,defs", "-lurcu", "-lurcu-common", "-lpthread"]

# Scaffolding files hashed as build inputs (relative to the kernel tree).
_HASHED_DIRS = ["tools/testing/shared", "tools/include/linux", "tools/include/asm",
                "tools/include/asm-generic"]
_HASHED_FILES = ["lib/maple_tree.c", "include/linux/maple_tree.h", "include/linux/xarray.h",
                 "include/linux/kconfig.h"]


class AdapterBuildError(RuntimeError):
    """The adapter could not be built; the message is one line plus the compiler's tail."""


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
    for f in extra:
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


def _write_generated(build: Path, src: Path) -> None:
    gen = build / "generated"
    gen.mkdir(parents=True, exist_ok=True)
    # the scaffolding's autoconf.h pulls "bit-length.h" from the same folder
    shutil.copyfile(src / "tools/testing/shared/autoconf.h", gen / "autoconf.h")
    (gen / "bit-length.h").write_text("#define CONFIG_64BIT 1\n")
    (gen / "map-shift.h").write_text("#define XA_CHUNK_SHIFT 3\n")


def _tail(text: str, n: int = 25) -> str:
    lines = [l for l in text.splitlines() if l.strip()]
    return "\n".join(lines[-n:])


def build_adapter(linux_src: str | os.PathLike | None = None, sanitize: bool = False,
                  verbose: bool = False, rcu: bool = False) -> Path:
    """Build (or find in the cache) the adapter library; return its path.

    Raises :class:`AdapterBuildError` (compiler failure) or
    :class:`~maplecheck.impl.linux.source.LinuxSourceError` (no kernel tree).
    """
    src = kernel_source(linux_src)
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
        includes = ["-I", str(build), "-I", str(src / "tools/testing/shared"),
                    "-I", str(src / "tools/testing/radix-tree"), "-I", str(src / "tools/include"),
                    "-I", str(src / "lib")]
        define = f'-DMC_KERNEL_MAPLE_TREE_C="{src / "lib/maple_tree.c"}"'
        sources = [str(RCU_SOURCES[0] if rcu else SHIM), str(src / "tools/testing/shared/linux.c")]
        tmp_lib = build / lib.name
        cmd = [cc, *flags, *includes, define, *sources, "-o", str(tmp_lib), *LIBS]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AdapterBuildError(
                f"building the Linux adapter failed ({cc} exit {proc.returncode}):\n"
                + _tail(proc.stderr or proc.stdout))
        if verbose:
            print(f"built {lib.name} in {time.monotonic() - t0:.1f}s")
        os.replace(tmp_lib, lib)  # atomic: a half-written library is never visible
    return lib


def cli_build(linux_src: str | os.PathLike | None = None) -> Path:
    """What ``maplecheck linux build [--linux-src DIR]`` calls: build both flavours.

    Returns the optimised adapter's path (the CLI prints ``adapter=PATH``).
    Raises AdapterBuildError / LinuxSourceError with a one-line first line.
    """
    path = build_adapter(linux_src, sanitize=False)
    build_adapter(linux_src, sanitize=True)
    return path


__all__ = ["AdapterBuildError", "LinuxSourceError", "build_adapter", "cli_build"]
