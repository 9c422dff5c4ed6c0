# SPDX-License-Identifier: GPL-2.0-or-later
"""The write-path profiles of our tree: the helpers the lemmas prove are the ones the
tree runs (a mutation of the running helper is called by the tree and fails its
lemma), the profile is a plain parameter, and random streams keep the tree valid."""

from __future__ import annotations

import random

import pytest

from maplecheck.impl.pytree import PyFactory
from maplecheck.impl.pytree import maple_copy as C
from maplecheck.properties import mutants as M
from maplecheck.properties.lemmas import LEMMAS

from maplecheck.impl.pytree import node_ops as O
from maplecheck.properties.lemmas_gaps import _cp_ge

#: lemma -> (the module the tree calls it through, the helper, a mutant, the profile that runs it)
RUNNING_HELPERS = {
    "copy_split_point": (C, "cp_split_point", M.cp_split_point_ignores_null, "7.3"),
    "copy_node_copy": (C, "node_copy", M.node_copy_no_last_pivot, "7.3"),
    "copy_node_finalise": (C, "node_finalise", M.node_finalise_meta_size, "7.3"),
    "slot_store_2_3": (O, "slot_store_layout", M.slot_store_layout_bad, "6.12"),
    "append_store": (O, "append_layout", M.append_layout_bad, "7.3"),
    "node_store": (O, "node_store_layout", M.node_store_layout_no_max, "6.12"),
    "exact_fit_store": (O, "exact_fit_layout", M.exact_fit_layout_always_gap, "7.3"),
    "parent_gap_step": (O, "parent_gap_step", M.parent_gap_step_no_rescan, "6.12"),
    "leaf_max_gap_definition": (O, "leaf_max_gap", M.leaf_max_gap_plus_one, "6.12"),
    "build_meta_gap": (O, "mab_mas_cp", _cp_ge, "6.12"),
}


def _stream(tree, seed: int, n: int = 600) -> None:
    rnd = random.Random(seed)
    for _ in range(n):
        a = rnd.randrange(0, 3000)
        tree.store_range(a, a + rnd.randrange(0, 30), rnd.choice([None, rnd.randrange(1, 999) << 2]))


@pytest.mark.parametrize("name", sorted(RUNNING_HELPERS))
def test_a_mutation_of_the_running_helper_fails_its_lemma(name, monkeypatch):
    """Each lemma proves the function the tree calls: with that function mutated where the
    tree looks it up, the tree calls the mutant and the catalogued lemma no longer proves."""
    module, attr, mutant, profile = RUNNING_HELPERS[name]
    lem = LEMMAS[name]
    calls = []

    def spy(*args, **kw):
        calls.append(1)
        return mutant(*args, **kw)

    monkeypatch.setattr(module, attr, spy)
    t = PyFactory(profile=profile).create(1)  # an alloc tree: gaps are kept
    try:
        _stream(t, 1, 300)
    except Exception:  # a mutated helper may break the tree outright; it still ran
        pass
    assert calls, f"the tree never called {module.__name__}.{attr}"
    calls.clear()
    assert not lem.check(lem.real).proven, f"{name}: the mutated running helper was not refuted"
    assert calls, f"the lemma {name} did not run {module.__name__}.{attr}"


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
    assert python_profile(None) == "7.3"  # the newest, as the default Linux tree is
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
