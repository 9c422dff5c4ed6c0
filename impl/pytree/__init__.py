# SPDX-License-Identifier: GPL-2.0-or-later
"""Our Python maple tree, node for node identical to Linux 6.12 (see tree.py)."""

from .node import LINUX_64, SMALL, Geometry
from .tree import PyFactory, PyTree

__all__ = ["PyFactory", "PyTree", "Geometry", "LINUX_64", "SMALL", "follows"]


def follows(kernel_info: dict) -> bool:
    """Does our tree build the same nodes as the kernel described by ``kernel_info``?

    ``kernel_info`` is :func:`maplecheck.impl.linux.source.kernel_info`'s answer.
    Today our tree follows the write path before ``maple_copy`` (Linux 6.12's);
    a profile for a newer write path extends this test by feature, not version.
    """
    return not kernel_info.get("features", {}).get("maple_copy", False)
