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


def profile_for(version: str | None) -> str | None:
    """The profile that follows kernel ``version`` ("6.12.117", "7.3.4", "7.3"...),
    None when our tree follows no profile for it; no version means the newest."""
    if not version:
        return NEWEST
    m = re.match(r"(\d+)\.(\d+)", str(version))
    if not m:
        return None
    major, minor = int(m.group(1)), int(m.group(2))
    if (major, minor) == (6, 12):
        return "6.12"
    if (major, minor) >= (7, 3):
        return "7.3"
    return None


def pytree_follows(version: str | None, features=None) -> bool:
    """Does pytree follow this kernel node for node?  Decided by the version:
    ``kernel_info``'s ``maple_copy`` feature is present in 7.2 too, whose split
    and rebalance still go through a big node, so it cannot tell 7.2 from 7.3.
    ``features`` is accepted for the lockstep's query and not needed."""
    del features
    return profile_for(version) is not None


def is_v7(profile: str) -> bool:
    if profile not in PROFILES:
        raise ValueError(f"unknown pytree profile {profile!r} (one of {', '.join(PROFILES)})")
    return profile != "6.12"
