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


# ------------------------------------------------------------------ kernels by version (no network)

DISTRO_CSV = """\
version,codename,series,created,release,eol
12,Bookworm,bookworm,2021-08-14,2023-06-10,2026-07-11
13,Trixie,trixie,2023-06-10,2025-08-09,2028-08-09
14,Forky,forky,2025-08-09
15,Duke,duke,2027-08-01
,Sid,sid,1993-08-16
,Experimental,experimental,1993-08-16
"""


def test_suites_newer_than_the_machine(tmp_path):
    csv = tmp_path / "debian.csv"
    csv.write_text(DISTRO_CSV)
    assert source.debian_suites("bookworm", "2026-12-02", csv) == [
        "trixie", "trixie-updates", "trixie-backports", "forky", "sid", "experimental"]
    # later: duke exists (created), forky still unreleased in this table
    assert source.debian_suites("trixie", "2027-09-01", csv) == ["forky", "duke", "sid", "experimental"]
    # no distro-info-data: the codename table, each release as one suite
    assert source.debian_suites("trixie", "2027-09-01", tmp_path / "none.csv") == [
        "forky", "duke", "sid", "experimental"]


def test_kernel_names():
    assert source.normalize_kernel("7.3") == "7.3"
    assert source.normalize_kernel("v6.12.117") == "6.12"
    assert source.normalize_kernel("latest") == "latest"
    with pytest.raises(LinuxSourceError, match="expected a version"):
        source.normalize_kernel("seven")


def test_kernel_info_detects_features_not_versions(tmp_path):
    write(tmp_path / "Makefile", "VERSION = 9\nPATCHLEVEL = 1\nSUBLEVEL = 0\n")
    write(tmp_path / "lib/maple_tree.c", "int __mt_dup(struct maple_tree *mt)\n{\n\tmt_get_sheaf();\n"
          "\tkmem_cache_prefill_sheaf(c, g, n);\n}\n")
    write(tmp_path / "include/linux/maple_tree.h", "struct maple_copy {\n};\n")
    info = source.kernel_info(tmp_path)
    assert info["version"] == "9.1.0" and info["series"] == "9.1"
    assert info["features"] == {"sheaves": True, "mt_dup": True, "expected_entries": False,
                                "maple_copy": True, "bulk_mode": False}


def test_harness_flags_come_from_the_tree(tmp_path):
    from maplecheck.impl.linux.build import first_error, harness_flags, harness_libs
    write(tmp_path / "tools/testing/shared/shared.mk", "CFLAGS += -I../shared -I. -I../../include \\\n"
          "\t-I../../arch/$(SRCARCH)/include -I../../../lib -g -Og -D_LGPL_SOURCE -fsanitize=address\n"
          "LIBS := slab.o nothere.o\n")
    write(tmp_path / "tools/lib/slab.c", "")
    incs, defs = harness_flags(tmp_path)
    rel = [str(Path(i).relative_to(tmp_path)) for i in incs]
    assert rel == ["tools/testing/shared", "tools/testing/radix-tree", "tools/include",
                   "tools/arch/x86/include", "lib"]
    assert defs == ["-D_LGPL_SOURCE"]
    assert harness_libs(tmp_path) == [str(tmp_path / "tools/lib/slab.c")]
    assert first_error("In file included from a.c:1:\n/k/lib/x.c:7:3: error: bad thing\n/k/y.c:1:1: error: z\n") \
        == "/k/lib/x.c:7: bad thing"
    assert first_error("/usr/bin/ld: /tmp/a.o: in function `f':\n/usr/bin/ld: /k/lib/m.c:9: undefined "
                       "reference to `kfree'\ncollect2: error: ld returned 1 exit status\n") \
        == "/k/lib/m.c:9: undefined reference to `kfree'"
