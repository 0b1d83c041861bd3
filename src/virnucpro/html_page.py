"""Pieces shared by the HTML reports: one stylesheet, inline SVG figures, context lists.

Reports open from a results folder, an e-mail or an offline server, so CSS and plots
are inline and nothing is fetched; they are byte-identical across runs of a day (fixed
SVG hash salt; the provenance block gives the date, not the time).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Mapping

import matplotlib
from matplotlib.figure import Figure

# rcParams for every figure: reproducible ids, real <text> (small, searchable), ASCII minus.
RC = {
    "svg.fonttype": "none",
    "axes.unicode_minus": False,
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
  color: #1d2430; margin: 0; background: #f6f7f9; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 20px 32px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
p.lead { margin: 0 0 16px; color: #4a5568; }
dl.context { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0;
  padding: 12px 16px; background: #fff; border: 1px solid #dde1e7; border-radius: 6px; }
dl.context dt { font-weight: 600; color: #4a5568; }
dl.context dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px;
  overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; border: 1px solid #dde1e7; font-size: 12.5px;
  font-variant-numeric: tabular-nums; width: 100%; }
th, td { padding: 5px 6px; border-bottom: 1px solid #e6e9ee; text-align: right; vertical-align: top;
  white-space: nowrap; }
th { background: #eef1f5; font-weight: 600; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
td .ci { display: block; color: #6b7280; font-size: 11px; }
tr.baseline td { background: #fff7db; }
.tag { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 8px; font-size: 11px;
  background: #1d2430; color: #fff; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
.better { color: #17803d; } .worse { color: #b42318; }
.na { color: #9aa1ab; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; }
figure { margin: 0; padding: 8px; background: #fff; border: 1px solid #dde1e7; border-radius: 6px; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { color: #4a5568; font-size: 13px; padding: 4px 8px 0; }
p.note { color: #4a5568; font-size: 13px; }
ul.verdicts { margin: 10px 0 0; padding-left: 22px; font-size: 14px; }
p.caveat { margin: 0 0 10px; padding: 8px 12px; background: #fff4e5; border: 1px solid #f0b45b;
  border-radius: 6px; color: #7a4100; font-weight: 600; }
"""


def mpl_text(text: str) -> str:
    """Keep '$' literal: matplotlib would otherwise parse embedder names as mathtext."""
    return text.replace("$", r"\$")


def svg_element(figure: Figure, prefix: str) -> str:
    """The figure as an inline <svg> element: no XML prolog, no metadata, ids unique in the page.

    matplotlib numbers groups 'figure_1', 'axes_1', ... in every SVG; two plots in one
    page would then share ids, so each id (and every reference to it) gets ``prefix``.
    """
    buffer = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": f"virnucpro-{prefix}"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{prefix} chart" ', 1).strip()


def context_list(context: Mapping[str, str]) -> str:
    items = (
        f"<dt>{html.escape(str(key))}</dt><dd>{html.escape(str(value))}</dd>"
        for key, value in context.items()
    )
    return '<dl class="context">\n' + "\n".join(items) + "\n</dl>"


def join_parts(parts: Iterable[str]) -> str:
    return "\n".join(part for part in parts if part)


def table_row(cells: Iterable[str], css: str = "") -> str:
    """One <tr> of already-escaped cells, with an optional class."""
    opening = f'<tr class="{css}">' if css else "<tr>"
    return opening + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def html_table(head: Iterable[str], rows: Iterable[str], css: str = "") -> str:
    """A table of ``table_row`` rows under a header row, scrolling sideways when too wide."""
    header = "<thead><tr>" + "".join(f"<th>{cell}</th>" for cell in head) + "</tr></thead>"
    opening = f'<table class="{css}">' if css else "<table>"
    body = "\n".join([header, "<tbody>", *rows, "</tbody>"])
    return f'<div class="scroll">{opening}\n{body}\n</table></div>'


def html_page(title: str, body: Iterable[str], css: str = "") -> str:
    """A whole page as ASCII HTML (non-ASCII characters become character references);
    ``css``: rules of this report only, after the shared ones."""
    page = join_parts(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{CSS}{css}</style></head>",
            "<body><main>",
            f"<h1>{html.escape(title)}</h1>",
            *body,
            "</main></body>",
            "</html>",
        ]
    )
    return page.encode("ascii", "xmlcharrefreplace").decode("ascii") + "\n"
