"""Figures sent to the browser are aggregated on the server: their JSON does not grow with the
number of patients, and what they show (box statistics, patients per marker) is exact."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest

from cohort.figures.dose import (
    BOX_METHOD,
    MAX_MARKERS_PER_GROUP,
    box_statistics,
    dose_distribution_figure,
    long_by_group,
    point_markers,
)
from cohort.figures.km import km_figure, step_vertices
from cohort.survival import kaplan_meier
from tests.apptest import open_app

N = 100_000
SITES = ["lung", "liver", "bone", "lymph node", "adrenal", "brain"]
#: Common SBRT schedules (total dose Gy, fractions).
SCHEDULES = [(54.0, 3), (50.0, 5), (60.0, 8), (45.0, 3), (30.0, 1), (40.0, 5), (35.0, 5)]
#: A tenth of what a figure sent a point per patient (about 1 MB at 100,000 patients); 12 groups
#: of 200 pooled markers stay under it.
MAX_FIGURE_CHARS = 100_000


def registry(n: int = N, seed: int = 11, continuous: bool = False) -> pl.DataFrame:
    """``n`` synthetic irradiated patients: 1-2 treated sites, a schedule, BED10; with
    ``continuous``, total doses drawn from 20-70 Gy (every value distinct)."""
    rng = np.random.default_rng(seed)
    first, second = rng.integers(0, len(SITES), n), rng.integers(0, len(SITES), n)
    sites = [[SITES[a]] if a == b or k % 3 else [SITES[a], SITES[b]]
             for k, (a, b) in enumerate(zip(first, second, strict=True))]
    schedule = rng.integers(0, len(SCHEDULES), n)
    total = np.array([SCHEDULES[s][0] for s in schedule])
    fractions = np.array([SCHEDULES[s][1] for s in schedule])
    if continuous:
        total = rng.uniform(20.0, 70.0, n)
    per_fraction = total / fractions
    return pl.DataFrame({"treated_sites": sites, "rt_technique": rng.choice(["SBRT", "IMRT"], n),
                         "rt_total_dose_gy": total, "rt_fractions": fractions,
                         "bed10_gy": total * (1 + per_fraction / 10)})


def hazen(sorted_values: np.ndarray, p: float) -> float:
    """plotly.js ``Lib.interp`` (the box's "linear" quartiles), transcribed."""
    position = p * len(sorted_values) - 0.5
    if position < 0:
        return float(sorted_values[0])
    if position > len(sorted_values) - 1:
        return float(sorted_values[-1])
    frac = position % 1
    return float(frac * sorted_values[int(np.ceil(position))]
                 + (1 - frac) * sorted_values[int(np.floor(position))])


@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("kind", ["box", "strip"])
def test_dose_distribution_payload_does_not_grow_with_patients(kind, continuous):
    patients = registry(continuous=continuous)
    for column in ("rt_total_dose_gy", "bed10_gy"):
        fig = dose_distribution_figure(patients, column, "treated_sites", kind,
                                       caption="Cohort, n = 100,000.")
        assert len(fig.to_json()) < MAX_FIGURE_CHARS, column
        assert all(len(t.x) <= MAX_MARKERS_PER_GROUP for t in fig.data if t.x is not None)


def test_box_statistics_are_plotlys_quartiles_and_fences():
    rng = np.random.default_rng(5)
    groups = {"a": rng.normal(60, 10, 1001), "b": rng.exponential(20, 10), "c": [42.0],
              "d": np.r_[rng.uniform(50, 54, 40), 5.0, 130.0], "e": [30.0, 30.0, 50.0, 60.0]}
    data = pl.DataFrame({"group": [g for g, v in groups.items() for _ in v],
                         "value": np.concatenate([np.asarray(v, float) for v in groups.values()])})
    stats = {row["group"]: row for row in box_statistics(data).iter_rows(named=True)}
    for group, values in groups.items():
        v = np.sort(np.asarray(values, float))
        q1, median, q3 = (hazen(v, p) for p in (0.25, 0.5, 0.75))
        iqr = q3 - q1
        row = stats[group]
        assert (row["n"], row["q1"], row["median"], row["q3"]) == (len(v), q1, median, q3)
        assert [row["q1"], row["median"], row["q3"]] == pytest.approx(
            np.percentile(v, [25, 50, 75], method="hazen"), rel=1e-12)
        assert row["lowerfence"] == min(q1, v[v >= q1 - 1.5 * iqr].min())
        assert row["upperfence"] == max(q3, v[v <= q3 + 1.5 * iqr].max())
    assert (stats["d"]["lowerfence"], stats["d"]["upperfence"]) != (5.0, 130.0)  # outliers


def test_box_drawn_from_the_statistics():
    patients = registry(5_000)
    fig = dose_distribution_figure(patients, "bed10_gy", "treated_sites", "box")
    stats = box_statistics(long_by_group(patients, "bed10_gy", "treated_sites"))
    boxes = [t for t in fig.data if isinstance(t, go.Box)]
    assert len(boxes) == len(SITES)
    for box in boxes:
        row = stats.filter(pl.col("group") == box.name.split(" (n=")[0]).row(0, named=True)
        assert box.x is None and box.boxpoints is False  # no patient's value is sent
        assert (box.q1[0], box.median[0], box.q3[0], box.lowerfence[0], box.upperfence[0]) == (
            row["q1"], row["median"], row["q3"], row["lowerfence"], row["upperfence"])
        assert box.name == f"{row['group']} (n={row['n']})"


@pytest.mark.parametrize("column", ["rt_total_dose_gy", "bed10_gy"])
@pytest.mark.parametrize("kind", ["box", "strip"])
def test_markers_count_every_patient_once_per_value(kind, column):
    patients = registry(20_000)
    data = long_by_group(patients, column, "treated_sites")
    fig = dose_distribution_figure(patients, column, "treated_sites", kind)
    markers = [t for t in fig.data if isinstance(t, go.Scatter)]
    assert len(markers) == len(SITES)
    assert sum(int(t.marker.size.sum()) for t in markers) == data.height
    expected = data.group_by("group", "value").len()
    for trace in markers:
        group = trace.name.split(" (n=")[0]
        want = expected.filter(pl.col("group") == group).sort("value")
        assert list(trace.x) == want["value"].to_list()  # exact doses, one marker each
        assert list(trace.marker.size) == want["len"].to_list()
        assert int(trace.marker.size.sum()) == int(trace.name.split("n=")[1].rstrip(")"))
    assert markers[0].hovertemplate.startswith("%{x} Gy: n = %{marker.size}")


def test_many_distinct_values_are_pooled_into_bins_and_the_caption_says_so():
    patients = registry(20_000, continuous=True)
    data = long_by_group(patients, "rt_total_dose_gy", "treated_sites")
    markers = point_markers(data)
    assert markers.group_by("group").len()["len"].max() <= MAX_MARKERS_PER_GROUP
    assert markers["count"].sum() == data.height
    per_group = markers.group_by("group").agg(pl.col("count").sum()).sort("group")
    assert per_group.rows() == data.group_by("group").len().sort("group").rows()
    width = (data["value"].max() - data["value"].min()) / MAX_MARKERS_PER_GROUP
    assert ((markers["high"] - markers["low"]) <= width).all()
    assert ((markers["value"] >= markers["low"]) & (markers["value"] <= markers["high"])).all()
    pooled = dose_distribution_figure(patients, "rt_total_dose_gy", "treated_sites",
                                      caption="Cohort.")
    exact = dose_distribution_figure(registry(20_000), "rt_total_dose_gy", "treated_sites",
                                     caption="Cohort.")
    assert "pooled" in pooled.layout.annotations[0].text.replace("<br>", " ")
    assert "pooled" not in exact.layout.annotations[0].text.replace("<br>", " ")


def test_few_values_are_kept_exactly():
    data = pl.DataFrame({"group": ["a", "a", "a", "b"], "value": [50.0, 50.0, 60.5, 50.0]})
    assert point_markers(data).rows() == [("a", 50.0, 50.0, 50.0, 2), ("a", 60.5, 60.5, 60.5, 1),
                                          ("b", 50.0, 50.0, 50.0, 1)]


@pytest.mark.parametrize(("kind", "method"), [
    ("box", f"Box: {BOX_METHOD}; a marker per distinct value per treated site, its area "
            "proportional to the patients with it"),
    ("strip", "A marker per distinct value per treated site, its area proportional to the "
              "patients with it")])
def test_dose_screen_caption_states_the_method(kind, method):
    at = open_app("pages/dose.py", **{"f.study": "Lee 2009 liver SBRT phase 1",
                                        "dose.plot": kind})
    shown = dict(at.session_state["_shown_this_run"].figures)
    fig = shown["BED10 (Gy) by treated site"]
    text = " ".join(a.text.replace("<br>", " ") for a in fig.layout.annotations)
    assert method in text and "pooled" not in text


def step_value(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A step curve (line_shape='hv' through x, y) read at times ``t``."""
    return y[np.searchsorted(x, t, side="right") - 1]


def test_km_curve_keeps_only_its_steps_and_draws_the_same_line():
    rng = np.random.default_rng(8)
    n = 20_000
    patients = pl.DataFrame({"months": rng.exponential(30, n).round(3),
                             "event": (rng.uniform(size=n) < 0.3).astype(int),
                             "arm": rng.choice(["A", "B"], n)})
    table = kaplan_meier(patients, "months", "event", by="arm")
    fig = km_figure(table)
    lines = [t for t in fig.data if t.mode == "lines" and t.hoverinfo != "skip"
             and "median" not in (t.hovertemplate or "")]
    bands = [t for t in fig.data if t.hoverinfo == "skip" and t.mode == "lines"]
    assert len(lines) == 2 and len(bands) == 4
    for (group,), part in table.partition_by("group", as_dict=True, maintain_order=True).items():
        times = part["time"].to_numpy()
        curve = next(t for t in lines if t.name.startswith(f"{group} "))
        assert len(curve.x) < 0.5 * len(times)  # 70 % censored: most times are flat
        assert curve.x[-1] == times[-1] and (curve.x[0], curve.y[0]) == (0.0, 1.0)
        assert (step_value(curve.x, curve.y, times) == part["survival"].to_numpy()).all()
        upper, lower = (b for b in bands if b.legendgroup == curve.name)
        for band, bound in ((upper, "upper"), (lower, "lower")):  # no CI: drawn at the curve
            drawn = part[bound].fill_null(part["survival"]).to_numpy()
            assert (step_value(band.x, band.y, times) == drawn).all()


def test_step_vertices_keeps_changes_and_both_ends():
    x, y = np.array([0.0, 1, 2, 3, 4, 5]), np.array([1.0, 1, 0.8, 0.8, 0.8, 0.8])
    kept = step_vertices(x, y)
    assert kept[0].tolist() == [0.0, 2.0, 5.0] and kept[1].tolist() == [1.0, 0.8, 0.8]
