# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash isolation: run a Linux-adapter Session in a child process.

    s = RemoteLinuxSession(flags=MT_FLAGS_ALLOC_RANGE, sanitize=True)
    s.run([("store_range", 0, 10, 15, 21), ("load", 0, 12)])   # -> [0, 21]
    s.dump(0); s.validate(0); s.live_nodes(); s.close()

The child is ``python -m maplecheck.impl.linux.worker LIB FLAGS``.  For the
sanitised library it runs with libasan (and libubsan) preloaded and
``ASAN_OPTIONS=detect_leaks=0:abort_on_error=1``.  Requests and replies are
length-prefixed pickles over the child's stdin and a private copy of its
stdout; the child's fd 1 and fd 2 both go to a log file, so whatever C prints
(BUG text, an ASan report) never corrupts the protocol and is available when
the child dies.

If the child dies, the call raises :class:`ImplCrash` (signal name or exit
status, and the last lines of the child's output); the parent is unaffected
and ``restart()`` starts a fresh child (an empty session again).
"""

from __future__ import annotations

import os
import pickle
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

from maplecheck.tree import CREATE_FLAGS

TAIL_LINES = 40
SANITIZER_LINES = 150  # a whole ASan report: the access, and where it was freed and allocated
_KEY_LINE = re.compile(r"ERROR: AddressSanitizer|runtime error:|SUMMARY: |BUG at |WARN at |Assertion .* failed|kernel BUG")


class ImplCrash(RuntimeError):
    """The implementation's process died (a C crash, a kernel BUG, a sanitizer report)."""


# ------------------------------------------------------------------ framing

def _send(f, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(struct.pack("<Q", len(data)) + data)
    f.flush()


def _recv(f):
    head = f.read(8)
    if len(head) < 8:
        raise EOFError
    (n,) = struct.unpack("<Q", head)
    data = f.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)


# ------------------------------------------------------------------ the parent side

def sanitizer_env() -> dict[str, str]:
    """Environment for a child that loads the ASan/UBSan build."""
    cc = os.environ.get("CC", "gcc")
    pre = []
    for lib in ("libasan.so", "libubsan.so"):
        try:
            p = subprocess.run([cc, f"-print-file-name={lib}"], capture_output=True, text=True).stdout.strip()
        except OSError:
            p = ""
        if p and os.path.isabs(p) and os.path.exists(p):
            pre.append(os.path.realpath(p))
    env = dict(os.environ)
    if pre:
        env["LD_PRELOAD"] = ":".join(pre + ([env["LD_PRELOAD"]] if env.get("LD_PRELOAD") else []))
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:halt_on_error=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


class RemoteLinuxSession:
    """The Session API (step/run/close) plus dump/validate/live_nodes, in a child process.

    ``timeout`` (seconds, optional): a request with no reply in that time kills
    the child and raises ImplCrash (a hang is a failure too).
    """

    def __init__(self, flags: int = 0, linux_src=None, sanitize: bool = False, lib_path=None,
                 timeout: float | None = None):
        from .build import build_adapter

        if type(flags) is not int or flags & ~CREATE_FLAGS:
            from maplecheck.ops import TraceError
            raise TraceError(f"flags {flags!r} has bits outside {CREATE_FLAGS:#x}")
        self.flags = flags
        self.sanitize = sanitize
        self.lib_path = Path(lib_path) if lib_path else build_adapter(linux_src, sanitize=sanitize)
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.start()

    # -- process management
    def start(self) -> None:
        env = sanitizer_env() if self.sanitize else dict(os.environ)
        # make sure the child imports the same maplecheck as we do
        import maplecheck
        pkg_parent = str(Path(maplecheck.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._log = tempfile.TemporaryFile(prefix="maplecheck-worker-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maplecheck.impl.linux.worker", str(self.lib_path), str(self.flags)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env,
            start_new_session=True)
        self._call("ping")

    def restart(self) -> None:
        self._kill()
        self.start()

    def reset(self, flags: int) -> None:
        """Start over with one empty tree of ``flags``, reusing the child when it is healthy.

        The child is replaced when it has died or when nodes are still live
        after its trees were destroyed (a leak must not leak into the next run).
        """
        self.flags = flags
        if self.proc is None:
            self.start()
            return
        try:
            live = self._call("reset", flags)
        except ImplCrash:
            live = None
        if live != 0:
            self.restart()

    def _kill(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        self.proc = None

    def _tail(self) -> str:
        """What the child said last: a sanitizer's whole report when there is one, else
        the key lines (BUG text) first, then the last lines of the log."""
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").splitlines()
        start = next((i for i, l in enumerate(lines) if "ERROR: AddressSanitizer" in l
                      or "runtime error:" in l), None)
        if start is not None:
            end = next((i for i in range(start, len(lines)) if lines[i].startswith("SUMMARY:")),
                       len(lines) - 1)
            report = lines[start:end + 1][:SANITIZER_LINES]
            rest = [l for l in lines[end + 1:] if l.strip()][-8:]
            return "\n".join(report + (["..."] if rest else []) + rest)
        key = [l for l in lines if _KEY_LINE.search(l)][:6]
        tail = lines[-TAIL_LINES:]
        head = [l for l in key if l not in tail]
        return "\n".join(head + (["..."] if head else []) + tail)

    def _crash(self) -> ImplCrash:
        p = self.proc
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        if rc < 0:
            try:
                how = f"killed by {signal.Signals(-rc).name}"
            except ValueError:
                how = f"killed by signal {-rc}"
        else:
            how = f"exited with status {rc}"
        tail = self._tail()
        self.proc = None
        return ImplCrash(f"Linux adapter worker {how}" + (f"\n{tail}" if tail else ""))

    def _call(self, *req) -> Any:
        if self.proc is None:
            raise ImplCrash("Linux adapter worker is not running (call restart())")
        try:
            _send(self.proc.stdin, req)
            if self.timeout is not None:
                ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
                if not ready:
                    self.proc.kill()
                    err = self._crash()
                    raise ImplCrash(f"Linux adapter worker gave no reply within {self.timeout}s "
                                    f"(hang?); {err}")
            kind, val = _recv(self.proc.stdout)
        except (BrokenPipeError, EOFError, OSError):
            raise self._crash() from None
        if kind == "err":
            raise val
        return val

    # -- the Session API
    def step(self, op: tuple) -> Any:
        return self._call("step", tuple(op))

    def run(self, ops: Iterable[tuple]) -> list:
        return self._call("run", [tuple(o) for o in ops])

    def run_checked(self, ops: Iterable[tuple], validate: bool = True):
        return self._call("run_checked", [tuple(o) for o in ops], validate)

    def run_hashed(self, ops: Iterable[tuple], validate: bool = True, hashes: bool = True):
        """Run a whole chunk in the child: validation after every write there, and the
        written tree's structure hash per op (LinuxSession.run_hashed)."""
        return self._call("run_hashed", [tuple(o) for o in ops], validate, hashes)

    def tree_hash(self, t: int) -> int:
        return self._call("tree_hash", t)

    def ranges_hash(self, t: int) -> int:
        return self._call("ranges_hash", t)

    def dump(self, t: int) -> dict:
        return self._call("dump", t)

    def validate(self, t: int) -> list[str]:
        return self._call("validate", t)

    def live_nodes(self) -> int:
        return self._call("live_nodes")

    def live_trees(self) -> list[int]:
        return self._call("live_trees")

    def crash_for_test(self, how: int = 0) -> None:
        """Test only: make the child crash (0 NULL dereference, 1 BUG(), 2 use-after-free)."""
        self._call("crash", how)

    def close(self) -> None:
        """Destroy every tree (in the child, so a teardown bug is caught) and stop the child."""
        if self.proc is None:
            return
        try:
            self._call("close")
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        p = self.proc
        if p is not None:
            try:
                p.stdin.close()
                p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                p.kill()
                p.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            try:
                self.close()
            except ImplCrash:
                if exc[0] is None:
                    raise
        return False

    def __del__(self):
        try:
            self._kill()
        except Exception:
            pass


# ------------------------------------------------------------------ the child side

def _serve(lib_path: str, flags: int) -> int:
    # Keep a private pipe for replies and send fd 1 (C's stdout) to stderr.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = os.fdopen(out_fd, "wb")
    inp = open(0, "rb", closefd=False)
    import faulthandler
    faulthandler.enable()  # a Python-level trace on SIGSEGV/SIGABRT, into the log

    from .adapter import LinuxFactory, LinuxSession

    factory = LinuxFactory(lib_path=lib_path)
    session = LinuxSession(factory, flags)
    while True:
        try:
            req = _recv(inp)
        except EOFError:
            return 0
        cmd, *args = req
        try:
            if cmd == "ping":
                val = "pong"
            elif cmd == "step":
                val = session.step(args[0])
            elif cmd == "run":
                val = session.run(args[0])
            elif cmd == "run_checked":
                val = session.run_checked(args[0], args[1])
            elif cmd == "run_hashed":
                val = session.run_hashed(*args)
            elif cmd == "tree_hash":
                val = session.tree_hash(args[0])
            elif cmd == "ranges_hash":
                val = session.ranges_hash(args[0])
            elif cmd == "dump":
                val = session.dump(args[0])
            elif cmd == "validate":
                val = session.validate(args[0])
            elif cmd == "live_nodes":
                val = factory.live_nodes()
            elif cmd == "live_trees":
                val = [i for i, _ in session.live_trees()]
            elif cmd == "crash":
                sys.stderr.flush()
                factory.lib.mc_test_crash(args[0])
                val = None
            elif cmd == "close":
                session.close()
                val = factory.live_nodes()
            elif cmd == "reset":
                session.close()
                session = LinuxSession(factory, args[0])
                val = factory.live_nodes()
            else:
                raise ValueError(f"unknown worker command {cmd!r}")
            reply = ("ok", val)
        except Exception as e:  # usage/trace errors travel back and are re-raised
            reply = ("err", e)
        try:
            _send(out, reply)
        except (pickle.PicklingError, TypeError):
            _send(out, ("err", RuntimeError(repr(reply[1]))))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m maplecheck.impl.linux.worker LIB FLAGS", file=sys.stderr)
        return 2
    return _serve(argv[0], int(argv[1]))


if __name__ == "__main__":
    sys.exit(main())
