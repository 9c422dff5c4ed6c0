# SPDX-License-Identifier: GPL-2.0-or-later
"""Find or fetch the Linux kernel source tree the adapter is built from.

``kernel_source(linux_src=None) -> Path``:

* with a directory: check it is a kernel tree with what the adapter needs and
  return it;
* without: return Debian's ``linux-source-6.12`` (suite *trixie*) from the
  cache, downloading it with apt first if needed.

The mirror is derived from this machine's own apt configuration (one-line
``.list`` files and deb822 ``.sources`` files): the URI of the main Debian
archive entry, never the security archive.  No host name is written here.

Cache: ``$MAPLECHECK_CACHE`` or ``~/.cache/maplecheck``.  The download and the
extraction are idempotent and atomic (work in a temporary folder, rename).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "linux-source-6.12"
SUITE = "trixie"
TARBALL = f"usr/src/{PACKAGE}.tar.xz"

#: what a kernel tree must hold for the adapter to build
REQUIRED = ("lib/maple_tree.c", "tools/testing/radix-tree", "tools/testing/shared",
            "tools/include", "include/linux/maple_tree.h")

#: subtrees extracted from the source tarball (paths below the top folder)
EXTRACT = ("tools/", "include/", "lib/", "arch/x86/include/", "kernel/fork.c", "mm/")

APT_ETC = Path("/etc/apt")


class LinuxSourceError(RuntimeError):
    """No usable kernel tree: a one-line explanation for the user."""


def cache_dir() -> Path:
    d = os.environ.get("MAPLECHECK_CACHE")
    p = Path(d) if d else Path.home() / ".cache" / "maplecheck"
    p.mkdir(parents=True, exist_ok=True)
    return p


def check_tree(path: str | os.PathLike) -> Path:
    """Return the resolved kernel tree at ``path`` or raise LinuxSourceError."""
    p = Path(path).expanduser().resolve()
    if not p.is_dir():
        raise LinuxSourceError(f"--linux-src {path}: not a directory")
    missing = [r for r in REQUIRED if not (p / r).exists()]
    if missing:
        raise LinuxSourceError(f"--linux-src {path}: not a usable kernel tree, missing {', '.join(missing)}")
    return p


# ------------------------------------------------------------------ apt sources

def _parse_list(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if parts[0] != "deb":
            continue
        parts = parts[1:]
        if parts and parts[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while parts and not parts[0].endswith("]"):
                parts.pop(0)
            parts = parts[1:]
        if len(parts) < 2:
            continue
        out.append({"uris": [parts[0]], "suites": [parts[1]], "components": parts[2:]})
    return out


def _parse_deb822(text: str) -> list[dict]:
    out = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
                continue
            if ":" in line:
                key, val = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = val.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        out.append({"uris": fields.get("uris", "").split(), "suites": fields.get("suites", "").split(),
                    "components": fields.get("components", "").split()})
    return out


def apt_entries(etc: Path = APT_ETC) -> list[dict]:
    entries = []
    files = []
    if (etc / "sources.list").is_file():
        files.append(etc / "sources.list")
    parts = etc / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        entries += _parse_deb822(text) if f.suffix == ".sources" else _parse_list(text)
    return entries


def debian_mirror(etc: Path = APT_ETC) -> str:
    """The URI of the machine's main Debian archive (not security, not third-party)."""
    best = None
    for e in apt_entries(etc):
        if "main" not in e["components"]:
            continue
        if any("security" in s for s in e["suites"]):
            continue
        for uri in e["uris"]:
            u = uri.rstrip("/")
            if "security" in u:
                continue
            score = 2 if u.endswith("/debian") else 1 if "debian" in u else 0
            if score and (best is None or score > best[0]):
                best = (score, u)
    if best is None:
        raise LinuxSourceError(f"no Debian archive mirror found in {etc}/sources.list(.d); "
                               "pass --linux-src DIR or set MAPLECHECK_LINUX_SRC")
    return best[1]


# ------------------------------------------------------------------ fetching

def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except OSError as e:
        raise LinuxSourceError(f"{what}: cannot run {cmd[0]}: {e.strerror}") from None
    if p.returncode != 0:
        msg = (p.stderr or p.stdout).strip().splitlines()
        raise LinuxSourceError(f"{what} failed: {msg[-1] if msg else 'exit ' + str(p.returncode)}")


def download_deb(cache: Path) -> Path:
    """Download the linux-source .deb into ``cache/deb`` (reusing it if there) and return it."""
    debdir = cache / "deb"
    debdir.mkdir(parents=True, exist_ok=True)
    found = sorted(debdir.glob(f"{PACKAGE}_*_all.deb"))
    if found:
        return found[-1]
    if not shutil.which("apt-get"):
        raise LinuxSourceError("apt-get not found: cannot fetch the kernel source; pass --linux-src DIR")
    if not shutil.which("dpkg-deb"):
        raise LinuxSourceError("dpkg-deb not found: cannot unpack the kernel source; pass --linux-src DIR")
    mirror = debian_mirror()
    aptdir = cache / "apt-state"
    (aptdir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (aptdir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    srclist = aptdir / "sources.list"
    srclist.write_text(f"deb {mirror} {SUITE} main\n")
    opts = ["-o", f"Dir::Etc::SourceList={srclist}", "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={aptdir / 'lists'}", "-o", f"Dir::Cache={aptdir / 'cache'}",
            "-o", "Debug::NoLocking=1", "-q"]
    _run(["apt-get", *opts, "update"], aptdir, f"apt-get update ({SUITE})")
    with tempfile.TemporaryDirectory(prefix="dl-", dir=debdir) as tmp:
        _run(["apt-get", *opts, "download", PACKAGE], Path(tmp), f"apt-get download {PACKAGE}")
        debs = sorted(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        if not debs:
            raise LinuxSourceError(f"apt-get download {PACKAGE} produced no .deb")
        final = debdir / debs[-1].name
        os.replace(debs[-1], final)
    return final


def extract_deb(deb: Path, dest: Path) -> Path:
    """Extract the needed subtrees of the source tarball in ``deb`` into ``dest`` atomically."""
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="x-", dir=dest.parent) as tmp:
        tmpd = Path(tmp)
        tarball = tmpd / "linux-source.tar.xz"
        with open(tarball, "wb") as out:
            try:
                p = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
            except OSError as e:
                raise LinuxSourceError(f"cannot run dpkg-deb: {e.strerror}") from None
            with tarfile.open(fileobj=p.stdout, mode="r|") as outer:
                for m in outer:
                    if m.name.lstrip("./") == TARBALL:
                        shutil.copyfileobj(outer.extractfile(m), out)
                        break
                else:
                    raise LinuxSourceError(f"{deb.name} does not contain {TARBALL}")
            p.stdout.close()
            p.wait()
        root = tmpd / "tree"
        root.mkdir()
        # tar(1) with xz is much faster than tarfile for this size
        top = f"{PACKAGE}/"
        members = [top + e for e in EXTRACT]
        _run(["tar", "-xJf", str(tarball), "-C", str(root), *members], tmpd, "extracting the kernel source")
        tree = root / PACKAGE
        check_tree(tree)
        os.replace(tree, dest)
    return dest


def default_source() -> Path:
    cache = cache_dir()
    dest = cache / "src" / PACKAGE
    if dest.is_dir():
        return check_tree(dest)
    deb = download_deb(cache)
    return check_tree(extract_deb(deb, dest))


def kernel_source(linux_src: str | os.PathLike | None = None) -> Path:
    """The kernel tree to build from: ``linux_src``, else $MAPLECHECK_LINUX_SRC, else the cached download."""
    if linux_src:
        return check_tree(linux_src)
    env = os.environ.get("MAPLECHECK_LINUX_SRC")
    if env:
        return check_tree(env)
    return default_source()


__all__ = ["LinuxSourceError", "cache_dir", "check_tree", "debian_mirror", "kernel_source"]
