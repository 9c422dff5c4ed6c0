# SPDX-License-Identifier: GPL-2.0-or-later
"""Our Python maple tree, node for node identical to Linux 6.12 (see tree.py)."""

from .node import LINUX_64, SMALL, Geometry
from .tree import PyFactory, PyTree

__all__ = ["PyFactory", "PyTree", "Geometry", "LINUX_64", "SMALL"]
