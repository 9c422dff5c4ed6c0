# SPDX-License-Identifier: GPL-2.0-or-later
"""Finding the kernel tree and the Debian mirror (no network here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maplecheck.impl.linux import source
from maplecheck.impl.linux.build import AdapterBuildError, build_adapter
from maplecheck.impl.linux.source import LinuxSourceError, check_tree, debian_mirror, kernel_source


def write(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_mirror_from_deb822(tmp_path):
    write(tmp_path / "sources.list.d/debian.sources", """\
Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
""")
    write(tmp_path / "sources.list.d/vendor.list", "deb https://vendor.example/apt stable main\n")
    write(tmp_path / "sources.list.d/off.sources.disabled", "Types: deb\nURIs: http://x/debian\n")
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_from_one_line_list(tmp_path):
    write(tmp_path / "sources.list", """\
# deb http://commented.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/k.gpg] http://ftp.example/debian/ bookworm main contrib
""")
    assert debian_mirror(tmp_path) == "http://ftp.example/debian"


def test_no_mirror_is_a_clear_error(tmp_path):
    write(tmp_path / "sources.list", "deb https://vendor.example/apt stable main\n")
    with pytest.raises(LinuxSourceError, match="no Debian archive mirror"):
        debian_mirror(tmp_path)


def test_check_tree_errors(tmp_path):
    with pytest.raises(LinuxSourceError, match="not a directory"):
        check_tree(tmp_path / "nope")
    write(tmp_path / "lib/maple_tree.c", "")
    with pytest.raises(LinuxSourceError, match="missing tools/testing/radix-tree"):
        check_tree(tmp_path)
    with pytest.raises(LinuxSourceError):
        build_adapter(tmp_path)


def test_kernel_source_resolves():
    src = kernel_source()          # $MAPLECHECK_LINUX_SRC or the cached Debian download
    assert (src / "lib/maple_tree.c").is_file()


def test_broken_tree_reports_compiler_error(tmp_path):
    """A tree that passes the layout check but does not compile: AdapterBuildError with the tail."""
    src = kernel_source()
    fake = tmp_path / "linux"
    fake.mkdir()
    for d in ("include", "arch"):
        if (src / d).exists():
            (fake / d).symlink_to(src / d)
    # real folders down to tools/testing/shared, whose maple-shim.c includes ../../../lib/maple_tree.c
    for sub in ("tools", "tools/testing", "tools/testing/shared"):
        (fake / sub).mkdir()
        for entry in (src / sub).iterdir():
            if not (fake / sub / entry.name).exists() and entry.name not in ("testing", "shared"):
                (fake / sub / entry.name).symlink_to(entry)
    write(fake / "lib/maple_tree.c", "this is not C;\n")
    with pytest.raises(AdapterBuildError) as ei:
        build_adapter(fake)
    first, *rest = str(ei.value).splitlines()
    assert "building the Linux adapter from" in first and rest
    # one line naming the first compiler error and its file
    assert "lib/maple_tree.c:1: " in first
