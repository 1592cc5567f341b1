"""Slides sized by the screen: the app's real figures fit the area they are given, fonts grown
with the screen, on every common projector and monitor size."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from cohort.competing import cumulative_incidence
from cohort.cox import fit_cox
from cohort.datasets import load_dataset
from cohort.dose import add_dose_columns, dlt_table
from cohort.figures.distributions import distribution_figure
from cohort.figures.dose import dlt_grid_figure, dose_distribution_figure
from cohort.figures.forest import forest_figure
from cohort.figures.km import cif_figure, km_figure
from cohort.figures.slide import (
    MAX_SCALE,
    MIN_PLOT_PX,
    MIN_PLOT_SHARE,
    MIN_ROW_PX,
    MIN_SCALE,
    for_slide,
    screen_scale,
)
from cohort.figures.toxicity import grade_heatmap, group_heatmap
from cohort.survival import kaplan_meier, logrank
from cohort.toxicity import grade_matrix
from ui.presentation import PAD_X_PX, heading_height

DEMO = load_dataset("oligomet-demo")
PATIENTS = DEMO.patients
SCREENS = [(1024, 768), (1280, 720), (1920, 1080), (3840, 2160)]
CAPTION = ("Oligomet demonstration cohort (synthetic), All patients, n = 4,299. Endpoint: "
           "overall survival. Kaplan-Meier")


def _km(by: str) -> go.Figure:
    table = kaplan_meier(PATIENTS, "os_months", "os_event", by)
    return km_figure(table, logrank=logrank(PATIENTS, "os_months", "os_event", by),
                     title=f"Overall survival by {by}", caption=CAPTION)


def _figures() -> dict[str, go.Figure]:
    tox = grade_matrix(DEMO.toxicities, PATIENTS, by="study")
    dose = add_dose_columns(PATIENTS)
    return {
        "km by study": _km("study"),
        "cumulative incidence": cif_figure(
            cumulative_incidence(PATIENTS, "lc_months", "lc_event", "study"),
            title="Local failure", caption=CAPTION),
        "forest": forest_figure(
            fit_cox(PATIENTS, "os_months", "os_event", ["age_years", "ecog", "regimen"]).terms,
            title="Cox model", caption=CAPTION),
        "grade heatmap": grade_heatmap(tox, title="Toxicity", max_terms=20,
                                       caption=CAPTION),
        "group heatmap": group_heatmap(tox, title="Toxicity by study", max_terms=12,
                                       caption=CAPTION),
        "dose box": dose_distribution_figure(dose, "bed10_gy", "study", caption=CAPTION),
        "dlt grid": dlt_grid_figure(dlt_table(PATIENTS), title="DLT", caption=CAPTION),
        "histogram": distribution_figure(PATIENTS["age_years"], "age_years"),
    }


FIGURES = _figures()


def _area(width: int, height: int) -> tuple[float, float, float]:
    """The figure's area on a slide of that screen, as presentation mode computes it."""
    scale = screen_scale(width, height)
    heading = heading_height("Kaplan-Meier: Overall survival by study", "n = 4,226 of 4,299 "
                             "patients. All patients. Data: Oligomet demonstration cohort.",
                             width, scale)
    return width - 2 * PAD_X_PX * scale, height - heading, scale


def _plot_px(slide: go.Figure) -> float:
    margin = slide.layout.margin
    return slide.layout.height - margin.t - margin.b


def _domains(slide: go.Figure) -> list[tuple[float, float]]:
    names = [k for k in slide.layout.to_plotly_json() if k.startswith("yaxis")] or ["yaxis"]
    return sorted(tuple(slide.layout[n].domain or (0.0, 1.0)) for n in names)


def test_screen_scale_is_one_at_1280_by_720_and_grows_with_the_smaller_side():
    assert screen_scale(1280, 720) == 1.0
    assert screen_scale(1920, 1080) == 1.5
    assert screen_scale(3840, 2160) == 3.0
    assert screen_scale(1024, 768) == 0.8  # the width limits
    assert screen_scale(100, 100) == MIN_SCALE and screen_scale(20_000, 20_000) == MAX_SCALE


@pytest.mark.parametrize("name", list(FIGURES))
@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_figure_fills_the_slide_and_its_fixed_parts_leave_the_plot_room(name, screen):
    figure = FIGURES[name]
    width, height, scale = _area(*screen)
    slide = for_slide(figure, width, height, scale=scale)
    assert slide.layout.height == int(height)
    assert "<br>" not in (slide.layout.title.text or "")  # the first line is the slide's
    domains = _domains(slide)
    assert all(0.0 <= low < high <= 1.0 for low, high in domains)
    assert all(a[1] <= b[0] + 1e-9 for a, b in zip(domains, domains[1:], strict=False))
    plot = _plot_px(slide)
    main = max(high - low for low, high in domains) * plot
    assert main >= MIN_PLOT_SHARE * height * 0.6, (name, main, height)
    font = slide.layout.font.size / (figure.layout.font.size or 18)
    assert font <= scale + 0.01  # font sizes are rounded to 0.1 px
    assert slide.layout.margin.l == pytest.approx((figure.layout.margin.l or 80) * font, abs=1)


@pytest.mark.parametrize("name", list(FIGURES))
def test_fonts_grow_with_the_screen(name):
    sizes = [for_slide(FIGURES[name], *_area(*screen)[:2], scale=_area(*screen)[2])
             .layout.font.size for screen in SCREENS[1:]]
    assert sizes == sorted(sizes) and sizes[-1] >= 2 * sizes[0]


def test_the_risk_table_keeps_its_rows_in_pixels_and_the_curves_take_the_rest():
    figure = FIGURES["km by study"]
    design_plot = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
    risk_px = (figure.layout.yaxis2.domain[1] - figure.layout.yaxis2.domain[0]) * design_plot
    for screen in SCREENS:
        width, height, scale = _area(*screen)
        slide = for_slide(figure, width, height, scale=scale)
        font = slide.layout.font.size / figure.layout.font.size
        plot = _plot_px(slide)
        table = (slide.layout.yaxis2.domain[1] - slide.layout.yaxis2.domain[0]) * plot
        assert table == pytest.approx(risk_px * font, abs=1.0)
        curves = (slide.layout.yaxis.domain[1] - slide.layout.yaxis.domain[0]) * plot
        assert curves > table  # five two-line group names: the table is tall, the curves more
        risk_rows = [t for t in slide.data if t.mode == "text"]
        sizes = {t.textfont.size for t in risk_rows}
        assert len(sizes) == 1 and sizes.pop() == pytest.approx(16 * font, abs=0.15)


def test_the_caption_keeps_its_pixel_distance_under_the_axis():
    figure = FIGURES["km by study"]
    caption = next(a for a in figure.layout.annotations
                   if a.yref == "paper" and a.y == 0 and a.yanchor == "top")
    width, height, scale = _area(1920, 1080)
    slide = for_slide(figure, width, height, scale=scale)
    moved = next(a for a in slide.layout.annotations if a.text == caption.text)
    font = slide.layout.font.size / figure.layout.font.size
    assert moved.y == 0 and moved.yshift == pytest.approx(caption.yshift * font, abs=0.2)
    lines = caption.text.count("<br>") + 1
    assert -moved.yshift + lines * moved.font.size * 1.3 <= slide.layout.margin.b + 1


def test_too_many_fixed_rows_lower_the_scale_until_the_figure_fits():
    figure = _km("histology")  # many groups: a tall legend and number-at-risk table
    width, height, scale = 1024.0, 620.0, 1.5
    slide = for_slide(figure, width, height, scale=scale)
    font = slide.layout.font.size / figure.layout.font.size
    assert font < scale
    plot = _plot_px(slide)
    assert plot > 0 and slide.layout.margin.t + slide.layout.margin.b < height
    curves = (slide.layout.yaxis.domain[1] - slide.layout.yaxis.domain[0]) * plot
    assert curves >= MIN_PLOT_PX * font - 1  # 15 groups' names: the plot keeps its floor


def test_heatmap_rows_stay_readable_on_a_small_screen():
    figure = FIGURES["grade heatmap"]
    width, height, scale = _area(1024, 768)
    slide = for_slide(figure, width, height, scale=scale)
    rows = len(set(figure.data[0].y))
    font = slide.layout.font.size / figure.layout.font.size
    assert _plot_px(slide) / rows >= MIN_ROW_PX * font - 0.5


def test_the_original_figure_is_untouched():
    figure = FIGURES["km by study"]
    before = figure.to_plotly_json()
    for_slide(figure, 1800, 950, scale=1.5)
    assert figure.to_plotly_json() == before
