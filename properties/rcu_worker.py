# SPDX-License-Identifier: GPL-2.0-or-later
"""Scheduled runs of the Linux tree in a child process (the ASan build, crash isolation).

    w = RcuWorker(linux_src, sanitize=True)
    res = w.explore(case, {"kind": "exhaustive", "bound": 2})   # -> dict (see explore_dict)
    w.close()

The child is ``python -m maplecheck.properties.rcu_worker LIB SCHEDFILE``.
Before every run it writes that run's schedule (or PCT parameters) to
SCHEDFILE, so when a run kills the child (a sanitizer report, a segfault, a
kernel BUG) the parent knows exactly which schedule did it: ``explore``
then returns a finding whose reason is the crash report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from maplecheck.impl.linux.worker import ImplCrash, RemoteLinuxSession, _recv, _send, sanitizer_env

from .rcu import RcuCase, explore_exhaustive, explore_pct, replay


class RcuWorker(RemoteLinuxSession):
    """A child process that explores RCU cases on the scheduled ("rcu") adapter build."""

    def __init__(self, linux_src=None, sanitize: bool = True, lib_path=None,
                 timeout: float | None = 300.0):
        from maplecheck.impl.linux.build import build_adapter

        self.flags = 0
        self.sanitize = sanitize
        self.lib_path = Path(lib_path) if lib_path else build_adapter(linux_src, sanitize=sanitize,
                                                                      rcu=True)
        self.timeout = timeout
        self.nodes = 0  # deadlines of RemoteLinuxSession scale with it: a run builds its own tree
        self.proc = None
        self._log = None
        fd, name = tempfile.mkstemp(prefix="maplecheck-rcu-sched-")
        os.close(fd)
        self.sched_file = Path(name)
        self.start()

    def start(self) -> None:
        env = sanitizer_env() if self.sanitize else dict(os.environ)
        import maplecheck
        pkg_parent = str(Path(maplecheck.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._log = tempfile.TemporaryFile(prefix="maplecheck-rcu-worker-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maplecheck.properties.rcu_worker", str(self.lib_path),
             str(self.sched_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env,
            start_new_session=True)
        self._call("ping")

    def last_schedule(self) -> dict:
        """The schedule the child ran last (what killed it, after a crash)."""
        try:
            return json.loads(self.sched_file.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def _guarded(self, *req) -> dict:
        try:
            return self._call(*req)
        except ImplCrash as e:
            last = self.last_schedule()
            self.restart()
            return {"crash": str(e), "last": last}

    def explore(self, case: RcuCase, strategy: dict) -> dict:
        """Explore ``case``; a crash comes back as ``{"crash": report, "last": schedule}``."""
        return self._guarded("explore", case.as_dict(), strategy)

    def replay(self, case: RcuCase, schedule: list, pct: list | None = None,
               known_bugs: bool = True) -> dict:
        return self._guarded("replay", case.as_dict(), list(schedule), pct, known_bugs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            try:
                self.sched_file.unlink()
            except OSError:
                pass


# ------------------------------------------------------------------ the child side

def _runner(lib, sched_file: str):
    def run(case: RcuCase, schedule=(), pct_seed=0, pct_depth=0, pct_len=0):
        with open(sched_file, "w") as f:
            f.write(json.dumps({"schedule": list(schedule), "pct": [pct_seed, pct_depth, pct_len]}))
        return lib.run(case.flags, case.prefix, case.writer, case.readers, schedule=schedule,
                       pct_seed=pct_seed, pct_depth=pct_depth, pct_len=pct_len)
    return run


def explore_dict(runner, case: RcuCase, st: dict) -> dict:
    """Explore ``case`` with strategy ``st``; the outcome as plain data (both runners)."""
    known = st.get("known_bugs", True)
    if st.get("kind") == "pct":
        ex = explore_pct(runner, case, st.get("schedules", 200), st.get("depth", 3), st.get("seed", 0),
                         known_bugs=known)
    else:
        ex = explore_exhaustive(runner, case, st.get("bound", 2), st.get("max_schedules", 100000),
                                known_bugs=known)
    f = ex.finding
    return {"schedules": ex.schedules, "seconds": ex.seconds, "hits": dict(ex.hits),
            "known": dict(ex.known),
            "finding": None if f is None else {"schedule": list(f.schedule), "reason": f.reason,
                                               "schedules": f.schedules}}


def replay_dict(runner, case: RcuCase, schedule: list, pct: list | None, known: bool) -> dict:
    """Run exactly one schedule (or PCT seed) of ``case``; the outcome as plain data."""
    from collections import Counter

    from .rcu import check_run, model_states

    if pct and pct[1]:
        run = runner(case, schedule=tuple(schedule), pct_seed=pct[0], pct_depth=pct[1], pct_len=pct[2])
        states, expected = model_states(case)
        why = check_run(case, states, expected, run, Counter() if known else None)
    else:
        run, why = replay(runner, case, schedule, known)
    return {"reason": why, "schedule": list(run.schedule), "hits": run.hits,
            "readers": run.readers, "writer": run.writer, "status": run.status}


def _serve(lib_path: str, sched_file: str) -> int:
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = os.fdopen(out_fd, "wb")
    inp = open(0, "rb", closefd=False)
    import faulthandler
    faulthandler.enable()
    from maplecheck.impl.linux.rcu_adapter import RcuLib

    lib = RcuLib(lib_path)
    runner = _runner(lib, sched_file)
    while True:
        try:
            req = _recv(inp)
        except EOFError:
            return 0
        cmd, *args = req
        try:
            if cmd == "ping":
                val = "pong"
            elif cmd == "explore":
                val = explore_dict(runner, RcuCase.from_dict(args[0]), args[1])
            elif cmd == "replay":
                val = replay_dict(runner, RcuCase.from_dict(args[0]), args[1], args[2], args[3])
            elif cmd == "close":
                val = 0
            else:
                raise ValueError(f"unknown rcu worker command {cmd!r}")
            reply = ("ok", val)
        except Exception as e:  # our own bug inside the worker: not a finding
            import traceback
            reply = ("internal", f"in the rcu worker, {cmd}: {type(e).__name__}: {e}\n"
                     + traceback.format_exc())
        _send(out, (*reply, 0))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m maplecheck.properties.rcu_worker LIB SCHEDFILE", file=sys.stderr)
        return 2
    return _serve(argv[0], argv[1])


if __name__ == "__main__":
    sys.exit(main())
