# SPDX-License-Identifier: GPL-2.0-or-later
"""Find or fetch the Linux kernel source tree the adapter is built from.

``kernel_source(linux_src=None, kernel=None) -> Path``:

* with a directory: check it is a kernel tree with what the adapter needs and
  return it (any tree: a Debian one, a mainline or mm-unstable checkout);
* else ``$MAPLECHECK_LINUX_SRC`` if set;
* else Debian's ``linux-source-SERIES`` for ``kernel`` (``"6.12"``, ``"7.3"``,
  ..., or ``"latest"``; default ``$MAPLECHECK_KERNEL``, else ``latest``): the
  newest packaged build of that series (Debian version order), from the cache,
  downloaded with apt first if needed.  ``latest`` is the newest series packaged.

Packages are looked up in a private apt state (``CACHE/apt-state``) whose
sources list names every suite newer than this machine's own release that can
carry a kernel (for a bookworm machine: trixie, trixie-updates,
trixie-backports, forky, sid, experimental; derived from distro-info-data),
all on the machine's own Debian mirror, taken from its apt configuration
(one-line ``.list`` files and deb822 ``.sources`` files; never the security
archive).  No host name is written here.  The package lists are fetched once
and cached; ``maplecheck linux list --update`` refreshes them.

Cache: ``$MAPLECHECK_CACHE`` or ``~/.cache/maplecheck``: ``deb/linux-source-SERIES_VERSION_all.deb``
and the extracted subset ``src/linux-source-SERIES`` (its ``.maplecheck-deb``
names the package version it came from).  Downloads and extractions are
idempotent and atomic (work in a temporary folder, rename).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

PREFIX = "linux-source-"
#: the series used when the package lists cannot be read and nothing is cached
FALLBACK_SERIES = "6.12"
DISTRO_INFO = Path("/usr/share/distro-info/debian.csv")
#: used when distro-info-data is missing: Debian's codenames in release order
CODENAMES = ("buster", "bullseye", "bookworm", "trixie", "forky", "duke")
MARKER = ".maplecheck-deb"
#: the packaged versions read from the cached lists (file in the private apt state)
PACKAGED = "packaged.json"

#: what a kernel tree must hold for the adapter to build
REQUIRED = ("lib/maple_tree.c", "tools/testing/radix-tree", "tools/testing/shared",
            "tools/include", "include/linux/maple_tree.h", "tools/testing/shared/maple-shim.c")

#: subtrees extracted from the source tarball (paths below the top folder)
EXTRACT = ("Makefile", "tools/", "include/", "lib/", "arch/x86/include/", "kernel/fork.c", "mm/")

APT_ETC = Path("/etc/apt")
OS_RELEASE = Path("/etc/os-release")


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


# ------------------------------------------------------------------ suites and versions

def machine_codename(etc: Path = APT_ETC, os_release: Path = OS_RELEASE) -> str:
    """This machine's Debian release codename (``bookworm``), from os-release or its apt suites."""
    try:
        m = re.search(r"^VERSION_CODENAME=\"?(\w+)", os_release.read_text(), re.M)
        if m:
            return m.group(1)
    except OSError:
        pass
    for e in apt_entries(etc):
        for suite in e["suites"]:
            base = suite.split("-")[0].split("/")[0]
            if base in CODENAMES:
                return base
    raise LinuxSourceError("cannot tell this machine's Debian release; pass --linux-src DIR")


def _releases(csv: Path = DISTRO_INFO) -> list[tuple[str, str, str]]:
    """(codename, created, released) in release order; dates '' when unknown."""
    rows = []
    try:
        lines = csv.read_text().splitlines()[1:]
    except OSError:
        return [(c, "", "") for c in CODENAMES]
    for line in lines:
        f = line.split(",")
        if len(f) >= 4 and f[2] not in ("sid", "experimental"):
            rows.append((f[2], f[3], f[4] if len(f) > 4 else ""))
    return rows


def debian_suites(codename: str | None = None, today: str | None = None,
                  csv: Path = DISTRO_INFO) -> list[str]:
    """The suites that may carry a kernel newer than this machine's release.

    Each release after ``codename`` that exists today: a released one with its
    ``-updates`` and ``-backports``, the one in development (testing) alone;
    then ``sid`` and ``experimental``.
    """
    import datetime
    codename = codename or machine_codename()
    today = today or datetime.date.today().isoformat()
    out: list[str] = []
    seen = False
    for name, created, released in _releases(csv):
        if name == codename:
            seen = True
            continue
        if not seen or (created and created > today):
            continue
        if released and released <= today:
            out += [name, f"{name}-updates", f"{name}-backports"]
        else:
            out.append(name)
    return out + ["sid", "experimental"]


def _dpkg_newer(a: str, b: str) -> bool:
    """Debian version order: is ``a`` newer than ``b``? (dpkg --compare-versions)"""
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def newest(versions) -> str | None:
    best = None
    for v in versions:
        if best is None or _dpkg_newer(v, best):
            best = v
    return best


def _series_key(series: str) -> tuple[int, ...]:
    return tuple(int(x) for x in series.split("."))


# ------------------------------------------------------------------ private apt state

def _apt_dir(cache: Path) -> Path:
    return cache / "apt-state"


def _apt_opts(aptdir: Path) -> list[str]:
    return ["-o", f"Dir::Etc::SourceList={aptdir / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={aptdir / 'lists'}", "-o", f"Dir::Cache={aptdir / 'cache'}",
            "-o", f"Dir::State::Status={aptdir / 'status'}", "-o", "Debug::NoLocking=1",
            "-o", "APT::Get::List-Cleanup=0", "-q"]


def _lists_ready(aptdir: Path) -> bool:
    lists = aptdir / "lists"
    return (aptdir / "updated").is_file() and lists.is_dir() and any(lists.glob("*_Packages*"))


def apt_update(cache: Path | None = None, force: bool = False) -> Path:
    """Fetch the package lists of every suite into the private apt state (once; cached)."""
    cache = cache or cache_dir()
    aptdir = _apt_dir(cache)
    if _lists_ready(aptdir) and not force:
        return aptdir
    if not shutil.which("apt-get"):
        raise LinuxSourceError("apt-get not found: cannot fetch the kernel source; pass --linux-src DIR")
    mirror = debian_mirror()
    suites = debian_suites()
    (aptdir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (aptdir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (aptdir / "status").touch()
    (aptdir / "sources.list").write_text("".join(f"deb {mirror} {s} main\n" for s in suites))
    (aptdir / PACKAGED).unlink(missing_ok=True)
    _run(["apt-get", *_apt_opts(aptdir), "update"], aptdir, f"apt-get update ({', '.join(suites)})")
    (aptdir / "updated").write_text(" ".join(suites) + "\n")
    return aptdir


def _madison(aptdir: Path, names: list[str]) -> list[tuple[str, str, str]]:
    """(package, version, suite) for each packaged build of ``names``."""
    if not names:
        return []
    p = subprocess.run(["apt-cache", *_apt_opts(aptdir), "madison", *names], capture_output=True, text=True)
    rows = []
    for line in p.stdout.splitlines():
        f = [x.strip() for x in line.split("|")]
        if len(f) >= 3 and "Packages" in f[2]:
            suite = f[2].split()[1].split("/")[0] if len(f[2].split()) > 1 else "?"
            rows.append((f[0], f[1], suite))
    return rows


def packaged(cache: Path | None = None, update: bool = True) -> dict[str, tuple[str, str]]:
    """Series -> (newest packaged version, its suite), from the cached package lists.

    ``update=False`` reads the lists only if they are already cached ({} otherwise).
    """
    cache = cache or cache_dir()
    aptdir = _apt_dir(cache)
    if not _lists_ready(aptdir):
        if not update:
            return {}
        apt_update(cache)
    memo = aptdir / PACKAGED
    if memo.is_file():  # apt-cache reads every list (seconds): its answer is kept until the next update
        try:
            return {k: tuple(v) for k, v in json.loads(memo.read_text()).items()}
        except (OSError, ValueError):
            pass
    p = subprocess.run(["apt-cache", *_apt_opts(aptdir), "pkgnames", PREFIX], capture_output=True, text=True)
    names = sorted(n for n in p.stdout.split() if re.fullmatch(re.escape(PREFIX) + r"\d+\.\d+", n))
    by_series: dict[str, list[tuple[str, str]]] = {}
    for pkg, version, suite in _madison(aptdir, names):
        by_series.setdefault(pkg[len(PREFIX):], []).append((version, suite))
    out = {}
    for series, builds in by_series.items():
        v = newest(b[0] for b in builds)
        out[series] = next(b for b in builds if b[0] == v)
    tmp = memo.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    os.replace(tmp, memo)
    return out


def cached_debs(cache: Path | None = None) -> dict[str, dict[str, Path]]:
    """Series -> {version: .deb path} of the downloaded packages."""
    cache = cache or cache_dir()
    out: dict[str, dict[str, Path]] = {}
    for deb in (cache / "deb").glob(f"{PREFIX}*_*_all.deb"):
        m = re.fullmatch(re.escape(PREFIX) + r"(\d+\.\d+)_(.+)_all\.deb", deb.name)
        if m:
            out.setdefault(m.group(1), {})[m.group(2).replace("%3a", ":")] = deb
    return out


def cached_trees(cache: Path | None = None) -> dict[str, str]:
    """Series -> package version (or '?') of the extracted trees in the cache."""
    cache = cache or cache_dir()
    out = {}
    for d in (cache / "src").glob(f"{PREFIX}*"):
        m = re.fullmatch(re.escape(PREFIX) + r"(\d+\.\d+)", d.name)
        if m and d.is_dir():
            marker = d / MARKER
            out[m.group(1)] = marker.read_text().strip() if marker.is_file() else "?"
    return out


# ------------------------------------------------------------------ fetching

def normalize_kernel(kernel: str | None) -> str:
    """``None``/'latest' -> 'latest'; '7.3', 'v7.3', '7.3.4' -> '7.3'; else LinuxSourceError."""
    k = (kernel or os.environ.get("MAPLECHECK_KERNEL") or "latest").strip().lower()
    if k == "latest":
        return k
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", k)
    if not m:
        raise LinuxSourceError(f"--kernel {kernel}: expected a version like 6.12 or 7.3, or 'latest'")
    return f"{int(m.group(1))}.{int(m.group(2))}"


def resolve_build(kernel: str | None, cache: Path | None = None) -> tuple[str, str, Path | None]:
    """(series, package version, cached .deb or None) that ``kernel`` stands for."""
    cache = cache or cache_dir()
    k = normalize_kernel(kernel)
    debs = cached_debs(cache)
    try:
        pk = packaged(cache, update=k == "latest" or k not in debs)
    except LinuxSourceError:
        if k == "latest" or k not in debs:
            raise
        pk = {}
    if k == "latest":
        if not pk:
            raise LinuxSourceError("no linux-source package found in the Debian suites; pass --linux-src DIR")
        k = max(pk, key=_series_key)
    if k in pk:
        version = pk[k][0]
        if version in debs.get(k, {}):
            return k, version, debs[k][version]
        return k, version, None
    if k in debs:  # not (or no longer) packaged, but downloaded before
        version = newest(debs[k])
        return k, version, debs[k][version]
    known = ", ".join(sorted(pk, key=_series_key)) or "none"
    raise LinuxSourceError(f"--kernel {k}: Debian packages no linux-source-{k} (packaged: {known}); "
                           "pass --linux-src DIR")


def download_deb(series: str, version: str, cache: Path) -> Path:
    """Download ``linux-source-SERIES=VERSION`` into ``cache/deb`` and return it."""
    debdir = cache / "deb"
    debdir.mkdir(parents=True, exist_ok=True)
    package = PREFIX + series
    aptdir = apt_update(cache)
    with tempfile.TemporaryDirectory(prefix="dl-", dir=debdir) as tmp:
        _run(["apt-get", *_apt_opts(aptdir), "download", f"{package}={version}"], Path(tmp),
             f"apt-get download {package}={version}")
        debs = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if not debs:
            raise LinuxSourceError(f"apt-get download {package} produced no .deb")
        final = debdir / debs[-1].name
        os.replace(debs[-1], final)
    return final


def extract_deb(deb: Path, dest: Path, series: str, version: str) -> Path:
    """Extract the needed subtrees of the source tarball in ``deb`` into ``dest`` atomically."""
    marker = dest / MARKER
    if dest.is_dir() and (not marker.is_file() or marker.read_text().strip() == version):
        return dest
    if not shutil.which("dpkg-deb"):
        raise LinuxSourceError("dpkg-deb not found: cannot unpack the kernel source; pass --linux-src DIR")
    package = PREFIX + series
    tarball_name = f"usr/src/{package}.tar.xz"
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
                    if m.name.lstrip("./") == tarball_name:
                        shutil.copyfileobj(outer.extractfile(m), out)
                        break
                else:
                    raise LinuxSourceError(f"{deb.name} does not contain {tarball_name}")
            p.stdout.close()
            p.wait()
        root = tmpd / "tree"
        root.mkdir()
        # tar(1) with xz is much faster than tarfile for this size
        members = [f"{package}/{e}" for e in EXTRACT]
        _run(["tar", "-xJf", str(tarball), "-C", str(root), *members], tmpd, "extracting the kernel source")
        tree = root / package
        check_tree(tree)
        (tree / MARKER).write_text(version + "\n")
        if dest.is_dir():  # an older build of the series: move it out of the way
            os.replace(dest, tmpd / "old")
        os.replace(tree, dest)
    return dest


def debian_source(kernel: str | None = None) -> Path:
    """The extracted tree of Debian's newest packaged build of ``kernel``'s series."""
    cache = cache_dir()
    series, version, deb = resolve_build(kernel, cache)
    dest = cache / "src" / (PREFIX + series)
    marker = dest / MARKER
    if dest.is_dir() and (not marker.is_file() or marker.read_text().strip() == version):
        return check_tree(dest)
    if deb is None:
        deb = download_deb(series, version, cache)
    return check_tree(extract_deb(deb, dest, series, version))


# ------------------------------------------------------------------ what a tree is

#: feature -> (file relative to the tree, regular expression that proves it)
FEATURES = {
    "sheaves": ("lib/maple_tree.c", r"\bkmem_cache_prefill_sheaf\s*\("),
    "mt_dup": ("lib/maple_tree.c", r"^int __mt_dup\s*\("),
    "expected_entries": ("lib/maple_tree.c", r"^int mas_expected_entries\s*\("),
    "maple_copy": ("include/linux/maple_tree.h", r"\bstruct maple_copy\b"),
    "bulk_mode": ("lib/maple_tree.c", r"\bMA_STATE_BULK\b"),
}


def _makefile_version(src: Path) -> str:
    """``VERSION.PATCHLEVEL.SUBLEVEL`` from the tree's top Makefile ('' if unknown)."""
    try:
        text = (src / "Makefile").read_text(errors="replace")[:4000]
    except OSError:
        return ""
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d+)", text, re.M))
    if "VERSION" not in fields or "PATCHLEVEL" not in fields:
        return ""
    return ".".join(fields[k] for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL") if k in fields)


def _packaged_version(src: Path) -> str:
    """The upstream version of a cached Debian tree (its marker, else its folder's series)."""
    marker = src / MARKER
    if marker.is_file():
        m = re.match(r"(?:\d+:)?(\d+\.\d+(?:\.\d+)?)", marker.read_text().strip())
        if m:
            return m.group(1)
    m = re.fullmatch(re.escape(PREFIX) + r"(\d+\.\d+)", src.name)
    return m.group(1) if m else ""


def kernel_info(src: str | os.PathLike) -> dict:
    """What the tree at ``src`` is: ``{"version": "7.3.4", "series": "7.3", "features": {...}}``.

    Features are detected in the source (never derived from the version number):
    ``sheaves`` (node allocation through kmem_cache sheaves), ``mt_dup`` (``__mt_dup``),
    ``expected_entries`` (``mas_expected_entries``), ``maple_copy`` (the 7.x write path's
    copy node), ``bulk_mode``.
    """
    src = Path(src)
    texts: dict[str, str] = {}
    features = {}
    for name, (rel, pattern) in FEATURES.items():
        if rel not in texts:
            try:
                texts[rel] = (src / rel).read_text(errors="replace")
            except OSError:
                texts[rel] = ""
        features[name] = re.search(pattern, texts[rel], re.M) is not None
    version = _makefile_version(src) or _packaged_version(src)
    return {"version": version or "unknown", "series": ".".join(version.split(".")[:2]) or "unknown",
            "path": str(src), "features": features}


def kernel_source(linux_src: str | os.PathLike | None = None, kernel: str | None = None) -> Path:
    """The kernel tree to build from: ``linux_src``, else $MAPLECHECK_LINUX_SRC, else Debian's ``kernel``."""
    if linux_src:
        return check_tree(linux_src)
    env = os.environ.get("MAPLECHECK_LINUX_SRC")
    if env and not kernel:
        return check_tree(env)
    return debian_source(kernel)


__all__ = ["LinuxSourceError", "apt_update", "cache_dir", "cached_debs", "cached_trees", "check_tree",
           "debian_mirror", "debian_suites", "kernel_info", "kernel_source", "normalize_kernel", "packaged"]
