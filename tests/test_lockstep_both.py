# SPDX-License-Identifier: GPL-2.0-or-later
"""``--impl both``: a structural difference with equal contents is still caught.

The mutant splits full leaves one slot to the left of where Linux does.  Every
range, every result and every validator verdict stay correct, so only the dump
comparison between our tree and Linux can see it: the failure must name the
first operation after which the dumps differ and print the dump diff.
"""

from maplecheck.impl.pytree import big_node, split
from maplecheck.properties.engine import check_trace
from maplecheck.tree import xa_mk_value

OPS = [("store_range", 0, i, i, xa_mk_value(i)) for i in range(40)]


def test_both_agree_on_the_real_tree():
    assert check_trace("both", 0, OPS) is None


def test_a_split_point_mutant_is_caught_by_the_dump_diff(monkeypatch):
    real = big_node.mab_calc_split

    def split_one_left(mas, b):
        at, mid = real(mas, b)
        return at - 1, mid

    monkeypatch.setattr(split, "mab_calc_split", split_one_left)
    f = check_trace("both", 0, OPS)
    assert f is not None and f.kind == "dump"
    assert f.step == 15  # the 16th store is the first split (facts 11: 0-8:9 | 9-MAX:8)
    assert "path=" in f.message and "python:" in f.message and "linux:" in f.message
    # the model and the validator alone cannot tell: contents stay right
    assert check_trace("python", 0, OPS) is None
