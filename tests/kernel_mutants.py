# SPDX-License-Identifier: GPL-2.0-or-later
"""Kernel trees with one hand-made bug: a symlinked copy with lib/maple_tree.c edited once."""

import re
from pathlib import Path


def patched_tree(stock: Path, dest: Path, func: str, old: str, new: str, within: int = 3000) -> Path:
    """A tree identical to ``stock`` but for the first ``old`` after ``func`` (within ``within`` chars) -> ``new``."""
    dest.mkdir(parents=True, exist_ok=True)
    for top in stock.iterdir():
        if top.name != "lib":
            (dest / top.name).symlink_to(top)
    (dest / "lib").mkdir()
    for f in (stock / "lib").iterdir():
        if f.name != "maple_tree.c":
            (dest / "lib" / f.name).symlink_to(f)
    text = (stock / "lib/maple_tree.c").read_text()
    start = text.index(func)
    m = re.compile(re.escape(old)).search(text, start)
    assert m and m.start() - start < within, f"{func} no longer looks as expected"
    (dest / "lib/maple_tree.c").write_text(text[:m.start()] + new + text[m.end():])
    return dest
