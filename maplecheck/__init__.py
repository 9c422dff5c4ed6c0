# SPDX-License-Identifier: GPL-2.0-or-later
"""maplecheck: model checking and differential testing for the Linux maple tree."""

__version__ = "0.1.0"
