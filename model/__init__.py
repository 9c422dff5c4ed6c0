# SPDX-License-Identifier: GPL-2.0-or-later
"""The abstract interval map: the executable specification of the Tree protocol.

``ModelFactory().create(flags)`` gives a :class:`ModelTree`, which implements
every method of :class:`maplecheck.tree.Tree` with the results and error codes
the API documents (the specification: it reads nothing off the tree under
test; where a kernel answers otherwise, that is a registered deviation in
:mod:`maplecheck.properties.known`), plus:

* ``ranges()`` (compare with ``maplecheck.dump.dump_ranges``), ``root_kind()``
  (``"empty"``/``"entry"``/``"node"``, as the dump's root kind), ``is_root_pointer()``;
* ``mas_would_crash(name, limit)``: would Linux step from a NULL ``mas->node``
  (the model raises :class:`MasNullNode` for such calls and changes nothing);
* ``alloc_at(area, entry)``: the insert half of ``alloc_range``/``alloc_rrange``
  for an area a gap search answered.
"""

from .mtree import (MAS_OPS, ROOT_EMPTY, ROOT_ENTRY, ROOT_NODE, MasNullNode, ModelFactory,
                    ModelTree)

__all__ = ["MAS_OPS", "ROOT_EMPTY", "ROOT_ENTRY", "ROOT_NODE", "MasNullNode", "ModelFactory",
           "ModelTree"]
