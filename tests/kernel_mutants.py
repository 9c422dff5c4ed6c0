# SPDX-License-Identifier: GPL-2.0-or-later
"""Kernel trees with one hand-made change in lib/maple_tree.c, for tests that must find it.

A mutant tree is a copy of a stock tree made of symlinks, except ``lib/maple_tree.c``,
which is written out changed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable


def mutant_tree(stock: Path, dest: Path, patch: Callable[[str], str]) -> Path:
    """A tree of symlinks to ``stock`` but for ``lib/maple_tree.c``, rewritten by ``patch(text)``."""
    dest.mkdir(parents=True, exist_ok=True)
    for top in stock.iterdir():
        if top.name != "lib":
            (dest / top.name).symlink_to(top)
    (dest / "lib").mkdir()
    for f in (stock / "lib").iterdir():
        if f.name != "maple_tree.c":
            (dest / "lib" / f.name).symlink_to(f)
    (dest / "lib/maple_tree.c").write_text(patch((stock / "lib/maple_tree.c").read_text()))
    return dest


def patched_tree(stock: Path, dest: Path, func: str, old: str, new: str, within: int = 3000) -> Path:
    """A mutant tree whose first ``old`` after ``func`` (within ``within`` characters) reads ``new``.

    The distance bound makes a kernel whose code has moved fail loudly instead of
    patching the wrong place.
    """
    def patch(text: str) -> str:
        start = text.index(func)
        m = re.compile(re.escape(old)).search(text, start)
        assert m and m.start() - start < within, f"{func} no longer looks as expected"
        return text[:m.start()] + new + text[m.end():]
    return mutant_tree(stock, dest, patch)


def lookup_bug_tree(stock: Path, dest: Path) -> Path:
    """``mtree_lookup_walk`` compares pivots with ``>`` instead of ``>=``: a load of a range's
    last index reads the next slot."""
    return patched_tree(stock, dest, "static inline void *mtree_lookup_walk(",
                        "pivots[offset] >= mas->index", "pivots[offset] > mas->index", within=1000)
