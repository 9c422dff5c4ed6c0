# SPDX-License-Identifier: GPL-2.0-or-later
"""Our Python maple tree, node for node identical to Linux 6.12 or 7.3 (profile.py, tree.py)."""

from .node import LINUX_64, SMALL, Geometry
from .tree import PyFactory, PyTree

__all__ = ["PyFactory", "PyTree", "Geometry", "LINUX_64", "SMALL", "follows"]


def follows(kernel_info: dict) -> bool:
    """Does our tree build the same nodes as the kernel described by ``kernel_info``?

    ``kernel_info`` is :func:`maplecheck.impl.linux.source.kernel_info`'s answer;
    True when one of our write-path profiles follows it (:func:`.profile.profile_for_info`).
    """
    from .profile import profile_for_info  # noqa: PLC0415
    return profile_for_info(kernel_info) is not None
