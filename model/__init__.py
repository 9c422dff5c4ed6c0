# SPDX-License-Identifier: GPL-2.0-or-later
"""The abstract interval map: the executable specification of the Tree protocol.

``ModelFactory().create(flags)`` gives a :class:`ModelTree`, which implements
every method of :class:`maplecheck.tree.Tree` with Linux 6.12's results and
error codes, plus:

* ``ranges()`` (compare with ``maplecheck.dump.dump_ranges``), ``root_kind()``
  (``"empty"``/``"entry"``/``"node"``, as the dump's root kind), ``is_root_pointer()``;
* ``mas_would_crash(name, limit)``: would Linux step from a NULL ``mas->node``
  (the model raises :class:`MasNullNode` for such calls and changes nothing);
* structure hints for the two results ranges cannot decide:
  ``insert_range(..., leaf_root=)`` / ``insert_is_new_root()`` and
  ``empty_area_rev(..., root_pivot0=)`` / ``alloc_rrange(..., root_pivot0=)``.
"""

from .mtree import (MAS_OPS, ROOT_EMPTY, ROOT_ENTRY, ROOT_NODE, MasNullNode, ModelFactory,
                    ModelTree)

__all__ = ["MAS_OPS", "ROOT_EMPTY", "ROOT_ENTRY", "ROOT_NODE", "MasNullNode", "ModelFactory",
           "ModelTree"]
