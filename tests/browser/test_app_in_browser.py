"""The app in a real browser: Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import choose, fresh_page, wait_for_app

pytestmark = pytest.mark.browser


def expect_sidebar_count(page: Page, count: str) -> None:
    """The filtered N in the sidebar reaches ``count`` (retried: a rerun may still be on its way)."""
    metric = page.get_by_test_id("stSidebar").get_by_test_id("stMetricValue").first
    expect(metric).to_have_text(count)


def test_cohort_page_shows_the_patient_count(page: Page, app_url: str):
    page.goto(app_url)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Cohort", exact=True)).to_be_visible()
    expect_sidebar_count(page, "4,299")
    expect(page.get_by_text("Synthetic demonstration data, not patient records.")).to_be_visible()
    page.goto(f"{app_url}/?ds=veterans")
    wait_for_app(page)
    expect_sidebar_count(page, "137")
    main_counts = page.get_by_test_id("stMain").get_by_test_id("stMetricValue")
    expect(main_counts.first).to_have_text("137")
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    assert page.get_by_test_id("stException").count() == 0


def test_upload_a_csv_and_see_it_analysed(page: Page, app_url: str, tmp_path):
    csv = tmp_path / "registry.csv"
    csv.write_text("ID;Age;Site;OS days;Dead\nR1;61,5;lung;365;1\nR2;70;liver;200;0\n"
                   "R3;58;lung;500;1\nR4;66;bone;90;1\n", encoding="latin-1")
    page.goto(f"{app_url}/data")
    wait_for_app(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(csv))
    wait_for_app(page)
    expect(page.get_by_text("registry.csv: 4 rows, 5 columns")).to_be_visible()
    choose(page, "OS days", "os_months")
    choose(page, "Unit of the time columns", "days")
    choose(page, "coded? Values in the file: 0, 1", "0/1 (0 = censored, 1 = event, 2 = competing event)")
    page.get_by_role("button", name="Validate and load").click()
    wait_for_app(page)
    expect(page.get_by_text("Loaded in this session: registry.csv")).to_be_visible()
    expect_sidebar_count(page, "4")
    page.get_by_test_id("stSidebarNav").get_by_text("Cohort", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_text("Uploaded file registry.csv")).to_be_visible()
    expect_sidebar_count(page, "4")
    assert page.get_by_test_id("stException").count() == 0


def test_copied_link_reproduces_the_view_in_a_fresh_browser(page: Page, app_url: str, browser):
    page.goto(f"{app_url}/?ds=veterans")
    wait_for_app(page)
    histology = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").filter(
        has_text="Histology")
    histology.click()
    page.get_by_role("option", name="adeno", exact=True).click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    expect_sidebar_count(page, "27")
    page.get_by_test_id("stSidebarNav").get_by_text("Data", exact=True).click()
    wait_for_app(page)
    expect(page).to_have_url(re.compile(r"/data\?.*f\.histology=adeno"))  # rewritten after the switch
    page.get_by_text("Copy link to this view").click()
    link_box = page.get_by_test_id("stCode").filter(has_text="f.histology=adeno").last
    expect(link_box).to_be_visible()
    link = link_box.inner_text().strip()
    assert link.startswith(app_url) and "f.histology=adeno" in link and "/data" in link
    other = fresh_page(browser)
    try:
        other.goto(link)
        wait_for_app(other)
        expect_sidebar_count(other, "27")
        expect(other.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    finally:
        other.context.close()
