# SPDX-License-Identifier: GPL-2.0-or-later
"""Kernel trees with one hand-made change in lib/maple_tree.c, for tests that must find it."""

from __future__ import annotations

import re
from pathlib import Path


def mutant_tree(stock: Path, dest: Path, function: str, old: str, new: str) -> Path:
    """A copy of ``stock`` made of symlinks, except ``lib/maple_tree.c`` with ``old`` -> ``new``.

    The change is made at the first ``old`` after the start of ``function``
    (and within 1500 characters of it, so a kernel whose code has moved fails
    loudly instead of patching the wrong place).
    """
    dest.mkdir(parents=True, exist_ok=True)
    for top in stock.iterdir():
        if top.name != "lib":
            (dest / top.name).symlink_to(top)
    (dest / "lib").mkdir()
    for f in (stock / "lib").iterdir():
        if f.name != "maple_tree.c":
            (dest / "lib" / f.name).symlink_to(f)
    text = (stock / "lib/maple_tree.c").read_text()
    start = text.index(function)
    m = re.compile(re.escape(old)).search(text, start)
    assert m and m.start() - start < 1500, f"{function} no longer looks as expected"
    (dest / "lib/maple_tree.c").write_text(text[:m.start()] + new + text[m.end():])
    return dest


def lookup_bug_tree(stock: Path, dest: Path) -> Path:
    """``mtree_lookup_walk`` compares pivots with ``>`` instead of ``>=``: a load of a range's
    last index reads the next slot."""
    return mutant_tree(stock, dest, "static inline void *mtree_lookup_walk(",
                       "pivots[offset] >= mas->index", "pivots[offset] > mas->index")
