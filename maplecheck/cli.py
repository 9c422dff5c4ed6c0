# SPDX-License-Identifier: GPL-2.0-or-later
"""The maplecheck command (placeholder until the CLI lands)."""


def main(argv=None) -> int:
    print("maplecheck: not yet")
    return 2
