# SPDX-License-Identifier: GPL-2.0-or-later
"""RCU points of our tree's write paths: where a concurrent reader may look in.

The kernel's writers publish with ``rcu_assign_pointer`` and mark replaced
nodes dead before queueing them with ``call_rcu``; our write paths call
:func:`rcu_point` right after the same stores, with the kind of the store:

* ``"assign"``: a publication (the root word, a parent slot, or a slot written
  in place by an exact fit, slot store or append);
* ``"dead"``: a replaced node's parent word now points at the node itself.

The cursor code calls :func:`rcu_dead_seen` each time it restarts after meeting a
dead node: a reader that keeps restarting waits for the writer, and the scheduler lets
the writer run before the reader tries again.

Nothing is installed by default (:data:`SCHED` is None) and a point then costs
one global load.  A scheduler (``maplecheck.properties.rcu_pytree``) installs
itself with :func:`install`; at each point it may run reader operations
before the writer goes on, so a reader sees exactly the tree the write has
built up to that store.  While a scheduler is installed, every node the
allocator frees is only *queued* (:meth:`RcuScheduler.queue`): the callback
head overwrites the node's first two pivots as it does in the kernel, and the
node is freed when the scheduler ends the grace period.
"""

from __future__ import annotations

#: the installed scheduler (None: no reader is running)
SCHED = None


def rcu_point(kind: str) -> None:
    """A store concurrent readers may see has just been made."""
    s = SCHED
    if s is not None:
        s.point(kind)


def rcu_dead_seen() -> None:
    """A cursor operation met a dead node and restarts from the root (perhaps waiting for the writer)."""
    s = SCHED
    if s is not None:
        s.dead_seen()


def install(sched) -> None:
    """Make ``sched`` the scheduler of every RCU point and node free (None: remove it)."""
    global SCHED
    SCHED = sched


#: what the callback head leaves in pivots 0 and 1 of a queued node (a list
#: link and a function address: never a pivot of the tree)
CALLBACK_HEAD = (0xFFFF_8880_0BAD_0000, 0xFFFF_FFFF_81C0_FFEE)
