# SPDX-License-Identifier: GPL-2.0-or-later
"""``maplecheck prove``: run the z3 lemma catalog and show the results.

:func:`run_lemmas` runs the catalog (or the named lemmas) and returns one
:class:`LemmaResult` per lemma; :func:`render` draws them as a rich table,
with a failing lemma's counterexample drawn as a node (its pivots and slots
as z3 found them); :func:`summary` is the CLI's last line
``lemmas=N proven=N failed=N seconds=S``.

``MAPLECHECK_PROVE_FULL=1`` runs the write/split lemmas over every structural
case (every data end, start and end offset) instead of the boundary cases the
one-minute default covers; every other lemma is exhaustive in both modes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["LemmaResult", "run_lemmas", "render", "summary", "lemma_names"]


@dataclass
class LemmaResult:
    name: str
    helper: str
    proven: bool
    seconds: float
    paths: int = 0
    cases: int = 0
    statement: str = ""
    note: str = ""
    counterexample: str = ""      # the drawing, for a failure
    mutant: bool = False
    values: dict = field(default_factory=dict)

    @property
    def result(self) -> str:
        return "proven" if self.proven else "FAILED"


def lemma_names() -> list[str]:
    from maplecheck.properties.lemmas import LEMMAS
    return list(LEMMAS)


def run_lemmas(names=None, mutants: bool = False, progress=None) -> list[LemmaResult]:
    """Run the named lemmas (all when ``names`` is None); ``mutants=True`` runs
    every lemma on its must-fail helper instead (each should FAIL).

    Raises KeyError for an unknown name.
    """
    from maplecheck.properties.lemmas import LEMMAS
    if names is None:
        names = list(LEMMAS)
    elif isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in LEMMAS]
    if unknown:
        raise KeyError(", ".join(unknown))
    out = []
    for n in names:
        lem = LEMMAS[n]
        if progress:
            progress(n)
        t = time.perf_counter()
        try:
            o = lem.check(lem.mutant if mutants else lem.real)
        except Exception as e:  # a crash in a helper is a failed lemma, not a crash of the run
            out.append(LemmaResult(n, lem.helper, False, time.perf_counter() - t,
                                   statement=lem.statement, note=f"{type(e).__name__}: {e}",
                                   mutant=mutants))
            continue
        secs = o.extra.get("seconds", time.perf_counter() - t)
        res = LemmaResult(n, lem.helper, bool(o.proven), secs, o.paths, o.cases, lem.statement,
                          o.note or o.extra.get("shared", ""), mutant=mutants)
        if not o.proven:
            res.counterexample, res.values = draw_counterexample(o)
        out.append(res)
    return out


# ------------------------------------------------------------------ counterexamples

def _ev(model, v):
    import z3
    if v is None:
        return None
    if isinstance(v, (int, bool)):
        return v
    if isinstance(v, z3.ExprRef):
        r = model.eval(v, model_completion=True)
        if z3.is_int_value(r):
            return r.as_long()
        if z3.is_bv_value(r):
            return r.as_long()
        if z3.is_true(r):
            return True
        if z3.is_false(r):
            return False
        return str(r)
    return v


def _fmt(x) -> str:
    if x is None:
        return "NULL"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        if x == (1 << 64) - 1:
            return "MAX"
        return hex(x) if x > 0xFFFF else str(x)
    return str(x)


def _draw_node(model, pivots, slots, end, lo=None, hi=None, gaps=None, meta_gap=None) -> str:
    """``[min] s0 |p0| s1 |p1| ... s_end [max]``, NULL slots shown as NULL."""
    end = _ev(model, end)
    if not isinstance(end, int):
        end = len(slots) - 1
    parts = []
    if lo is not None:
        parts.append(f"[{_fmt(_ev(model, lo))}]")
    for i in range(min(end, len(slots) - 1) + 1):
        s = _ev(model, slots[i])
        parts.append("NULL" if s in (None, 0) else _fmt(s))
        if i < len(pivots) and i < end:
            parts.append(f"|{_fmt(_ev(model, pivots[i]))}|")
        elif i < len(pivots):
            parts.append(f"|{_fmt(_ev(model, pivots[i]))}|")
    if hi is not None:
        parts.append(f"[{_fmt(_ev(model, hi))}]")
    line = " ".join(parts) + f"  (end {end})"
    tail = [_fmt(_ev(model, p)) for p in pivots[end + 1:]] if end + 1 < len(pivots) else []
    if tail and any(t != "0" for t in tail):
        line += "  pivots past end: " + ",".join(tail)
    if end < len(slots) - 1:
        line += f"  last slot: {_fmt(_ev(model, slots[-1]))}"
    if gaps is not None:
        line += "  gaps: " + ",".join(_fmt(_ev(model, g)) for g in gaps[:end + 1])
    if meta_gap is not None:
        line += f"  meta_gap: {_fmt(_ev(model, meta_gap))}"
    return line


def draw_counterexample(o) -> tuple[str, dict]:
    """Render the failing case's symbolic state under z3's model."""
    model, st = o.model, o.state
    lines = []
    values = {}
    if o.case is not None:
        lines.append(f"case: {o.case}")
    if model is None or not isinstance(st, dict):
        if o.note:
            lines.append(o.note)
        return "\n".join(lines), values
    for key, v in st.items():
        if key in ("old_read", "old_gap"):
            continue
        if hasattr(v, "pivot") and hasattr(v, "slot"):          # MapleNode
            lo = st.get("min") if key == "node" else None
            hi = st.get("max") if key == "node" else None
            end = st.get("end", len(v.slot) - 1) if key == "node" else len(v.slot) - 1
            lines.append(f"{key}: " + _draw_node(model, v.pivot, v.slot, end, lo, hi))
        elif hasattr(v, "pivots") and hasattr(v, "slots") and hasattr(v, "end"):   # Layout/NodeFields
            lines.append(f"{key}: " + _draw_node(model, v.pivots, v.slots, v.end,
                                                 gaps=getattr(v, "gaps", None),
                                                 meta_gap=getattr(v, "meta_gap", None)))
        elif hasattr(v, "pivots") and hasattr(v, "b_end"):          # BigNode
            lines.append(f"{key}: " + _draw_node(model, v.pivots, v.slots, v.b_end))
        elif isinstance(v, list) and v and hasattr(v[0], "pivots"):
            for k, nd in enumerate(v):
                lines.append(f"{key}[{k}]: " + _draw_node(model, nd.pivots, nd.slots, nd.end))
        elif isinstance(v, list):
            lines.append(f"{key}: " + ", ".join(_fmt(_ev(model, x)) for x in v))
        else:
            val = _ev(model, v)
            values[key] = val
            lines.append(f"{key} = {_fmt(val)}")
    return "\n".join(lines), values


# ------------------------------------------------------------------ output

def render(results, console=None, title: str = "maple tree lemmas (z3)") -> None:
    """Print the results as a rich table; failures get their counterexample below."""
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    table = Table(title=title)
    table.add_column("lemma", style="bold")
    table.add_column("helper covered")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    table.add_column("cases/paths", justify="right")
    for r in results:
        style = "green" if r.proven else "red"
        table.add_row(r.name, r.helper, f"[{style}]{r.result}[/{style}]", f"{r.seconds:.2f}",
                      f"{r.cases}/{r.paths}")
    console.print(table)
    for r in results:
        if not r.proven:
            console.print(f"[red]{r.name}[/red] ({r.helper}): {r.statement}")
            if r.note:
                console.print(f"  {r.note}")
            for line in (r.counterexample or "").splitlines():
                console.print(f"  {line}", markup=False, highlight=False)


def summary(results, seconds: float | None = None) -> str:
    """The CLI's last line."""
    n = len(results)
    ok = sum(1 for r in results if r.proven)
    secs = seconds if seconds is not None else sum(r.seconds for r in results)
    return f"lemmas={n} proven={ok} failed={n - ok} seconds={secs:.1f}"


def main(args) -> int:
    """``maplecheck prove [--lemma NAME]...``: 0 all proven, 1 a lemma failed,
    2 an unknown lemma name.  The last line is :func:`summary`."""
    import sys

    from rich.console import Console
    names = getattr(args, "lemma", None) or None
    console = Console() if sys.stdout.isatty() else Console(width=140)
    err = Console(stderr=True)
    known = lemma_names()
    unknown = [n for n in (names or []) if n not in known]
    if unknown:
        err.print(f"maplecheck prove: unknown lemma {', '.join(unknown)}; known: {', '.join(known)}")
        print(summary([], 0.0))
        return 2
    t0 = time.perf_counter()
    total = len(names or known)
    done = [0]

    def progress(name):
        done[0] += 1
        err.print(f"[{done[0]}/{total}] {name}", highlight=False)

    results = run_lemmas(names, progress=progress if sys.stderr.isatty() else None)
    render(results, console=console)
    print(summary(results, time.perf_counter() - t0))
    return 0 if all(r.proven for r in results) else 1
