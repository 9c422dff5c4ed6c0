# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck linux build`` / ``linux list`` and the ``--kernel`` option of every command.

``--kernel VERSION`` (``6.12``, ``7.2``, ``7.3``, ... or ``latest``) picks Debian's
``linux-source-VERSION``; ``--linux-src DIR`` takes any tree.  :func:`resolve_kernel_args`
turns the pair into one tree path up front, so the commands below it pass a
path around and never see a version.
"""

from __future__ import annotations

import sys
import time


def add_kernel_arg(sp) -> None:
    """``--kernel VERSION``, next to a ``--linux-src``."""
    sp.add_argument("--kernel", metavar="VERSION", default=None,
                    help="Debian's linux-source-VERSION to build the Linux adapter from: 6.12, 7.2, 7.3, ... "
                         "or latest (default: $MAPLECHECK_KERNEL, else latest; fetched and cached)")


def resolve_kernel_args(args) -> None:
    """Set ``args.linux_src`` to the tree ``--kernel`` names (SetupError: one line, exit 2)."""
    kernel = getattr(args, "kernel", None)
    if kernel is None:
        return
    if getattr(args, "linux_src", None):
        from maplecheck.properties.impls import SetupError
        raise SetupError("--kernel and --linux-src both name a kernel tree: give one")
    from maplecheck.properties.impls import linux_tree
    args.linux_src = linux_tree(None, kernel)


def _say(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def say_structure_note(args) -> None:
    """With ``--impl both`` on a kernel our Python tree does not follow: say so, in one line."""
    from maplecheck.properties.impls import structure_note
    note = structure_note(args.impl, args.linux_src)
    if note:
        _say(note)


def cmd_linux_build(args) -> int:
    """Build the optimised (and with --sanitize the ASan/UBSan) adapter; print its path."""
    from maplecheck.impl.linux.source import kernel_info, kernel_source
    from maplecheck.properties.impls import SetupError, linux_library

    t0 = time.monotonic()
    lib = linux_library(args.linux_src, sanitize=False)
    _say(f"optimized build: {lib} ({time.monotonic() - t0:.1f}s)")
    if args.sanitize:
        t1 = time.monotonic()
        asan = linux_library(args.linux_src, sanitize=True)
        _say(f"ASan/UBSan build: {asan} ({time.monotonic() - t1:.1f}s)")
    try:
        info = kernel_info(kernel_source(args.linux_src))
    except Exception as e:  # pragma: no cover - the build above already resolved it
        raise SetupError(f"linux source: {e}") from e
    feats = ",".join(k for k, on in sorted(info["features"].items()) if on) or "-"
    _say(f"kernel {info['version']} at {info['path']}; features: {feats}")
    print(f"kernel={info['version']} adapter={lib}")
    return 0


def cmd_linux_list(args) -> int:
    """Which linux-source series Debian packages (newest build, suite) and which are cached."""
    from maplecheck.impl.linux import source
    from maplecheck.properties.impls import SetupError

    cache = source.cache_dir()
    try:
        if args.update:
            source.apt_update(cache, force=True)
        pk = source.packaged(cache, update=True)
    except source.LinuxSourceError as e:
        raise SetupError(f"linux list: {e}") from e
    debs = source.cached_debs(cache)
    trees = source.cached_trees(cache)
    series = sorted(set(pk) | set(debs) | set(trees), key=lambda s: tuple(int(x) for x in s.split(".")))
    latest = max(pk, key=lambda s: tuple(int(x) for x in s.split("."))) if pk else None
    print(f"{'series':8} {'packaged (newest build)':28} {'suite':18} {'cached .deb':28} tree")
    for s in series:
        version, suite = pk.get(s, ("-", "-"))
        deb = ", ".join(sorted(debs.get(s, {}))) or "-"
        tree = trees.get(s, "-")
        mark = "  <- latest" if s == latest else ""
        print(f"{s:8} {version:28} {suite:18} {deb:28} {tree}{mark}")
    print(f"packaged={len(pk)} cached={len(debs)} trees={len(trees)} latest={latest or '-'}")
    return 0


def cmd_linux(args) -> int:
    return cmd_linux_list(args) if args.linux_command == "list" else cmd_linux_build(args)
