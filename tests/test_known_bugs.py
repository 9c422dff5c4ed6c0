# SPDX-License-Identifier: GPL-2.0-or-later
"""Known kernel bugs: the predicate is exact, the crash is real, lockstep steps around it.

Every test runs on each kernel of $MAPLECHECK_TEST_KERNELS and expects what the
registry records for that series (``KnownBug.versions``, found by running
these tests): the crash where it fires, a clean destroy where it is fixed.  A
kernel that fixes a bug makes its test fail and say so: then update the record.
"""

import pytest

from maplecheck.impl.linux.worker import ImplCrash, RemoteLinuxSession
from maplecheck.properties.engine import check_trace
from maplecheck.properties.impls import linux_tree
from maplecheck.properties.known import (RCU_CLEAR_META_FULL, RCU_FREE_WALK_META, fires_on,
                                         rcu_free_walk_reads_meta)
from maplecheck.tree import MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU


def ascending_points(n, stride=2):
    return [("store_range", 0, stride * i, stride * i, 2 * i + 1) for i in range(n)]


@pytest.mark.parametrize("n, crashes", [(2000, False), (2801, True)])
def test_rcu_free_walk_crash_is_real(n, crashes, linux_kernel):
    """Destroying an RCU plain tree crashes exactly when the predicate holds (where the bug fires)."""
    s = RemoteLinuxSession(MT_FLAGS_USE_RCU, sanitize=True, kernel=linux_kernel)
    try:
        s.run(ascending_points(n))
        d = s.dump(0)
        assert d["height"] == 4
        assert rcu_free_walk_reads_meta(d) is crashes
        if crashes and fires_on(RCU_FREE_WALK_META, linux_kernel):
            with pytest.raises(ImplCrash, match="mte_dead_walk|mt_free_walk|SEGV"):
                s.step(("destroy", 0))
        else:
            s.step(("destroy", 0))
            assert s.live_nodes() == 0
    finally:
        s._kill()


def test_predicate_needs_rcu_and_a_plain_tree(linux_kernel):
    s = RemoteLinuxSession(MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU, kernel=linux_kernel)
    try:
        s.run(ascending_points(2801))
        assert not rcu_free_walk_reads_meta(s.dump(0))  # arange nodes keep meta apart
    finally:
        s.close()


def test_lockstep_steps_around_the_known_bug_and_can_be_told_not_to(linux_kernel):
    ops = ascending_points(2801) + [("load", 0, 10)]
    assert check_trace("linux", MT_FLAGS_USE_RCU, ops, kernel=linux_kernel) is None
    f = check_trace("linux", MT_FLAGS_USE_RCU, ops, avoid_known_bugs=False, kernel=linux_kernel)
    if fires_on(RCU_FREE_WALK_META, linux_kernel):
        assert f is not None and f.kind == "crash"
    else:
        assert f is None


def full_root_of_leaves():
    """226 single indices: a plain tree whose range_64 root holds 16 leaves."""
    return ascending_points(226, stride=1)


def test_full_root_clear_meta_crash_is_real(linux_kernel):
    from maplecheck.properties.known import destroy_workaround, rcu_clear_meta_full_root
    s = RemoteLinuxSession(MT_FLAGS_USE_RCU, sanitize=True, kernel=linux_kernel)
    try:
        s.run(full_root_of_leaves())
        d = s.dump(0)
        assert rcu_clear_meta_full_root(d) and destroy_workaround(d) is not None
        if fires_on(RCU_CLEAR_META_FULL, linux_kernel):
            with pytest.raises(ImplCrash, match="mt_free_walk|free|SIGABRT"):
                s.step(("destroy", 0))
        else:
            s.step(("destroy", 0))
    finally:
        s._kill()
    assert check_trace("linux", MT_FLAGS_USE_RCU, full_root_of_leaves(), kernel=linux_kernel) is None


def test_rcu_destroy_crash_is_triaged_not_reported(linux_kernel):
    """A spanning store leaves a full root of leaves; destroying it in RCU mode crashes.

    With avoidance on, the destroy is stepped around; with it off, the crash
    happens, and triage (sanitizer stack in the RCU free path, and the same
    operations pass without RCU mode) names it as the known bug.
    """
    from maplecheck.properties.engine import ImplFailure, triage_crash
    ops = [("store_range", 0, 10 * i, 10 * i + 5, 2 * i + 1) for i in range(135)]
    ops += [("store_range", 0, 700, 800, 0x10000)]
    src = linux_tree(None, linux_kernel)
    # the sanitizer build: without it the wrong free may or may not abort,
    # depending on the heap and on when liburcu's callback thread runs
    f = check_trace("linux", MT_FLAGS_USE_RCU, ops, src, sanitize=True, avoid_known_bugs=False)
    assert f is not None and f.kind == "crash"
    assert check_trace("linux", MT_FLAGS_USE_RCU, ops, src) is None
    bug = triage_crash("linux", MT_FLAGS_USE_RCU, ops, f, src, avoid_known_bugs=False)
    assert bug is not None and bug.name == "rcu-clear-meta-full-node"
    # a crash that is not in the RCU destroy path is never triaged away
    other = ImplFailure(0, "crash", "SIGSEGV in mas_wr_walk")
    assert triage_crash("linux", 0, ops, other, src) is None
