"""The Kaplan-Meier figure as journals print it: ticks from the follow-up, full group names,
a colour-blind-safe palette whose neighbours differ, the log-rank p and Cox hazard ratios on
the plot (the cohort function's numbers, as R and lifelines give them), labelled medians and
the KMunicate table."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cohort.analysis import SurvivalRequest, analyse_survival
from cohort.datasets import load_dataset
from cohort.figures.colour_difference import colour_difference, delta_e_2000
from cohort.figures.km import (
    ABOVE,
    BOX_CHARS,
    LABEL_CHARS,
    STRIP_CHARS,
    TICK_STEPS,
    km_figure,
    nice_ticks,
    stagger,
    wrap_label,
)
from cohort.figures.style import PALETTE, SOLID_UP_TO, dash_for
from cohort.survival import counts_at, hazard_ratios, kaplan_meier
from tests.apptest import open_app, shown_table

REFERENCE = Path(__file__).parent / "reference"
SURVIVAL = "pages/survival.py"
LONG_NAMES = ["Lee 2021 mCRC systemic-only registry of a very long institutional name",
              "Pazopanib + SRT mRCC series", "Supercalifragilisticexpialidociouslyneverending B"]


@pytest.fixture(scope="module")
def demo() -> pl.DataFrame:
    return load_dataset("oligomet-demo").patients


def tags_removed(text: str) -> str:
    return re.sub(r"</?span[^>]*>", "", text)


def box_text(fig) -> str:
    """The statistics box in the curve panel."""
    (box,) = [a for a in fig.layout.annotations if (a.text or "").startswith("Log-rank p")]
    assert box.xref == "x domain" and box.yref == "y domain"
    return box.text


def numbers_rows(fig) -> list:
    return [t for t in fig.data if t.mode == "text"]


# --- ticks -------------------------------------------------------------------------------------


def allowed_step(step: float, unit: str | None) -> bool:
    own = TICK_STEPS.get(unit or "", ())
    if own and own[0] <= step <= own[-1]:
        return any(math.isclose(step, s) for s in own)
    mantissa = step / 10 ** math.floor(math.log10(step))
    return any(math.isclose(mantissa, m) for m in (1, 2, 5))


@pytest.mark.parametrize("unit", ["days", "weeks", "months", "years", None])
@pytest.mark.parametrize("x_max", [0.3, 2.5, 7, 11, 30, 50, 78.1, 126.9, 200, 999, 3000, 40000])
def test_ticks_are_four_to_eight_at_the_units_steps(x_max, unit):
    ticks = nice_ticks(x_max, unit)
    assert 4 <= len(ticks) <= 8
    step = ticks[1]
    assert ticks[0] == 0 and allowed_step(step, unit)
    assert np.allclose(np.diff(ticks), step)
    assert ticks[-1] <= x_max + 1e-9 < ticks[-1] + step


def test_ticks_follow_the_follow_up_as_clinicians_read_it():
    assert nice_ticks(78.1, "months") == [0, 12, 24, 36, 48, 60, 72]  # local failure
    assert nice_ticks(126.9, "months") == [0, 24, 48, 72, 96, 120]
    assert nice_ticks(20, "months") == [0, 3, 6, 9, 12, 15, 18]
    assert nice_ticks(999, "days") == [0, 180, 360, 540, 720, 900]
    assert nice_ticks(2000, "days") == [0, 365, 730, 1095, 1460, 1825]
    assert nice_ticks(150, "weeks") == [0, 26, 52, 78, 104, 130]
    assert nice_ticks(10.5, "years") == [0, 2, 4, 6, 8, 10]


def test_risk_table_columns_are_the_x_ticks(demo):
    result = analyse_survival(demo, SurvivalRequest("lc_months", "lc_event", by="study"))
    fig = km_figure(result.km, median_table=result.medians, time_label="Months")
    ticks = list(fig.layout.xaxis.tickvals)
    assert ticks == nice_ticks(float(result.km["time"].max()), "months")
    assert all(list(row.x) == ticks for row in numbers_rows(fig))
    registry_free = counts_at(result.km, ticks).filter(pl.col("group") == result.groups[2])
    assert numbers_rows(fig)[2].text == tuple(str(v) for v in registry_free["at_risk"])


# --- group names -------------------------------------------------------------------------------


def test_a_long_name_is_wrapped_between_words_never_cut():
    lines = wrap_label(LONG_NAMES[0])
    assert " ".join(lines) == LONG_NAMES[0] and all(len(line) <= LABEL_CHARS for line in lines)
    assert wrap_label(LONG_NAMES[2]) == ["Supercalifragilisticexpialidociouslyneverending", "B"]


def long_name_figure(kmunicate: bool = False):
    rng = np.random.default_rng(3)
    patients = pl.DataFrame({"months": rng.exponential(20, 300), "event": rng.integers(0, 2, 300),
                             "study": rng.choice(LONG_NAMES, 300)})
    result = analyse_survival(patients, SurvivalRequest("months", "event", by="study"))
    return result, km_figure(result.km, median_table=result.medians, logrank=result.logrank,
                             hazard_ratios=result.hazard_ratios, kmunicate=kmunicate,
                             title="by study")


@pytest.mark.parametrize("kmunicate", [False, True])
def test_long_names_are_whole_in_the_risk_table_and_the_box(kmunicate):
    result, fig = long_name_figure(kmunicate)
    assert "…" not in fig.to_json() and "\\u2026" not in fig.to_json()
    labels = [tags_removed(t) for t in fig.layout.yaxis2.ticktext]
    for group in result.groups:
        assert any(label.replace("<br>", " ") == group for label in labels)
    for label in labels:
        for line in label.split("<br>"):
            assert len(line) <= LABEL_CHARS or " " not in line
    box = next(a for a in fig.layout.annotations if (a.text or "").startswith("Log-rank"))
    chars = STRIP_CHARS if (box.x, box.y) == (ABOVE.x, ABOVE.y) else BOX_CHARS
    for line in tags_removed(box_text(fig)).split("<br>"):
        assert len(line) <= chars or " " not in line.strip()
    assert not fig.layout.showlegend  # the coloured names and line keys name the curves
    width = max(len(line) for label in labels for line in label.split("<br>"))
    assert fig.layout.margin.l >= 8 * width  # the margin holds the longest line


def test_risk_table_names_are_in_the_group_colour_with_its_line_key(demo):
    result = analyse_survival(demo, SurvivalRequest("os_months", "os_event", by="regimen"))
    fig = km_figure(result.km, median_table=result.medians)
    curves = {t.name.rsplit(" (n=", 1)[0]: t.line for t in fig.data
              if t.mode == "lines" and t.name and t.hoverinfo != "skip"}
    keys = [s.line for s in fig.layout.shapes]
    for label, key, group in zip(fig.layout.yaxis2.ticktext, keys, result.groups, strict=True):
        assert f'<span style="color:{curves[group].color}">' in label
        assert (key.color, key.dash) == (curves[group].color, curves[group].dash)


# --- palette -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("lab1", "lab2", "expected"), [  # Sharma, Wu and Dalal 2005, table 1
    ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
    ((50, 0, 0), (50, -1, 2), 2.3669),
    ((50, 2.49, -0.001), (50, -2.49, 0.0011), 7.2195),
    ((50, -0.001, 2.49), (50, 0.0009, -2.49), 4.8045),
    ((50, 2.5, 0), (73, 25, -18), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
])
def test_ciede2000_matches_the_published_pairs(lab1, lab2, expected):
    assert delta_e_2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)


def test_palette_neighbours_differ_and_nothing_is_faint():
    okabe_ito = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7",
                 "#999999"}
    assert set(PALETTE) <= okabe_ito and len(set(PALETTE)) == len(PALETTE) == 8
    assert "#F0E442" not in PALETTE  # yellow: faint on white
    assert PALETTE.index("#56B4E9") >= 4  # sky blue: not among the first groups
    for a, b in zip(PALETTE, PALETTE[1:] + PALETTE[:1], strict=True):
        assert colour_difference(a, b) >= 20, (a, b)
    first_four = PALETTE[:4]
    assert min(colour_difference(a, b) for i, a in enumerate(first_four)
               for b in first_four[i + 1:]) >= 30


def test_beyond_four_groups_every_curve_has_its_own_dash():
    assert {dash_for(i, SOLID_UP_TO) for i in range(SOLID_UP_TO)} == {"solid"}
    for k in range(SOLID_UP_TO + 1, 9):
        assert len({dash_for(i, k) for i in range(k)}) == k


# --- hazard ratios -----------------------------------------------------------------------------


def test_hazard_ratios_match_r_coxph():
    ref = json.loads((REFERENCE / "cox_reference.json").read_text())["veterans_celltype"]
    data = pl.read_csv(REFERENCE / "data" / "veterans.csv")
    hr = hazard_ratios(data, "time", "status", "Celltype", reference="adeno")
    assert hr.filter(pl.col("is_reference"))["group"].to_list() == ["adeno"]
    for term in ref["terms"]:
        row = hr.filter(pl.col("group") == term["term"].removeprefix("Celltype")).row(0, named=True)
        for key in ("hr", "lower", "upper", "p"):
            assert row[key] == pytest.approx(term[key], rel=1e-6)


def test_hazard_ratios_match_lifelines_against_the_largest_group():
    from lifelines import CoxPHFitter
    from sksurv.datasets import load_veterans_lung_cancer

    x, y = load_veterans_lung_cancer()
    data = pl.DataFrame({"celltype": x["Celltype"].astype(str).to_list(),
                         "time": y["Survival_in_days"], "status": y["Status"].astype(int)})
    hr = hazard_ratios(data, "time", "status", "celltype")
    assert hr.filter(pl.col("is_reference"))["group"].to_list() == ["smallcell"]  # 48 patients
    others = [g for g in hr["group"] if g != "smallcell"]
    dummies = data.select("time", "status", *(
        (pl.col("celltype") == g).cast(pl.Int8).alias(g) for g in others)).to_pandas()
    fitted = CoxPHFitter().fit(dummies, "time", "status").summary  # Efron ties
    for g in others:
        row = hr.filter(pl.col("group") == g).row(0, named=True)
        assert row["hr"] == pytest.approx(fitted.loc[g, "exp(coef)"], rel=1e-5)
        assert row["lower"] == pytest.approx(fitted.loc[g, "exp(coef) lower 95%"], rel=1e-5)
        assert row["upper"] == pytest.approx(fitted.loc[g, "exp(coef) upper 95%"], rel=1e-5)


def test_the_figure_shows_the_cohort_functions_p_and_hazard_ratios():
    patients = load_dataset("veterans").patients
    result = analyse_survival(patients, SurvivalRequest("os_months", "os_event", by="histology",
                                                        reference="adeno"))
    fig = km_figure(result.km, median_table=result.medians, logrank=result.logrank,
                    hazard_ratios=result.hazard_ratios)
    text = tags_removed(box_text(fig)).replace("<br>  ", " ").replace("<br>", "\n")
    assert text.startswith("Log-rank p < 0.001\nHR (95% CI) vs adeno")
    for row in result.hazard_ratios.filter(~pl.col("is_reference")).iter_rows(named=True):
        assert f"{row['group']}: {row['text']}" in text
    assert "0.40 (0.23–0.70)" in text  # large vs adeno, R: 0.399 (0.227-0.702)


def test_two_groups_show_one_hazard_ratio_and_the_box_avoids_the_curves():
    patients = load_dataset("veterans").patients
    result = analyse_survival(patients, SurvivalRequest("os_months", "os_event",
                                                        by="prior_therapy"))
    fig = km_figure(result.km, logrank=result.logrank, hazard_ratios=result.hazard_ratios)
    lines = tags_removed(box_text(fig)).split("<br>")
    assert len(lines) == 3 and lines[1] == "HR (95% CI) vs no"
    box = next(a for a in fig.layout.annotations if (a.text or "").startswith("Log-rank"))
    assert (box.x, box.y) == (0.99, 0.99)  # survival is low by the end: top right is free


def curve_points(fig, per_segment: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Points along every line and CI band edge drawn in the curve panel (data coordinates)."""
    xs, ys = [], []
    for trace in fig.data:
        if trace.type != "scatter" or (trace.yaxis or "y") != "y" or "lines" not in (
                trace.mode or "lines") or trace.x is None:
            continue
        x, y = np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)
        steps = np.linspace(0, 1, per_segment)
        xs.append((x[:-1, None] + np.outer(np.diff(x), steps)).ravel())
        ys.append((y[:-1, None] + np.outer(np.diff(y), steps)).ravel())
    return np.concatenate(xs), np.concatenate(ys)


def box_rectangle(fig) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of the statistics box in data coordinates, at the plot size the
    figure is laid out for."""
    from cohort.figures.km import CURVE_PX, PLOT_WIDTH_PX, box_px

    box = next(a for a in fig.layout.annotations if (a.text or "").startswith("Log-rank"))
    width, height = box_px(box.text.split("<br>"))
    x0 = box.x - (width / PLOT_WIDTH_PX if box.xanchor == "right" else 0)
    y0 = box.y - (height / CURVE_PX if box.yanchor == "top" else 0)
    (xa, xb), (ya, yb) = fig.layout.xaxis.range, fig.layout.yaxis.range
    return (xa + x0 * (xb - xa), xa + (x0 + width / PLOT_WIDTH_PX) * (xb - xa),
            ya + y0 * (yb - ya), ya + (y0 + height / CURVE_PX) * (yb - ya))


@pytest.mark.parametrize(("endpoint", "by"), [("os", "study"), ("os", "regimen"),
                                              ("os", "histology"), ("pfs", "regimen")])
def test_the_statistics_box_covers_no_curve_and_no_band(endpoint, by):
    """Five to eight long-named groups: the box (log-rank p and hazard ratios) sits where no
    curve or CI band passes, above the plot when every corner is taken."""
    result = analyse_survival(load_dataset("oligomet-demo").patients,
                              SurvivalRequest(f"{endpoint}_months", f"{endpoint}_event", by=by))
    assert len(result.groups) >= 5
    fig = km_figure(result.km, median_table=result.medians, logrank=result.logrank,
                    hazard_ratios=result.hazard_ratios, title="Overall survival")
    x, y = curve_points(fig)
    x0, x1, y0, y1 = box_rectangle(fig)
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    assert not inside.any(), f"{inside.sum()} curve points under the box"


# --- medians -----------------------------------------------------------------------------------


def test_close_medians_are_staggered_and_far_ones_are_not():
    assert stagger([0.30, 0.31, 0.32, 0.8], [0.08] * 4) == [0, 1, 2, 0]
    assert stagger([0.1, 0.5, 0.9], [0.08] * 3) == [0, 0, 0]


def test_medians_are_labelled_with_their_time_in_the_unit(demo):
    result = analyse_survival(demo, SurvivalRequest("os_months", "os_event", by="study"))
    fig = km_figure(result.km, median_table=result.medians)
    labels = {a.text: a for a in fig.layout.annotations if (a.text or "").endswith(" mo")}
    reached = result.medians.filter(pl.col("median").is_not_null())
    assert set(labels) == {f"{m:.1f} mo" for m in reached["median"]}
    spots = sorted((a.x, a.y) for a in labels.values())
    for (x1, y1), (x2, y2) in zip(spots, spots[1:], strict=False):
        assert y1 != y2 or x2 - x1 > 0.05 * result.km["time"].max()  # never on top of each other
    days = analyse_survival(load_dataset("veterans").patients,
                            SurvivalRequest("os_months", "os_event", unit="days"))
    fig = km_figure(days.km, median_table=days.medians, time_label="Days")
    assert "80 d" in [a.text for a in fig.layout.annotations]


# --- KMunicate ---------------------------------------------------------------------------------


def test_kmunicate_numbers_add_up_to_each_group(demo):
    result = analyse_survival(demo, SurvivalRequest("os_months", "os_event", by="study"))
    ticks = nice_ticks(float(result.km["time"].max()), "months")
    table = counts_at(result.km, ticks)
    sizes = dict(result.medians.select("group", "n").iter_rows())
    assert table.height == len(ticks) * len(sizes)
    for row in table.iter_rows(named=True):
        assert row["at_risk"] + row["events"] + row["censored"] == sizes[row["group"]]
    per_group = table.group_by("group").agg(pl.col("events").diff().min() >= 0,
                                            pl.col("at_risk").diff().max() <= 0)
    assert per_group["events"].all() and per_group["at_risk"].all()
    km = kaplan_meier(demo, "os_months", "os_event", by="study")
    beyond = counts_at(km, [1e6])
    events = dict(result.medians.select("group", "events").iter_rows())
    assert dict(beyond.select("group", "events").iter_rows()) == events


def test_the_kmunicate_figure_draws_three_rows_per_group(demo):
    result = analyse_survival(demo, SurvivalRequest("lc_months", "lc_event", by="study"))
    plain = km_figure(result.km)
    fig = km_figure(result.km, kmunicate=True)
    rows = numbers_rows(fig)
    assert len(rows) == 3 * len(numbers_rows(plain)) == 3 * len(result.groups)
    ticks = list(fig.layout.xaxis.tickvals)
    table = counts_at(result.km, ticks)
    first = table.filter(pl.col("group") == result.groups[0])
    assert [r.text for r in rows[:3]] == [tuple(str(v) for v in first[c])
                                          for c in ("at_risk", "events", "censored")]
    assert plain.layout.height < fig.layout.height < 1.8 * plain.layout.height + 400


# --- the screen --------------------------------------------------------------------------------


def shown_figure(at):
    return next(fig for title, fig in at.session_state["_shown_this_run"].figures
                if title.startswith("Kaplan-Meier"))


def test_the_reference_group_changes_the_hazard_ratios_and_goes_into_the_link():
    at = open_app(SURVIVAL, ds="veterans", **{"survival.by": "histology"})
    box = at.selectbox(key="surv.reference.histology")
    assert box.value == "smallcell"  # the largest group
    before = shown_table(at, "Hazard ratios vs smallcell")
    assert "smallcell" in tags_removed(box_text(shown_figure(at)))
    box.set_value("adeno").run()
    assert at.query_params["survival.reference"] == "adeno"
    after = shown_table(at, "Hazard ratios vs adeno")
    assert after["HR (95% CI)"].to_list() != before["HR (95% CI)"].to_list()
    expected = hazard_ratios(load_dataset("veterans").patients, "os_months", "os_event",
                             "histology", reference="adeno")
    assert after["HR (95% CI)"].to_list() == expected["text"].to_list()
    text = tags_removed(box_text(shown_figure(at))).replace("<br>  ", " ")
    assert "vs adeno" in text and "large: 0.40 (0.23–0.70)" in text


def test_kmunicate_toggle_from_a_link_and_landmarks_typed_in_years():
    at = open_app(SURVIVAL, ds="veterans", **{"survival.kmunicate": "1",
                                           "survival.unit": "years", "survival.by": "histology"})
    assert at.toggle(key="surv.kmunicate").value
    assert len(numbers_rows(shown_figure(at))) == 3 * 4
    at.multiselect(key="surv.landmarks.years").set_value([1.0, "1.5"]).run()
    assert shown_table(at, "Landmark rates")["years"].unique().sort().to_list() == ["1", "1.5"]
    assert list(shown_figure(at).layout.xaxis.tickvals) == [0, 0.5, 1, 1.5, 2, 2.5]
