# SPDX-License-Identifier: GPL-2.0-or-later
"""The 7.3 write-path profile of our tree: its copy-node helpers are the ones the
lemmas prove (a mutation of the running helper fails its lemma), the profile
is a plain parameter, and random streams keep the tree valid."""

from __future__ import annotations

import random

import pytest

from maplecheck.impl.pytree import PyFactory
from maplecheck.impl.pytree import maple_copy as C
from maplecheck.properties import mutants as M
from maplecheck.properties.lemmas import LEMMAS

COPY_LEMMAS = {"copy_split_point": ("cp_split_point", M.cp_split_point_ignores_null),
               "copy_node_copy": ("node_copy", M.node_copy_no_last_pivot),
               "copy_node_finalise": ("node_finalise", M.node_finalise_meta_size)}


def _stream(tree, seed: int, n: int = 600) -> None:
    rnd = random.Random(seed)
    for _ in range(n):
        a = rnd.randrange(0, 3000)
        tree.store_range(a, a + rnd.randrange(0, 30), rnd.choice([None, rnd.randrange(1, 999) << 2]))


@pytest.mark.parametrize("name", sorted(COPY_LEMMAS))
def test_lemma_helper_is_the_running_helper(name, monkeypatch):
    attr, mutant = COPY_LEMMAS[name]
    lem = LEMMAS[name]
    assert lem.real is getattr(C, attr), f"{name} proves a helper the tree does not call"
    calls = []

    def spy(*args, **kw):
        calls.append(1)
        return mutant(*args, **kw)

    monkeypatch.setattr(C, attr, spy)
    t = PyFactory(profile="7.3").create(0)
    try:
        _stream(t, 1, 200)
    except Exception:  # a mutated helper may break the tree outright; it still ran
        pass
    assert calls, f"the tree never called maple_copy.{attr}"
    assert not lem.check(spy).proven, f"{name}: the mutated running helper was not refuted"


@pytest.mark.parametrize("flags", [0, 1, 2, 3])
def test_random_streams_stay_valid(flags):
    t = PyFactory(profile="7.3").create(flags)
    _stream(t, 7 + flags, 800)
    assert t.validate() == []


def test_profiles_differ_from_the_first_split():
    """Linux 7.3 splits a full leaf 8/9 where 6.12 splits 10/7."""
    dumps = {}
    for profile in ("6.12", "7.3"):
        t = PyFactory(profile=profile).create(0)
        for i in range(17):
            t.store_range(i * 10, i * 10 + 5, (i + 1) << 2)
        dumps[profile] = [n["end"] for n in t.dump()["nodes"][1:]]
    assert dumps["6.12"] != dumps["7.3"], dumps


def _fake_tree(root, version: str, copy_node: bool, copy_split: bool) -> str:
    major, minor, sub = version.split(".")
    root.mkdir()
    (root / "Makefile").write_text(f"VERSION = {major}\nPATCHLEVEL = {minor}\nSUBLEVEL = {sub}\n")
    (root / "include/linux").mkdir(parents=True)
    (root / "include/linux/maple_tree.h").write_text("struct maple_copy {\n};\n" if copy_node else "\n")
    (root / "lib").mkdir()
    (root / "lib/maple_tree.c").write_text("static void mas_wr_split(struct ma_wr_state *w)\n{\n}\n"
                                           if copy_split else "\n")
    return str(root)


def test_profile_follows_the_linux_tree(tmp_path):
    from maplecheck.impl.linux.source import kernel_info
    from maplecheck.impl.pytree import follows
    from maplecheck.properties.impls import python_profile
    assert python_profile(None) == "6.12"
    for version, copy_node, copy_split, want, ok in (("7.3.4", True, True, "7.3", True),
                                                     ("6.12.117", False, False, "6.12", True),
                                                     ("7.2.13", True, False, "7.3", False)):
        src = _fake_tree(tmp_path / version, version, copy_node, copy_split)
        assert python_profile(src) == want, version
        assert follows(kernel_info(src)) is ok, version
    with pytest.raises(ValueError):
        PyFactory(profile="5.0")


def test_both_without_a_kernel_follows_the_default_linux_tree(linux_kernel, monkeypatch):
    """``--impl both`` with no kernel named runs our tree on the profile of the Linux
    tree it is compared with (the default one), not on our own default profile."""
    from maplecheck.impl.linux.source import kernel_info, kernel_source
    from maplecheck.impl.pytree.profile import profile_for_info
    from maplecheck.properties import impls
    from maplecheck.properties.engine import open_lockstep

    monkeypatch.setenv("MAPLECHECK_KERNEL", linux_kernel)
    impls.linux_kernel_info.cache_clear()
    try:
        ls = open_lockstep("both", 0)
        try:
            got = ls.impls["python"].factory.profile
        finally:
            ls.close()
    finally:
        impls.linux_kernel_info.cache_clear()
    assert got == profile_for_info(kernel_info(kernel_source(kernel=linux_kernel)))
