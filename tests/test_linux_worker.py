# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash isolation and the sanitised build: the Linux adapter in a child process."""

from __future__ import annotations

import os

import pytest

from maplecheck.impl.linux.adapter import LinuxFactory, LinuxSession
from maplecheck.impl.linux.build import build_adapter
from maplecheck.impl.linux.worker import ImplCrash, ImplHang, RemoteLinuxSession
from maplecheck.ops import TraceError
from maplecheck.tree import MAX, MT_FLAGS_ALLOC_RANGE, MT_FLAGS_USE_RCU, MapleUsageError, xa_mk_value

from test_linux_adapter import random_ops

V = xa_mk_value


@pytest.fixture(scope="session")
def opt_lib(linux_kernel):
    return build_adapter(sanitize=False, kernel=linux_kernel)


@pytest.fixture(scope="session")
def san_lib(linux_kernel):
    return build_adapter(sanitize=True, kernel=linux_kernel)


def test_remote_matches_local(opt_lib):
    ops = random_ops(7, 800)
    local = LinuxSession(LinuxFactory(lib_path=opt_lib), MT_FLAGS_ALLOC_RANGE)
    want = local.run(ops)
    dumps = {i: t.dump() for i, t in local.live_trees()}
    local.close()
    with RemoteLinuxSession(MT_FLAGS_ALLOC_RANGE, lib_path=opt_lib) as s:
        assert s.run(ops) == want
        assert {i: s.dump(i) for i in s.live_trees()} == dumps
        assert all(s.validate(i) == [] for i in s.live_trees())
    # errors travel back as the same exception types
    with RemoteLinuxSession(0, lib_path=opt_lib) as s:
        with pytest.raises(MapleUsageError):
            s.step(("load", 0, -1))
        with pytest.raises(TraceError):
            s.run([("load", 4, 1)])
        assert s.live_nodes() == 0


@pytest.mark.parametrize("how,signame", [(0, "SIGSEGV"), (1, "SIGABRT")])
def test_crash_is_isolated(opt_lib, how, signame):
    s = RemoteLinuxSession(0, lib_path=opt_lib)
    s.run([("store_range", 0, 1, 2, V(1))])
    with pytest.raises(ImplCrash) as ei:
        s.crash_for_test(how)
    assert signame in str(ei.value)
    if how == 1:
        assert "Assertion" in str(ei.value)         # the BUG() text from the child's stderr
    with pytest.raises(ImplCrash):                  # dead until restarted
        s.step(("load", 0, 1))
    s.restart()                                     # a fresh, empty session
    assert s.run([("load", 0, 1), ("store_range", 0, 3, 3, V(2)), ("load", 0, 3)]) == [None, 0, V(2)]
    s.close()


#: does the crash below happen on a kernel series (from runs)
PREV_RANGE_NULL_NODE_CRASHES = {"6.12": True, "7.2": False, "7.3": False}


def test_real_crash_limit_passed_before_walk(san_lib, linux_kernel):
    """A genuine 6.12 crash found while writing these tests, caught by the sanitised worker.

    mas_prev_range() with min >= index on a state that was never walked returns
    ma_underflow without setting a node; the next mas_prev_range() with a lower
    min turns the state active and walks from a NULL node.  7.2 and 7.3 do not crash.
    """
    s = RemoteLinuxSession(0, lib_path=san_lib, sanitize=True)
    assert s.run([("mas_set", 0, 143), ("mas_prev_range", 0, 365)]) == [None, [None, 143, 143, 6]]
    if PREV_RANGE_NULL_NODE_CRASHES.get(linux_kernel, True):
        with pytest.raises(ImplCrash) as ei:
            s.step(("mas_prev_range", 0, 73))
        assert "mas_prev_slot" in str(ei.value) or "SEGV" in str(ei.value)
    else:
        s.step(("mas_prev_range", 0, 73))
    s.restart()
    assert s.run([("load", 0, 1)]) == [None]
    s.close()


def test_asan_build_runs_op_stream(san_lib):
    for flags in (0, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU):
        with RemoteLinuxSession(flags, lib_path=san_lib, sanitize=True) as s:
            ops = [("store_range", 0, 10 * i, 10 * i + 5, V(i)) for i in range(300)]
            ops += [("dup", 0, None), ("dup", 0, 5), ("erase", 1, 1000), ("replace", 1, 20, V(7))]
            ops += [("set_rcu", 0, False), ("store_range", 0, 5, 2995, None), ("destroy", 2)]
            res = s.run(ops)
            assert res[300:302] == [0, -12]
            assert s.validate(0) == [] and s.validate(1) == []
            assert s.live_trees() == [0, 1]
        # close destroyed every tree inside the sanitised child without complaint


def test_asan_catches_use_after_free(san_lib):
    s = RemoteLinuxSession(0, lib_path=san_lib, sanitize=True)
    with pytest.raises(ImplCrash) as ei:
        s.crash_for_test(2)
    assert "heap-use-after-free" in str(ei.value)


def test_hang_times_out(opt_lib):
    s = RemoteLinuxSession(0, lib_path=opt_lib, timeout=2)
    with pytest.raises(ImplHang, match="no reply to 'crash' within 2.0s") as ei:
        s.crash_for_test(3)
    assert "mc_test_crash" in ei.value.stack     # the C frames of the looping child
    s.restart()
    assert s.run([("load", 0, 0)]) == [None]
    s.close()


def test_sanitised_build_refused_in_process(san_lib):
    from maplecheck.impl.linux.adapter import AdapterLoadError

    with pytest.raises(AdapterLoadError, match="RemoteLinuxSession"):
        LinuxFactory(lib_path=san_lib)


def test_deadline_scales_with_the_work_sent():
    from maplecheck.impl.linux.worker import call_deadline
    small, big = call_deadline(1, 0), call_deadline(2000, 0)
    assert small >= 10 and big > small + 10          # per-operation term
    assert call_deadline(512, 5000) > call_deadline(512, 50) + 40  # per-node term (validation walks)
    assert call_deadline(1, 0, floor=2) < 3          # --hang-seconds sets the floor
    s = RemoteLinuxSession.__new__(RemoteLinuxSession)
    s.timeout, s.nodes = None, 100
    ops = [("load", 0, 1)] * 700
    assert s.deadline_for("run_hashed", (ops, True)) == call_deadline(700, 100)  # any batch command
    assert s.deadline_for("dump", (0,)) == call_deadline(1, 100)
