# SPDX-License-Identifier: GPL-2.0-or-later
"""Every bad input a user can type: one clear line, exit 2, never a traceback.

Exit 1 is kept for "the tree under test is wrong"; our own failures (an
exception inside maplecheck) exit 2 with the version and the path of the file
holding the full traceback.
"""

from __future__ import annotations

import re

import pytest

from maplecheck import cli
from maplecheck.cli import main
from maplecheck.ops import format_flags, format_op, format_result


def run(argv, capsys):
    """``main(argv)`` -> (status, stdout, stderr); argparse's own exit counts too."""
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


BAD_OPTIONS = [
    ["fuzz", "--minutes", "nan"],
    ["fuzz", "--minutes", "inf"],
    ["fuzz", "--minutes", "0"],
    ["fuzz", "--steps", "0"],
    ["fuzz", "--example-len", "0"],
    ["fuzz", "--example-len", "-3"],
    ["fuzz", "--example-len", "10000000000"],
    ["fuzz", "--steps", "x"],
    ["fuzz", "--shrink-seconds", "-1"],
    ["fuzz", "--shrink-seconds", "nan"],
    ["fuzz", "--hang-seconds", "0"],
    ["bench", "ops", "--impl", "python", "--iterations", "-1"],
    ["bench", "ops", "--entries", "0"],
    ["bench", "fork", "--entries", "-5"],
    ["bench", "fork", "--iterations", "0"],
]


@pytest.mark.parametrize("argv", BAD_OPTIONS, ids=" ".join)
def test_numeric_options_are_validated(argv, capsys):
    rc, out, err = run(argv, capsys)
    assert rc == 2 and out == ""
    assert "Traceback" not in err
    assert re.search(r"error: argument --[\w-]+: '[^']*':? (must be|is not)", err.splitlines()[-1])


def _one_error_line(rc, err, pattern):
    assert rc == 2
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("maplecheck: error: ") and re.search(pattern, err), err


def test_linux_options_refused_with_impl_python(capsys, tmp_path):
    rc, _, err = run(["fuzz", "--impl", "python", "--linux-src", str(tmp_path), "--steps", "5",
                      "--out", str(tmp_path)], capsys)
    _one_error_line(rc, err, r"--linux-src is for the Linux adapter")
    rc, _, err = run(["replay", "x.jsonl", "--impl", "python", "--sanitize"], capsys)
    _one_error_line(rc, err, r"--sanitize is for the Linux adapter")


def test_out_is_checked_before_any_work(capsys, monkeypatch):
    import maplecheck.properties.engine as engine

    monkeypatch.setattr(engine, "run_campaign", lambda *a, **k: pytest.fail("campaign ran"))
    rc, _, err = run(["fuzz", "--impl", "python", "--steps", "5", "--out", "/etc/passwd/x"], capsys)
    _one_error_line(rc, err, r"--out /etc/passwd/x: cannot write there \(Not a directory\)")
    rc, _, err = run(["fuzz", "--impl", "python", "--steps", "5", "--out", "/etc/passwd"], capsys)
    _one_error_line(rc, err, r"--out /etc/passwd: exists and is not a directory")


TRACES = {
    "non-utf8": (b'{"maplecheck": 1, "flags": 0}\n{"op": "load", "t": 0, "args": [1]}\n\xff\n',
                 r":3: not UTF-8 text \(byte 0xff\)"),
    "after-destroy": (b'{"maplecheck": 1, "flags": 0}\n{"op": "destroy", "t": 0, "args": []}\n'
                      b'{"op": "load", "t": 0, "args": [1]}\n', r":3: load uses tree 0, which was destroyed"),
    "t3": (b'{"maplecheck": 1, "flags": 0}\n{"op": "load", "t": 3, "args": [1]}\n',
           r":2: load uses tree 3, which was never made"),
    "after-dup": (b'{"maplecheck": 1, "flags": 0}\n{"op": "dup", "t": 0, "args": [null]}\n'
                  b'{"op": "load", "t": 2, "args": [1]}\n', r":3: load uses tree 2, which was never made"),
    "missing": (None, r"cannot read: No such file"),
    "not-json": (b'{"maplecheck": 1, "flags": 0}\n{op\n', r":2: not JSON"),
}


@pytest.mark.parametrize("name", TRACES)
def test_malformed_traces_exit_2(name, capsys, tmp_path):
    data, pattern = TRACES[name]
    path = tmp_path / f"{name}.jsonl"
    if data is not None:
        path.write_bytes(data)
    rc, out, err = run(["replay", str(path), "--impl", "python"], capsys)
    _one_error_line(rc, err, pattern)


def test_valid_trace_with_dup_replays(capsys, tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text('{"maplecheck": 1, "flags": 0}\n{"op": "store_range", "t": 0, "args": [1, 2, 3]}\n'
                    '{"op": "dup", "t": 0, "args": [null]}\n{"op": "destroy", "t": 0, "args": []}\n'
                    '{"op": "load", "t": 1, "args": [1]}\n')
    rc, out, _ = run(["replay", str(path), "--impl", "python"], capsys)
    assert rc == 0 and out.splitlines()[-1] == "ops=4 result=pass"


def test_internal_error_is_exit_2_with_traceback_file(capsys, monkeypatch):
    import maplecheck.properties.engine as engine

    def broken(*a, **k):
        raise ZeroDivisionError("a bug in maplecheck itself")

    monkeypatch.setattr(engine, "run_campaign", broken)
    rc, out, err = run(["fuzz", "--impl", "python", "--steps", "5"], capsys)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    m = re.fullmatch(r"maplecheck: internal error: ZeroDivisionError: a bug in maplecheck itself "
                     r"\(maplecheck [\d.]+ \(Python [\d.]+\); traceback in (\S+)\)\n", err)
    assert m, err
    text = open(m.group(1)).read()
    assert "Traceback (most recent call last)" in text and "def broken" not in text and "broken" in text


def test_help_version_and_exit_codes(capsys):
    rc, out, _ = run(["--help"], capsys)
    assert rc == 0 and "examples:" in out and "exit status:" in out and "130" in out
    assert "parse arguments" not in out  # no internal docstring as the description
    rc, out, _ = run(["--version"], capsys)
    assert rc == 0 and re.match(r"maplecheck \d+\.\d+", out)


def test_interrupt_status_names_the_signal(monkeypatch):
    import signal
    monkeypatch.setattr(cli, "_SIGNALLED", [signal.SIGTERM])
    assert cli.interrupt_status() == 143


def test_reports_name_errnos_flags_and_indices():
    assert format_result(-17) == "-EEXIST" and format_result(-12) == "-ENOMEM"
    assert format_result([0x10, 5, None]) == "[0x10, 5, None]"
    assert format_op(("insert_range", 0, 16, 31, 3)) == "insert_range(t0, 0x10, 0x1f, 3)"
    assert format_op(("destroy", 1)) == "destroy(t1)"
    assert format_flags(3) == "MT_FLAGS_ALLOC_RANGE|MT_FLAGS_USE_RCU" and format_flags(0) == "0"
