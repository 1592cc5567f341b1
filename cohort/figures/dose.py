"""Dose figures: dose / BED / EQD2 distributions by group, and the phase 1 DLT grid."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl

from cohort.figures.distributions import hidden_bars
from cohort.figures.style import (
    CAPTION_WIDTH,
    FONT_FAMILY,
    FONT_SIZE,
    GRID_COLOR,
    PALETTE,
    TICK_FONT_SIZE,
    rgba,
    wrap,
)
from cohort.figures.templates import SIMPLE_WHITE
from cohort.schema import column_label

#: The dose quantities shown, in this order (derived columns from ``cohort.dose``).
DOSE_QUANTITIES = ("rt_total_dose_gy", "rt_fractions", "dose_per_fraction_gy", "bed10_gy",
                   "eqd2_gy")
MAX_GROUPS = 12
OTHER = "other"
MISSING = "missing"
ROW_PX = 46
#: Okabe-Ito without yellow (too pale for a box outline on white), cycled.
BOX_COLOURS = tuple(c for c in PALETTE if c != "#F0E442")
CAPTION_FONT_SIZE = FONT_SIZE - 3  # smaller than the axis labels (as the Kaplan-Meier caption)
CAPTION_LINE_PX = 22
X_TITLE_PX = 72  # from the plot's bottom edge past the x-axis title
LABEL_PX_PER_CHAR = 0.42 * TICK_FONT_SIZE  # a low estimate of a group label's width per character
#: How :func:`box_statistics` computes a box, for captions.
BOX_METHOD = ("median and quartiles (Hazen's method, as plotly), whiskers to the furthest value "
              "within 1.5 × IQR")
#: Beyond this many distinct values in a group, its values are pooled into this many bins.
MAX_MARKERS_PER_GROUP = 200
MARKER_MIN_PX, MARKER_MAX_PX = 5, 26  # diameter of the marker of 1 patient / of the most


def patients_with_value(patients: pl.DataFrame, value: str) -> int:
    """Patients with a (finite) ``value``: the n of :func:`dose_distribution_figure`."""
    column = pl.col(value).cast(pl.Float64)
    return patients.filter(column.is_not_null() & column.is_finite()).height


def _caption(fig: go.Figure, caption: str | None, width: int, labels: list[str] | None = None
             ) -> int:
    """``caption`` wrapped under the x-axis title; returns the pixels it takes. With the y-axis
    ``labels``, it starts under them (near the figure's left edge) rather than at the plot's:
    in a figure half the page wide the plot alone is too narrow for it."""
    if not caption:
        return 0
    text = wrap(caption, width)
    shift = -round(LABEL_PX_PER_CHAR * max(map(len, labels))) if labels else 0
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0, y=0, xshift=shift,
                       yshift=-X_TITLE_PX, xanchor="left", yanchor="top", showarrow=False,
                       align="left", font={"size": CAPTION_FONT_SIZE})
    return CAPTION_LINE_PX * (text.count("<br>") + 1) + X_TITLE_PX - 50


def long_by_group(patients: pl.DataFrame, value: str, by: str) -> pl.DataFrame:
    """Columns group, value: one row per patient (per listed value of a list column ``by``,
    e.g. each treated site); rows without a value are dropped, a missing group is "missing"."""
    data = patients.select(pl.col(by).alias("group"), pl.col(value).cast(pl.Float64).alias("value"))
    if isinstance(data.schema["group"], pl.List):
        data = data.with_columns(pl.col("group").list.unique()).explode("group")
    return data.filter(pl.col("value").is_not_null() & pl.col("value").is_finite()).select(
        pl.col("group").cast(pl.String).fill_null(MISSING), "value"
    )


def _lump(data: pl.DataFrame, max_groups: int) -> pl.DataFrame:
    """Groups beyond the ``max_groups`` most frequent become "other"."""
    counts = data["group"].value_counts(sort=True)
    if counts.height <= max_groups:
        return data
    top = counts["group"].head(max_groups - 1).implode()
    return data.with_columns(
        pl.when(pl.col("group").is_in(top)).then(pl.col("group")).otherwise(pl.lit(OTHER))
    )


def _group_order(data: pl.DataFrame) -> list[tuple[str, int]]:
    """(group, n), most frequent first; "other" and "missing" last."""
    counts = data["group"].value_counts(sort=True).rows()
    last = (OTHER, MISSING)
    return [c for c in counts if c[0] not in last] + [c for c in counts if c[0] in last]


def _axis_label(column: str, alpha_beta_gy: float | None) -> str:
    if column == "eqd2_gy" and alpha_beta_gy is not None:
        return f"EQD2 (Gy, α/β = {alpha_beta_gy:g} Gy)"
    return column_label(column)


def box_statistics(data: pl.DataFrame) -> pl.DataFrame:
    """Per group of ``data`` (columns group, value): n, q1, median, q3, lowerfence, upperfence,
    in the value's unit, as plotly's box computes them from the points (its default "linear"
    quartile method, Hazen's: the sorted values interpolated at position n·p − 0.5 counted from
    0; fences the furthest values within 1.5 × IQR of the quartiles, and never inside them)."""
    value = pl.col("value").sort()
    last = pl.len() - 1

    def hazen(p: float) -> pl.Expr:
        position = (pl.len() * p - 0.5).clip(0, last)
        below, frac = position.floor().cast(pl.Int64), position % 1
        return frac * value.get(position.ceil().cast(pl.Int64)) + (1 - frac) * value.get(below)

    stats = data.group_by("group", maintain_order=True).agg(
        n=pl.len(), q1=hazen(0.25), median=hazen(0.5), q3=hazen(0.75))
    iqr = pl.col("q3") - pl.col("q1")
    within = data.join(stats, on="group").filter(
        pl.col("value").is_between(pl.col("q1") - 1.5 * iqr, pl.col("q3") + 1.5 * iqr))
    fences = within.group_by("group").agg(low=pl.col("value").min(), high=pl.col("value").max())
    return stats.join(fences, on="group", how="left").select(
        "group", "n", "q1", "median", "q3",
        lowerfence=pl.min_horizontal("q1", "low"), upperfence=pl.max_horizontal("q3", "high"))


def point_markers(data: pl.DataFrame, max_per_group: int = MAX_MARKERS_PER_GROUP
                  ) -> pl.DataFrame:
    """One marker per group and distinct value of ``data`` (columns group, value): group, value,
    low, high, count (patients). A group with more than ``max_per_group`` distinct values has
    its values pooled into ``max_per_group`` equal bins over the whole figure's range: the
    marker at the bin's mean, low and high its smallest and largest value."""
    lo, hi = data["value"].min(), data["value"].max()
    width = (hi - lo) / max_per_group if data.height and hi > lo else 1.0
    crowded = data.group_by("group").agg(pl.col("value").n_unique() > max_per_group)
    key = (pl.when(pl.col("crowded"))
           .then(((pl.col("value") - lo) / width).floor().clip(0, max_per_group - 1) * width + lo)
           .otherwise(pl.col("value")))
    return (data.join(crowded.rename({"value": "crowded"}), on="group")
            .group_by("group", key.alias("_key"))
            .agg(value=pl.when(pl.col("crowded").first()).then(pl.col("value").mean())
                 .otherwise(pl.col("value").first()), low=pl.col("value").min(),
                 high=pl.col("value").max(), count=pl.len())
            .sort("group", "value").drop("_key"))


def dose_distribution_figure(
    patients: pl.DataFrame,
    value: str,
    by: str,
    kind: str = "box",
    alpha_beta_gy: float | None = None,
    max_groups: int = MAX_GROUPS,
    caption: str | None = None,
    caption_width: int = CAPTION_WIDTH,
    min_cell: int | None = None,
) -> go.Figure:
    """Horizontal box plot (with the patients as markers) or markers only of ``value`` per
    group of ``by``; group labels carry n; most frequent group on top; beyond ``max_groups``:
    "other". Box statistics and markers (:func:`box_statistics`, :func:`point_markers`: one per
    distinct value, area proportional to its patients) are computed here, so the figure's size
    does not grow with the number of patients. ``caption`` (cohort, method) under the axis,
    wrapped to ``caption_width`` characters (less than the default for a figure in half the
    page's width). ``min_cell`` (:mod:`cohort.suppression`): groups and markers of fewer
    patients are not drawn, nor one more where the n shown would give a single one away, and
    the subtitle then gives no total."""
    if kind not in ("box", "strip"):
        raise ValueError("kind must be 'box' or 'strip'")
    data = _lump(long_by_group(patients, value, by), max_groups)
    counts = _group_order(data)
    hidden = hidden_bars([n for _, n in counts], min_cell,
                         total_shown=not isinstance(patients.schema[by], pl.List))
    shown = [(g, n) for i, (g, n) in enumerate(counts) if i not in hidden]
    left_out = len(counts) - len(shown)
    counts = shown
    data = data.filter(pl.col("group").is_in([g for g, _ in counts]))
    labels = {group: f"{group} (n={n})" for group, n in counts}
    markers = point_markers(data)
    if min_cell:
        markers = _shown_markers(markers, min_cell)
    size_ref = 2.0 * (markers["count"].max() or 1) / MARKER_MAX_PX ** 2
    boxes = {row["group"]: row for row in box_statistics(data).iter_rows(named=True)}
    fig = go.Figure()
    for i, (group, _) in enumerate(counts):
        colour = BOX_COLOURS[i % len(BOX_COLOURS)]
        fig.add_trace(_markers(markers.filter(pl.col("group") == group), labels[group], i,
                               colour, size_ref, _unit(value)))
        if kind == "box":  # over the markers: crowded markers would hide it
            fig.add_trace(_box(boxes[group], labels[group], i, colour))
    title = _axis_label(value, alpha_beta_gy)
    note = f"by {column_label(by).lower()}; n = {data.height}"
    if isinstance(patients.schema[by], pl.List):
        note = (f"by {column_label(by).lower()}; {data.height} values from "
                f"{patients_with_value(patients, value)} patients, one per listed value")
    if min_cell:
        note = (f"by {column_label(by).lower()}; groups and markers of fewer than {min_cell} "
                f"patients not drawn ({left_out} group{'s' if left_out != 1 else ''} left out)")
    _layout(fig, f"{title}<br><sup>{note}</sup>", title, list(labels.values()))
    if caption and markers.height < data["group", "value"].n_unique():
        caption += (f" Over {MAX_MARKERS_PER_GROUP} distinct values in a group: values pooled "
                    f"into {MAX_MARKERS_PER_GROUP} equal bins of the axis, a marker at their mean.")
    extra = _caption(fig, caption, caption_width, list(labels.values()))
    fig.update_layout(height=fig.layout.height + extra, margin_b=fig.layout.margin.b + extra)
    return fig


def _shown_markers(markers: pl.DataFrame, min_cell: int) -> pl.DataFrame:
    """The markers drawn under ``min_cell``: per group, without those of fewer patients and,
    where the group's n would give a single one away, the smallest other one
    (:func:`cohort.figures.distributions.hidden_bars`)."""
    parts = []
    for part in markers.partition_by("group", maintain_order=True):
        hidden = hidden_bars(part["count"].to_list(), min_cell)
        parts.append(part.filter(~pl.int_range(pl.len()).is_in(list(hidden))))
    return pl.concat(parts) if parts else markers


def _unit(column: str) -> str:
    return "" if column == "rt_fractions" else " Gy"


def _box(stats: dict, name: str, row: int, colour: str) -> go.Box:
    """A box on ``row`` of the y axis drawn from precomputed statistics (no points sent)."""
    return go.Box(y=[row], name=name, orientation="h", boxpoints=False,
                  q1=[stats["q1"]], median=[stats["median"]], q3=[stats["q3"]],
                  lowerfence=[stats["lowerfence"]], upperfence=[stats["upperfence"]],
                  line={"color": colour, "width": 2.5}, fillcolor=rgba(colour, 0.15))


def _markers(markers: pl.DataFrame, name: str, row: int, colour: str, size_ref: float,
             unit: str) -> go.Scatter:
    """One marker per distinct value (or pooled bin) on ``row`` of the y axis, its area
    proportional to ``count``; all arrays numpy (sent as binary, not as text)."""
    pooled = (markers["low"] != markers["high"]).any()
    value = ("%{customdata[0]:.4~g}–%{customdata[1]:.4~g}" if pooled else "%{x}") + unit
    return go.Scatter(
        x=markers["value"].to_numpy(), y=np.full(markers.height, row, dtype=np.int8),
        name=name, mode="markers",
        customdata=markers.select("low", "high").to_numpy() if pooled else None,
        hovertemplate=f"{value}: n = %{{marker.size}}<extra>{name}</extra>",
        marker={"color": colour, "size": markers["count"].to_numpy(), "sizemode": "area",
                "sizeref": size_ref, "sizemin": MARKER_MIN_PX, "opacity": 0.6,
                "line": {"color": "white", "width": 0.5}})


def _layout(fig: go.Figure, title: str, x_title: str, labels: list[str]) -> go.Figure:
    """Groups on rows 0, 1, ... of the y axis (top to bottom), labelled ``labels``."""
    n_groups = len(labels)
    fig.update_layout(
        template=SIMPLE_WHITE, paper_bgcolor="white", plot_bgcolor="white",
        font={"family": FONT_FAMILY, "size": FONT_SIZE, "color": "#000000"},
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": FONT_SIZE + 2}},
        showlegend=False, height=max(300, ROW_PX * n_groups + 170),
        margin={"l": 10, "r": 20, "t": 80, "b": 60},
    )
    fig.update_xaxes(title_text=x_title, showgrid=True, gridcolor=GRID_COLOR,
                     tickfont={"size": TICK_FONT_SIZE}, zeroline=False)
    fig.update_yaxes(range=[n_groups - 0.5, -0.5], tickvals=list(range(n_groups)),
                     ticktext=labels, automargin=True, tickfont={"size": TICK_FONT_SIZE},
                     showgrid=False, zeroline=False, ticks="")
    return fig


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def dlt_cell_text(row: dict) -> str:
    """'DL3<br>1/10 DLT (10.0%)<br>95% CI 0.3%–44.5%' for one row of ``dlt_table``."""
    return (f"<b>DL{row['dose_level']}</b><br>{row['dlt']}/{row['n']} DLT ({_pct(row['rate'])})"
            f"<br>95% CI {_pct(row['lower'])}–{_pct(row['upper'])}")


def _dose_text(x: float | None, unit: str) -> str:
    return "not recorded" if x is None else f"{x:g} {unit}"


def dlt_grid_figure(table: pl.DataFrame, title: str | None = None,
                    caption: str | None = None) -> go.Figure:
    """Drug dose (rows) x RT dose (columns) grid of :func:`cohort.dose.dlt_table`: each cell
    "DLn / dlt/n DLT (rate) / 95% CI", coloured by the DLT rate (white 0% to vermillion);
    ``caption`` (cohort, endpoint, method) under the axis, wrapped."""
    rt = sorted({r for r in table["rt_total_dose_gy"].to_list()}, key=lambda v: (v is None, v))
    drug = sorted({d for d in table["drug_dose_mg"].to_list()}, key=lambda v: (v is None, v))
    x = [_dose_text(v, "Gy") for v in rt]
    y = [_dose_text(v, "mg") for v in drug]
    z: list[list[float | None]] = [[None] * len(x) for _ in y]
    text = [[""] * len(x) for _ in y]
    for row in table.iter_rows(named=True):
        i, j = drug.index(row["drug_dose_mg"]), rt.index(row["rt_total_dose_gy"])
        text[i][j] = (text[i][j] + "<br><br>" if text[i][j] else "") + dlt_cell_text(row)
        z[i][j] = max(z[i][j] or 0.0, row["rate"])
    fig = go.Figure(go.Heatmap(
        x=x, y=y, z=z, text=text, texttemplate="%{text}", textfont={"size": FONT_SIZE - 2},
        colorscale=[[0, "#FFFFFF"], [1, PALETTE[1]]], zmin=0, zmax=1, xgap=3, ygap=3,
        colorbar={"title": {"text": "DLT rate", "side": "right"}, "tickformat": ".0%"},
        hovertemplate="Drug %{y}, RT %{x}<br>%{text}<extra></extra>",
    ))
    extra = _caption(fig, caption, CAPTION_WIDTH)
    fig.update_layout(
        template=SIMPLE_WHITE, paper_bgcolor="white", plot_bgcolor="#F2F2F2",
        font={"family": FONT_FAMILY, "size": FONT_SIZE, "color": "#000000"},
        title={"text": title, "x": 0.0, "xanchor": "left"} if title else None,
        height=max(320, 130 * len(y) + 170) + extra,
        margin={"l": 10, "r": 10, "t": 70 if title else 30, "b": 60 + extra},
    )
    fig.update_xaxes(title_text="Radiotherapy total dose", type="category", showgrid=False)
    fig.update_yaxes(title_text="Drug dose", type="category", showgrid=False, automargin=True)
    return fig
