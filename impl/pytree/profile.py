# SPDX-License-Identifier: GPL-2.0-or-later
"""Write-path profiles: which kernel series our tree follows node for node.

* ``"6.12"``: split, rebalance and spanning stores through a big node
  (big_node.py, split.py, rebalance.py, spanning.py); root depth 1.
* ``"7.3"``: the ``maple_copy`` path (maple_copy.py), the 7.3 store-type
  choice (an under-full root may still append or slot-store), preallocation
  sized by ``vacant_height`` / ``sufficient_height``; root depth 0.

Everything else (nodes, encodings, walks, iteration, gap search, dup,
replace, validation) is shared.  Linux 7.2 sits between the two (big node,
7.x preallocation) and is followed by neither.
"""

from __future__ import annotations

import re

PROFILES = ("6.12", "7.3")
NEWEST = "7.3"


def profile_for_info(info: dict) -> str | None:
    """The profile following the kernel tree ``info`` (``kernel_info``) describes, by
    feature: no ``maple_copy`` -> the big-node path of 6.12; ``maple_copy`` with the
    copy-node split (``mas_wr_split`` in lib/maple_tree.c) -> 7.3; ``maple_copy``
    without it (7.2: copy-node spanning store, big-node split) -> None."""
    if not info.get("features", {}).get("maple_copy", False):
        return "6.12"
    return "7.3" if has_copy_split(info.get("path")) else None


def has_copy_split(src) -> bool:
    """Does the tree at ``src`` split leaves through the copy node (``mas_wr_split``)?"""
    from pathlib import Path  # noqa: PLC0415
    if not src:
        return False
    try:
        text = (Path(src) / "lib/maple_tree.c").read_text(errors="replace")
    except OSError:
        return False
    return re.search(r"^static void mas_wr_split\(", text, re.M) is not None


def is_v7(profile: str) -> bool:
    if profile not in PROFILES:
        raise ValueError(f"unknown pytree profile {profile!r} (one of {', '.join(PROFILES)})")
    return profile != "6.12"
