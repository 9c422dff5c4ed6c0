# SPDX-License-Identifier: GPL-2.0-or-later
"""The real Linux 6.12 maple tree behind the Tree protocol.

* :mod:`.source`  -- find (``--linux-src``) or fetch (Debian trixie linux-source-6.12) the kernel tree
* :mod:`.build`   -- compile ``shim.c`` + ``lib/maple_tree.c`` + scaffolding (optimised / ASan+UBSan)
* :mod:`.adapter` -- ``LinuxFactory``, ``LinuxTree``, ``LinuxSession`` (ctypes, batch entry point)
* :mod:`.worker`  -- ``RemoteLinuxSession``: the same in a child process; ``ImplCrash`` on a C crash

Submodules are imported lazily so that ``import maplecheck.impl.linux`` never builds anything.
"""

__all__ = ["source", "build", "adapter", "worker"]
