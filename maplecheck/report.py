# SPDX-License-Identifier: GPL-2.0-or-later
"""An HTML page about one campaign: ``--report DIR`` on ``fuzz`` (and ``diff``).

``write_report(result, out_dir, ...)`` takes a campaign result (anything with
the fields of :class:`maplecheck.properties.engine.CampaignResult`: counters
``heights``, ``store_types``, ``known``, ``ops``, ``enomem`` and a list of
``failures`` with ``trace`` paths) and writes ``out_dir/index.html`` plus one
SVG picture per finding.  The page holds the campaign's numbers, its coverage
(write paths, heights, operations, -ENOMEM injection points, known bugs stepped
around), throughput over time as an inline SVG plot, and each finding with its
picture, its trace and its C export.  Nothing is fetched from the network.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Iterable

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table.counts { border-collapse: collapse; margin: 0.5em 0; }
table.counts td, table.counts th { border: 1px solid #bbb; padding: 2px 8px; text-align: right; }
table.counts th { background: #eef; text-align: left; }
.bar { background: #1f6fd1; height: 10px; display: inline-block; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 0.6em; overflow: auto; max-height: 30em; }
.ok { color: #197a2a; font-weight: bold; } .bad { color: #c0281d; font-weight: bold; }
.picture { overflow: auto; border: 1px solid #ddd; max-height: 60em; }
"""


def esc(x) -> str:
    return html.escape(str(x))


def count_table(title: str, counts: Counter | dict, key_name: str) -> str:
    """A two-column table with a bar per row, largest first."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    if not items:
        return f"<h3>{esc(title)}</h3><p>none</p>"
    top = max(v for _, v in items) or 1
    rows = "".join(f"<tr><td style='text-align:left'>{esc(k)}</td><td>{v:,}</td>"
                   f"<td style='text-align:left'><span class='bar' style='width:{max(1, 200 * v // top)}px'>"
                   f"</span></td></tr>" for k, v in items)
    return (f"<h3>{esc(title)}</h3><table class='counts'><tr><th>{esc(key_name)}</th><th>count</th>"
            f"<th></th></tr>{rows}</table>")


def throughput_svg(timeline: list[tuple[float, int]], width: int = 640, height: int = 220) -> str:
    """Checked steps per second over time, as an inline SVG line plot.

    ``timeline`` holds ``(seconds, total steps)`` samples; each point's rate is
    measured over the interval since the previous sample.
    """
    pts = [(t, s) for t, s in timeline if t > 0]
    if len(pts) < 2:
        return "<p>too few samples for a throughput plot</p>"
    rates = [((t0 + t1) / 2, (s1 - s0) / max(t1 - t0, 1e-9))
             for (t0, s0), (t1, s1) in zip(pts, pts[1:])]
    tmax = pts[-1][0] or 1.0
    rmax = max(r for _, r in rates) or 1.0
    pad = 45

    def x(t):
        return pad + (width - pad - 10) * t / tmax

    def y(r):
        return height - 25 - (height - 40) * r / rmax

    line = " ".join(f"{x(t):.1f},{y(r):.1f}" for t, r in rates)
    ticks = "".join(f"<text x='{pad - 4}' y='{y(rmax * f):.1f}' font-size='10' text-anchor='end'>"
                    f"{rmax * f:,.0f}</text>" for f in (0, 0.5, 1))
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"role='img' aria-label='throughput'>"
            f"<rect x='0' y='0' width='{width}' height='{height}' fill='white' stroke='#ccc'/>"
            f"<line x1='{pad}' y1='{height - 25}' x2='{width - 10}' y2='{height - 25}' stroke='#444'/>"
            f"<line x1='{pad}' y1='10' x2='{pad}' y2='{height - 25}' stroke='#444'/>{ticks}"
            f"<text x='{width / 2}' y='{height - 6}' font-size='11' text-anchor='middle'>"
            f"seconds (0 to {tmax:.1f})</text>"
            f"<text x='12' y='{height / 2}' font-size='11' transform='rotate(-90 12 {height / 2})' "
            f"text-anchor='middle'>steps/s</text>"
            f"<polyline fill='none' stroke='#1f6fd1' stroke-width='2' points='{line}'/></svg>")


def finding_section(n: int, failure, out_dir: Path, linux_src: str | None = None) -> str:
    """One finding: what failed, its picture (an SVG file beside the page), trace and C test."""
    from maplecheck.export import c_test
    from maplecheck.ops import read_trace
    from maplecheck.show import have_dot, picture, render, text_picture

    parts = [f"<h2>Finding {n}: {esc(failure.kind)}</h2>",
             f"<p>{esc(failure.ops)} operations (shrunk from {esc(failure.original_ops)}); "
             f"trace <code>{esc(failure.trace)}</code></p>",
             f"<pre>{esc(str(failure.message)[:3000])}</pre>"]
    try:
        flags, ops = read_trace(Path(failure.trace))
    except Exception as e:  # a report never fails for one unreadable trace
        return "".join(parts) + f"<p class='bad'>trace unreadable: {esc(e)}</p>"
    try:
        panels, walked, dot = picture(flags, ops, None, "python")
        if have_dot():
            name = f"finding{n}.svg"
            (out_dir / name).write_bytes(render(dot, "svg"))
            parts.append(f"<h3>The tree before the failing operation</h3><div class='picture'>"
                         f"<img src='{name}' alt='tree of finding {n}'></div>")
        else:
            parts.append(f"<pre>{esc(text_picture(panels, walked))}</pre>")
    except Exception as e:
        parts.append(f"<p>no picture: {esc(e)}</p>")
    parts.append("<h3>Trace</h3><pre>" + esc("\n".join(Path(failure.trace).read_text().splitlines()[1:]))
                 + "</pre>")
    try:
        parts.append("<h3>C test (lib/test_maple_tree.c form)</h3><pre>"
                     + esc(c_test(flags, ops, f"finding{n}", failure.kind)) + "</pre>")
    except Exception as e:
        parts.append(f"<p>no C export: {esc(e)}</p>")
    return "".join(parts)


def write_report(result, out_dir: str | Path, title: str = "maplecheck campaign",
                 timeline: Iterable[tuple[float, int]] = (), extra: dict | None = None,
                 linux_src: str | None = None) -> Path:
    """Write ``out_dir/index.html`` for a campaign result; return its path.

    Every field is optional (a ``diff`` result passes what it has; ``extra``
    adds rows to the numbers table); ``timeline`` defaults to ``result.timeline``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    def get(name, default=None):
        value = getattr(result, name, None)
        return default if value is None else value

    steps, seconds = get("steps", 0), get("seconds", 0.0)
    rate = steps / seconds if seconds else 0.0
    failures = list(get("failures", []))
    numbers = {"implementation": get("impl", "-"), "seed": get("seed", "-"), "examples": get("examples", 0),
               "checked steps": f"{steps:,}", "seconds": f"{seconds:.1f}",
               "steps/s": f"{rate:,.0f}", "findings": len(failures),
               "cursor calls not sent (undefined in Linux)": get("skipped", 0)}
    numbers.update(extra or {})
    verdict = (f"<p class='bad'>{len(failures)} finding(s)</p>" if failures
               else "<p class='ok'>no finding: every result, validation and content check held</p>")
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in numbers.items())
    ops = Counter(get("ops", {}))
    enomem = Counter({f"node request {k}": v for k, v in get("enomem", {}).items()})
    body = [f"<h1>{esc(title)}</h1>", verdict, f"<table class='counts'>{rows}</table>",
            "<h2>Throughput</h2>", throughput_svg(list(timeline) or list(get("timeline", []))),
            "<h2>Coverage</h2>",
            count_table("Write paths (store types, our Python tree)", get("store_types", {}), "store type"),
            count_table("Largest height per example",
                        Counter({f"height {h}": n for h, n in get("heights", {}).items()}), "height"),
            count_table("Operations", ops, "operation"),
            count_table("-ENOMEM injection points (dup)", enomem, "fails at"),
            count_table("Known kernel bugs stepped around", get("known", {}), "bug"),
            count_table("Tree flags per example",
                        Counter({f"{k:#x}": v for k, v in get("flags", {}).items()}), "flags")]
    for n, f in enumerate(failures, start=1):
        body.append(finding_section(n, f, out_dir, linux_src))
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
    path = out_dir / "index.html"
    path.write_text(page)
    return path


def screenshot(page: Path, png: Path, chromium: str = "chromium", timeout: float = 60.0) -> Path:
    """Render ``page`` in headless Chromium (fresh profile, no network services) to ``png``."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mc-chromium-") as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--window-size=1280,2000", f"--screenshot={png}",
               page.resolve().as_uri()]
        subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    return png
