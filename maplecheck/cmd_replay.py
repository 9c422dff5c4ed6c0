# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck replay``: re-run a trace and report the first divergence."""

from __future__ import annotations

from pathlib import Path

from maplecheck.cli import EXIT_FOUND, EXIT_OK, say

#: traces up to this long replay one operation per worker call
SHORT_TRACE = 512


def cmd_replay(args) -> int:
    from maplecheck.impl.linux.worker import deadline_floor
    from maplecheck.ops import TraceError, format_flags, format_op, read_trace
    from maplecheck.properties.engine import check_trace, with_sanitized_frames

    flags, ops = read_trace(Path(args.trace))  # TraceError -> exit 2
    say(f"{args.trace}: {len(ops)} ops on a tree with flags {format_flags(flags)}")
    from maplecheck.cmd_linux import say_structure_note
    say_structure_note(args)
    with deadline_floor(args.hang_seconds):
        # a short trace (a minimized one) runs one operation per call: the report names the operation
        failure = check_trace(args.impl, flags, ops, args.linux_src, args.sanitize,
                              batched=len(ops) > SHORT_TRACE, avoid_known_bugs=args.avoid_known_bugs)
        if failure is not None and failure.kind in ("crash", "hang") and len(ops) > SHORT_TRACE:
            # a batch does not say which operation the C side died in: one operation per call does
            failure = check_trace(args.impl, flags, ops, args.linux_src, args.sanitize, batched=False,
                                  avoid_known_bugs=args.avoid_known_bugs) or failure
        if failure is not None and failure.kind == "crash" and not args.sanitize and args.impl != "python":
            failure = with_sanitized_frames(failure, flags, ops, args.linux_src, args.avoid_known_bugs)
    if failure is not None and failure.kind == "trace":
        raise TraceError(f"{args.trace}: operation {failure.step}: {failure.message}")
    if failure:
        op = format_op(ops[failure.step]) if 0 <= failure.step < len(ops) else "the final teardown"
        print(f"FAILED at op {failure.step} {op} ({failure.kind}): {failure.message}")
    print(f"ops={len(ops)} result={'fail' if failure else 'pass'}")
    return EXIT_FOUND if failure else EXIT_OK
