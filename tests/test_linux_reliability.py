# SPDX-License-Identifier: GPL-2.0-or-later
"""A campaign always ends, says what it found, and never reports its own failure as a finding.

The hang tree is the stock kernel tree with one step of ``mas_next_slot`` that
no longer advances its offset when it skips a NULL slot: ``mas_next`` over a
gap loops forever.  The campaign must call that a ``hang`` (the C frames of
the looping worker, the operation, a minimized trace that replays as a hang),
exit 1, and end within ``--minutes`` + 60 s.  Interrupts stop a campaign in a
second or two with no worker left behind; a worker that cannot start, a tree
that does not compile and our own exceptions are exit 2, never findings; the
worker starts from inside the checkout with a non-editable install.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from maplecheck.cli import main
from maplecheck.ops import read_trace

from kernel_mutants import mutant_tree
from test_linux_campaign import stock_src  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "import sys; from maplecheck.cli import main; sys.exit(main())"]


def _stuck_next_slot(text: str) -> str:
    """Make mas_next_slot's skip-a-NULL-slot step jump past the offset increment."""
    start = text.index("static void *mas_next_slot(")
    end = text.index("\n}\n", start)
    body = text[start:end]
    assert body.count("again:\n\t\tmas->offset++;\n") == 1, "mas_next_slot no longer looks as expected"
    body = body.replace("again:\n\t\tmas->offset++;\n", "again:\n\t\tmas->offset++;\nmc_stuck:\n")
    i = body.rindex("goto again;")
    return text[:start] + body[:i] + "goto mc_stuck;" + body[i + len("goto again;"):] + text[end:]


@pytest.fixture(scope="module")
def hang_src(stock_src, tmp_path_factory) -> Path:  # noqa: F811
    """The hang tree, built before any campaign's clock starts (the build is setup, not campaign)."""
    from maplecheck.impl.linux.build import build_adapter
    src = mutant_tree(stock_src, tmp_path_factory.mktemp("kernel") / "linux-hang", _stuck_next_slot)
    build_adapter(src)
    return src


#: seed 2's first example is MT_FLAGS_ALLOC_RANGE (no RCU triage, no sanitized build needed) and
#: reaches mas_next over a gap in its first batch
SEED = "2"


def _cli(args, **kw) -> subprocess.Popen:
    return subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=kw.pop("cwd", "/"), **kw)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return bool(stat) and stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_hang_is_a_finding_with_a_replayable_trace(hang_src, tmp_path, capsys):
    minutes = 0.1
    t0 = time.monotonic()
    p = _cli(["fuzz", "--impl", "linux", "--minutes", str(minutes), "--linux-src", str(hang_src),
              "--out", str(tmp_path), "--hang-seconds", "2", "--shrink-seconds", "5", "--seed", SEED])
    out, err = p.communicate(timeout=minutes * 60 + 60 + 60)
    took = time.monotonic() - t0
    assert p.returncode == 1, err
    assert took < minutes * 60 + 60
    assert "Traceback" not in out + err
    m = re.search(r"FAILED \(hang\) .*: linux on (mas_\w+)\(t0, \w+\): .*no reply", out)
    assert m, out
    assert "#0 mas_next_slot" in out                       # the looping C frame
    assert "known kernel bug: none of the registered" in out
    assert re.fullmatch(r"impl=linux steps=\d+ examples=\d+ failures=1 deviations=\d+ seconds=[\d.]+", out.splitlines()[-1])
    trace = Path(re.search(r"trace \(\d+ of \d+ ops\): (\S+)", out).group(1))
    flags, ops = read_trace(trace)
    assert ops[-1][0] == m.group(1)                        # the operation that loops ends the trace
    # the same deadline in replay: the hang is reported, naming the operation
    rc = main(["replay", str(trace), "--impl", "linux", "--linux-src", str(hang_src), "--hang-seconds", "2"])
    got = capsys.readouterr().out
    assert rc == 1 and re.search(rf"FAILED at op {len(ops) - 1} {m.group(1)}\(t0, \w+\) \(hang\)", got), got


@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupt_during_a_hang_stops_at_once(hang_src, tmp_path, sig, status):
    p = _cli(["fuzz", "--impl", "linux", "--minutes", "1", "--linux-src", str(hang_src),
              "--out", str(tmp_path), "--hang-seconds", "120", "--seed", SEED])
    workers = []
    for _ in range(300):  # until the worker runs (then it loops: the first batch hangs)
        workers = _children(p.pid)
        if workers:
            break
        time.sleep(0.1)
    assert workers, "no worker started"
    time.sleep(1.5)
    t0 = time.monotonic()
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert time.monotonic() - t0 < 3
    assert p.returncode == status, err
    assert "Traceback" not in out + err
    assert out.splitlines()[-1].endswith("stopped=interrupted")
    time.sleep(0.2)
    assert not [w for w in workers if _alive(w)], "a worker outlived its campaign"


def test_interrupt_while_shrinking_saves_the_finding(hang_src, tmp_path):
    p = _cli(["fuzz", "--impl", "linux", "--minutes", "1", "--linux-src", str(hang_src),
              "--out", str(tmp_path), "--hang-seconds", "1", "--shrink-seconds", "300", "--seed", SEED])
    for _ in range(600):
        if list(tmp_path.glob("*.original.jsonl")):
            break
        time.sleep(0.1)
    time.sleep(3)  # into the shrinking
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "FAILED (hang)" in out and "not fully minimized" in out, out
    trace = Path(re.search(r"trace \(\d+ of \d+ ops\): (\S+)", out).group(1))
    assert trace.exists() and read_trace(trace)[1]


def test_worker_that_cannot_start_is_exit_2(stock_src, monkeypatch, capsys):  # noqa: F811
    from maplecheck.impl.linux import worker
    from maplecheck.properties import impls

    monkeypatch.setattr(impls, "_LINUX_POOL", {})
    monkeypatch.setattr(worker, "worker_command", lambda lib, flags: [sys.executable, "-c",
                        "import sys; print('no such module', file=sys.stderr); sys.exit(3)"])
    rc = main(["fuzz", "--impl", "linux", "--steps", "10", "--linux-src", str(stock_src)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert re.search(r"maplecheck: internal error: WorkerError: the Linux adapter worker did not start: "
                     r".*exited with status 3 .*traceback in \S+\)$", err.strip().splitlines()[-1]), err


def test_tree_that_does_not_compile(stock_src, tmp_path, capsys, monkeypatch):  # noqa: F811
    broken = mutant_tree(stock_src, tmp_path / "linux-broken",
                         lambda text: text.replace("static void *mas_next_slot(", "static void *mas_next_slot(((", 1))
    rc = main(["linux", "build", "--linux-src", str(broken)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert re.search(r"failed: \S*linux-broken/lib/maple_tree\.c:\d+: expected ", err), err  # the first error
    monkeypatch.setenv("MAPLECHECK_DEBUG", "1")
    assert main(["linux", "build", "--linux-src", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") > 2 and "In file included from" in err.splitlines()[1] + err.splitlines()[2]


def _install_like_pip(site: Path) -> None:
    """What ``pip install .`` puts in site-packages: the packages of pyproject's package-dir, copied."""
    import shutil
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = cfg["package-dir"]
    for pkg in cfg["packages"]:
        top = max((p for p in dirs if pkg == p or pkg.startswith(p + ".")), key=len)
        src = ROOT / dirs[top] / Path(*pkg[len(top) + 1:].split(".")) if pkg != top else ROOT / dirs[top]
        dest = site / Path(*pkg.split("."))
        dest.mkdir(parents=True, exist_ok=True)
        for f in src.iterdir():
            if f.is_file() and f.suffix in (".py", ".c", ".h"):
                shutil.copy2(f, dest / f.name)


def test_campaign_from_the_checkout_with_a_non_editable_install(stock_src, tmp_path):  # noqa: F811
    base = getattr(sys, "_base_executable", sys.executable)
    venv = tmp_path / "venv"
    subprocess.run([base, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    _install_like_pip(site)
    # the dependencies (rich...) from this interpreter's site dirs, as plain path entries: a path
    # named in a .pth is not itself a site dir, so the editable install's finder there stays out
    import site as site_mod
    (site / "_deps.pth").write_text("\n".join(site_mod.getsitepackages()) + "\n")
    script = venv / "bin" / "maplecheck"  # a console script, as pip writes it
    script.write_text(f"#!{py}\nimport sys\nfrom maplecheck.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(script), "fuzz", "--impl", "linux", "--steps", "300", "--linux-src", str(stock_src),
                        "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].startswith("impl=linux steps=300 ")
    assert str(site) in subprocess.run([str(py), "-c", "import maplecheck.impl.linux.worker as w; print(w.__file__)"],
                                       cwd=ROOT / "impl", capture_output=True, text=True, env=env).stdout


def _double_free_bulk(text: str) -> str:
    """mt_free_bulk frees the first node of every bulk free a second time."""
    func = "static inline void mt_free_bulk("
    old = "kmem_cache_free_bulk(maple_node_cache, size, (void **)nodes);"
    start = text.index(func)
    at = text.index(old, start)
    assert at - start < 300, "mt_free_bulk no longer looks as expected"
    new = old + " if (size) kmem_cache_free(maple_node_cache, (void *)nodes[0]);"
    return text[:at] + new + text[at + len(old):]


def test_a_bad_free_aborts_at_its_own_operation_in_the_optimised_build(stock_src, tmp_path):
    """The optimised build keeps the set of live nodes: a node freed twice stops the worker at
    the operation that frees it, with a line saying so, instead of corrupting the heap for a
    later example; the stock tree stores and destroys the same tree cleanly."""
    from maplecheck.impl.linux.worker import ImplCrash, RemoteLinuxSession
    from maplecheck.properties.impls import linux_library

    ops = [("store_range", 0, 10 * i, 10 * i + 5, 2 * i + 1) for i in range(60)]
    mutant = mutant_tree(stock_src, tmp_path / "double-free", _double_free_bulk)
    s = RemoteLinuxSession(0, lib_path=linux_library(str(mutant)))
    try:
        with pytest.raises(ImplCrash, match="not a live maple node"):
            s.run(ops + [("destroy", 0)])  # 6.12 bulk-frees while storing, 7.3 at the destroy
    finally:
        s._kill()
    s = RemoteLinuxSession(0, lib_path=linux_library(str(stock_src)))
    try:
        s.run(ops)
        s.step(("destroy", 0))
        assert s.live_nodes() == 0
    finally:
        s.close()
