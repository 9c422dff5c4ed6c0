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

Every call has a deadline scaled to the work it sends (:func:`call_deadline`:
a floor plus a per-operation term that grows with the tree's node count).  A
call with no reply by then is a hang: the child's C stack is taken (eu-stack or
gdb, when installed), the child's process group is killed, and the call raises
:class:`ImplHang` (an ImplCrash).  A child that cannot start, or an exception in
our own code inside the child, raises :class:`WorkerError` instead: that is our
failure, never the tree's.

The child starts the same way from any directory and any install: a ``-c``
bootstrap drops the current directory from ``sys.path`` and loads the very
``maplecheck`` packages the parent imported, by file.  It asks the kernel to
kill it when the parent dies (``PR_SET_PDEATHSIG``) and runs in its own process
group, so no worker outlives its campaign.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Iterable

from maplecheck.tree import CREATE_FLAGS

TAIL_LINES = 40
SANITIZER_LINES = 150  # a whole ASan report: the access, and where it was freed and allocated
_KEY_LINE = re.compile(r"ERROR: AddressSanitizer|runtime error:|SUMMARY: |BUG at |WARN at |Assertion .* failed|kernel BUG")


#: a call's deadline: floor + per operation (PER_OP + PER_NODE * nodes in the session)
DEADLINE_FLOOR = 10.0
DEADLINE_PER_OP = 0.005
DEADLINE_PER_NODE = 2e-5  # measured: 2-3e-6 s per node per validated write, loaded machine, ASan
STACK_LINES = 30


class ImplCrash(RuntimeError):
    """The implementation's process died (a C crash, a kernel BUG, a sanitizer report)."""


class ImplHang(ImplCrash):
    """The implementation gave no reply within its deadline; ``stack`` is its C stack ("" if unknown)."""

    def __init__(self, message: str, stack: str = "", deadline: float = 0.0) -> None:
        super().__init__(message)
        self.stack = stack
        self.deadline = deadline


class OutOfTime(BaseException):
    """A call was cut short by the caller's overall time limit (:func:`call_limit`): not a finding.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception``
    on the way up turns the end of a budget into a result.
    """


#: monotonic time past which no call may wait (None: no limit); see call_limit()
_LIMIT: list = [None]


class _Scoped:
    """``with _Scoped(cell, value):`` ``cell[0]`` is ``value`` inside the block, restored after."""

    def __init__(self, cell: list, value) -> None:
        self.cell, self.value = cell, value

    def __enter__(self):
        self.saved = self.cell[0]
        self.cell[0] = self.value
        return self

    def __exit__(self, *exc):
        self.cell[0] = self.saved
        return False


def call_limit(end: float | None) -> _Scoped:
    """``with call_limit(end):`` no worker call waits past monotonic time ``end``.

    A call whose own deadline would end later is cut at ``end`` and raises
    :class:`OutOfTime` instead of :class:`ImplHang` (it has not proved a hang).
    """
    return _Scoped(_LIMIT, end)


#: the floor of every call's deadline when a session was not given its own (deadline_floor())
_FLOOR: list = [None]


def deadline_floor(seconds: float | None) -> _Scoped:
    """``with deadline_floor(s):`` sessions without their own ``timeout`` use ``s`` as the floor."""
    return _Scoped(_FLOOR, seconds)


class WorkerError(RuntimeError):
    """Our side failed: the worker could not start, or our code raised inside it (not a finding)."""


def call_deadline(n_ops: int, nodes: int, floor: float = DEADLINE_FLOOR) -> float:
    """Seconds a call of ``n_ops`` operations on a session of ``nodes`` nodes may take.

    Generous on purpose (a loaded machine must never produce a false hang):
    each operation may cost a validation walk over every node (about ten
    times its measured cost is allowed), and the tree may grow by a node every
    four operations within the batch.
    """
    n = max(1, n_ops)
    return floor + n * (DEADLINE_PER_OP + DEADLINE_PER_NODE * (nodes + n // 4))


def c_stack(pid: int) -> str:
    """The C stack of process ``pid`` (main thread first), or "" when no tool can take it."""
    tools = []
    if shutil.which("eu-stack"):
        tools.append(["eu-stack", "-s", "-p", str(pid)])
    if shutil.which("gdb"):
        tools.append(["gdb", "-batch", "-nx", "-p", str(pid), "-ex", "bt"])
    for cmd in tools:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=20,
                                 stdin=subprocess.DEVNULL).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        frames = _c_frames(out)
        if frames:
            return "\n".join(frames[:STACK_LINES])
    return ""


_PY_FRAME = re.compile(r"^\s*#\d+ .*(libffi|ffi_call|_ctypes|Python/|Objects/|Modules/|python3)")


def _c_side_frames(lines: list[str]) -> list[str]:
    """A sanitizer report without the interpreter's frames below each stack's ctypes call."""
    out, skipping = [], False
    for line in lines:
        frame = line.lstrip().startswith("#")
        if frame and _PY_FRAME.match(line):
            skipping = True
        elif not frame:
            skipping = False
        if not (frame and skipping):
            out.append(line)
    return out


_FRAME = re.compile(r"^#\d+\s+(?:0x[0-9a-f]+\s+(?:in\s+)?)?(\S+)(.*)$")


def _c_frames(text: str) -> list[str]:
    """Frames of the first thread in eu-stack/gdb output, as ``#k function [at file:line]``."""
    frames = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("TID") and frames:
            break  # only the first (main) thread
        m = _FRAME.match(line)
        if not m:
            continue
        name, rest = m.group(1), m.group(2)
        if name.startswith(("ffi_call", "_ctypes")):
            break  # below here is the Python interpreter that made the call
        if name.startswith("0x"):
            continue
        where = re.search(r"(?:at\s+)?(\S+\.[ch]:\d+)", rest)
        frames.append(f"#{len(frames)} {name}" + (f" at {where.group(1)}" if where else ""))
    return frames


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

    ``timeout`` (seconds): the floor of every call's deadline (see
    :func:`call_deadline`); a call with no reply by its deadline kills the
    child and raises :class:`ImplHang`.
    """

    def __init__(self, flags: int = 0, linux_src=None, sanitize: bool = False, lib_path=None,
                 timeout: float | None = None, kernel: str | None = None):
        from .build import build_adapter

        if type(flags) is not int or flags & ~CREATE_FLAGS:
            from maplecheck.ops import TraceError
            raise TraceError(f"flags {flags!r} has bits outside {CREATE_FLAGS:#x}")
        self.flags = flags
        self.sanitize = sanitize
        self.lib_path = Path(lib_path) if lib_path else build_adapter(linux_src, sanitize=sanitize,
                                                                      kernel=kernel)
        self.timeout = None if timeout is None else float(timeout)
        self.nodes = 0  # live nodes in the child after its last reply (scales deadlines)
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.start()

    # -- process management
    def start(self) -> None:
        """Start a child; raise WorkerError (with its output) when it cannot answer a ping."""
        env = sanitizer_env() if self.sanitize else dict(os.environ)
        self._log = tempfile.TemporaryFile(prefix="maplecheck-worker-")
        self.nodes = 0
        self.proc = subprocess.Popen(
            worker_command(self.lib_path, self.flags),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env,
            start_new_session=True)
        try:
            self._call("ping", deadline=max(60.0, self.floor()))
        except ImplCrash as e:
            raise WorkerError(f"the Linux adapter worker did not start: {e}") from None

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
        """Kill the child and its process group (anything it started dies with it)."""
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
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
            report = _c_side_frames(lines[start:end + 1])[:SANITIZER_LINES]
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

    def deadline_for(self, cmd: str, args: tuple) -> float:
        """The deadline of one request: scaled to the operations it carries and the tree size.

        Any request whose first argument is a list of operations (run,
        run_checked, or any batch command added later) scales with its length.
        """
        n = len(args[0]) if args and isinstance(args[0], list) else 1
        return call_deadline(n, self.nodes, self.floor())

    def floor(self) -> float:
        """This session's deadline floor: its own ``timeout``, else the deadline_floor() in force."""
        if self.timeout is not None:
            return self.timeout
        return _FLOOR[0] if _FLOOR[0] is not None else DEADLINE_FLOOR

    def _call(self, *req, deadline: float | None = None) -> Any:
        """Send one request and wait for its reply, at most ``deadline`` seconds.

        The default deadline is :meth:`deadline_for` the request.  No reply in
        time: ImplHang (the child is killed).  The child died: ImplCrash.  Any
        interruption (KeyboardInterrupt) kills the child before it propagates,
        so the protocol is never left half-read.
        """
        if self.proc is None:
            raise ImplCrash("Linux adapter worker is not running (call restart())")
        if deadline is None:
            deadline = self.deadline_for(req[0], req[1:])
        try:
            _send(self.proc.stdin, req)
            self._wait_reply(deadline, req[0])
            reply = _recv(self.proc.stdout)
        except (BrokenPipeError, EOFError, OSError):
            raise self._crash() from None
        except BaseException:
            self._kill()
            raise
        kind, val, self.nodes = reply
        if kind == "err":
            raise val
        if kind == "internal":
            raise WorkerError(val)
        return val

    def _wait_reply(self, deadline: float, cmd: str) -> None:
        """Block until the child's reply starts; past ``deadline``, raise ImplHang.

        Past the caller's :class:`call_limit` (when sooner), kill the child and
        raise OutOfTime.
        """
        end = time.monotonic() + deadline
        limit = _LIMIT[0]
        while True:
            now = time.monotonic()
            if limit is not None and now >= limit and limit < end:
                self._kill()
                raise OutOfTime(f"time limit reached while waiting for {cmd!r}")
            left = min(end, limit if limit is not None else end) - now
            if now >= end:
                raise self._hang(deadline, cmd)
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, min(left, 1.0)))
            if ready:
                return

    def _hang(self, deadline: float, cmd: str) -> ImplHang:
        """Take the looping child's C stack, kill it, and describe the hang."""
        stack = c_stack(self.proc.pid)
        self._kill()
        tail = self._tail()
        self.proc = None
        msg = (f"Linux adapter worker gave no reply to {cmd!r} within {deadline:.1f}s (hang)"
               + (f"\nC stack of the looping worker:\n{stack}" if stack else
                  "\nC stack: not available (install elfutils eu-stack or gdb)")
               + (f"\nworker output:\n{tail}" if tail else ""))
        return ImplHang(msg, stack, deadline)

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

    def nomem_coverage(self):
        return self._call("nomem_coverage")

    def last_alloc(self):
        return self._call("last_alloc")

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
                self._kill()
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


# ------------------------------------------------------------------ starting the child

#: run by ``python -c``: drop the current directory from sys.path, load the parent's
#: maplecheck packages by file (argv[1], JSON), then serve (argv[2:])
_BOOTSTRAP = """\
import importlib.util, json, sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
for name, init, paths in json.loads(sys.argv[1]):
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=paths)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
from maplecheck.impl.linux.worker import main
sys.exit(main(sys.argv[2:]))
"""


def worker_command(lib_path, flags: int) -> list[str]:
    """The child's command line: independent of the current directory and of sys.path[0]."""
    import maplecheck
    import maplecheck.impl
    import maplecheck.impl.linux
    pkgs = [(m.__name__, str(Path(m.__file__).resolve()), [str(Path(p).resolve()) for p in m.__path__])
            for m in (maplecheck, maplecheck.impl, maplecheck.impl.linux)]
    return [sys.executable, "-c", _BOOTSTRAP, json.dumps(pkgs), str(lib_path), str(flags),
            str(os.getpid())]


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL us when the parent exits (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


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

    from maplecheck.ops import TraceError
    from maplecheck.tree import MapleUsageError

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
            elif cmd == "nomem_coverage":
                val = session.nomem_coverage()
            elif cmd == "last_alloc":
                val = session.last_alloc()
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
        except (TraceError, MapleUsageError) as e:  # usage/trace errors travel back and are re-raised
            reply = ("err", e)
        except Exception as e:  # our own bug inside the worker: not a finding
            reply = ("internal", f"in the worker, {cmd}: {type(e).__name__}: {e}\n"
                     + traceback.format_exc())
        try:
            _send(out, (*reply, factory.lib.mc_live_nodes(0)))
        except (pickle.PicklingError, TypeError, AttributeError):
            _send(out, ("internal", f"in the worker, {cmd}: unpicklable reply {reply[1]!r}", 0))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (2, 3):
        print("usage: python -m maplecheck.impl.linux.worker LIB FLAGS [PARENT_PID]", file=sys.stderr)
        return 2
    _die_with_parent(int(argv[2]) if len(argv) == 3 else 0)
    return _serve(argv[0], int(argv[1]))


if __name__ == "__main__":
    sys.exit(main())
