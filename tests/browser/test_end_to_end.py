"""End to end in Chromium: every screen, downloads, presentation mode, two users apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import download_report, fresh_page, upload_on_data_page, wait_for_app

pytestmark = pytest.mark.browser

SCREENS = ["", "survival", "cox", "toxicity", "dose", "published", "data"]


def no_exception(page: Page) -> None:
    assert page.get_by_test_id("stException").count() == 0


@pytest.mark.parametrize("dataset", ["oligomet-demo", "veterans", "gbsg2"])
def test_every_screen_renders(page: Page, app_url: str, dataset: str):
    for screen in SCREENS:
        page.goto(f"{app_url}/{screen}?ds={dataset}")
        wait_for_app(page)
        no_exception(page)
        expect(page.get_by_test_id("stMain").get_by_role("heading").first).to_be_visible()


def test_downloads_report_and_csv(page: Page, app_url: str):
    page.goto(f"{app_url}/survival?ds=veterans&survival.by=histology")
    wait_for_app(page)
    report = download_report(page)[1].decode("utf-8")
    assert "<h1>Survival: Veterans&#x27; Administration lung cancer trial" in report
    assert "Kaplan-Meier: Overall survival by Histology" in report
    assert "Median survival (95% CI)" in report and "Log-rank" in report
    assert "<h2>Methods</h2>" in report and "plotly.js v" in report
    with page.expect_download(timeout=60_000) as csv_download:
        page.get_by_test_id("stMain").get_by_test_id("stDownloadButton").filter(
            has_text="CSV").first.locator("button").click()
    lines = Path(csv_download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("group,n,events,median (months),lower (months),upper (months)")
    assert len(lines) == 1 + 4  # the four cell types


def test_presentation_mode_shows_one_large_figure_and_keys_move(page: Page, app_url: str):
    page.goto(f"{app_url}/survival?present=1&survival.endpoint=LC")
    wait_for_app(page)
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    expect(page.get_by_text("Figure 1 of 2")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart").filter(visible=True)).to_have_count(1)
    page.keyboard.press("ArrowRight")
    wait_for_app(page)
    expect(page.get_by_text("Figure 2 of 2")).to_be_visible()
    page.keyboard.press("Escape")
    wait_for_app(page)
    expect(page.get_by_test_id("stSidebar")).to_be_visible()
    no_exception(page)


def test_an_upload_stays_in_its_own_session(page: Page, app_url: str, browser, tmp_path):
    csv = tmp_path / "private.csv"
    csv.write_text("patient_id,os_months,os_event\nZ1,5,1\nZ2,7,0\n")
    upload_on_data_page(page, app_url, csv)
    other = fresh_page(browser)
    try:
        other.goto(f"{app_url}/data")
        wait_for_app(other)
        expect(other.get_by_role("heading", name="Data", exact=True)).to_be_visible()
        expect(other.get_by_text("Validate and load")).to_have_count(0)
        assert other.get_by_text("private.csv").count() == 0
        other.goto(f"{app_url}/?ds=uploaded&file=private.csv")
        wait_for_app(other)
        expect(other.get_by_text("upload private.csv on the Data page")).to_be_visible()
    finally:
        other.context.close()
