"""A one-file HTML report of a view: figures, tables, the cohort and filters in words, the
methods, data provenance, app version and date. It opens offline: plotly.js is inlined once.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import plotly.graph_objects as go
import polars as pl

from cohort import __version__
from cohort.figures.safe_text import safe_figure
from cohort.suppression import patient_count

#: How a number without a format of its own is written (report, screen: ``ui.tables``).
FLOAT_FORMAT = "%.4g"

MAX_REPORT_ROWS = 500

_STYLE = """
body{font-family:Arial,Helvetica,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#111;line-height:1.4}
h1{font-size:1.8em;margin-bottom:.2em} h2{font-size:1.3em;margin-top:1.6em;border-bottom:1px
solid #ccc;padding-bottom:.2em} .meta{color:#444} .synthetic{background:#fff3cd;padding:.5em 1em;
border-left:4px solid #E69F00} table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left} th{background:#f3f3f3}
td.num{text-align:right} .note{color:#444;font-size:.9em}
"""


@dataclass(frozen=True)
class ReportContent:
    """What a report holds; everything already computed by the screen that asks for it."""

    title: str
    cohort: str
    filters: str
    provenance: str
    synthetic: bool = False
    figures: list[tuple[str, go.Figure]] = field(default_factory=list)
    tables: list[tuple[str, pl.DataFrame]] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    link: str = ""


def patients_analysed(total: int, analysed: Sequence[int | str | None],
                      min_cell: int | None = None, counted: str = "analysed") -> str:
    """The patients a view's figures analyse, beside the filtered total (None: all of them):
    'n = 4,299' when every figure analyses all (or there is no figure); '4,226 of 4,299
    patients analysed' when they analyse fewer; '68–4,226 of 4,299 patients analysed' when
    their numbers differ. Under ``min_cell`` (cohort.suppression) small counts read '<11'
    and 'of N' is left out when the difference would be a hidden count; a figure's n given as
    text (suppressed already, e.g. 'withheld') is left out of the span. ``counted`` is the
    verb ('assessed': the toxicity figures count the patients assessed)."""
    counts = sorted({total if n is None else n for n in analysed if not isinstance(n, str)})
    if not counts or counts == [total]:
        return f"n = {patient_count(total, min_cell)}"
    low, high = counts[0], counts[-1]
    shown_low, shown_high = patient_count(low, min_cell), patient_count(high, min_cell)
    span = shown_low if low == high else f"{shown_low}–{shown_high}"
    if min_cell and 0 < total - high < min_cell:
        return f"{span} patients {counted}"
    return f"{span} of {patient_count(total, min_cell)} patients {counted}"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return FLOAT_FORMAT % value
    if isinstance(value, list):
        return html.escape("; ".join(str(v) for v in value))
    return html.escape(str(value))


def table_html(frame: pl.DataFrame, limit: int = MAX_REPORT_ROWS) -> str:
    """An HTML table of the first ``limit`` rows (text escaped; numbers right-aligned)."""
    numeric = {c for c, t in frame.schema.items() if t.is_numeric()}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.head(limit).iter_rows(named=True):
        cells = "".join(
            f'<td class="num">{_cell(v)}</td>' if c in numeric else f"<td>{_cell(v)}</td>"
            for c, v in row.items()
        )
        rows.append(f"<tr>{cells}</tr>")
    more = (f'<p class="note">First {limit} of {frame.height} rows; the CSV download has all.</p>'
            if frame.height > limit else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def figure_html(figure: go.Figure, first: bool) -> str:
    """The figure as an interactive div; the first one carries plotly.js inline (offline)."""
    untitled = safe_figure(figure).update_layout(title=None)  # the report's heading names it
    return untitled.to_html(full_html=False, include_plotlyjs=first,
                            config={"displaylogo": False})


def build_report(content: ReportContent, created: datetime | None = None) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    created = created or datetime.now().astimezone()
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(content.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(content.title)}</h1>",
        f"<p class='meta'><b>Cohort:</b> {esc(content.cohort)}<br><b>Filters:</b> "
        f"{esc(content.filters)}<br><b>Data:</b> {esc(content.provenance)}</p>",
    ]
    if content.synthetic:
        parts.append("<p class='synthetic'><b>Synthetic demonstration data: these rows are not "
                     "patient records.</b></p>")
    for index, (title, figure) in enumerate(content.figures):
        parts += [f"<h2>{esc(title)}</h2>", figure_html(figure, first=index == 0)]
    for title, frame in content.tables:
        parts += [f"<h2>{esc(title)}</h2>", table_html(frame)]
    if content.methods:
        items = "".join(f"<li>{esc(m)}</li>" for m in content.methods)
        parts.append(f"<h2>Methods</h2><ul>{items}</ul>")
    link = (f"<br>View: <a href='{esc(content.link, quote=True)}'>{esc(content.link)}</a>"
            if content.link else "")
    parts.append(
        f"<p class='note'>Oligomet Cohort Explorer {esc(__version__)}, "
        f"{created:%Y-%m-%d %H:%M %Z}. Statistics agree with R's survival package "
        f"(Kaplan-Meier, log-rank, Cox with Efron ties).{link}</p></body></html>"
    )
    return "\n".join(parts)
