# SPDX-License-Identifier: GPL-2.0-or-later
"""Kernels by version: what is packaged and cached, and ``--impl both`` on a kernel our tree does not follow."""

from __future__ import annotations

import re

from maplecheck.cli import main
from maplecheck.impl.pytree import follows
from maplecheck.properties.engine import check_trace
from maplecheck.properties.impls import linux_tree, structure_note
from maplecheck.tree import xa_mk_value


def test_linux_list(capsys):
    assert main(["linux", "list"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"packaged=\d+ cached=\d+ trees=\d+ latest=\d+\.\d+", out[-1])
    series = {line.split()[0] for line in out[1:-1]}
    assert {"6.12", "7.3"} <= series


def test_pytree_follows_by_feature(linux_kernel_info):
    """6.12's big-node path and 7.3's copy-node split are followed; maple_copy without the
    copy-node split (7.2) is not."""
    from maplecheck.impl.pytree.profile import has_copy_split
    info = linux_kernel_info
    assert follows(info) is (not info["features"]["maple_copy"] or has_copy_split(info["path"]))
    assert follows({"features": {"maple_copy": False}}) and not follows({"features": {"maple_copy": True}})


def test_both_on_a_kernel_pytree_does_not_follow(linux_kernel, linux_kernel_info):
    """Appends that split leaves differently on 7.x: contents and results compared, shapes not."""
    src = linux_tree(None, linux_kernel)
    note = structure_note("both", src)
    ops = [("store_range", 0, i, i, xa_mk_value(i)) for i in range(100)] + [("dup", 0, 3), ("load", 1, 7)]
    assert check_trace("both", 0, ops, src, batched=False) is None
    if follows(linux_kernel_info):
        assert note is None
    else:
        assert note.count("\n") == 0 and "comparing contents and results only" in note
        assert linux_kernel_info["version"] in note
