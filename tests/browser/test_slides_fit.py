"""Presentation mode in Chromium: a stratified Kaplan-Meier slide, number-at-risk table
included, fits the window on a projector, a laptop, a full-HD and a 4K screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from cohort.analysis import SurvivalRequest, analyse_survival
from cohort.datasets import load_dataset
from tests.browser.conftest import ACTION_TIMEOUT_MS, describe_failure, wait_for_app

pytestmark = pytest.mark.browser

SCREENS = [(1024, 768), (1280, 720), (1920, 1080), (3840, 2160)]
SLIDE = "survival?present=1&survival.by=study"
FIGURE = ".st-key-slide .js-plotly-plot"
STABLE_CHECKS = 3


def _figure_box(page: Page) -> dict:
    return page.locator(FIGURE).bounding_box()


def _settled_box(page: Page) -> dict:
    """The slide figure's box once the reruns after measuring the window are over (the same
    box at a few checks a second apart, no script running)."""
    boxes: list[dict] = []
    while len(boxes) < STABLE_CHECKS or boxes[-1] != boxes[-STABLE_CHECKS]:
        wait_for_app(page)
        page.wait_for_selector(FIGURE)
        boxes.append(_figure_box(page))
        page.wait_for_timeout(1_000)
        assert len(boxes) < 30, f"the slide kept changing size: {boxes[-3:]}"
    return boxes[-1]


def _cut_texts(page: Page) -> list[str]:
    """Texts of the figure (number-at-risk labels included) that end in '…'."""
    return page.locator(f"{FIGURE} svg text").evaluate_all(
        "texts => texts.map(t => t.textContent).filter(t => t.endsWith('…'))")


def test_the_kaplan_meier_slide_fits_every_screen(browser: Browser, app_url: str):
    analysed = analyse_survival(load_dataset("oligomet-demo").patients,
                                SurvivalRequest("os_months", "os_event", by="study")).n
    for width, height in SCREENS:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        page = context.new_page()
        try:
            page.goto(f"{app_url}/{SLIDE}")
            box = _settled_box(page)
            assert box["x"] >= 0 and box["y"] >= 0, (width, height, box)
            assert box["x"] + box["width"] <= width + 0.5, (width, height, box)
            assert box["y"] + box["height"] <= height + 0.5, (width, height, box)
            assert box["height"] > 0.6 * height, (width, height, box)  # it fills the slide
            risk_table = page.locator(FIGURE).get_by_text("Number at risk")
            table_box = risk_table.bounding_box()
            assert table_box and table_box["y"] + table_box["height"] <= height
            heading = page.locator(".st-key-slide").get_by_test_id("stMarkdown").first
            assert f"n = {analysed:,} of 4,299 patients" in heading.inner_text()
            assert page.get_by_test_id("stException").count() == 0
            assert not _cut_texts(page), (width, height, _cut_texts(page))
        except AssertionError:
            describe_failure(page, f"slide-{width}x{height}")
            raise
        finally:
            context.close()
