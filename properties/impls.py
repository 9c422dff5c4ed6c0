# SPDX-License-Identifier: GPL-2.0-or-later
"""Opening sessions of each implementation by name: model, python, linux.

The Linux adapter runs in a child process (:mod:`maplecheck.impl.linux.worker`)
so that a crash in C is reported as a failure instead of ending the campaign.
"""

from __future__ import annotations

from functools import lru_cache

from .lockstep import LocalSession

IMPL_CHOICES = ("linux", "python", "both")


class SetupError(RuntimeError):
    """The environment cannot run this implementation (no kernel tree, build failed...)."""


@lru_cache(maxsize=None)
def model_factory():
    from maplecheck.model import ModelFactory
    return ModelFactory()


def python_factory(profile: str = "6.12"):
    """A new factory of our Python tree with its own node allocator.

    Every session gets its own, so nodes left behind by one example (a leak, or
    a write our tree raised in the middle of) are that example's finding and
    never show up as a leak of the next one.
    """
    from maplecheck.impl.pytree import PyFactory
    return PyFactory(profile=profile)


@lru_cache(maxsize=None)
def python_profile(linux_src: str | None = None) -> str:
    """The pytree write-path profile following the Linux tree in use (profile.py); with
    no tree named, or one our profiles do not follow, the newest profile."""
    from maplecheck.impl.pytree.profile import NEWEST, profile_for_info
    if not linux_src:
        return NEWEST
    from maplecheck.impl.linux.source import kernel_info
    return profile_for_info(kernel_info(linux_src)) or NEWEST


@lru_cache(maxsize=None)
def linux_library(linux_src: str | None = None, sanitize: bool = False):
    """Build (or find cached) the Linux adapter; raise SetupError with one clear line."""
    from maplecheck.impl.linux import build
    try:
        return build.build_adapter(linux_src, sanitize=sanitize)
    except Exception as e:  # LinuxSourceError / BuildError: one line for the user
        raise SetupError(f"linux adapter: {e}") from e


def linux_tree(linux_src: str | None = None, kernel: str | None = None) -> str | None:
    """The kernel tree a ``--linux-src``/``--kernel`` pair names, as a path (None: the default).

    Resolving once up front lets everything below pass one path around; a
    kernel that cannot be had raises SetupError with one clear line.
    """
    if kernel is None:
        return linux_src
    from maplecheck.impl.linux.source import kernel_source
    try:
        return str(kernel_source(linux_src, kernel))
    except Exception as e:  # LinuxSourceError: one line for the user
        raise SetupError(f"linux source: {e}") from e


@lru_cache(maxsize=None)
def linux_kernel_info(linux_src: str | None = None) -> dict:
    """``kernel_info`` of the tree ``linux_src`` names (read once per tree and process)."""
    from maplecheck.impl.linux.source import kernel_info, kernel_source
    try:
        return kernel_info(kernel_source(linux_src))
    except Exception as e:  # LinuxSourceError: one line for the user
        raise SetupError(f"linux source: {e}") from e


def python_follows_linux(linux_src: str | None = None) -> tuple[bool, str]:
    """(does our Python tree follow this kernel's write path, the kernel's version)."""
    from maplecheck.impl.pytree import follows
    info = linux_kernel_info(linux_src)
    return follows(info), info["version"]


def structure_note(impl: str, linux_src: str | None = None) -> str | None:
    """The one line ``--impl both`` prints when it compares contents and results only."""
    if impl != "both":
        return None
    ok, version = python_follows_linux(linux_src)
    if ok:
        return None
    return (f"--impl both: our Python tree does not follow Linux {version}'s write path; "
            "comparing contents and results only, not node structure")


#: extra in-process implementations by name (tests register mutants here)
LOCAL_FACTORIES: dict = {}


def register_local(name: str, factory) -> None:
    """Make an in-process TreeFactory available to every engine under ``name``."""
    LOCAL_FACTORIES[name] = factory


def impl_names(impl: str) -> list[str]:
    """The concrete implementations an ``--impl`` choice stands for."""
    return ["python", "linux"] if impl == "both" else [impl]


def beside_linux(names, linux_src: str | None) -> str | None:
    """The Linux tree to name when our tree runs beside Linux's (``names`` holds both):
    the named tree, else the default one by path, so that our write-path profile
    follows the kernel actually compared (``python_profile(None)`` is our default,
    not Linux's)."""
    if linux_src is None and "python" in names and "linux" in names:
        return linux_kernel_info(None)["path"]
    return linux_src


def open_session(name: str, flags: int, linux_src: str | None = None, sanitize: bool = False):
    """A fresh session of implementation ``name`` holding one empty tree (number 0)."""
    if name in LOCAL_FACTORIES:
        return LocalSession(LOCAL_FACTORIES[name], flags)
    if name == "model":
        return LocalSession(model_factory(), flags)
    if name == "python":
        return LocalSession(python_factory(python_profile(linux_src)), flags)
    if name == "linux":
        return _linux_session(flags, linux_src, sanitize)
    raise SetupError(f"unknown implementation {name!r}")


_LINUX_POOL: dict = {}


class PooledLinuxSession:
    """A RemoteLinuxSession whose child process outlives the session.

    Starting a worker costs about half a second; shrinking replays hundreds of
    candidates, so sessions reuse a healthy child (``reset``) and only a crash
    or a leak costs a new one.
    """

    def __init__(self, remote) -> None:
        self.remote = remote

    def __getattr__(self, name):
        return getattr(self.remote, name)

    def close(self) -> None:
        """Destroy the remaining trees in the child (so teardown bugs still show)."""
        if self.remote.proc is not None:
            self.remote._call("close")


def _linux_session(flags: int, linux_src: str | None, sanitize: bool):
    from maplecheck.impl.linux.worker import RemoteLinuxSession
    lib = linux_library(linux_src, sanitize)
    remote = _LINUX_POOL.get((lib, sanitize))
    if remote is None:
        remote = RemoteLinuxSession(flags, sanitize=sanitize, lib_path=lib)
        _LINUX_POOL[(lib, sanitize)] = remote
    else:
        remote.reset(flags)
    return PooledLinuxSession(remote)
