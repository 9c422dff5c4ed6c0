# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck linux build``: fetch (if needed) and build the Linux adapter."""

from __future__ import annotations

import time

from maplecheck.cli import EXIT_OK, say


def cmd_linux(args) -> int:
    from maplecheck.properties.impls import linux_library

    t0 = time.monotonic()
    lib = linux_library(args.linux_src, sanitize=False)
    say(f"optimized build: {lib} ({time.monotonic() - t0:.1f}s)")
    if args.sanitize:
        t1 = time.monotonic()
        asan = linux_library(args.linux_src, sanitize=True)
        say(f"ASan/UBSan build: {asan} ({time.monotonic() - t1:.1f}s)")
    print(f"adapter={lib}")
    return EXIT_OK
